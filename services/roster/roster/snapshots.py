"""A subscriber's family as one picture: for events (the family's whole state after a change, pattern 2 of
ARCHITECTURE.md: no SSNs at all) and for the subscriber details page (dependents, coverage history,
transactions, each member's PCP and ID cards; SSNs as the caller may see them).
"""
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal_contracts.roster_members import RELATIONSHIP_NAMES, Subscriber
from roster import ssn as ssns
from roster.domain import care
from roster.domain import enrollment as rules
from roster.models import CoverageSpan, EnrollmentTransaction, Member, PcpAssignment, Subgroup
from roster.transactions import transactions_out
from servicekit import clock

# Transactions come dumped already (transactions.transactions_out), so they join after this dump.
SUBSCRIBER_DETAILS = Subscriber(exclude=("transactions",))


def family_members(session, subscriber):
    """The subscriber and their dependents (oldest row first), with coverage and plans, fresh from the
    database (populate_existing: spans added in this transaction through ids are seen too)."""
    session.flush()
    return session.scalars(
        select(Member).where(or_(Member.id == subscriber.id, Member.subscriber_id == subscriber.id))
        .options(selectinload(Member.coverage).selectinload(CoverageSpan.plan))
        .order_by(Member.subscriber_id.is_not(None), Member.id)
        .execution_options(populate_existing=True)).all()


def coverage_state(span):
    return {"plan_code": span.plan.plan_code, "tier": span.tier, "effective_from": span.effective_from,
            "effective_through": span.effective_through, "status": span.status, "reason": span.reason,
            "continuation": span.continuation}


def member_state(member):
    """One member as events carry them: codes, names, birth date, status, every coverage span."""
    return {"member_id": member.member_id, "relationship_code": member.relationship_code,
            "first_name": member.first_name, "last_name": member.last_name, "date_of_birth": member.date_of_birth,
            "gender": member.gender, "status": member.status,
            "coverage": [coverage_state(span) for span in member.coverage]}


def transaction_state(txn):
    return {"confirmation_number": txn.confirmation_number, "type": txn.type,
            "maintenance_type": txn.maintenance_type, "reason": txn.reason, "status": txn.status,
            "effective_date": txn.effective_date}


def family_event_data(session, group, subscriber, txn):
    """The payload of subscriber_enrolled / transaction_status_changed (before dumping)."""
    members = family_members(session, subscriber)
    return {"group_number": group.group_number, "subgroup_number": _subgroup_number(session, subscriber),
            "subscriber_member_id": subscriber.member_id, "transaction": transaction_state(txn),
            "members": [member_state(member) for member in members]}


def current_span(spans, today):
    """The span to show as a member's coverage today: the one in force, else the next one pending, else the
    latest that is not cancelled, else the latest."""
    spans = sorted(spans, key=lambda span: span.effective_from)
    for span in spans:
        if span.status == rules.ACTIVE and span.effective_from <= today \
                and (span.effective_through is None or span.effective_through >= today):
            return span
    pending = [span for span in spans if span.status == "pending"]
    if pending:
        return pending[0]
    standing = [span for span in spans if span.status != rules.CANCELLED]
    if standing:
        return standing[-1]
    return spans[-1] if spans else None


def coverage_out(span):
    return {"plan_code": span.plan.plan_code, "plan_name": span.plan.name, "tier": span.tier,
            "effective_from": span.effective_from, "effective_through": span.effective_through,
            "status": span.status, "reason": span.reason, "continuation": span.continuation}


def subscriber_details(session, cipher, group, subscriber, show_ssn):
    """The subscriber page: details, dependents with their coverage, the family's transactions (newest
    first). `show_ssn`: full SSNs, else masked."""
    members = family_members(session, subscriber)
    head = members[0]
    dependents = members[1:]
    cares = member_care(session, members, clock.today())
    txns = session.scalars(select(EnrollmentTransaction)
                           .where(EnrollmentTransaction.subscriber_id == subscriber.id)
                           .order_by(EnrollmentTransaction.requested_at.desc(), EnrollmentTransaction.id.desc())).all()
    details = {
        "member_id": head.member_id, "group_number": group.group_number,
        "subgroup_number": _subgroup_number(session, head),
        "relationship": RELATIONSHIP_NAMES[head.relationship_code], "relationship_code": head.relationship_code,
        "first_name": head.first_name, "middle_name": head.middle_name, "last_name": head.last_name,
        "date_of_birth": head.date_of_birth, "gender": head.gender, "marital_status": head.marital_status,
        "ssn": ssns.shown(cipher, head, show_ssn), "email": head.email, "phone": head.phone,
        "mailing_address": head.mailing_address, "physical_address": head.physical_address,
        "hire_date": head.hire_date, "employment_status": head.employment_status, "status": head.status,
        "also_dependent_elsewhere": head.also_dependent_elsewhere,
        "coverage": [coverage_out(span) for span in head.coverage],
        **care_out(cares[head.id]),
        "dependents": [{
            "member_id": member.member_id, "relationship": RELATIONSHIP_NAMES.get(member.relationship_code),
            "relationship_code": member.relationship_code, "first_name": member.first_name,
            "middle_name": member.middle_name, "last_name": member.last_name,
            "date_of_birth": member.date_of_birth, "gender": member.gender,
            "ssn": ssns.shown(cipher, member, show_ssn), "disabled": member.disabled,
            "other_coverage": member.other_coverage, "status": member.status,
            "also_dependent_elsewhere": member.also_dependent_elsewhere,
            "coverage": [coverage_out(span) for span in member.coverage],
            **care_out(cares[member.id]),
        } for member in dependents],
    }
    return dict(SUBSCRIBER_DETAILS.dump(details), transactions=transactions_out(session, txns))


