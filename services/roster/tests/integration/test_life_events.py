"""Life events through the real roster service: adding a dependent within the event's window (birth, marriage,
court order), dropping one (divorce, death), the tier following the family, a pending addition cancelled, the
dependent_added / dependent_removed events with the whole family, and the age-off job (its admin trigger and
its daily run)."""
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from roster.models import EnrollmentTransaction, Member
from servicekit import clock
from servicekit.testing import wait_for
from servicekit.testing.broker import collect_events
from rostertesting import ADDRESS, TODAY, refusal, user

PLANS = [
    {"plan_code": "LE-PPO", "name": "Family PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "LE-DUO", "name": "Duo EPO", "product": "medical", "plan_type": "EPO", "network": "METRO",
     "tiers": ["EMP", "ESP"]},
]
PLAN_YEAR_START = date(2027, 1, 1)


def set_up_group(roster, age_off_policy="end_of_month"):
    number = "L%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Life Events LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": 0, "age_off_policy": age_off_policy,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@le.example"}]})
    for subgroup, plans in (("001", ["LE-PPO", "LE-DUO"]), ("002", ["LE-PPO"])):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": "Sub %s" % subgroup})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": plans})
    return number


def ssn():
    n = uuid.uuid4().int
    return "%03d%02d%04d" % (100 + n % 600, 10 + n % 89, 1000 + n % 8999)


def enrolled_family(roster, number, token, dependents=(), plan="LE-PPO", subgroup="001"):
    """A family covered since 2027-01-01 (enrolled on that business date), the subscriber's member id."""
    clock.set_today(PLAN_YEAR_START)
    try:
        body = {"subgroup_number": subgroup, "plan_code": plan, "dependents": list(dependents),
                "subscriber": {"first_name": "Dana", "last_name": "Whitfield", "date_of_birth": "1986-04-12",
                               "gender": "F", "marital_status": "M", "ssn": ssn(), "mailing_address": ADDRESS,
                               "hire_date": "2027-01-01", "employment_status": "active"}}
        enrolled = roster.call("enroll_subscriber", number, body, token=token)
        assert enrolled["status"] == "completed"
        return enrolled["subscriber"]["member_id"]
    finally:
        clock.set_today(TODAY)


def spouse(**extra):
    return dict({"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield",
                 "date_of_birth": "1985-09-30", "gender": "M", "ssn": ssn()}, **extra)


def child(first="Riley", born="2015-02-03", **extra):
    return dict({"relationship": "child", "first_name": first, "last_name": "Whitfield", "date_of_birth": born,
                 "gender": "U", "ssn": ssn()}, **extra)


def newborn(born):
    return {"relationship": "child", "first_name": "Robin", "last_name": "Whitfield", "date_of_birth": born,
            "gender": "F"}


def spans_of(family, first_name):
    """[(tier, from, through, status)] of a family member's coverage, as the subscriber page shows it."""
    people = [family] + family["dependents"]
    member = next(person for person in people if person["first_name"] == first_name)
    return [(span["tier"], span["effective_from"], span["effective_through"], span["status"])
            for span in member["coverage"]]


def member_of(family, first_name):
    return next(person for person in family["dependents"] if person["first_name"] == first_name)


# --- adding -----------------------------------------------------------------------------------------

def test_a_newborn_on_day_60_joins_from_the_birth_date_and_day_61_is_refused(roster, roster_config):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin)
    late = refusal(roster.call, "add_dependent", number, head,
                   {"life_event": "birth", "event_date": "2027-01-13", "dependent": newborn("2027-01-13")},
                   token=admin)
    assert (late["status"], late["errors"]) == (422, {"event_date": [
        "A birth must be reported within 60 days of the event; 2027-01-13 was 61 days ago."]})

    with collect_events(roster_config, "roster.events", "dependent_added") as events:
        added = roster.call("add_dependent", number, head, {"life_event": "birth", "event_date": "2027-01-14",
                                                            "dependent": newborn("2027-01-14")}, token=admin)
        event = events.wait_for(1)[0]
    assert (added["status"], added["effective_date"], added["tier"], added["life_event"]) == (
        "completed", "2027-01-14", "ECH", "birth")
    txn = added["transaction"]
    assert (txn["type"], txn["maintenance_type"], txn["reason"], txn["hold_reason"], txn["member_id"]) == (
        "dependent_addition", "021", "02", None, added["member_id"])
    assert txn["request"]["dependent"]["ssn"] is None
    family = added["subscriber"]
    assert spans_of(family, "Dana") == [("EMP", "2027-01-01", "2027-01-13", "terminated"),
                                        ("ECH", "2027-01-14", None, "active")]
    assert spans_of(family, "Robin") == [("ECH", "2027-01-14", None, "active")]
    assert member_of(family, "Robin")["status"] == "active"

    data = event["data"]
    assert data["change"] == {"member_id": added["member_id"], "life_event": "birth", "event_date": "2027-01-14",
                              "effective_date": "2027-01-14"}
    assert (data["transaction"]["confirmation_number"], data["transaction"]["reason"]) == (
        added["confirmation_number"], "02")
    assert [(m["first_name"], m["status"], m["coverage"][-1]["tier"]) for m in data["members"]] == [
        ("Dana", "active", "ECH"), ("Robin", "active", "ECH")]
    assert all("ssn" not in m for m in data["members"])


