"""A subscriber's family as one picture: for events (the family's whole state after a change, pattern 2 of
ARCHITECTURE.md: no SSNs at all) and for the subscriber details page (dependents, coverage history,
transactions; SSNs as the caller may see them).
"""
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal_contracts.roster_members import RELATIONSHIP_NAMES, Subscriber
from roster import ssn as ssns
from roster.domain import enrollment as rules
from roster.models import CoverageSpan, EnrollmentTransaction, Member, Subgroup
from roster.transactions import transactions_out

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
            "effective_through": span.effective_through, "status": span.status, "reason": span.reason}


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
            "status": span.status, "reason": span.reason}


def subscriber_details(session, cipher, group, subscriber, show_ssn):
    """The subscriber page: details, dependents with their coverage, the family's transactions (newest
    first). `show_ssn`: full SSNs, else masked."""
    members = family_members(session, subscriber)
    head = members[0]
    dependents = members[1:]
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
        "dependents": [{
            "member_id": member.member_id, "relationship": RELATIONSHIP_NAMES.get(member.relationship_code),
            "relationship_code": member.relationship_code, "first_name": member.first_name,
            "middle_name": member.middle_name, "last_name": member.last_name,
            "date_of_birth": member.date_of_birth, "gender": member.gender,
            "ssn": ssns.shown(cipher, member, show_ssn), "disabled": member.disabled,
            "other_coverage": member.other_coverage, "status": member.status,
            "also_dependent_elsewhere": member.also_dependent_elsewhere,
            "coverage": [coverage_out(span) for span in member.coverage],
        } for member in dependents],
    }
    return dict(SUBSCRIBER_DETAILS.dump(details), transactions=transactions_out(session, txns))


def _subgroup_number(session, member):
    return session.get(Subgroup, member.subgroup_id).subgroup_number
