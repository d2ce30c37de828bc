"""Billing's projection of roster's events through the real billing service (billing.projection): roster's
events are published on roster.events as roster's outbox would (envelopes with aggregate and sequence), out of
order and redelivered, and the projection always ends with the newest state, each applied once."""
import uuid
from datetime import date

from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.consumes import CONSUMED
from billing.models import BillableFamily, BillingAccount, BillingGroup, PlanYearOffering
from billing.service import BillingService
from servicekit.events import event_consumers
from servicekit.testing import wait_for
from servicekit.testing.broker import make_envelope, publish_event

OUTCOMES = ("applied", "duplicate", "stale")


def handled(consumer):
    """Deliveries a consumer has finished with (applied, or skipped as duplicate or stale), in this process."""
    return sum(REGISTRY.get_sample_value("events_consumed_total", {"consumer": consumer, "outcome": outcome}) or 0
               for outcome in OUTCOMES)


def outcome_count(consumer, outcome):
    return REGISTRY.get_sample_value("events_consumed_total", {"consumer": consumer, "outcome": outcome}) or 0


def publish(config, event_type, data, aggregate_id, sequence, envelope=None):
    """Publish as roster does and wait until billing's consumer has finished with it; returns the envelope
    (publish it again to redeliver the very same event)."""
    envelope = envelope or make_envelope(event_type, data, aggregate_id=aggregate_id, sequence=sequence,
                                         group_id=data["group_number"], actor="carrier-1")
    consumer = "billing.on_roster_%s" % event_type
    before = handled(consumer)
    publish_event(config, "roster", event_type, envelope)
    wait_for(lambda: handled(consumer) > before, message="billing to handle %s #%s" % (event_type, sequence))
    return envelope


def new_group_number():
    return "P%s" % uuid.uuid4().hex[:7].upper()


def group_event(number, legal_name, subgroups, renewal="2027-01-01"):
    return {"group_number": number, "legal_name": legal_name, "status": "active", "renewal_date": renewal,
            "employee_count": 45, "waiting_period_days": 30, "age_off_policy": "end_of_month",
            "continuation": "cobra", "continuation_months": None,
            "subgroups": [{"subgroup_number": s, "name": name, "status": "active"} for s, name in subgroups]}


def plans_set(number, subgroup, plans, start="2027-01-01", end="2027-12-31"):
    return {"group_number": number, "subgroup_number": subgroup, "plan_year_start": start, "plan_year_end": end,
            "plans": [{"plan_code": code, "name": code, "product": "medical", "plan_type": "PPO", "network": "N",
                       "tiers": tiers} for code, tiers in plans]}


def family_event(number, subgroup, subscriber_id, members, status="completed"):
    return {"group_number": number, "subgroup_number": subgroup, "subscriber_member_id": subscriber_id,
            "transaction": {"confirmation_number": "E20270101-%s" % uuid.uuid4().hex[:6], "type": "x",
                            "maintenance_type": "021", "reason": "28", "status": status,
                            "effective_date": "2027-01-01"},
            "members": members}


def person(member_id, relationship, born, plan="PPO-1", tier="EMP", start="2027-01-01", through=None):
    return {"member_id": member_id, "relationship_code": relationship, "first_name": "A", "last_name": "B",
            "date_of_birth": born, "gender": "U", "status": "active",
            "coverage": [{"plan_code": plan, "tier": tier, "effective_from": start, "effective_through": through,
                          "status": "active", "reason": "28"}]}


def read(engine, fn):
    with Session(engine) as session:
        return fn(session)


def group_row(engine, number):
    return read(engine, lambda s: s.scalar(select(BillingGroup).where(BillingGroup.group_number == number)))


def accounts_of(engine, number):
    def query(session):
        group = session.scalar(select(BillingGroup).where(BillingGroup.group_number == number))
        if group is None:
            return []
        return [(a.account_number, a.subgroup_number, a.name) for a in session.scalars(
            select(BillingAccount).where(BillingAccount.group_id == group.id)
            .order_by(BillingAccount.subgroup_number))]
    return read(engine, query)


