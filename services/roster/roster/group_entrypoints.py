"""The group side of the roster service: what carrier staff set up (plans, groups, subgroups, the plans each
subgroup is offered per plan year, the provider directory) and what a group's users see and change at group
level (the overview, subgroups, plans offered, contacts, the dashboard).

Each entrypoint reads the same way: check the caller (roster.access), load the input with its wire schema
(portal_contracts.roster_groups), apply the rules (roster.domain.groups), write, record the event in the
outbox in the same transaction, answer with the wire schema. Every state-changing RPC is idempotent.
"""
from collections import Counter

from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal_contracts import roster_groups as wire
from roster import access, group_events
from roster.domain import groups
from roster.models import CoverageSpan, EnrollmentTransaction, Group, Member, Plan, PlanOffering, Provider, \
    ProviderNetwork, Subgroup
from roster.transactions import record_transaction, transaction_out
from servicekit import clock
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict, ValidationFailed, load_input
from servicekit.idempotency import idempotent
from servicekit.roles import CARRIER_ADMIN, CHANGE_ROSTER, VIEW_ROSTER

MAX_PROVIDERS_PER_LOAD = 5000      # a directory is loaded in batches this big: one transaction each
COVERING_SPANS = ("pending", "active")
GROUP_CONTACT_UPDATE = "group_contact_update"
SUBGROUP_CONTACT_UPDATE = "subgroup_contact_update"


def _field(value, key):
    """A key of an RPC argument for an idempotency target, before the argument is validated."""
    return value.get(key, "") if isinstance(value, dict) else ""


