"""Enrollment transactions through the real roster service: DOMAIN.md's state machine (pending -> completed |
rejected | cancelled), the daily job and its admin trigger, carrier review of held changes, the group's edits
and cancellations, every state change published with the family's state after it, and the history's
filters."""
import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prometheus_client import REGISTRY

from roster.models import CoverageSpan, EnrollmentTransaction, Member
from servicekit import clock, tables
from servicekit.jobs import ScheduledJob
from servicekit.testing import wait_for
from servicekit.testing.broker import collect_events
from rostertesting import ADDRESS, TODAY, refusal, user

PLANS = [
    {"plan_code": "PPO-FAM", "name": "Family PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "EPO-DUO", "name": "Duo EPO", "product": "medical", "plan_type": "EPO", "network": "METRO",
     "tiers": ["EMP", "ESP"]},
    {"plan_code": "HMO-PLANT", "name": "Plant HMO", "product": "medical", "plan_type": "HMO", "network": "METRO"},
]




def set_up_group(roster, waiting=0):
    number = "G%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": waiting,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}]})
    for subgroup, name, plans in (("001", "Office", ["PPO-FAM", "EPO-DUO"]), ("002", "Plant", ["HMO-PLANT"])):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": name})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": plans})
    return number


def enrollment(ssn, hire, last="Whitfield", dependents=(), effective=None, subgroup="001", plan="PPO-FAM"):
    body = {"subgroup_number": subgroup, "plan_code": plan, "dependents": list(dependents),
            "subscriber": {"first_name": "Dana", "last_name": last, "date_of_birth": "1986-04-12", "gender": "F",
                           "marital_status": "M", "ssn": ssn, "mailing_address": ADDRESS, "hire_date": hire,
                           "employment_status": "active"}}
    if effective:
        body["effective_date"] = effective
    return body


SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}
CHILD = {"relationship": "child", "first_name": "Riley", "last_name": "Whitfield", "date_of_birth": "2015-02-03",
         "gender": "U", "ssn": "345-67-8901"}


def family_state(roster_db, member_id):
    """(member status, [span statuses]) of each member of the family, subscriber first."""
    with Session(roster_db) as session:
        head = session.scalar(select(Member).where(Member.member_id == member_id))
        members = session.scalars(select(Member).where((Member.id == head.id) | (Member.subscriber_id == head.id))
                                  .order_by(Member.id)).all()
        return [(member.status, [span.status for span in member.coverage]) for member in members]


def family_events(events, member_id, count):
    """The family's events among those collected, once `count` of them arrived."""
    def arrived():
        mine = [event for event in events.bodies if event["aggregate_id"] == "family:%s" % member_id]
        return mine if len(mine) >= count else None
    return wait_for(arrived, timeout=10, message="%d events of family %s" % (count, member_id))


def tick(job):
    """One tick of the hourly timer, as nameko's timer loop makes it: spawn the worker, wait for its result."""
    job.handle_timer_tick()
    job.worker_complete.wait()
    job.worker_complete.reset()


def job_ticks(outcome):
    return REGISTRY.get_sample_value("job_runs_total", {"job": "complete_due_transactions", "outcome": outcome}) or 0



# --- a future-dated enrollment: prospective until its date --------------------------------------------

