"""COBRA and state continuation through the real roster service (RabbitMQ, PostgreSQL): a terminated family
elects within 60 days of the later of the notice and the loss of coverage and is covered without a gap; the
refusals (still active, never covered, too late, twice); a dependent's own contract; state continuation for a
small group; the 18 -> 29 month disability extension; the election window a page shows.

Coverage is terminated by `terminate_family` below, straight through roster.coverage.change_coverage (as the
lifecycle part's termination does), so these tests do not depend on that part's RPC."""
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roster import coverage, transactions
from roster.models import ContinuationElection, Group, Member
from servicekit import clock
from servicekit.testing.broker import collect_events
from rostertesting import ADDRESS, refusal, user

PLANS = [{"plan_code": "PPO-CONT", "name": "Continuation PPO", "product": "medical", "plan_type": "PPO",
          "network": "STATEWIDE"}]
SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}
CHILD = {"relationship": "child", "first_name": "Riley", "last_name": "Whitfield", "date_of_birth": "2015-02-03",
         "gender": "U", "ssn": "345-67-8901"}
DECLINED_CHILD = {"relationship": "child", "first_name": "Jo", "last_name": "Whitfield", "date_of_birth": "2017-06-01",
                  "gender": "F", "ssn": "456-78-9013", "elect_coverage": False, "other_coverage": "Acme Corp PPO"}


def set_up_group(roster, employees=45):
    number = "D%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": employees,
                                 "waiting_period_days": 0,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}]})
    for subgroup in ("001", "002"):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": "Office %s" % subgroup})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01",
                                                             "plan_codes": ["PPO-CONT"]})
    return number


def enroll_family(roster, number, ssn="123-45-6789", dependents=(), subgroup="001"):
    """A family covered from 2027-01-01 (enrolled on that day, hired 2026-12-20): member ids, subscriber first."""
    clock.set_today(date(2027, 1, 1))
    enrolled = roster.call("enroll_subscriber", number, {
        "subgroup_number": subgroup, "plan_code": "PPO-CONT", "dependents": list(dependents),
        "subscriber": {"first_name": "Dana", "last_name": "Whitfield", "date_of_birth": "1986-04-12", "gender": "F",
                       "marital_status": "M", "ssn": ssn, "mailing_address": ADDRESS, "hire_date": "2026-12-20",
                       "employment_status": "active"}}, token=user(number, "group_admin"))
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2027-01-01")
    return [enrolled["subscriber"]["member_id"]] + [d["member_id"] for d in enrolled["subscriber"]["dependents"]]


def terminate_family(roster_db, member_id, last_covered_day, member_ids=None):
    """End the coverage of the family (or of `member_ids` only) after `last_covered_day`, completed, as a
    termination of employment (024/08) records it."""
    with Session(roster_db) as session:
        subscriber = session.scalar(select(Member).where(Member.member_id == member_id))
        family = coverage.family_of(session, subscriber)
        group = session.get(Group, subscriber.group_id)
        txn = transactions.record_transaction(
            session, group=group, subscriber=subscriber, member=subscriber, type="subscriber_termination",
            effective_date=last_covered_day, completes_on=last_covered_day + timedelta(days=1),
            requested_by="test", request={}, maintenance_type="024", reason="08")
        staying = {member: coverage.Covered(member.coverage[-1].plan) for member in family
                   if member_ids is not None and member.member_id not in member_ids}
        coverage.change_coverage(session, txn, family, last_covered_day + timedelta(days=1), staying, "08",
                                 in_effect=True, today=clock.today())
        session.commit()


def family_coverage(roster_db, member_id):
    """{member id: (status, [(from, through, status, continuation, tier)])} of the family."""
    with Session(roster_db) as session:
        head = session.scalar(select(Member).where(Member.member_id == member_id))
        members = session.scalars(select(Member).where((Member.id == head.id) | (Member.subscriber_id == head.id))
                                  .order_by(Member.id)).all()
        return {member.member_id: (member.status, [
            (span.effective_from.isoformat(), span.effective_through and span.effective_through.isoformat(),
             span.status, span.continuation, span.tier) for span in member.coverage]) for member in members}


