"""Roster's side of billing's non-payment saga through the real roster service: billing's
account_delinquency_changed with stage terminated_nonpayment ends the coverage of every family of the subgroup
back to the paid-through date (reason 59, maintenance 024, beyond the 60-day retroactive window), one completed
transaction and one subscriber_terminated event per family; families already ended, other subgroups and earlier
stages are left alone; a family with a pending change is skipped; a redelivered event changes nothing."""
import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from roster.models import CoverageSpan, EnrollmentTransaction, Member
from servicekit import clock, tables
from servicekit.testing import wait_for
from servicekit.testing.broker import collect_events, make_envelope, publish_event
from rostertesting import ADDRESS, TODAY, user

PLANS = [{"plan_code": "PPO-FAM", "name": "Family PPO", "product": "medical", "plan_type": "PPO",
          "network": "STATEWIDE"}]
SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}
CONSUMER = "roster.on_account_delinquency_changed"


def set_up_group(roster):
    number = "N%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Unpaid Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": 0,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@unpaid.example"}]})
    for subgroup in ("001", "002"):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": "Site %s" % subgroup})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01",
                                                             "plan_codes": ["PPO-FAM"]})
    return number


def enroll(roster, number, ssn, last, on=date(2027, 1, 1), subgroup="001", dependents=()):
    """A family covered from `on` (enrolled that day, so completed)."""
    clock.set_today(on)
    enrolled = roster.call("enroll_subscriber", number, {
        "subgroup_number": subgroup, "plan_code": "PPO-FAM", "dependents": list(dependents),
        "subscriber": {"first_name": "Dana", "last_name": last, "date_of_birth": "1986-04-12", "gender": "F",
                       "marital_status": "M", "ssn": ssn, "mailing_address": ADDRESS, "hire_date": on.isoformat(),
                       "employment_status": "active"}}, token=user(number, "group_admin"))
    clock.set_today(TODAY)
    assert enrolled["status"] == "completed"
    return enrolled["subscriber"]["member_id"]


def delinquency(number, stage, paid_through="2027-02-28", subgroup="001", sequence=1, event_id=None):
    return make_envelope("account_delinquency_changed", {
        "group_number": number, "subgroup_number": subgroup, "account_number": "%s-%s" % (number, subgroup),
        "stage": stage, "previous_stage": "in_grace", "as_of": "2027-04-02", "paid_through": paid_through,
        "amount_past_due": "4800.00"}, aggregate_id="account:%s-%s" % (number, subgroup), sequence=sequence,
        event_id=event_id, group_id=number)


def spans(roster_db, member_id):
    """[(member id, tier, from, through, status)] of the family, cancelled spans too, oldest first."""
    with Session(roster_db) as session:
        head = session.scalar(select(Member).where(Member.member_id == member_id))
        return [(member.member_id, span.tier, span.effective_from.isoformat(),
                 span.effective_through and span.effective_through.isoformat(), span.status)
                for member, span in session.execute(
                    select(Member, CoverageSpan).join(CoverageSpan, CoverageSpan.member_id == Member.id)
                    .where((Member.id == head.id) | (Member.subscriber_id == head.id))
                    .order_by(Member.id, CoverageSpan.id)).all()]


def nonpayment_transactions(roster_db):
    with Session(roster_db) as session:
        return session.execute(
            select(Member.member_id, EnrollmentTransaction.type, EnrollmentTransaction.maintenance_type,
                   EnrollmentTransaction.reason, EnrollmentTransaction.status, EnrollmentTransaction.effective_date,
                   EnrollmentTransaction.decided_by)
            .join(Member, Member.id == EnrollmentTransaction.subscriber_id)
            .where(EnrollmentTransaction.requested_by == "system:nonpayment")
            .order_by(EnrollmentTransaction.id)).all()


def processed(roster_db, event_id):
    with Session(roster_db) as session:
        return session.scalar(select(func.count()).select_from(tables.processed_events).where(
            tables.processed_events.c.consumer == CONSUMER, tables.processed_events.c.event_id == event_id)) == 1