# --- care: each member's PCP and ID cards (issue 5) -------------------------------------------------------

@dataclass
class MemberCareState:
    """What a member's PCP and ID cards are about on a date (roster.domain.care decides which coverage)."""
    member_id: str                  # the public id
    spans: list                     # every span as care.CoverageView
    coverages: list                 # the current (else next pending) ones: one ID card each
    coverage: care.CoverageView | None  # the medical one, which a PCP belongs to
    reference_date: object          # the day the PCP is looked at (today, or a later coverage start)
    pcp: PcpAssignment | None = None        # in force on the reference date, in the coverage's plan
    scheduled: PcpAssignment | None = None  # a future-dated change after it
    existing_patient_npi: str | None = None  # the member's latest PCP in any plan
    assignments: list = field(default_factory=list)

    @property
    def requires_pcp(self):
        return self.coverage is not None and care.requires_pcp(self.coverage.requires_pcp, self.coverage.plan_type)

    @property
    def pcp_required(self):
        return care.pcp_required(self.coverage, self.pcp is not None)

    def cards(self):
        """[(card id, coverage, effective date)] of the member's current cards."""
        return [(care.card_id(self.member_id, coverage.plan_code), coverage,
                 care.continuous_start(self.spans, coverage)) for coverage in self.coverages]


def coverage_view(span):
    plan = span.plan
    return care.CoverageView(plan.plan_code, plan.name, plan.product, plan.plan_type, plan.network,
                             bool(plan.requires_pcp), span.tier, span.effective_from, span.effective_through,
                             span.status)


def member_care(session, members, today):
    """{member row id: MemberCareState} for `members` (coverage loaded or lazily loadable), in one query for
    their PCP assignments."""
    session.flush()
    rows = session.scalars(select(PcpAssignment)
                           .options(selectinload(PcpAssignment.provider), selectinload(PcpAssignment.plan))
                           .where(PcpAssignment.member_id.in_([member.id for member in members]))
                           .order_by(PcpAssignment.effective_from, PcpAssignment.id)
                           .execution_options(populate_existing=True)).all()
    states = {}
    for member in members:
        spans = [coverage_view(span) for span in member.coverage]
        coverages = care.current_coverage(spans, today)
        coverage = care.pcp_coverage(coverages)
        day = care.reference_date(coverage, today) if coverage else today
        mine = [row for row in rows if row.member_id == member.id]
        started = [row for row in mine if row.effective_from <= day
                   and (row.effective_through is None or row.effective_through >= row.effective_from)]
        state = MemberCareState(member.member_id, spans, coverages, coverage, day, assignments=mine,
                                existing_patient_npi=started[-1].provider.npi if started else None)
        if coverage is not None:
            in_plan = [row for row in mine if row.plan.plan_code == coverage.plan_code]
            state.pcp = next((row for row in reversed(in_plan) if row.effective_from <= day
                              and (row.effective_through is None or row.effective_through >= day)), None)
            state.scheduled = next((row for row in in_plan if row.effective_from > day), None)
        states[member.id] = state
    return states


def pcp_summary(assignment):
    if assignment is None:
        return None
    provider = assignment.provider
    return {"npi": provider.npi, "name": provider.name, "specialty": provider.specialty, "phone": provider.phone,
            "plan_code": assignment.plan.plan_code, "effective_from": assignment.effective_from,
            "effective_through": assignment.effective_through}


def care_out(state):
    """A member's PCP and ID cards as the subscriber page shows them."""
    return {"pcp": pcp_summary(state.pcp), "pcp_required": state.pcp_required,
            "id_cards": [{"card_id": card, "plan_code": coverage.plan_code, "plan_name": coverage.plan_name,
                          "effective_date": effective} for card, coverage, effective in state.cards()]}


def _subgroup_number(session, member):
    return session.get(Subgroup, member.subgroup_id).subgroup_number
