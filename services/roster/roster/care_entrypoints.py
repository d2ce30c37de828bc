"""Primary care providers (view, change, provider search) and ID cards (view, PDF, mailed replacements) (issue 5).

A PCP change is a transaction (834 maintenance 001, reason 15) with a confirmation number: completed when it
takes effect today, pending until a later date it was asked for (the daily job completes it; cancelling it
restores the previous PCP). The assignment rows carry their own dates, so the PCP shown on a day is the one
whose dates cover it. A mailed replacement card is a completed transaction (030, no reason: nothing in the
enrollment changes). Rules: roster.domain.care; what a member's cards and PCP are: roster.snapshots.member_care.
"""
import base64
from datetime import date

from sqlalchemy import func, select

from portal_contracts import roster_care as wire
from portal_contracts.roster_members import RELATIONSHIP_NAMES
from roster import access, coverage, id_cards, snapshots, transactions
from roster.domain import care as rules
from roster.domain.enrollment import TXN_PENDING, Problems
from roster.lifecycle_events import ID_CARD_REQUESTED, PCP_CHANGED
from roster.events import publish_family_change
from roster.models import EnrollmentTransaction, PcpAssignment, Plan, Provider, ProviderNetwork
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.roles import CHANGE_ROSTER, VIEW_ROSTER

DEFAULT_CARRIER_NAME = "Harbor Health Plan"   # services/roster/config.yaml's defaults
DEFAULT_CARRIER_PHONE = "1-800-555-0142"
PROVIDER = wire.Provider()
ID_CARDS = wire.IdCard(many=True)
# Transactions come dumped already (transactions.transaction_out), so they join after these dumps.
PCP_CHANGED_OUT = wire.PcpChanged(exclude=("transaction",))
CARDS_REQUESTED_OUT = wire.IdCardRequested(exclude=("transaction",))