def test_a_future_dated_enrollment_is_prospective_until_the_admin_trigger_completes_it(roster, roster_db,
                                                                                     roster_config):
    number = set_up_group(roster, waiting=0)
    admin = user(number, "group_admin")
    with collect_events(roster_config, "roster.events") as events:
        enrolled = roster.call("enroll_subscriber", number, enrollment("123-45-6789", "2027-03-20", dependents=[SPOUSE]),
                               token=admin)
        member_id = enrolled["subscriber"]["member_id"]
        assert (enrolled["status"], enrolled["effective_date"]) == ("pending", "2027-04-01")
        assert family_state(roster_db, member_id) == [("prospective", ["pending"]), ("prospective", ["pending"])]
        prospective = roster.call("search_members", number, {"status": "prospective"}, token=admin)
        assert sorted(item["relationship"] for item in prospective["items"]) == ["spouse", "subscriber"]
        assert roster.call("search_members", number, {"status": "active"}, token=admin)["total"] == 0

        assert refusal(roster.call, "complete_due_transactions", "2027-03-31", token=admin)["status"] == 403
        assert roster.call("complete_due_transactions", "2027-03-31") == {"completed": 0}
        assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 1}
        assert roster.call("complete_due_transactions", "2027-04-02") == {"completed": 0}  # done once
        received = family_events(events, member_id, 2)

    assert family_state(roster_db, member_id) == [("active", ["active"]), ("active", ["active"])]
    txn = roster.call("get_transaction", number, enrolled["confirmation_number"], token=admin)
    assert (txn["status"], txn["decided_by"]) == ("completed", "carrier-1")
    assert [(event["event_type"], event["sequence"], event["data"]["transaction"]["status"]) for event in received] == [
        ("subscriber_enrolled", 1, "pending"), ("transaction_status_changed", 2, "completed")]
    assert [(m["status"], m["coverage"][0]["status"]) for m in received[1]["data"]["members"]] == [
        ("active", "active"), ("active", "active")]


def test_the_daily_job_completes_due_transactions_once_per_business_date(roster, roster_service, roster_db):
    number = set_up_group(roster, waiting=0)
    admin = user(number, "group_admin")
    due = roster.call("enroll_subscriber", number, enrollment("123-45-6789", "2027-03-20"), token=admin)
    later = roster.call("enroll_subscriber", number, enrollment("456-78-9012", "2027-04-10", last="Later"),
                        token=admin)
    job = next(entrypoint for entrypoint in roster_service.entrypoints
               if isinstance(entrypoint, ScheduledJob) and entrypoint.job == "complete_due_transactions")

    def txn_status(confirmation):
        with Session(roster_db) as session:
            return session.scalar(select(EnrollmentTransaction.status)
                                  .where(EnrollmentTransaction.confirmation_number == confirmation))

    def job_runs():
        with Session(roster_db) as session:
            return session.execute(select(tables.job_runs.c.as_of, tables.job_runs.c.status)
                                   .where(tables.job_runs.c.job == "complete_due_transactions")).all()

    clock.set_today(date(2027, 4, 1))
    ran = job_ticks("ran")
    tick(job)
    assert job_ticks("ran") == ran + 1
    assert txn_status(due["confirmation_number"]) == "completed"
    assert txn_status(later["confirmation_number"]) == "pending"  # its date has not come
    assert job_runs() == [(date(2027, 4, 1), "done")]
    with Session(roster_db) as session:
        txn = session.scalar(select(EnrollmentTransaction)
                             .where(EnrollmentTransaction.confirmation_number == due["confirmation_number"]))
        assert (txn.decided_by, txn.decision_reason) == ("system:daily-job", "effective date 2027-04-01 reached")

    # Another tick on the same business date is skipped (the job runs once per as_of across replicas), even
    # with another transaction due by then; the next business date runs again.
    with Session(roster_db) as session:
        session.execute(EnrollmentTransaction.__table__.update()
                        .where(EnrollmentTransaction.confirmation_number == later["confirmation_number"])
                        .values(effective_date=date(2027, 4, 1), completes_on=date(2027, 4, 1)))
        session.commit()
    skipped = job_ticks("skipped")
    tick(job)
    assert job_ticks("skipped") == skipped + 1
    assert txn_status(later["confirmation_number"]) == "pending"
    clock.set_today(date(2027, 4, 2))
    tick(job)
    assert txn_status(later["confirmation_number"]) == "completed"
    assert job_runs() == [(date(2027, 4, 1), "done"), (date(2027, 4, 2), "done")]


# --- carrier review of held (retroactive) changes -------------------------------------------------------