def offerings_of(engine, number):
    def query(session):
        group = session.scalar(select(BillingGroup).where(BillingGroup.group_number == number))
        return {(o.subgroup_number, o.plan_year_start): o.plans for o in session.scalars(
            select(PlanYearOffering).where(PlanYearOffering.group_id == group.id))}
    return read(engine, query)


def family_of(engine, subscriber_id):
    def query(session):
        family = session.scalar(select(BillableFamily).where(BillableFamily.subscriber_member_id == subscriber_id))
        return None if family is None else (family.subgroup_number, family.sequence, family.members)
    return read(engine, query)


def test_every_event_billing_consumes_has_its_consumer():
    consumed = {(entrypoint.source_service, entrypoint.event_type) for _name, entrypoint
                in event_consumers(BillingService) if entrypoint.source_service == "roster"}
    assert consumed == set(CONSUMED)


def test_group_events_in_any_order_end_with_the_newest_group_and_one_account_per_subgroup(
        billing_service, billing_config, billing_db):
    number = new_group_number()
    aggregate = "group:%s" % number

    # roster created the group (1), subgroups 001 (2) and 002 (3), renamed things (5): billing hears 3 first.
    created_002 = publish(billing_config, "subgroup_created",
                          {"group_number": number, "subgroup_number": "002", "name": "Plant", "status": "active"},
                          aggregate, 3)
    assert accounts_of(billing_db, number) == [("%s-002" % number, "002", "Plant")]
    placeholder = group_row(billing_db, number)
    assert (placeholder.legal_name, placeholder.group_sequence, placeholder.rating_method) == (number, 0, "composite")

    publish(billing_config, "group_updated",
            group_event(number, "Harbor Light Manufacturing", [("001", "Office"), ("002", "Plant North")]),
            aggregate, 5)
    publish(billing_config, "subgroup_created",
            {"group_number": number, "subgroup_number": "001", "name": "Old office", "status": "active"},
            aggregate, 2)
    publish(billing_config, "group_created", group_event(number, "Harbor Light Mfg (old)", []), aggregate, 1)

    group = group_row(billing_db, number)
    assert (group.legal_name, group.status, group.renewal_date, group.group_sequence) == (
        "Harbor Light Manufacturing", "active", date(2027, 1, 1), 5)
    assert accounts_of(billing_db, number) == [("%s-001" % number, "001", "Office"),
                                               ("%s-002" % number, "002", "Plant North")]

    # The same subgroup_created delivered again: skipped as a duplicate, still one account, name unchanged.
    duplicates = outcome_count("billing.on_roster_subgroup_created", "duplicate")
    publish(billing_config, "subgroup_created", None, aggregate, 3, envelope=created_002)
    assert outcome_count("billing.on_roster_subgroup_created", "duplicate") == duplicates + 1
    assert accounts_of(billing_db, number) == [("%s-001" % number, "001", "Office"),
                                               ("%s-002" % number, "002", "Plant North")]


def test_offerings_keep_the_newest_per_subgroup_and_plan_year(billing_service, billing_config, billing_db):
    number = new_group_number()
    aggregate = "group:%s" % number
    publish(billing_config, "group_created", group_event(number, "Offer Co", [("001", "A"), ("002", "B")]),
            aggregate, 1)
    # 002's offering (8) is handled before 001's (7): both are kept, they are different offerings.
    publish(billing_config, "group_plans_set", plans_set(number, "002", [("HMO-1", ["EMP", "FAM"])]), aggregate, 8)
    publish(billing_config, "group_plans_set", plans_set(number, "001", [("PPO-1", ["EMP", "ESP", "ECH", "FAM"])]),
            aggregate, 7)
    # An older offering of 001 arriving late changes nothing; a newer one replaces it; another year is its own.
    publish(billing_config, "group_plans_set", plans_set(number, "001", [("DEN-1", ["EMP"])]), aggregate, 6)
    publish(billing_config, "group_plans_set",
            plans_set(number, "001", [("PPO-1", ["EMP", "FAM"]), ("HMO-1", ["EMP"])]), aggregate, 9)
    publish(billing_config, "group_plans_set", plans_set(number, "001", [("PPO-2", ["EMP"])], start="2028-01-01",
                                                         end="2028-12-31"), aggregate, 10)

    assert offerings_of(billing_db, number) == {
        ("001", date(2027, 1, 1)): [{"plan_code": "PPO-1", "tiers": ["EMP", "FAM"]},
                                    {"plan_code": "HMO-1", "tiers": ["EMP"]}],
        ("002", date(2027, 1, 1)): [{"plan_code": "HMO-1", "tiers": ["EMP", "FAM"]}],
        ("001", date(2028, 1, 1)): [{"plan_code": "PPO-2", "tiers": ["EMP"]}],
    }