def test_a_marriage_is_pending_to_the_first_of_next_month_and_a_cancellation_undoes_it(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin)
    day_31 = refusal(roster.call, "add_dependent", number, head,
                     {"life_event": "marriage", "event_date": "2027-02-12", "dependent": spouse()}, token=admin)
    assert "within 30 days" in day_31["errors"]["event_date"][0]

    added = roster.call("add_dependent", number, head,
                        {"life_event": "marriage", "event_date": "2027-02-13", "dependent": spouse()}, token=admin)
    assert (added["status"], added["effective_date"], added["tier"], added["transaction"]["reason"]) == (
        "pending", "2027-04-01", "ESP", "32")
    assert member_of(added["subscriber"], "Sam")["status"] == "prospective"
    assert spans_of(added["subscriber"], "Dana") == [("EMP", "2027-01-01", "2027-03-31", "active"),
                                                    ("ESP", "2027-04-01", None, "pending")]
    # One pending change per family.
    busy = refusal(roster.call, "add_dependent", number, head,
                   {"life_event": "birth", "event_date": "2027-03-01", "dependent": newborn("2027-03-01")},
                   token=admin)
    assert (busy["status"], busy["code"]) == (409, "family_has_pending_change")

    roster.call("cancel_transaction", number, added["confirmation_number"], "entered by mistake", token=admin)
    family = roster.call("get_subscriber", number, head, token=admin)
    assert spans_of(family, "Dana") == [("EMP", "2027-01-01", None, "active"), ("ESP", "2027-04-01", None, "cancelled")]
    assert (member_of(family, "Sam")["status"], spans_of(family, "Sam")) == (
        "cancelled", [("ESP", "2027-04-01", None, "cancelled")])

    again = roster.call("add_dependent", number, head,
                        {"life_event": "marriage", "event_date": "2027-03-01", "dependent": spouse(first_name="Kim")},
                        token=admin)
    assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 1}
    family = roster.call("get_subscriber", number, head, token=admin)
    assert spans_of(family, "Kim") == [("ESP", "2027-04-01", None, "active")]
    with Session(roster_db) as session:
        kim = session.scalar(select(Member).where(Member.member_id == again["member_id"]))
        assert kim.relationship_code == "01"


def test_a_court_order_has_no_window_and_a_second_spouse_or_a_tier_the_plan_does_not_sell_is_refused(roster):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, dependents=[spouse()])
    ordered = roster.call("add_dependent", number, head,
                          {"life_event": "court_order", "event_date": "2026-12-01",   # 104 days ago
                           "dependent": child("Casey", "2016-06-01")}, token=admin)
    assert (ordered["status"], ordered["effective_date"], ordered["tier"], ordered["transaction"]["reason"]) == (
        "pending", "2027-04-01", "FAM", "28")
    roster.call("cancel_transaction", number, ordered["confirmation_number"], "test", token=admin)
    second = refusal(roster.call, "add_dependent", number, head,
                     {"life_event": "domestic_partnership", "event_date": "2027-03-01",
                      "dependent": dict(spouse(first_name="Lee"), relationship="domestic_partner")}, token=admin)
    assert "Only one spouse or domestic partner" in second["errors"]["dependent"]["relationship"][0]

    duo = enrolled_family(roster, number, admin, plan="LE-DUO")
    unsold = refusal(roster.call, "add_dependent", number, duo,
                     {"life_event": "birth", "event_date": "2027-03-01", "dependent": newborn("2027-03-01")},
                     token=admin)
    assert unsold["errors"]["dependent"]["relationship"][0].startswith("Plan LE-DUO does not sell ECH coverage")