class GroupEntrypoints:
    """Mixed into RosterService (roster.service), which provides db, caller, outbox and config."""

    # --- carrier set-up --------------------------------------------------------------------------

    @rpc
    @idempotent(target=lambda plans: "plans")
    def load_plans(self, plans):
        """Add the carrier's plans or update them, by plan code."""
        access.require_carrier(self.caller)
        loaded = load_input(wire.PlanInput(many=True), plans)
        _refuse_empty_or_repeated([plan["plan_code"] for plan in loaded], "plan")
        existing = {plan.plan_code: plan for plan in self.db.scalars(
            select(Plan).where(Plan.plan_code.in_([data["plan_code"] for data in loaded])))}
        saved = []
        for data in loaded:
            if data["requires_pcp"] is None:
                data["requires_pcp"] = groups.requires_pcp_by_default(data["plan_type"])
            plan = existing.get(data["plan_code"])
            if plan is None:
                plan = Plan()
                self.db.add(plan)
            for name, value in data.items():
                setattr(plan, name, value)
            saved.append(plan)
        self.db.flush()
        return wire.PlanLoadResult().dump({"plans": saved})

    @rpc
    def list_plans(self):
        access.require_carrier(self.caller)
        return wire.Plan(many=True).dump(self.db.scalars(select(Plan).order_by(Plan.plan_code)))

    @rpc
    @idempotent(target=lambda group: "group:%s" % _field(group, "group_number"))
    def create_group(self, group):
        access.require_carrier(self.caller)
        data = load_input(wire.GroupInput(), group)
        _checked(groups.check_waiting_period, data["waiting_period_days"])
        data["continuation"], data["continuation_months"] = _checked(
            groups.continuation_policy, data["employee_count"], data["continuation"], data["continuation_months"])
        if self.db.scalar(select(Group.id).where(Group.group_number == data["group_number"])) is not None:
            raise _group_exists(data["group_number"])
        new_group = Group(status="active", created_at=clock.utcnow(), **data)
        self.db.add(new_group)
        try:
            self.db.flush()
        except IntegrityError:
            raise _group_exists(data["group_number"]) from None  # created meanwhile under another key
        self._publish_group(group_events.GROUP_CREATED, new_group)
        return wire.Group().dump(new_group)

    @rpc
    @idempotent(target=lambda group_number, subgroup: "group:%s" % group_number)
    def create_subgroup(self, group_number, subgroup):
        access.require_carrier(self.caller)
        group = access.load_group(self.db, self.caller, group_number, CARRIER_ADMIN)
        data = load_input(wire.SubgroupInput(), subgroup)
        taken = self.db.scalar(select(Subgroup.id).where(Subgroup.group_id == group.id,
                                                         Subgroup.subgroup_number == data["subgroup_number"]))
        if taken is not None:
            raise _subgroup_exists(group, data["subgroup_number"])
        new_subgroup = Subgroup(group=group, status="active", **data)
        self.db.add(new_subgroup)
        try:
            self.db.flush()
        except IntegrityError:
            raise _subgroup_exists(group, data["subgroup_number"]) from None
        view = _subgroup_view(new_subgroup)
        self.outbox.record(group_events.SUBGROUP_CREATED, group_events.SubgroupCreated().dump(view),
                           aggregate_id=group_events.group_aggregate(group.group_number),
                           group_id=group.group_number)
        return wire.Subgroup().dump(view)

    @rpc
    @idempotent(target=lambda group_number, subgroup_number, offering: "subgroup:%s/%s"
                % (group_number, subgroup_number))
    def set_subgroup_plans(self, group_number, subgroup_number, offering):
        """The plans a subgroup is offered for one plan year, replacing what it was offered before."""
        access.require_carrier(self.caller)
        subgroup = access.load_subgroup(self.db, self.caller, group_number, subgroup_number, CARRIER_ADMIN)
        data = load_input(wire.OfferingInput(), offering)
        group = subgroup.group
        _checked(groups.check_plan_year_start, data["plan_year_start"], group.renewal_date)
        plan_year = groups.plan_year_of(data["plan_year_start"], group.renewal_date)
        plans = {plan.plan_code: plan for plan in self.db.scalars(
            select(Plan).where(Plan.plan_code.in_(data["plan_codes"])))}
        _checked(groups.check_offering, data["plan_codes"], plans)
        chosen = sorted((plans[code] for code in data["plan_codes"]), key=lambda plan: plan.plan_code)

        offered_now = {offer.plan_id: offer for offer in self.db.scalars(
            select(PlanOffering).options(selectinload(PlanOffering.plan))
            .where(PlanOffering.subgroup_id == subgroup.id, PlanOffering.plan_year_start == plan_year.start))}
        withdrawn = [offer for plan_id, offer in offered_now.items() if plan_id not in {p.id for p in chosen}]
        self._refuse_withdrawing_plans_in_use(subgroup, [offer.plan for offer in withdrawn], plan_year)
        for offer in withdrawn:
            self.db.delete(offer)
        for plan in chosen:
            if plan.id not in offered_now:
                self.db.add(PlanOffering(subgroup_id=subgroup.id, plan_id=plan.id, plan_year_start=plan_year.start,
                                         plan_year_end=plan_year.end))
        self.db.flush()

        view = _offering_view(subgroup, plan_year, chosen)
        self.outbox.record(group_events.GROUP_PLANS_SET, group_events.GroupPlansSet().dump(view),
                           aggregate_id=group_events.group_aggregate(group.group_number),
                           group_id=group.group_number)
        return wire.Offering().dump(view)

    @rpc
    @idempotent(target=lambda providers: "providers")
    def load_providers(self, providers):
        """Add providers to the directory or update them, by NPI; each one's networks are replaced."""
        access.require_carrier(self.caller)
        if isinstance(providers, list) and len(providers) > MAX_PROVIDERS_PER_LOAD:
            raise ValidationFailed("Load at most %d providers at a time." % MAX_PROVIDERS_PER_LOAD,
                                   errors={"_schema": ["At most %d providers at a time." % MAX_PROVIDERS_PER_LOAD]})
        loaded = load_input(wire.ProviderInput(many=True), providers)
        _refuse_empty_or_repeated([provider["npi"] for provider in loaded], "provider", field="npi")
        existing = {provider.npi: provider for provider in self.db.scalars(
            select(Provider).where(Provider.npi.in_([data["npi"] for data in loaded])))}
        saved = []
        for data in loaded:
            provider = existing.get(data["npi"])
            if provider is None:
                provider = Provider(npi=data["npi"])
                self.db.add(provider)
            provider.name = data["name"]
            provider.name_key = data["name"].lower()
            provider.specialty = data["specialty"]
            provider.phone = data["phone"]
            provider.address = data["address"]
            provider.zip = data["address"]["zip"][:5]  # members search by 5-digit ZIP
            provider.accepting_new_patients = data["accepting_new_patients"]
            saved.append((provider, data["networks"]))
        self.db.flush()
        self.db.execute(delete(ProviderNetwork).where(
            ProviderNetwork.provider_id.in_([provider.id for provider, _ in saved])))
        self.db.add_all(ProviderNetwork(provider_id=provider.id, network=network)
                        for provider, networks in saved for network in networks)
        self.db.flush()
        return wire.ProviderLoadResult().dump({"loaded": len(saved)})

    # --- what a group's users see ----------------------------------------------------------------

    @rpc
    def get_group(self, group_number):
        """The overview: the group, the subgroups the caller may see with this plan year's plans and member
        counts, and totals over those subgroups only (no group-wide totals for a subgroup-limited caller)."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        shown = access.visible_subgroups(self.caller, group, VIEW_ROSTER)
        today = clock.today()
        plan_year = groups.plan_year_of(today, group.renewal_date)
        offered = self._plans_offered(shown, plan_year)
        counts = self._member_counts(group, shown, today)
        return wire.GroupOverview().dump({
            "group": group,
            "renewal_date": groups.next_renewal_date(group.renewal_date, today),
            "plan_year": plan_year,
            "subgroups": [_subgroup_overview(subgroup, plan_year, offered[subgroup.id], counts[subgroup.id])
                          for subgroup in shown],
            "counts": groups.total_counts(counts.values()),
            "limited_to_subgroups": self.caller.subgroups(group.group_number, VIEW_ROSTER) is not None,
        })

    @rpc
    def list_subgroups(self, group_number):
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        return wire.Subgroup(many=True).dump(
            [_subgroup_view(subgroup) for subgroup in access.visible_subgroups(self.caller, group, VIEW_ROSTER)])

    @rpc
    def get_subgroup(self, group_number, subgroup_number):
        subgroup = access.load_subgroup(self.db, self.caller, group_number, subgroup_number, VIEW_ROSTER)
        today = clock.today()
        plan_year = groups.plan_year_of(today, subgroup.group.renewal_date)
        offered = self._plans_offered([subgroup], plan_year)
        counts = self._member_counts(subgroup.group, [subgroup], today)
        return wire.SubgroupOverview().dump(
            _subgroup_overview(subgroup, plan_year, offered[subgroup.id], counts[subgroup.id]))

    @rpc
    def list_group_plans(self, group_number, plan_year_start=None):
        """The plans each subgroup the caller sees is offered in a plan year (default: the current one)."""
        group = access.load_group(self.db, self.caller, group_number, VIEW_ROSTER)
        query = load_input(wire.GroupPlansQuery(), {"plan_year_start": plan_year_start})
        shown = access.visible_subgroups(self.caller, group, VIEW_ROSTER)
        plan_year = groups.plan_year_of(query["plan_year_start"] or clock.today(), group.renewal_date)
        offered = self._plans_offered(shown, plan_year)
        return wire.GroupPlans().dump({
            "group_number": group.group_number,
            "plan_year_start": plan_year.start,
            "plan_year_end": plan_year.end,
            "offerings": [_offering_view(subgroup, plan_year, offered[subgroup.id]) for subgroup in shown],
        })

    @rpc
    def dashboard(self):
        """Per group the caller holds a grant on: the next renewal and the pending transactions of the subgroups
        it may see. Carrier staff hold no grants (they reach every group through their work queues)."""
        self.caller.require_authenticated()
        if self.caller.is_carrier:
            return []
        today = clock.today()
        found = self.db.scalars(select(Group).options(selectinload(Group.subgroups))
                                .where(Group.group_number.in_(sorted(self.caller.groups())))
                                .order_by(Group.group_number)).all()
        pending = {(group_id, subgroup_id): count for group_id, subgroup_id, count in self.db.execute(
            select(EnrollmentTransaction.group_id, EnrollmentTransaction.subgroup_id, func.count())
            .where(EnrollmentTransaction.group_id.in_([group.id for group in found]),
                   EnrollmentTransaction.status == "pending")
            .group_by(EnrollmentTransaction.group_id, EnrollmentTransaction.subgroup_id))}
        entries = []
        for group in found:
            allowed = self.caller.subgroups(group.group_number, VIEW_ROSTER)
            if allowed is not None and not allowed:
                continue
            shown = None if allowed is None else {s.id for s in access.visible_subgroups(self.caller, group,
                                                                                          VIEW_ROSTER)}
            entries.append({
                "group_number": group.group_number,
                "legal_name": group.legal_name,
                "renewal_date": groups.next_renewal_date(group.renewal_date, today),
                "pending_transactions": sum(count for (group_id, subgroup_id), count in pending.items()
                                            if group_id == group.id and (shown is None or subgroup_id in shown)),
            })
        return wire.DashboardGroup(many=True).dump(entries)

    # --- contact updates: recorded as completed transactions --------------------------------------

    @rpc
    @idempotent(target=lambda group_number, contact: "group:%s" % group_number)
    def update_group_contact(self, group_number, contact):
        group = access.load_group(self.db, self.caller, group_number, CHANGE_ROSTER)
        # The group's contacts are group-wide: a grant limited to some subgroups may not change them.
        self.caller.require(CHANGE_ROSTER, group.group_number)
        changes = load_input(wire.ContactUpdate(), contact)
        before = groups.contact_of_kind(group.contacts, changes["kind"])
        after = _whole(wire.Contact(), groups.merge_contact(before, changes))
        group.contacts = groups.replace_contact(group.contacts, after)
        transaction = record_transaction(
            self.db, group=group, type=GROUP_CONTACT_UPDATE, effective_date=clock.today(),
            requested_by=self.caller.actor_id, request=changes, before=before, after=after)
        self._publish_group(group_events.GROUP_UPDATED, group)
        return _with_transaction(wire.GroupContactUpdated().dump({"group": group}), transaction)

    @rpc
    @idempotent(target=lambda group_number, subgroup_number, contact: "subgroup:%s/%s"
                % (group_number, subgroup_number))
    def update_subgroup_contact(self, group_number, subgroup_number, contact):
        subgroup = access.load_subgroup(self.db, self.caller, group_number, subgroup_number, CHANGE_ROSTER)
        changes = load_input(wire.SubgroupContactUpdate(), contact)
        before = subgroup.contact
        after = _whole(wire.ContactDetails(), groups.merge_contact(before, changes))
        subgroup.contact = after
        transaction = record_transaction(
            self.db, group=subgroup.group, subgroup=subgroup, type=SUBGROUP_CONTACT_UPDATE,
            effective_date=clock.today(), requested_by=self.caller.actor_id, request=changes, before=before,
            after=after)
        self._publish_group(group_events.GROUP_UPDATED, subgroup.group)
        return _with_transaction(wire.SubgroupContactUpdated().dump({"subgroup": _subgroup_view(subgroup)}),
                                 transaction)

    # --- helpers ---------------------------------------------------------------------------------

    def _publish_group(self, event_type, group):
        self.outbox.record(event_type, group_events.GroupState().dump(group),
                           aggregate_id=group_events.group_aggregate(group.group_number),
                           group_id=group.group_number)

    def _refuse_withdrawing_plans_in_use(self, subgroup, plans, plan_year):
        """A plan leaves a subgroup's offering only while nobody there is covered by it in that plan year:
        their coverage would point at a plan the subgroup no longer has."""
        if not plans:
            return
        in_use = self.db.scalars(
            select(Plan.plan_code).distinct()
            .join(CoverageSpan, CoverageSpan.plan_id == Plan.id)
            .join(Member, Member.id == CoverageSpan.member_id)
            .where(Member.subgroup_id == subgroup.id, Plan.id.in_([plan.id for plan in plans]),
                   CoverageSpan.status.in_(COVERING_SPANS), CoverageSpan.effective_from <= plan_year.end,
                   or_(CoverageSpan.effective_through.is_(None), CoverageSpan.effective_through >= plan_year.start))
            .order_by(Plan.plan_code)).all()
        if in_use:
            raise Conflict("Members of subgroup %s are covered by %s in the plan year starting %s; move them to "
                           "another plan before withdrawing it." % (subgroup.subgroup_number, ", ".join(in_use),
                                                                    plan_year.start.isoformat()),
                           code="plan_in_use")

    def _plans_offered(self, subgroups, plan_year):
        """{subgroup id: [Plan]} offered in the plan year, by plan code."""
        offered = {subgroup.id: [] for subgroup in subgroups}
        if not offered:
            return offered
        rows = self.db.execute(
            select(PlanOffering.subgroup_id, Plan)
            .join(Plan, Plan.id == PlanOffering.plan_id)
            .where(PlanOffering.subgroup_id.in_(list(offered)), PlanOffering.plan_year_start == plan_year.start)
            .order_by(Plan.plan_code))
        for subgroup_id, plan in rows:
            offered[subgroup_id].append(plan)
        return offered

    def _member_counts(self, group, subgroups, today):
        """{subgroup id: counts}: members by status, subscribers by status and by the tier of their current
        coverage (their medical span first when they hold several products), counted in the database."""
        counts = {subgroup.id: groups.empty_counts() for subgroup in subgroups}
        if not counts:
            return counts
        in_subgroups = (Member.group_id == group.id, Member.subgroup_id.in_(list(counts)),
                        Member.status != groups.NOT_COUNTED_MEMBER_STATUS)

        is_subscriber = Member.subscriber_id.is_(None).label("is_subscriber")
        for subgroup_id, status, subscriber, how_many in self.db.execute(
                select(Member.subgroup_id, Member.status, is_subscriber, func.count())
                .where(*in_subgroups).group_by(Member.subgroup_id, Member.status, is_subscriber)):
            groups.count_members(counts[subgroup_id], status, subscriber, how_many)

        rank = func.row_number().over(
            partition_by=CoverageSpan.member_id,
            order_by=(case((Plan.product == "medical", 0), else_=1), CoverageSpan.effective_from.desc(),
                      CoverageSpan.id.desc())).label("rank")
        current = (
            select(Member.subgroup_id.label("subgroup_id"), CoverageSpan.tier.label("tier"), rank)
            .join(CoverageSpan, CoverageSpan.member_id == Member.id)
            .join(Plan, Plan.id == CoverageSpan.plan_id)
            .where(*in_subgroups, Member.subscriber_id.is_(None), CoverageSpan.status == "active",
                   CoverageSpan.effective_from <= today,
                   or_(CoverageSpan.effective_through.is_(None), CoverageSpan.effective_through >= today))
            .subquery())
        for subgroup_id, tier, how_many in self.db.execute(
                select(current.c.subgroup_id, current.c.tier, func.count())
                .where(current.c.rank == 1).group_by(current.c.subgroup_id, current.c.tier)):
            groups.count_tier(counts[subgroup_id], tier, how_many)
        return counts


# --- answers and refusals --------------------------------------------------------------------------

def _subgroup_view(subgroup):
    return {"group_number": subgroup.group.group_number, "subgroup_number": subgroup.subgroup_number,
            "name": subgroup.name, "mailing_address": subgroup.mailing_address, "contact": subgroup.contact,
            "status": subgroup.status}


def _subgroup_overview(subgroup, plan_year, plans, counts):
    return dict(_subgroup_view(subgroup), plan_year=plan_year, plans=plans, counts=counts)


def _offering_view(subgroup, plan_year, plans):
    return {"group_number": subgroup.group.group_number, "subgroup_number": subgroup.subgroup_number,
            "plan_year_start": plan_year.start, "plan_year_end": plan_year.end, "plans": plans}


def _with_transaction(answer, transaction):
    # transaction_out answers a transaction already serialised (the member side's Transaction schema).
    return dict(answer, transaction=transaction_out(transaction))


def _checked(rule, *args):
    """Apply a domain rule; a broken one is a 422 naming the field it concerns."""
    try:
        return rule(*args)
    except groups.RuleBroken as broken:
        raise ValidationFailed(broken.message, errors=broken.errors) from None


def _whole(schema, data):
    """A record after a partial update, loaded again: 422 unless it is still whole (a new contact without a
    name, one left with no e-mail or phone); every field present, so stored contacts all have one shape."""
    return load_input(schema, data)


def _refuse_empty_or_repeated(keys, what, field="plan_code"):
    if not keys:
        raise ValidationFailed("Give at least one %s." % what, errors={"_schema": ["Give at least one %s." % what]})
    repeated = sorted(key for key, times in Counter(keys).items() if times > 1)
    if repeated:
        raise ValidationFailed("Each %s once: %s repeated." % (what, ", ".join(repeated)),
                               errors={field: ["Repeated: %s." % ", ".join(repeated)]})


def _group_exists(group_number):
    return Conflict("Group %s already exists." % group_number, code="group_exists")


def _subgroup_exists(group, subgroup_number):
    return Conflict("Subgroup %s already exists in group %s." % (subgroup_number, group.group_number),
                    code="subgroup_exists")