def test_family_snapshots_out_of_order_end_with_the_newest_and_a_redelivery_does_nothing(
        billing_service, billing_config, billing_db):
    number = new_group_number()
    subscriber = "M%09d" % (uuid.uuid4().int % 10 ** 9)
    spouse = "M%09d" % (uuid.uuid4().int % 10 ** 9)
    aggregate = "family:%s" % subscriber
    publish(billing_config, "group_created", group_event(number, "Family Co", [("001", "A"), ("002", "B")]),
            "group:%s" % number, 1)
    alone = [person(subscriber, "18", "1986-04-12")]
    married = [person(subscriber, "18", "1986-04-12", tier="ESP"),
               person(spouse, "01", "1985-09-30", tier="ESP", start="2027-02-14")]

    # The spouse's addition (3) arrives before the enrollment (1): the enrollment is older, so it is ignored.
    added = publish(billing_config, "dependent_added", family_event(number, "001", subscriber, married), aggregate, 3)
    publish(billing_config, "subscriber_enrolled", family_event(number, "001", subscriber, alone), aggregate, 1)
    held = family_of(billing_db, subscriber)
    assert held[:2] == ("001", 3)
    assert held[2] == [
        {"member_id": subscriber, "relationship_code": "18", "date_of_birth": "1986-04-12", "status": "active",
         "coverage": [{"plan_code": "PPO-1", "tier": "ESP", "effective_from": "2027-01-01",
                       "effective_through": None, "status": "active", "continuation": None}]},
        {"member_id": spouse, "relationship_code": "01", "date_of_birth": "1985-09-30", "status": "active",
         "coverage": [{"plan_code": "PPO-1", "tier": "ESP", "effective_from": "2027-02-14",
                       "effective_through": None, "status": "active", "continuation": None}]},
    ]

    # The family moves to subgroup 002 (4): its premium goes to that account from now on.
    publish(billing_config, "member_transferred", family_event(number, "002", subscriber, married), aggregate, 4)
    assert family_of(billing_db, subscriber)[:2] == ("002", 4)

    # dependent_added #3 delivered again: a duplicate, nothing changes (the transfer stays).
    duplicates = outcome_count("billing.on_roster_dependent_added", "duplicate")
    publish(billing_config, "dependent_added", None, aggregate, 3, envelope=added)
    assert outcome_count("billing.on_roster_dependent_added", "duplicate") == duplicates + 1
    assert family_of(billing_db, subscriber)[:2] == ("002", 4)

    # A family whose group billing has not heard of yet is kept; the group's own event describes it later.
    other_number = new_group_number()
    other = "M%09d" % (uuid.uuid4().int % 10 ** 9)
    publish(billing_config, "transaction_status_changed", family_event(other_number, "001", other, alone[:1]),
            "family:%s" % other, 2)
    assert family_of(billing_db, other)[:2] == ("001", 2)
    publish(billing_config, "group_created", group_event(other_number, "Late Group", [("001", "A")]),
            "group:%s" % other_number, 1)
    assert group_row(billing_db, other_number).legal_name == "Late Group"