class CareEntrypoints:
    """Mixed into RosterService (roster.service)."""

    # --- the provider directory ------------------------------------------------------------------------

    @rpc
    def list_providers(self, filters):
        """Any signed-in user: the directory by name prefix, ZIP and specialty; with `plan`, only the providers
        in that plan's network (what a PCP may be chosen from)."""
        self.caller.require_authenticated()
        data = load_input(wire.ProviderSearch(), filters)
        plan = self._plan_to_search(data["plan"])
        providers, total = _find_providers(self.db, data, plan.network if plan else None)
        networks = _networks_of(self.db, providers)
        return wire.ProviderPage().dump({
            "items": [dict(PROVIDER.dump(provider), networks=networks[provider.id]) for provider in providers],
            "total": total, "page": data["page"], "limit": data["limit"],
            "plan_code": plan.plan_code if plan else None, "network": plan.network if plan else None})

    def _plan_to_search(self, plan_code):
        if plan_code is None:
            return None
        plan = self.db.scalar(select(Plan).where(Plan.plan_code == plan_code))
        if plan is None:
            raise ValidationFailed("The provider search names an unknown plan.",
                                   errors={"plan": ["No plan %s." % plan_code]})
        return plan

    # --- PCP --------------------------------------------------------------------------------------------

    @rpc
    def get_pcp(self, group_number, member_id):
        """The member's PCP in the plan of their current (or next pending) coverage, whether the plan requires
        one, and the pcp_required flag when it does and none is on file."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, VIEW_ROSTER)
        state = snapshots.member_care(self.db, [member], clock.today())[member.id]
        self._log_access("get_pcp", group, 1)
        return wire.MemberPcp().dump(_pcp_view(member, state))

    @rpc
    @idempotent()
    def change_pcp(self, group_number, member_id, body):
        """Choose the member's PCP from the in-network providers of their plan, from today or a later date."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        data = load_input(wire.PcpChangeInput(), body)
        member = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER)
        subscriber = member.subscriber or member
        coverage.lock_family(self.db, subscriber)  # two changes of one member's PCP must not interleave
        self._refuse_pending_pcp_change(member)
        today = clock.today()
        state = snapshots.member_care(self.db, [member], today)[member.id]
        if state.coverage is None:
            raise rules.NoCurrentCoverage("Member %s has no current or upcoming medical coverage to choose a PCP "
                                          "for." % member.member_id)
        problems = Problems()
        effective_from = rules.pcp_effective_date(data["effective_date"], state.coverage, today, problems)
        provider = self._provider(data["npi"])
        rules.check_pcp_choice(data["npi"], _provider_view(self.db, provider), state.coverage,
                               state.pcp.provider.npi if state.pcp else None, state.existing_patient_npi, problems)
        problems.raise_if_any("The PCP change breaks a rule; see errors.")

        txn, assignment = self._record_pcp_change(group, subscriber, member, state, provider, effective_from,
                                                  data, today)
        publish_family_change(self.outbox, self.db, PCP_CHANGED, group, subscriber, txn, change={
            "member_id": member.member_id, "plan_code": assignment.plan.plan_code, "npi": provider.npi,
            "provider_name": provider.name, "effective_from": effective_from})
        return dict(PCP_CHANGED_OUT.dump({
            "confirmation_number": txn.confirmation_number, "status": txn.status,
            "effective_date": txn.effective_date, "member_id": member.member_id,
            "pcp": snapshots.pcp_summary(assignment), "previous_pcp": snapshots.pcp_summary(state.pcp)}),
            transaction=transactions.transaction_out(txn))

    def _record_pcp_change(self, group, subscriber, member, state, provider, effective_from, data, today):
        """The transaction (keeping what undoing it restores), the previous assignments ended the day before,
        and the new assignment."""
        plan = self.db.scalar(select(Plan).where(Plan.plan_code == state.coverage.plan_code))
        ends = rules.previous_ends([(row.id, row.effective_through) for row in state.assignments], effective_from)
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=_subgroup_of(group, member), subscriber=subscriber, member=member,
            type=rules.PCP_CHANGE, effective_date=effective_from, requested_by=self.caller.actor_id,
            request={"npi": data["npi"], "effective_date": _iso(data["effective_date"])},
            status=rules.pcp_change_status(effective_from, today), maintenance_type=rules.CHANGE,
            reason=rules.PCP_CHANGE_REASON,
            before={"pcp": _json_safe(snapshots.pcp_summary(state.pcp)),
                    "assignment_ends": {str(row.id): _iso(row.effective_through)
                                        for row in state.assignments if row.id in ends}},
            after={"plan_code": plan.plan_code, "npi": provider.npi, "provider_name": provider.name,
                   "effective_from": effective_from.isoformat()})
        for row in state.assignments:
            if row.id in ends:
                row.effective_through = ends[row.id]
        assignment = PcpAssignment(member_id=member.id, provider_id=provider.id, provider=provider, plan_id=plan.id,
                                   plan=plan, effective_from=effective_from, effective_through=None,
                                   transaction_id=txn.id, assigned_at=clock.utcnow())
        self.db.add(assignment)
        self.db.flush()
        return txn, assignment

    def _refuse_pending_pcp_change(self, member):
        pending = self.db.scalar(select(EnrollmentTransaction).where(
            EnrollmentTransaction.member_id == member.id, EnrollmentTransaction.type == rules.PCP_CHANGE,
            EnrollmentTransaction.status == TXN_PENDING))
        if pending is not None:
            raise rules.PcpChangePending(
                "Member %s has a PCP change pending from %s (confirmation %s); cancel it first, or wait until it "
                "takes effect." % (member.member_id, pending.effective_date.isoformat(), pending.confirmation_number))

    def _provider(self, npi):
        if npi is None:
            return None
        return self.db.scalar(select(Provider).where(Provider.npi == npi))

    # --- ID cards ---------------------------------------------------------------------------------------

    @rpc
    def list_id_cards(self, group_number, member_id):
        """One card per plan of the member's current (or next pending) coverage."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, VIEW_ROSTER)
        cards = self._cards_of(group, member)
        self._log_access("list_id_cards", group, 1)
        return {"member_id": member.member_id, "cards": cards}

    @rpc
    def id_card_pdf(self, group_number, member_id, card):
        """One of those cards as a PDF: {filename, content_type, content_base64}."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        member = access.load_member(self.db, self.caller, group, member_id, VIEW_ROSTER)
        found = rules.find_card(card, member.member_id, self._cards_of(group, member))
        content = id_cards.card_pdf(found, clock.today())
        self._log_access("id_card_pdf", group, 1)
        return wire.IdCardFile().dump({"filename": id_cards.filename(found), "content_type": id_cards.CONTENT_TYPE,
                                       "content_base64": base64.b64encode(content).decode("ascii")})

    @rpc
    @idempotent()
    def request_id_cards(self, group_number, member_id, body):
        """Mail replacement cards of the member (or of every covered member of the family) to the subscriber's
        mailing address or another one: a completed transaction; no coverage changes."""
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        data = load_input(wire.IdCardRequestInput(), body)
        member = access.load_member(self.db, self.caller, group, member_id, CHANGE_ROSTER)
        subscriber = member.subscriber or member
        family = snapshots.family_members(self.db, subscriber)
        states = snapshots.member_care(self.db, family, clock.today())
        holders = rules.card_holders(data["scope"], member,
                                     [(person, states[person.id].coverages) for person in family])
        problems = Problems()
        mail_to = rules.mailing_address(data["mail_to"], subscriber.mailing_address, problems)
        problems.raise_if_any("The ID card request cannot be mailed; see errors.")

        member_ids = [person.member_id for person, _ in holders]
        plan_codes = sorted({coverage_.plan_code for _, coverages in holders for coverage_ in coverages})
        card_ids = [card for person, _ in holders for card, _c, _d in states[person.id].cards()]
        today = clock.today()
        mail_to = _address(mail_to)
        txn = transactions.record_transaction(
            self.db, group=group, subgroup=_subgroup_of(group, member), subscriber=subscriber, member=member,
            type=rules.ID_CARD_REQUEST, effective_date=today, requested_by=self.caller.actor_id,
            request={"scope": data["scope"], "reason": data["reason"],
                     "mail_to": _address(data["mail_to"]) if data["mail_to"] else None},
            maintenance_type=rules.AUDIT_OR_COMPARE,
            after={"member_ids": member_ids, "card_ids": card_ids, "plan_codes": plan_codes, "mail_to": mail_to,
                   "reason": data["reason"]})
        publish_family_change(self.outbox, self.db, ID_CARD_REQUESTED, group, subscriber, txn, change={
            "member_ids": member_ids, "plan_codes": plan_codes, "mail_to": mail_to})
        return dict(CARDS_REQUESTED_OUT.dump({
            "confirmation_number": txn.confirmation_number, "status": txn.status,
            "effective_date": txn.effective_date, "scope": data["scope"], "reason": data["reason"],
            "member_ids": member_ids, "card_ids": card_ids, "mail_to": mail_to}),
            transaction=transactions.transaction_out(txn))

    def _cards_of(self, group, member):
        """The member's current cards as the wire shows them (IdCard, dumped)."""
        subscriber = member.subscriber or member
        state = snapshots.member_care(self.db, [member], clock.today())[member.id]
        pcp = snapshots.pcp_summary(state.pcp)
        return ID_CARDS.dump([{
            "card_id": card, "member_id": member.member_id, "member_name": _full_name(member),
            "relationship": RELATIONSHIP_NAMES.get(member.relationship_code),
            "subscriber_member_id": subscriber.member_id, "subscriber_name": _full_name(subscriber),
            "group_number": group.group_number, "group_name": group.legal_name,
            "plan_code": coverage_.plan_code, "plan_name": coverage_.plan_name, "product": coverage_.product,
            "plan_type": coverage_.plan_type, "network": coverage_.network, "tier": coverage_.tier,
            "effective_date": effective, "coverage_status": coverage_.status,
            # a PCP belongs to the medical plan; a dental or vision card shows none
            "pcp": pcp if coverage_ is state.coverage else None,
            "pcp_required": state.pcp_required if coverage_ is state.coverage else False,
            "carrier_name": self.config.get("CARRIER_NAME") or DEFAULT_CARRIER_NAME,
            "carrier_phone": self.config.get("CARRIER_PHONE") or DEFAULT_CARRIER_PHONE,
        } for card, coverage_, effective in state.cards()])

    # --- shared -----------------------------------------------------------------------------------------