def test_held_enrollments_are_approved_or_rejected_by_carrier_staff(roster, roster_db, roster_config):
    number = set_up_group(roster, waiting=0)
    admin = user(number, "group_admin")
    # Hired 2027-01-01; asked on 2027-03-15 to start on 2027-01-29: 45 days back, held for review.
    approved_one = roster.call("enroll_subscriber", number,
                               enrollment("123-45-6789", "2027-01-01", effective="2027-01-29", dependents=[CHILD]),
                               token=admin)
    rejected_one = roster.call("enroll_subscriber", number,
                               enrollment("456-78-9012", "2027-01-01", last="Rejected", effective="2027-01-29"),
                               token=admin)
    assert approved_one["status"] == rejected_one["status"] == "pending"
    hold = approved_one["transaction"]["hold_reason"]
    assert "45 days in the past" in hold and "carrier review" in hold
    assert approved_one["subscriber"]["status"] == "pending"
    # Nothing completes a held change but carrier staff: not even the daily job.
    assert roster.call("complete_due_transactions", "2027-03-15") == {"completed": 0}

    held = roster.call("list_held_transactions", {})
    mine = [item["confirmation_number"] for item in held["items"] if item["group_number"] == number]
    assert mine == [approved_one["confirmation_number"], rejected_one["confirmation_number"]]
    assert refusal(roster.call, "list_held_transactions", {}, token=admin)["status"] == 403
    assert refusal(roster.call, "approve_transaction", approved_one["confirmation_number"], None,
                   token=admin)["status"] == 403

    with collect_events(roster_config, "roster.events", "transaction_status_changed") as events:
        approved = roster.call("approve_transaction", approved_one["confirmation_number"], "documents received")
        rejected = roster.call("reject_transaction", rejected_one["confirmation_number"], "not eligible: part-time")
        received = events.wait_for(2)
    assert (approved["status"], approved["decided_by"], approved["decision_reason"], approved["hold_reason"]) == (
        "completed", "carrier-1", "documents received", None)
    assert (rejected["status"], rejected["decision_reason"]) == ("rejected", "not eligible: part-time")
    assert family_state(roster_db, approved_one["subscriber"]["member_id"]) == [("active", ["active"]),
                                                                                ("active", ["active"])]
    assert family_state(roster_db, rejected_one["subscriber"]["member_id"]) == [("cancelled", ["cancelled"])]
    by_confirmation = {event["data"]["transaction"]["confirmation_number"]: event["data"] for event in received}
    assert by_confirmation[rejected["confirmation_number"]]["members"][0]["status"] == "cancelled"
    assert by_confirmation[approved["confirmation_number"]]["transaction"]["status"] == "completed"

    again = refusal(roster.call, "approve_transaction", approved_one["confirmation_number"], None)
    assert (again["status"], again["code"]) == (409, "transaction_not_pending")
    assert refusal(roster.call, "reject_transaction", rejected_one["confirmation_number"], "twice")["status"] == 409
    future = roster.call("enroll_subscriber", number, enrollment("567-89-0123", "2027-03-20", last="Future"),
                         token=admin)
    not_held = refusal(roster.call, "approve_transaction", future["confirmation_number"], None)
    assert (not_held["status"], not_held["code"]) == (409, "transaction_not_held")
    assert refusal(roster.call, "approve_transaction", "E000000AAAAAA", None)["status"] == 404


# --- the group cancels or edits a pending one ---------------------------------------------------------