def test_who_may_add_a_dependent(roster):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, subgroup="002")
    body = {"life_event": "birth", "event_date": "2027-03-01", "dependent": newborn("2027-03-01")}
    assert refusal(roster.call, "add_dependent", number, head, body, token=user(number, "viewer"))["status"] == 403
    assert refusal(roster.call, "add_dependent", number, head, body,
                   token=user(number, "billing_manager"))["status"] == 403
    limited = user(number, "enrollment_manager", subgroups=["001"])
    assert refusal(roster.call, "add_dependent", number, head, body, token=limited)["status"] == 404
    assert refusal(roster.call, "add_dependent", number, head, body, token=user("OTHER1", "group_admin"))[
        "status"] == 404
    bad = refusal(roster.call, "add_dependent", number, head, {"life_event": "birthday"}, token=admin)
    assert (bad["status"], sorted(bad["errors"])) == (422, ["dependent", "event_date", "life_event"])


# --- a birth reported after a later change keeps that change's history ----------------------------------

def test_a_birth_before_a_divorce_is_added_without_reviving_the_divorced_spouse(roster):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, dependents=[spouse()])
    sam = member_of(roster.call("get_subscriber", number, head, token=admin), "Sam")["member_id"]
    clock.set_today(date(2027, 2, 1))
    try:
        divorced = roster.call("remove_dependent", number, head, sam,
                               {"life_event": "divorce", "event_date": "2027-01-10"}, token=admin)
    finally:
        clock.set_today(TODAY)
    assert (divorced["status"], divorced["effective_date"], divorced["tier"]) == ("completed", "2027-01-31", "EMP")

    added = roster.call("add_dependent", number, head, {"life_event": "birth", "event_date": "2027-01-20",
                                                        "dependent": newborn("2027-01-20")}, token=admin)
    family = added["subscriber"]
    assert [span for span in spans_of(family, "Dana") if span[3] != "cancelled"] == [
        ("ESP", "2027-01-01", "2027-01-19", "terminated"), ("FAM", "2027-01-20", "2027-01-31", "terminated"),
        ("ECH", "2027-02-01", None, "active")]
    assert [span for span in spans_of(family, "Sam") if span[3] != "cancelled"] == [
        ("ESP", "2027-01-01", "2027-01-19", "terminated"), ("FAM", "2027-01-20", "2027-01-31", "terminated")]
    assert spans_of(family, "Robin") == [("FAM", "2027-01-20", "2027-01-31", "terminated"),
                                         ("ECH", "2027-02-01", None, "active")]
    assert (member_of(family, "Sam")["status"], member_of(family, "Robin")["status"]) == ("terminated", "active")


# --- dropping ---------------------------------------------------------------------------------------

def test_a_divorce_ends_the_spouse_at_the_month_end_and_the_family_drops_to_emp(roster, roster_config):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, dependents=[spouse()])
    sam = member_of(roster.call("get_subscriber", number, head, token=admin), "Sam")["member_id"]
    wrong = refusal(roster.call, "remove_dependent", number, head, head,
                    {"life_event": "divorce", "event_date": "2027-03-10"}, token=admin)
    assert wrong["status"] == 404  # the subscriber is not their own dependent

    with collect_events(roster_config, "roster.events", "dependent_removed") as events:
        removed = roster.call("remove_dependent", number, head, sam,
                              {"life_event": "divorce", "event_date": "2027-03-10"}, token=admin)
        event = events.wait_for(1)[0]
    assert (removed["status"], removed["effective_date"], removed["tier"]) == ("pending", "2027-03-31", "EMP")
    txn = removed["transaction"]
    assert (txn["type"], txn["maintenance_type"], txn["reason"]) == ("dependent_removal", "024", "01")
    assert event["data"]["change"] == {"member_id": sam, "life_event": "divorce", "event_date": "2027-03-10",
                                       "effective_date": "2027-03-31"}
    assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 1}
    family = roster.call("get_subscriber", number, head, token=admin)
    assert spans_of(family, "Dana") == [("ESP", "2027-01-01", "2027-03-31", "terminated"),
                                        ("EMP", "2027-04-01", None, "active")]
    assert spans_of(family, "Sam") == [("ESP", "2027-01-01", "2027-03-31", "terminated")]


