"""Billing's projection of roster's groups, subgroups, offerings and families (issue 6): consumers of
roster's events (billing.consumes), each applying only what is newer than what it holds.

Billing never reads roster's tables; what it bills comes from these events (docs/roster-contract.md):
  group_created, group_updated  -> BillingGroup (legal name, status, renewal date), and an account per subgroup
  subgroup_created              -> the subgroup's BillingAccount "<group>-<subgroup>"
  group_plans_set               -> PlanYearOffering of one subgroup and plan year (what rates are needed for)
  every family event            -> BillableFamily: the family's whole state, members and coverage spans

Why the kit's ordering is not enough on its own: servicekit.events orders each consumer (one per event type)
per aggregate, but one aggregate carries several event types and several objects:
- group:<n> carries group_created/updated, subgroup_created and group_plans_set of every subgroup. Two
  subgroups' subgroup_created (or two offerings) are different objects on the same aggregate: processed by two
  workers, the newer one committing first would make the kit skip the older one as "stale" and lose an
  account or an offering. So those two consumers are unordered: opening an account is idempotent, and an
  offering keeps its own position per subgroup and plan year (offering_aggregate) in the kit's table.
- family:<subscriber> carries fifteen event types, each a whole snapshot, each with its own consumer: the
  snapshot is applied only when its sequence is newer than BillableFamily.sequence (likewise a group's
  snapshot against BillingGroup.group_sequence), in one upsert, so two replicas cannot both win.
A redelivered event is never applied twice: the kit records each event id per consumer with the effect.
"""
from datetime import date

from sqlalchemy import select

from billing.consumes import CONSUMED, FamilyChanged, GroupChanged, GroupPlansSet, SubgroupCreated
from billing.models import BillableFamily, BillingAccount, BillingGroup, PlanYearOffering
from servicekit import clock
from servicekit.db import is_postgresql
from servicekit.events import consumer
from servicekit.tables import consumer_positions

GROUP_CHANGED = GroupChanged()
SUBGROUP_CREATED = SubgroupCreated()
GROUP_PLANS_SET = GroupPlansSet()
FAMILY_CHANGED = FamilyChanged()

OFFERING_CONSUMER = "billing.on_roster_group_plans_set"


class CoverageProjection:
    """Mixed into BillingService (billing.service), which provides `db`. The family consumers, one per family
    event type of billing.consumes.CONSUMED, are added below the class (family_consumer)."""

    @consumer("roster", "group_created")
    def on_roster_group_created(self, envelope):
        apply_group(self.db, GROUP_CHANGED.load(envelope["data"]), envelope["sequence"])

    @consumer("roster", "group_updated")
    def on_roster_group_updated(self, envelope):
        apply_group(self.db, GROUP_CHANGED.load(envelope["data"]), envelope["sequence"])

    @consumer("roster", "subgroup_created", ordered=False)
    def on_roster_subgroup_created(self, envelope):
        data = SUBGROUP_CREATED.load(envelope["data"])
        open_account(self.db, known_group_id(self.db, data["group_number"]), data["group_number"], data)

    @consumer("roster", "group_plans_set", ordered=False)
    def on_roster_group_plans_set(self, envelope):
        data = GROUP_PLANS_SET.load(envelope["data"])
        if is_newer(self.db, OFFERING_CONSUMER, offering_aggregate(data), envelope["sequence"]):
            replace_offering(self.db, known_group_id(self.db, data["group_number"]), data)

    def apply_family_event(self, envelope):
        apply_family(self.db, FAMILY_CHANGED.load(envelope["data"]), envelope["sequence"])


def family_consumer(event_type):
    """The consumer of one family event type: every one carries the family's whole state."""
    def handler(self, envelope):
        self.apply_family_event(envelope)
    # The kit names the consumer (its queue, its processed events) after the function: one per event type.
    handler.__name__ = handler.__qualname__ = "on_roster_%s" % event_type
    handler.__doc__ = "roster's %s: the family's whole state after the change." % event_type
    return consumer("roster", event_type)(handler)


FAMILY_EVENT_TYPES = sorted(event_type for (source, event_type), schema in CONSUMED.items()
                            if source == "roster" and schema is FamilyChanged)
for _event_type in FAMILY_EVENT_TYPES:
    setattr(CoverageProjection, "on_roster_%s" % _event_type, family_consumer(_event_type))


# --- applying the events --------------------------------------------------------------------------------