def test_a_cancelled_pending_enrollment_publishes_the_familys_unchanged_state(roster, roster_db, roster_config):
    number = set_up_group(roster, waiting=0)
    admin = user(number, "group_admin")
    enrolled = roster.call("enroll_subscriber", number,
                           enrollment("123-45-6789", "2027-03-20", dependents=[SPOUSE, CHILD]), token=admin)
    member_id = enrolled["subscriber"]["member_id"]
    with collect_events(roster_config, "roster.events", "transaction_status_changed") as events:
        cancelled = roster.call("cancel_transaction", number, enrolled["confirmation_number"], "hire withdrew",
                                token=admin)
        [event] = events.wait_for(1)
    assert (cancelled["status"], cancelled["decided_by"], cancelled["decision_reason"]) == (
        "cancelled", "group_admin-%s-all" % number, "hire withdrew")
    assert (event["aggregate_id"], event["sequence"]) == ("family:%s" % member_id, 2)
    data = event["data"]
    assert data["transaction"]["status"] == "cancelled" and data["subscriber_member_id"] == member_id
    assert len(data["members"]) == 3
    for member in data["members"]:  # not enrolled: nobody is covered, nothing is active
        assert member["status"] == "cancelled"
        assert all(span["status"] == "cancelled" for span in member["coverage"])
    assert family_state(roster_db, member_id) == [("cancelled", ["cancelled"])] * 3

    assert roster.call("search_members", number, {"q": "whitfield"}, token=admin)["total"] == 0
    assert roster.call("search_members", number, {"status": "cancelled"}, token=admin)["total"] == 3
    assert refusal(roster.call, "cancel_transaction", number, enrolled["confirmation_number"], "again",
                   token=admin)["code"] == "transaction_not_pending"
    assert refusal(roster.call, "edit_transaction", number, enrolled["confirmation_number"],
                   {"effective_date": "2027-05-01"}, token=admin)["status"] == 409
    assert refusal(roster.call, "cancel_transaction", number, enrolled["confirmation_number"], "x",
                   token=user(number, "viewer"))["status"] == 403

    # The person may be enrolled again later: the same member row, an initial enrollment again.
    again = roster.call("enroll_subscriber", number, enrollment("123-45-6789", "2027-03-20"), token=admin)
    assert (again["subscriber"]["member_id"], again["transaction"]["reason"]) == (member_id, "28")


def test_a_pending_enrollment_is_edited_by_the_rules_of_the_enrollment(roster, roster_db, roster_config):
    number = set_up_group(roster, waiting=0)
    admin = user(number, "group_admin")
    family = roster.call("enroll_subscriber", number,
                         enrollment("123-45-6789", "2027-03-20", dependents=[SPOUSE, CHILD]), token=admin)
    single = roster.call("enroll_subscriber", number, enrollment("456-78-9012", "2027-03-20", last="Single"),
                         token=admin)
    confirmation = family["confirmation_number"]

    with collect_events(roster_config, "roster.events", "transaction_status_changed") as events:
        edited = roster.call("edit_transaction", number, confirmation, {"effective_date": "2027-05-01"}, token=admin)
        [event] = events.wait_for(1)
    assert (edited["status"], edited["effective_date"]) == ("pending", "2027-05-01")
    assert edited["after"]["edits"][0]["changes"] == {"effective_date": ["2027-04-01", "2027-05-01"]}
    assert event["data"]["transaction"]["effective_date"] == "2027-05-01"
    assert {span["effective_from"] for m in event["data"]["members"] for span in m["coverage"]} == {"2027-05-01"}

    too_late = refusal(roster.call, "edit_transaction", number, confirmation, {"effective_date": "2027-07-01"},
                       token=admin)  # hire 2027-03-20: day 91 is 2027-06-18
    assert too_late["status"] == 422 and "day 91" in too_late["errors"]["effective_date"][0]
    no_family_tier = refusal(roster.call, "edit_transaction", number, confirmation, {"plan_code": "EPO-DUO"},
                             token=admin)
    assert "does not sell FAM" in no_family_tier["errors"]["plan_code"][0]
    other_subgroup = refusal(roster.call, "edit_transaction", number, single["confirmation_number"],
                             {"plan_code": "HMO-PLANT"}, token=admin)
    assert "not offered to subgroup 001" in other_subgroup["errors"]["plan_code"][0]

    moved = roster.call("edit_transaction", number, single["confirmation_number"], {"plan_code": "EPO-DUO"},
                        token=admin)
    assert moved["after"]["plan_code"] == "EPO-DUO"
    page = roster.call("get_subscriber", number, single["subscriber"]["member_id"], token=admin)
    assert [(c["plan_code"], c["tier"], c["status"]) for c in page["coverage"]] == [("EPO-DUO", "EMP", "pending")]

    # A held one moved to a date within 30 days back needs no review any more: it completes at once.
    held = roster.call("enroll_subscriber", number, enrollment("567-89-0123", "2027-01-01", last="Held",
                                                               effective="2027-01-29"), token=admin)
    completed = roster.call("edit_transaction", number, held["confirmation_number"],
                            {"effective_date": "2027-02-20"}, token=admin)
    assert (completed["status"], completed["hold_reason"]) == ("completed", None)
    assert family_state(roster_db, held["subscriber"]["member_id"]) == [("active", ["active"])]