# --- helpers --------------------------------------------------------------------------------------------

def _find_providers(session, data, network):
    """A page of providers (by name, then NPI) matching the search, and the total."""
    query = select(Provider)
    if network is not None:
        query = query.where(Provider.id.in_(select(ProviderNetwork.provider_id)
                                            .where(ProviderNetwork.network == network)))
    if data["zip"]:
        query = query.where(Provider.zip == data["zip"])
    if data["q"]:
        query = query.where(_name_prefix(data["q"]))
    if data["specialty"]:
        query = query.where(func.lower(Provider.specialty) == data["specialty"].lower())
    if data["accepting_new_patients"] is not None:
        query = query.where(Provider.accepting_new_patients.is_(data["accepting_new_patients"]))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    providers = session.scalars(query.order_by(Provider.name_key, Provider.npi)
                                .offset((data["page"] - 1) * data["limit"]).limit(data["limit"])).all()
    return providers, total


def _name_prefix(q):
    """Provider.name_key starts with what was typed. load_providers keys a name as name.lower() (punctuation
    and spaces kept), so the prefix is keyed the same way; LIKE's wildcards in it are matched literally, and the
    range condition lets the name_key index serve the prefix."""
    key = q.strip().lower()
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Provider.name_key.like(escaped + "%", escape="\\") & (Provider.name_key >= key)