def elections_of(roster_db, member_id):
    with Session(roster_db) as session:
        head = session.scalar(select(Member).where(Member.member_id == member_id))
        return session.scalars(select(ContinuationElection).where(ContinuationElection.subscriber_id == head.id)).all()


ELECTION = {"qualifying_event": "1", "event_date": "2027-01-20", "notice_date": "2027-02-20"}


# --- the election -----------------------------------------------------------------------------------------------

def test_a_cobra_election_70_days_after_the_termination_continues_coverage_without_a_gap(roster, roster_db,
                                                                                         roster_config):
    number = set_up_group(roster)
    admin = user(number, "enrollment_manager")
    subscriber, spouse, declined = enroll_family(roster, number, dependents=[SPOUSE, DECLINED_CHILD])
    clock.set_today(date(2027, 2, 5))
    terminate_family(roster_db, subscriber, date(2027, 1, 31))

    # Before anyone elects, the page shows the window: the notice not yet sent, 60 days from the loss.
    clock.set_today(date(2027, 2, 10))
    before = roster.call("get_continuation", number, subscriber, token=user(number, "viewer"))
    assert before["elections"] == []
    assert before["election_window"] == {"member_ids": [subscriber, spouse], "last_covered_day": "2027-01-31",
                                         "loss_of_coverage_date": "2027-02-01", "deadline": "2027-04-02",
                                         "open": True}

    # 70 days after the last covered day; the notice went out on 2027-02-20, so the window runs to 2027-04-21.
    clock.set_today(date(2027, 4, 11))
    with collect_events(roster_config, "roster.events", "cobra_enrolled") as events:
        elected = roster.call("elect_continuation", number, subscriber, ELECTION, token=admin)
        event = events.wait_for(1)[0]
    assert (elected["status"], elected["effective_date"]) == ("completed", "2027-02-01")
    election = elected["election"]
    assert {key: election[key] for key in ("kind", "qualifying_event", "event_date", "notice_date", "election_date",
                                           "election_deadline", "coverage_from", "coverage_through", "months",
                                           "disability_extended", "holder_member_id", "member_ids", "plan_code",
                                           "tier", "status")} == {
        "kind": "cobra", "qualifying_event": "1", "event_date": "2027-01-20", "notice_date": "2027-02-20",
        "election_date": "2027-04-11", "election_deadline": "2027-04-21", "coverage_from": "2027-02-01",
        "coverage_through": "2028-07-31", "months": 18, "disability_extended": False, "holder_member_id": subscriber,
        "member_ids": [subscriber, spouse], "plan_code": "PPO-CONT", "tier": "ESP", "status": "active"}
    txn = elected["transaction"]
    assert (txn["type"], txn["maintenance_type"], txn["reason"], txn["status"], txn["member_id"]) == (
        "cobra_enrollment", "021", "09", "completed", subscriber)

    # Continuous: the COBRA span starts the day after the last covered day.
    state = family_coverage(roster_db, subscriber)
    assert state[subscriber] == ("cobra", [("2027-01-01", "2027-01-31", "terminated", None, "ESP"),
                                           ("2027-02-01", "2028-07-31", "active", "cobra", "ESP")])
    assert state[spouse][0] == "cobra" and state[spouse][1][-1] == ("2027-02-01", "2028-07-31", "active", "cobra",
                                                                    "ESP")
    assert state[declined] == ("declined", [])
    found = roster.call("search_members", number, {"status": "cobra"}, token=admin)
    assert sorted(item["member_id"] for item in found["items"]) == sorted([subscriber, spouse])

    assert (event["data"]["transaction"]["type"], event["data"]["change"]["coverage_through"],
            event["data"]["change"]["member_ids"]) == ("cobra_enrollment", "2028-07-31", [subscriber, spouse])
    assert [(span["effective_from"], span["effective_through"], span["status"])
            for span in event["data"]["members"][0]["coverage"]] == [
        ("2027-01-01", "2027-01-31", "terminated"), ("2027-02-01", "2028-07-31", "active")]
    assert event["data"]["members"][0]["status"] == "cobra"

    after = roster.call("get_continuation", number, spouse, token=user(number, "viewer"))  # a dependent's id
    assert after["subscriber_member_id"] == subscriber and after["election_window"] is None
    assert [(e["confirmation_number"], e["coverage_through"]) for e in after["elections"]] == [
        (elected["confirmation_number"], "2028-07-31")]

    # Not twice, and never for the dependent who declined coverage at enrollment.
    assert refusal(roster.call, "elect_continuation", number, subscriber, ELECTION, token=admin)["code"] == \
        "continuation_already_elected"
    never = refusal(roster.call, "elect_continuation", number, subscriber, dict(ELECTION, member_ids=[declined]),
                    token=admin)
    assert (never["status"], never["code"]) == (409, "never_covered")
    assert len(elections_of(roster_db, subscriber)) == 1