# --- the history and its filters -----------------------------------------------------------------------

def test_transactions_are_listed_with_filters_and_only_where_the_caller_may_look(roster, roster_db):
    number = set_up_group(roster, waiting=0)
    other = set_up_group(roster, waiting=0)
    admin, plant = user(number, "group_admin"), user(number, "enrollment_manager", subgroups=["002"])
    clock.set_today(date(2027, 3, 10))
    first = roster.call("enroll_subscriber", number, enrollment("123-45-6789", "2027-03-01", last="First"),
                        token=admin)
    clock.set_today(TODAY)
    second = roster.call("enroll_subscriber", number, enrollment("456-78-9012", "2027-03-20", last="Second"),
                         token=admin)
    in_plant = roster.call("enroll_subscriber", number, enrollment("567-89-0123", "2027-03-20", last="Plant",
                                                                   subgroup="002", plan="HMO-PLANT"), token=plant)
    contact = roster.call("update_group_contact", number,
                          {"kind": "billing", "name": "Bo Biller", "email": "bo@harbor.example"}, token=admin)
    foreign = roster.call("enroll_subscriber", other, enrollment("678-90-1234", "2027-03-01"),
                          token=user(other, "group_admin"))

    def confirmations(filters, token=admin):
        page = roster.call("list_transactions", number, filters, token=token)
        return page["total"], [item["confirmation_number"] for item in page["items"]]

    everything = confirmations({})
    assert everything[0] == 4 and set(everything[1]) == {
        first["confirmation_number"], second["confirmation_number"], in_plant["confirmation_number"],
        contact["transaction"]["confirmation_number"]}
    assert everything[1][-1] == first["confirmation_number"]  # newest first
    assert confirmations({"date_to": "2027-03-10"}) == (1, [first["confirmation_number"]])
    assert confirmations({"date_from": "2027-03-11", "type": "new_enrollment"})[0] == 2
    assert confirmations({"status": "completed", "type": "new_enrollment"}) == (1, [first["confirmation_number"]])
    assert confirmations({"member_id": second["subscriber"]["member_id"]}) == (1, [second["confirmation_number"]])
    assert confirmations({"requested_by": "enrollment_manager-%s-002" % number}) == (
        1, [in_plant["confirmation_number"]])
    assert confirmations({"limit": 2, "page": 2})[0] == 4 and len(confirmations({"limit": 2, "page": 2})[1]) == 2
    # A caller limited to subgroup 002 sees 002's transactions only (no group-level ones either).
    assert confirmations({}, token=plant) == (1, [in_plant["confirmation_number"]])
    assert refusal(roster.call, "get_transaction", number, first["confirmation_number"],
                   token=plant)["status"] == 404
    # Another group's confirmation number is not found here.
    assert refusal(roster.call, "get_transaction", number, foreign["confirmation_number"],
                   token=admin)["code"] == "transaction_not_found"
    bad = refusal(roster.call, "list_transactions", number, {"date_from": "2027-03-20", "date_to": "2027-03-01"},
                  token=admin)
    assert bad["status"] == 422 and "date_to" in bad["errors"]
    with Session(roster_db) as session:
        assert session.scalar(select(func.count()).select_from(CoverageSpan)) == 4