def _networks_of(session, providers):
    networks = {provider.id: [] for provider in providers}
    if providers:
        for provider_id, network in session.execute(
                select(ProviderNetwork.provider_id, ProviderNetwork.network)
                .where(ProviderNetwork.provider_id.in_(list(networks))).order_by(ProviderNetwork.network)):
            networks[provider_id].append(network)
    return networks


def _provider_view(session, provider):
    if provider is None:
        return None
    networks = session.scalars(select(ProviderNetwork.network).where(ProviderNetwork.provider_id == provider.id))
    return rules.ProviderView(provider.npi, provider.name, frozenset(networks), bool(provider.accepting_new_patients))


def _pcp_view(member, state):
    coverage_ = state.coverage
    return {"member_id": member.member_id,
            "plan_code": coverage_.plan_code if coverage_ else None,
            "plan_name": coverage_.plan_name if coverage_ else None,
            "plan_type": coverage_.plan_type if coverage_ else None,
            "network": coverage_.network if coverage_ else None,
            "requires_pcp": state.requires_pcp, "pcp_required": state.pcp_required,
            "pcp": snapshots.pcp_summary(state.pcp), "scheduled_pcp": snapshots.pcp_summary(state.scheduled)}


def _subgroup_of(group, member):
    return next(subgroup for subgroup in group.subgroups if subgroup.id == member.subgroup_id)


def _full_name(member):
    return " ".join(part for part in (member.first_name, member.middle_name, member.last_name) if part)


def _address(address):
    """An address as transactions and events keep it (lifecycle_events.Address)."""
    return {key: address.get(key) for key in ("line1", "line2", "city", "state", "zip")}


def _iso(day):
    return day.isoformat() if day else None


def _json_safe(summary):
    if summary is None:
        return None
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in summary.items()}


# --- undoing a pending PCP change (cancelled by the group, or rejected) -------------------------------------

def undo_pcp_change(session, txn):
    """The assignment the change made goes; the assignments it ended run on as before."""
    ends = (txn.before or {}).get("assignment_ends") or {}
    for row in session.scalars(select(PcpAssignment).where(PcpAssignment.member_id == txn.member_id)):
        if row.transaction_id == txn.id:
            session.delete(row)
        elif str(row.id) in ends:
            through = ends[str(row.id)]
            row.effective_through = date.fromisoformat(through) if through else None
    session.flush()


transactions.ON_UNDO[rules.PCP_CHANGE] = undo_pcp_change