def test_a_death_ends_coverage_that_day_within_the_retroactive_limit(roster):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, dependents=[spouse(), child()])
    riley = member_of(roster.call("get_subscriber", number, head, token=admin), "Riley")["member_id"]
    too_late = refusal(roster.call, "remove_dependent", number, head, riley,
                       {"life_event": "death", "event_date": "2027-01-10"}, token=admin)
    assert "at most 60 days" in too_late["errors"]["event_date"][0]
    removed = roster.call("remove_dependent", number, head, riley,
                          {"life_event": "death", "event_date": "2027-03-01"}, token=admin)
    assert (removed["status"], removed["effective_date"], removed["tier"], removed["transaction"]["reason"]) == (
        "completed", "2027-03-01", "ESP", "03")
    assert member_of(removed["subscriber"], "Riley")["status"] == "terminated"
    assert spans_of(removed["subscriber"], "Sam") == [("FAM", "2027-01-01", "2027-03-01", "terminated"),
                                                     ("ESP", "2027-03-02", None, "active")]


# --- age-off ----------------------------------------------------------------------------------------

def test_a_child_turning_26_mid_month_is_covered_to_the_month_end_and_a_disabled_one_stays(roster, roster_db,
                                                                                            roster_config):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, dependents=[
        child("Riley", "2001-03-10"), child("Jamie", "2000-05-01", disabled=True)])
    assert refusal(roster.call, "age_off_dependents", "2027-03-15", token=admin)["status"] == 403
    future = refusal(roster.call, "age_off_dependents", "2027-04-01")
    assert (future["status"], list(future["errors"])) == (422, ["as_of"])

    report = roster.call("age_off_dependents", "2027-03-15")  # Riley turned 26 on 2027-03-10
    assert [item for item in report["aged_off"] if item["subscriber_member_id"] == head] == []

    clock.set_today(date(2027, 4, 1))
    with collect_events(roster_config, "roster.events", "dependent_removed") as events:
        report = roster.call("age_off_dependents", None)
        mine = [item for item in report["aged_off"] if item["subscriber_member_id"] == head]
        event = wait_for(lambda: [e for e in events.bodies if e["aggregate_id"] == "family:%s" % head],
                         timeout=10)[0]
    assert [(item["effective_through"], item["status"]) for item in mine] == [("2027-03-31", "completed")]
    family = roster.call("get_subscriber", number, head, token=admin)
    assert spans_of(family, "Riley") == [("ECH", "2027-01-01", "2027-03-31", "terminated")]
    assert spans_of(family, "Jamie") == [("ECH", "2027-01-01", None, "active")]
    assert member_of(family, "Riley")["status"] == "terminated"
    txn = roster.call("get_transaction", number, mine[0]["confirmation_number"], token=admin)
    assert (txn["type"], txn["maintenance_type"], txn["reason"], txn["requested_by"], txn["effective_date"]) == (
        "dependent_age_off", "024", "07", "system:daily-job", "2027-03-31")
    assert event["data"]["change"] == {"member_id": mine[0]["member_id"], "life_event": "age_off",
                                       "event_date": "2027-03-10", "effective_date": "2027-03-31"}
    # Done once: another run finds nobody.
    assert [item for item in roster.call("age_off_dependents", None)["aged_off"]
            if item["subscriber_member_id"] == head] == []


def test_a_family_with_a_pending_change_is_skipped_and_caught_up_later(roster, roster_service, roster_db):
    number = set_up_group(roster, age_off_policy="birthday")
    admin = user(number, "group_admin")
    head = enrolled_family(roster, number, admin, dependents=[child("Riley", "2001-03-10")])
    pending = roster.call("add_dependent", number, head,
                          {"life_event": "marriage", "event_date": "2027-03-01", "dependent": spouse()}, token=admin)
    report = roster.call("age_off_dependents", "2027-03-15")
    assert [item["reason"] for item in report["skipped"] if item["subscriber_member_id"] == head] == [
        "family_has_pending_change"]
    roster.call("cancel_transaction", number, pending["confirmation_number"], "later", token=admin)

    # The daily job (its timer tick) on the next business date catches up: birthday policy, last day 03-09.
    job = next(entrypoint for entrypoint in roster_service.entrypoints
               if getattr(entrypoint, "job", None) == "dependent_age_off")
    clock.set_today(date(2027, 3, 16))
    job.handle_timer_tick()
    job.worker_complete.wait()
    job.worker_complete.reset()
    with Session(roster_db) as session:
        txn = session.scalar(select(EnrollmentTransaction).join(Member, Member.id == EnrollmentTransaction.member_id)
                             .where(EnrollmentTransaction.type == "dependent_age_off",
                                    Member.first_name == "Riley", EnrollmentTransaction.subscriber_id == select(
                                        Member.id).where(Member.member_id == head).scalar_subquery()))
        assert (txn.status, txn.effective_date, txn.requested_by, txn.request["triggered_by"]) == (
            "completed", date(2027, 3, 9), "system:daily-job", "system:daily-job")