def apply_group(session, data, sequence):
    """The group as roster now describes it, if newer than what billing holds; every subgroup listed gets its
    account (an older snapshot still opens accounts: subgroups are never removed, only renamed)."""
    described = {"legal_name": data["legal_name"], "status": data["status"], "renewal_date": data["renewal_date"],
                 "group_sequence": sequence}
    table = BillingGroup.__table__
    upsert = _insert(session, BillingGroup).values(group_number=data["group_number"], **described)
    upsert = upsert.on_conflict_do_update(index_elements=[table.c.group_number], set_=described,
                                          where=table.c.group_sequence < sequence).returning(table.c.id)
    applied = session.execute(upsert).first()
    group_id = applied.id if applied is not None else _group_id(session, data["group_number"])
    for subgroup in data["subgroups"]:
        open_account(session, group_id, data["group_number"], subgroup, describe=applied is not None)


def known_group_id(session, group_number):
    """The group's id; a group billing has not heard of yet is added with its number for a name, to be
    described by its group_created (sequence 0 loses to any). Events of one aggregate may arrive on different
    queues in any order, so a subgroup or a family may come first."""
    known = _group_id(session, group_number)
    if known is not None:
        return known
    table = BillingGroup.__table__
    session.execute(_insert(session, BillingGroup)
                    .values(group_number=group_number, legal_name=group_number, status="active", group_sequence=0)
                    .on_conflict_do_nothing(index_elements=[table.c.group_number]))
    return _group_id(session, group_number)


def open_account(session, group_id, group_number, subgroup, describe=False):
    """The subgroup's billing account, opened once whichever event names it first; `describe` (a newer group
    snapshot) also brings its name and status up to date."""
    table = BillingAccount.__table__
    described = {"name": subgroup["name"], "status": subgroup["status"]}
    opening = _insert(session, BillingAccount).values(
        account_number=account_number(group_number, subgroup["subgroup_number"]), group_id=group_id,
        subgroup_number=subgroup["subgroup_number"], created_at=clock.utcnow(), **described)
    if describe:
        opening = opening.on_conflict_do_update(index_elements=[table.c.group_id, table.c.subgroup_number],
                                                set_=described)
    else:
        opening = opening.on_conflict_do_nothing()
    session.execute(opening)


def account_number(group_number, subgroup_number):
    return "%s-%s" % (group_number, subgroup_number)


def offering_aggregate(data):
    """The position an offering keeps: one per subgroup and plan year (roster replaces it as a whole)."""
    return "offering:%s/%s/%s" % (data["group_number"], data["subgroup_number"], data["plan_year_start"].isoformat())


def is_newer(session, consumer_name, aggregate_id, sequence):
    """Move the consumer's position for `aggregate_id` up to `sequence`; False (and nothing moves) when it
    already holds that sequence or a newer one. The row stays locked until the effect commits."""
    table = consumer_positions
    move = _insert(session, table).values(consumer=consumer_name, aggregate_id=aggregate_id, sequence=sequence)
    move = move.on_conflict_do_update(index_elements=[table.c.consumer, table.c.aggregate_id],
                                      set_={"sequence": move.excluded.sequence},
                                      where=table.c.sequence < move.excluded.sequence).returning(table.c.sequence)
    return session.execute(move).first() is not None


def replace_offering(session, group_id, data):
    table = PlanYearOffering.__table__
    offered = {"plan_year_end": data["plan_year_end"],
               "plans": [{"plan_code": plan["plan_code"], "tiers": list(plan["tiers"])} for plan in data["plans"]]}
    session.execute(_insert(session, PlanYearOffering)
                    .values(group_id=group_id, subgroup_number=data["subgroup_number"],
                            plan_year_start=data["plan_year_start"], **offered)
                    .on_conflict_do_update(index_elements=[table.c.group_id, table.c.subgroup_number,
                                                           table.c.plan_year_start], set_=offered))


def apply_family(session, data, sequence):
    """The family's snapshot, if newer than the one held. A family transferred to another subgroup moves with
    it: its premium goes to that subgroup's account from then on."""
    table = BillableFamily.__table__
    snapshot = {"group_id": known_group_id(session, data["group_number"]),
                "subgroup_number": data["subgroup_number"], "sequence": sequence,
                "members": as_text(data["members"]), "updated_at": clock.utcnow()}
    session.execute(_insert(session, BillableFamily)
                    .values(subscriber_member_id=data["subscriber_member_id"], **snapshot)
                    .on_conflict_do_update(index_elements=[table.c.subscriber_member_id], set_=snapshot,
                                           where=table.c.sequence < sequence))


def as_text(value):
    """A loaded payload with its dates as YYYY-MM-DD text again (the JSON column keeps them so)."""
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _group_id(session, group_number):
    return session.scalar(select(BillingGroup.id).where(BillingGroup.group_number == group_number))


def _insert(session, model):
    """INSERT ... ON CONFLICT of the session's database (PostgreSQL; SQLite in quick tests)."""
    if is_postgresql(session.get_bind()):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model.__table__ if hasattr(model, "__table__") else model)