def test_termination_for_non_payment_ends_the_subgroups_coverage_back_to_the_paid_through_date(
        roster, roster_db, roster_config):
    number = set_up_group(roster)
    family = enroll(roster, number, "123-45-6789", "Whitfield", dependents=[SPOUSE])
    single = enroll(roster, number, "456-78-9012", "Single")
    joined_later = enroll(roster, number, "567-89-0123", "Later", on=date(2027, 4, 1))
    left_in_january = enroll(roster, number, "678-90-1234", "Left")
    other_subgroup = enroll(roster, number, "789-01-2345", "Other", subgroup="002")
    held = enroll(roster, number, "890-12-3456", "Held")
    clock.set_today(date(2027, 2, 10))
    roster.call("terminate_subscriber", number, left_in_january,
                {"event_date": "2027-01-15", "cause": "termination_of_employment"},
                token=user(number, "enrollment_manager"))
    # The business date is 2027-05-10: February's end is 71 days back, beyond the 60-day window users have.
    clock.set_today(date(2027, 5, 10))
    pending = roster.call("terminate_subscriber", number, held,
                          {"event_date": "2027-06-10", "cause": "termination_of_employment"},
                          token=user(number, "enrollment_manager"))
    assert pending["status"] == "pending"

    past_due = delinquency(number, "past_due", sequence=1)
    publish_event(roster_config, "billing", "account_delinquency_changed", past_due)
    wait_for(lambda: processed(roster_db, past_due["event_id"]), message="the past_due event applied")
    assert nonpayment_transactions(roster_db) == []

    with collect_events(roster_config, "roster.events", "subscriber_terminated") as events:
        terminated = delinquency(number, "terminated_nonpayment", sequence=2)
        publish_event(roster_config, "billing", "account_delinquency_changed", terminated)
        received = events.wait_for(3)
        wait_for(lambda: processed(roster_db, terminated["event_id"]), message="the termination applied")

    ended = [(family, "subscriber_termination", "024", "59", "completed", date(2027, 2, 28), "system:nonpayment"),
             (single, "subscriber_termination", "024", "59", "completed", date(2027, 2, 28), "system:nonpayment"),
             (joined_later, "subscriber_termination", "024", "59", "completed", date(2027, 2, 28),
              "system:nonpayment")]
    assert nonpayment_transactions(roster_db) == ended
    spouse = spans(roster_db, family)[1][0]
    assert spans(roster_db, family) == [(family, "ESP", "2027-01-01", "2027-02-28", "terminated"),
                                        (spouse, "ESP", "2027-01-01", "2027-02-28", "terminated")]
    assert spans(roster_db, single) == [(single, "EMP", "2027-01-01", "2027-02-28", "terminated")]
    assert spans(roster_db, joined_later) == [(joined_later, "EMP", "2027-04-01", None, "cancelled")]
    # Ended before the paid-through date, another subgroup, a pending change: untouched.
    assert spans(roster_db, left_in_january) == [(left_in_january, "EMP", "2027-01-01", "2027-01-31", "terminated")]
    assert spans(roster_db, other_subgroup) == [(other_subgroup, "EMP", "2027-01-01", None, "active")]
    assert spans(roster_db, held) == [(held, "EMP", "2027-01-01", "2027-06-30", "active")]

    admin = user(number, "group_admin")
    page = roster.call("get_subscriber", number, family, token=admin)
    assert [page["status"]] + [dependent["status"] for dependent in page["dependents"]] == ["terminated",
                                                                                          "terminated"]
    assert sorted((event["aggregate_id"], event["data"]["change"]["cause"],
                   event["data"]["change"]["termination_date"], len(event["data"]["change"]["member_ids"]))
                  for event in received) == sorted([
        ("family:%s" % family, "59", "2027-02-28", 2), ("family:%s" % single, "59", "2027-02-28", 1),
        ("family:%s" % joined_later, "59", "2027-02-28", 1)])
    assert all(event["data"]["transaction"]["reason"] == "59" for event in received)

    # The same event again (a redelivery), and a newer one of the same stage: nothing changes.
    publish_event(roster_config, "billing", "account_delinquency_changed", terminated)
    again = delinquency(number, "terminated_nonpayment", sequence=3)
    publish_event(roster_config, "billing", "account_delinquency_changed", again)
    wait_for(lambda: processed(roster_db, again["event_id"]), message="the newer event applied")
    assert nonpayment_transactions(roster_db) == ended
    assert spans(roster_db, single) == [(single, "EMP", "2027-01-01", "2027-02-28", "terminated")]