def test_an_active_member_a_late_election_and_bad_input_are_refused_and_write_nothing(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    active, = enroll_family(roster, number, ssn="123-45-6789")
    terminated, = enroll_family(roster, number, ssn="456-78-9012")
    clock.set_today(date(2027, 2, 5))
    terminate_family(roster_db, terminated, date(2027, 1, 31))

    clock.set_today(date(2027, 3, 1))
    still = refusal(roster.call, "elect_continuation", number, active, ELECTION, token=admin)
    assert (still["status"], still["code"]) == (409, "member_still_covered")
    assert "terminate" in still["detail"]

    # The notice on 2027-02-20: the last day to elect was 2027-04-21.
    clock.set_today(date(2027, 4, 22))
    late = refusal(roster.call, "elect_continuation", number, terminated, ELECTION, token=admin)
    assert (late["status"], late["code"]) == (422, "election_window_closed")
    assert "2027-04-21" in late["errors"]["election_date"][0]

    bad = refusal(roster.call, "elect_continuation", number, terminated,
                  {"qualifying_event": "9", "event_date": "2027-01-20", "colour": "red"}, token=admin)
    assert bad["status"] == 422 and {"qualifying_event", "notice_date", "colour"} <= set(bad["errors"])
    assert refusal(roster.call, "elect_continuation", number, terminated, ELECTION,
                   token=user(number, "viewer"))["status"] == 403
    other_group = set_up_group(roster)
    assert refusal(roster.call, "elect_continuation", other_group, terminated, ELECTION,
                   token=user(other_group, "group_admin"))["status"] == 404
    assert refusal(roster.call, "elect_continuation", number, terminated, ELECTION,
                   token=user(number, "group_admin", subgroups=["002"]))["status"] == 404

    assert elections_of(roster_db, terminated) == [] and elections_of(roster_db, active) == []
    assert family_coverage(roster_db, terminated)[terminated] == (
        "terminated", [("2027-01-01", "2027-01-31", "terminated", None, "EMP")])


def test_a_spouse_electing_alone_gets_their_own_contract_and_tier(roster, roster_db):
    number = set_up_group(roster)
    subscriber, spouse, child = enroll_family(roster, number, dependents=[SPOUSE, CHILD])
    clock.set_today(date(2027, 2, 5))
    terminate_family(roster_db, subscriber, date(2027, 1, 31))
    clock.set_today(date(2027, 3, 1))
    elected = roster.call("elect_continuation", number, subscriber, dict(ELECTION, member_ids=[spouse]),
                          token=user(number, "group_admin"))
    assert (elected["election"]["holder_member_id"], elected["election"]["member_ids"], elected["election"]["tier"],
            elected["transaction"]["member_id"]) == (spouse, [spouse], "EMP", spouse)
    state = family_coverage(roster_db, subscriber)
    assert state[spouse] == ("cobra", [("2027-01-01", "2027-01-31", "terminated", None, "FAM"),
                                       ("2027-02-01", "2028-07-31", "active", "cobra", "EMP")])
    assert state[subscriber][0] == state[child][0] == "terminated"
    (row,) = elections_of(roster_db, subscriber)
    with Session(roster_db) as session:
        assert session.get(Member, row.holder_id).member_id == spouse


def test_a_divorced_spouse_continues_while_the_subscriber_stays_covered(roster, roster_db):
    number = set_up_group(roster)
    subscriber, spouse = enroll_family(roster, number, dependents=[SPOUSE])
    clock.set_today(date(2027, 3, 5))
    terminate_family(roster_db, subscriber, date(2027, 2, 28), member_ids=[spouse])  # removed after the divorce
    clock.set_today(date(2027, 3, 15))
    elected = roster.call("elect_continuation", number, subscriber,
                          {"qualifying_event": "5", "event_date": "2027-02-10", "notice_date": "2027-03-10"},
                          token=user(number, "group_admin"))
    assert (elected["election"]["member_ids"], elected["election"]["months"],
            elected["election"]["coverage_through"]) == ([spouse], 36, "2030-02-28")
    state = family_coverage(roster_db, subscriber)
    assert state[subscriber] == ("active", [("2027-01-01", "2027-02-28", "terminated", None, "ESP"),
                                            ("2027-03-01", None, "active", None, "EMP")])
    assert state[spouse] == ("cobra", [("2027-01-01", "2027-02-28", "terminated", None, "ESP"),
                                       ("2027-03-01", "2030-02-28", "active", "cobra", "EMP")])


def test_a_small_group_gets_30_months_of_state_continuation_which_does_not_extend(roster, roster_db):
    number = set_up_group(roster, employees=12)
    subscriber, = enroll_family(roster, number)
    clock.set_today(date(2027, 2, 5))
    terminate_family(roster_db, subscriber, date(2027, 1, 31))
    clock.set_today(date(2027, 3, 1))
    admin = user(number, "group_admin")
    elected = roster.call("elect_continuation", number, subscriber, ELECTION, token=admin)
    assert (elected["election"]["kind"], elected["election"]["months"], elected["election"]["coverage_through"]) == (
        "state", 30, "2029-07-31")
    assert family_coverage(roster_db, subscriber)[subscriber][1][-1] == (
        "2027-02-01", "2029-07-31", "active", "state", "EMP")
    refused = refusal(roster.call, "extend_continuation", number, subscriber, {"determination_date": "2027-02-20"},
                      token=admin)
    assert (refused["status"], refused["code"]) == (409, "continuation_not_extendable")


def test_a_disability_determination_extends_cobra_from_18_to_29_months(roster, roster_db, roster_config):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    subscriber, spouse = enroll_family(roster, number, dependents=[SPOUSE])
    clock.set_today(date(2027, 2, 5))
    terminate_family(roster_db, subscriber, date(2027, 1, 31))
    clock.set_today(date(2027, 3, 1))
    elected = roster.call("elect_continuation", number, subscriber, ELECTION, token=admin)

    clock.set_today(date(2027, 9, 1))
    assert refusal(roster.call, "extend_continuation", number, subscriber, {"determination_date": "2027-09-02"},
                   token=admin)["errors"]["determination_date"]
    with collect_events(roster_config, "roster.events", "cobra_extended") as events:
        extended = roster.call("extend_continuation", number, subscriber, {"determination_date": "2027-08-15"},
                               token=admin)
        event = events.wait_for(1)[0]
    assert (extended["election"]["months"], extended["election"]["coverage_through"],
            extended["election"]["disability_extended"], extended["election"]["confirmation_number"]) == (
        29, "2029-06-30", True, elected["confirmation_number"])
    assert (extended["transaction"]["type"], extended["transaction"]["maintenance_type"],
            extended["transaction"]["reason"], extended["transaction"]["before"]["coverage_through"]) == (
        "cobra_extension", "001", "09", "2028-07-31")
    state = family_coverage(roster_db, subscriber)
    assert [state[member][1][-1][:4] for member in (subscriber, spouse)] == [
        ("2027-02-01", "2029-06-30", "active", "cobra")] * 2
    assert (event["data"]["change"]["months"], event["data"]["change"]["coverage_through"]) == (29, "2029-06-30")
    assert refusal(roster.call, "extend_continuation", number, subscriber, {"determination_date": "2027-08-15"},
                   token=admin)["code"] == "continuation_not_extendable"
    (row,) = elections_of(roster_db, subscriber)
    assert (row.months, row.coverage_through, row.disability_extended) == (29, date(2029, 6, 30), True)


def test_extending_a_family_without_continuation_is_refused(roster, roster_db):
    number = set_up_group(roster)
    subscriber, = enroll_family(roster, number)
    refused = refusal(roster.call, "extend_continuation", number, subscriber, {"determination_date": "2027-01-01"},
                      token=user(number, "group_admin"))
    assert (refused["status"], refused["code"]) == (409, "no_continuation")

