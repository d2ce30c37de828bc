"""Renewal and open enrollment through the real roster service (RabbitMQ, PostgreSQL): carrier staff load the
next plan year, notices go out 60 and 30 days before the renewal date (once), subscribers choose during the
window (begin, keep, decline; a later choice replaces the earlier), and on the renewal date families carry
over into the mapped plan, declines end at the plan year's end and begin elections take effect."""
import time
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from roster.models import Group, Member
from servicekit import clock
from servicekit.jobs import ScheduledJob
from servicekit.testing import wait_for
from servicekit.testing.broker import collect_events, make_envelope, publish_event
from rostertesting import ADDRESS, refusal, user

PLANS = [
    {"plan_code": "PPO-OLD", "name": "Classic PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "PPO-NEW", "name": "Choice PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "HMO-PLANT", "name": "Plant HMO", "product": "medical", "plan_type": "HMO", "network": "METRO"},
]
NEXT_YEAR = {"plan_year_start": "2028-01-01",
             "offerings": [{"subgroup_number": "001", "plan_codes": ["PPO-NEW"]},
                           {"subgroup_number": "002", "plan_codes": ["HMO-PLANT"]}],
             "plan_mappings": [{"from_plan_code": "PPO-OLD", "to_plan_code": "PPO-NEW"}]}
SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Doe", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}
CHILD = {"relationship": "child", "first_name": "Riley", "last_name": "Doe", "date_of_birth": "2015-02-03",
         "gender": "U", "ssn": "345-67-8901"}


def set_up_group(roster):
    number = "R%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Renewing Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": 0,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@renew.example"}]})
    for subgroup, name, plans in (("001", "Office", ["PPO-OLD"]), ("002", "Plant", ["HMO-PLANT"])):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": name})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": plans})
    return number


def enroll(roster, number, ssn, last, dependents=(), subgroup="001", plan="PPO-OLD"):
    """A family covered from 2027-03-01 (enrolled on the business date 2027-03-15)."""
    # Each dependent with the family's last name and an SSN of their own.
    dependents = [dict(dependent, last_name=last, ssn="%s%d" % (ssn[:-1], index + 1))
                  for index, dependent in enumerate(dependents)]
    body = {"subgroup_number": subgroup, "plan_code": plan, "dependents": dependents,
            "subscriber": {"first_name": "Dana", "last_name": last, "date_of_birth": "1986-04-12", "gender": "F",
                           "marital_status": "M", "ssn": ssn, "mailing_address": ADDRESS, "hire_date": "2027-03-01",
                           "employment_status": "active"}}
    enrolled = roster.call("enroll_subscriber", number, body, token=user(number, "group_admin"))
    assert enrolled["status"] == "completed"
    return [enrolled["subscriber"]["member_id"]] + [d["member_id"] for d in enrolled["subscriber"]["dependents"]]


def coverage_of(roster_db, member_id):
    """(member status, [(plan, tier, from, through, span status)]) of one member, spans in date order."""
    with Session(roster_db) as session:
        member = session.scalar(select(Member).where(Member.member_id == member_id))
        return member.status, [(span.plan.plan_code, span.tier, span.effective_from.isoformat(),
                                span.effective_through.isoformat() if span.effective_through else None, span.status)
                               for span in member.coverage if span.status != "cancelled"]


def group_renewal_date(roster_db, number):
    with Session(roster_db) as session:
        return session.scalar(select(Group.renewal_date).where(Group.group_number == number))


def tick(job):
    """One tick of the hourly timer, as nameko's timer loop makes it: spawn the worker, wait for its result."""
    job.handle_timer_tick()
    job.worker_complete.wait()
    job.worker_complete.reset()


def of_kind(bodies, kind, group_number):
    return [event["data"] for event in bodies
            if event["event_type"] == kind and event["data"].get("group_number") == group_number]


# --- the plan-year load ------------------------------------------------------------------------------------

def test_carrier_staff_load_the_next_plan_year_and_every_lost_plan_needs_a_mapping(roster, roster_config):
    clock.set_today(date(2027, 10, 15))
    number = set_up_group(roster)
    unmapped = dict(NEXT_YEAR, plan_mappings=[])
    refused = refusal(roster.call, "load_plan_year", number, unmapped)
    assert (refused["status"], refused["errors"]) == (422, {"plan_mappings": {"PPO-OLD": [
        "PPO-OLD (subgroup 001) is not offered in the plan year starting 2028-01-01: map it to a plan offered "
        "there."]}})
    wrong_start = refusal(roster.call, "load_plan_year", number, dict(NEXT_YEAR, plan_year_start="2027-12-01"))
    assert wrong_start["status"] == 422 and "starts on 2028-01-01" in wrong_start["errors"]["plan_year_start"][0]
    assert refusal(roster.call, "load_plan_year", number, NEXT_YEAR,
                   token=user(number, "group_admin"))["status"] == 403

    with collect_events(roster_config, "roster.events") as events:
        loaded = roster.call("load_plan_year", number, NEXT_YEAR)
        received = events.wait_for(3)
    assert (loaded["plan_year_start"], loaded["plan_year_end"]) == ("2028-01-01", "2028-12-31")
    assert (loaded["open_enrollment_start"], loaded["open_enrollment_end"]) == ("2027-12-02", "2027-12-31")
    assert loaded["plan_mappings"] == [{"from_plan_code": "PPO-OLD", "to_plan_code": "PPO-NEW"}]
    [event] = of_kind(received, "plan_year_loaded", number)
    assert event == {"group_number": number, "plan_year_start": "2028-01-01", "plan_year_end": "2028-12-31",
                     "offerings": [{"subgroup_number": "001", "plans": [{
                         "plan_code": "PPO-NEW", "name": "Choice PPO", "product": "medical", "plan_type": "PPO",
                         "network": "STATEWIDE", "tiers": ["EMP", "ESP", "ECH", "FAM"]}]},
                         {"subgroup_number": "002", "plans": [{
                             "plan_code": "HMO-PLANT", "name": "Plant HMO", "product": "medical", "plan_type": "HMO",
                             "network": "METRO", "tiers": ["EMP", "ESP", "ECH", "FAM"]}]}],
                     "plan_mappings": [{"from_plan_code": "PPO-OLD", "to_plan_code": "PPO-NEW"}]}
    assert [(e["subgroup_number"], e["plan_year_start"]) for e in of_kind(received, "group_plans_set", number)] == [
        ("001", "2028-01-01"), ("002", "2028-01-01")]
    plans_2028 = roster.call("list_group_plans", number, "2028-01-01")
    assert [[plan["plan_code"] for plan in o["plans"]] for o in plans_2028["offerings"]] == [["PPO-NEW"],
                                                                                            ["HMO-PLANT"]]

    # Before open enrollment a load replaces the earlier one; once it opened, it may not.
    both = dict(NEXT_YEAR, offerings=[{"subgroup_number": "001", "plan_codes": ["PPO-NEW", "HMO-PLANT"]},
                                      {"subgroup_number": "002", "plan_codes": ["HMO-PLANT"]}])
    assert [o["plan_code"] for o in roster.call("load_plan_year", number, both)["offerings"][0]["plans"]] == [
        "HMO-PLANT", "PPO-NEW"]
    clock.set_today(date(2027, 12, 2))
    late = refusal(roster.call, "load_plan_year", number, NEXT_YEAR)
    assert (late["status"], late["code"]) == (409, "open_enrollment_started")


# --- notices -------------------------------------------------------------------------------------------------

def test_renewal_notices_go_out_once_60_and_30_days_before_the_renewal_date(roster, roster_service, roster_config):
    clock.set_today(date(2027, 10, 1))
    number = set_up_group(roster)
    job = next(entrypoint for entrypoint in roster_service.entrypoints
               if isinstance(entrypoint, ScheduledJob) and entrypoint.job == "renewals")

    def notices(run):
        return [(n["days_before"], n["renewal_date"]) for n in run["notices"] if n["group_number"] == number]

    with collect_events(roster_config, "roster.events", "group_renewal_upcoming") as events:
        assert notices(roster.call("run_renewals", "2027-11-01")) == []
        assert notices(roster.call("run_renewals", "2027-11-02")) == [(60, "2028-01-01")]
        assert notices(roster.call("run_renewals", "2027-11-02")) == []     # a rerun: already sent
        clock.set_today(date(2027, 11, 3))
        tick(job)                                      # the daily job: nothing more to send
        assert notices(roster.call("run_renewals", "2027-12-01")) == []
        clock.set_today(date(2027, 12, 2))
        tick(job)                                      # the daily job sends the 30-day one
        assert notices(roster.call("run_renewals", "2027-12-02")) == []
        assert notices(roster.call("run_renewals", "2027-12-20")) == []
        events.wait_for(2)
        time.sleep(1)  # anything sent twice would have arrived by now
        sent = of_kind(events.bodies, "group_renewal_upcoming", number)
    assert sent == [
        {"group_number": number, "renewal_date": "2028-01-01", "days_before": 60, "open_enrollment_start": "2027-12-02",
         "open_enrollment_end": "2027-12-31", "plan_year_loaded": False},
        {"group_number": number, "renewal_date": "2028-01-01", "days_before": 30, "open_enrollment_start": "2027-12-02",
         "open_enrollment_end": "2027-12-31", "plan_year_loaded": False}]
    assert refusal(roster.call, "run_renewals", "2027-12-02", token=user(number, "group_admin"))["status"] == 403


# --- open enrollment and the renewal date ---------------------------------------------------------------------

def rates_loaded(config, group_number, plan_codes, sequence):
    """Billing's rates_loaded for the 2028 plan year, as its outbox would publish it."""
    publish_event(config["AMQP_URI"], "billing", "rates_loaded", make_envelope(
        "rates_loaded", {"group_number": group_number, "plan_year_start": "2028-01-01", "rating_method": "composite",
                         "plan_codes": plan_codes}, "rates:%s:2028-01-01" % group_number, sequence))


def test_open_enrollment_choices_take_effect_on_the_renewal_date(roster, roster_db, roster_config):
    clock.set_today(date(2027, 3, 15))
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    nothing = enroll(roster, number, "123-45-6789", "Nothing", [SPOUSE])
    decliner = enroll(roster, number, "456-78-9012", "Decliner")
    beginner = enroll(roster, number, "567-89-0123", "Beginner", [SPOUSE, CHILD])
    keeper = enroll(roster, number, "678-90-1234", "Keeper", subgroup="002", plan="HMO-PLANT")
    switcher = enroll(roster, number, "789-01-2345", "Switcher")
    clock.set_today(date(2027, 11, 1))
    roster.call("load_plan_year", number, NEXT_YEAR)

    keep = {"choice": "keep"}
    clock.set_today(date(2027, 12, 1))
    early = refusal(roster.call, "elect_open_enrollment", number, keeper[0], keep, token=admin)
    assert (early["status"], early["code"]) == (422, "open_enrollment_closed")
    assert "runs from 2027-12-02 to 2027-12-31; it has not opened yet (today is 2027-12-01)" in early["detail"]

    clock.set_today(date(2027, 12, 10))
    # Choices wait for billing's complete rate sheet of every offered plan (its rates_loaded event).
    unrated = refusal(roster.call, "elect_open_enrollment", number, keeper[0], keep, token=admin)
    assert (unrated["status"], unrated["code"]) == (409, "rates_not_loaded")
    assert "HMO-PLANT, PPO-NEW" in unrated["detail"]
    rates_loaded(roster_config, number, ["PPO-NEW"], sequence=1)
    wait_for(lambda: "for HMO-PLANT;" in refusal(roster.call, "elect_open_enrollment", number, keeper[0], keep,
                                                   token=admin)["detail"], message="the first rate load")
    assert roster.call("get_open_enrollment", number, token=admin)["rates_loaded"] is False
    rates_loaded(roster_config, number, ["HMO-PLANT", "PPO-NEW"], sequence=2)
    wait_for(lambda: roster.call("get_open_enrollment", number, token=admin)["rates_loaded"],
             message="the complete rate sheet")
    assert refusal(roster.call, "elect_open_enrollment", number, keeper[0], keep,
                   token=user(number, "viewer"))["status"] == 403
    assert refusal(roster.call, "elect_open_enrollment", number, keeper[0], keep,
                   token=user(number, "group_admin", subgroups=["001"]))["status"] == 404
    assert refusal(roster.call, "elect_open_enrollment", number, beginner[1], keep, token=admin)["status"] == 404
    not_offered = refusal(roster.call, "elect_open_enrollment", number, beginner[0],
                          {"choice": "begin", "plan_code": "HMO-PLANT"}, token=admin)
    assert not_offered["status"] == 422 and "PPO-NEW" in not_offered["errors"]["plan_code"][0]

    with collect_events(roster_config, "roster.events", "open_enrollment_elected") as events:
        declined = roster.call("elect_open_enrollment", number, decliner[0], {
            "choice": "decline", "decline_reason": "spouse_group_coverage", "alternate_plan": "Acme Corp PPO"},
            token=admin)
        began = roster.call("elect_open_enrollment", number, beginner[0], {
            "choice": "begin", "plan_code": "PPO-NEW", "dependent_member_ids": [beginner[1]]}, token=admin)
        kept = roster.call("elect_open_enrollment", number, keeper[0], keep, token=admin)
        first = roster.call("elect_open_enrollment", number, switcher[0], {
            "choice": "decline", "decline_reason": "medicare"}, token=admin)
        clock.set_today(date(2027, 12, 31))  # the last day of the window
        second = roster.call("elect_open_enrollment", number, switcher[0], {
            "choice": "begin", "plan_code": "PPO-NEW"}, token=admin)
        received = events.wait_for(5)

    assert (declined["status"], declined["effective_date"]) == ("pending", "2027-12-31")
    assert (declined["transaction"]["type"], declined["transaction"]["maintenance_type"],
            declined["transaction"]["reason"]) == ("open_enrollment_decline", "024", "26")
    assert (began["status"], began["effective_date"], began["transaction"]["type"],
            began["transaction"]["maintenance_type"], began["transaction"]["reason"]) == (
        "pending", "2028-01-01", "open_enrollment_change", "001", "22")
    assert began["election"]["member_ids"] == beginner[:2]
    assert (kept["status"], kept["transaction"]["maintenance_type"], kept["election"]["plan_code"]) == (
        "completed", "030", "HMO-PLANT")
    assert second["superseded_confirmation_number"] == first["confirmation_number"]
    assert roster.call("get_transaction", number, first["confirmation_number"], token=admin)["status"] == "cancelled"
    decline_event = next(e for e in received if e["data"]["transaction"]["confirmation_number"]
                         == declined["confirmation_number"])
    assert decline_event["data"]["change"] == {
        "plan_year_start": "2028-01-01", "choice": "decline", "plan_code": None, "member_ids": [],
        "decline_reason": "spouse_group_coverage", "alternate_plan": "Acme Corp PPO"}
    assert "ssn" not in str(decline_event).lower()

    mine = roster.call("get_open_enrollment_election", number, switcher[0], token=user(number, "viewer"))
    assert (mine["election"]["choice"], mine["election"]["status"], mine["is_open"]) == ("begin", "pending", True)
    assert [(entry["choice"], entry["superseded"], entry["status"]) for entry in mine["history"]] == [
        ("begin", False, "pending"), ("decline", True, "cancelled")]
    window = roster.call("get_open_enrollment", number, token=user(number, "viewer"))
    assert (window["renewal_date"], window["open_enrollment_start"], window["open_enrollment_end"],
            window["is_open"]) == ("2028-01-01", "2027-12-02", "2027-12-31", True)
    assert window["elections"] == {"begin": 2, "keep": 1, "decline": 1, "not_elected": 1}
    limited = roster.call("get_open_enrollment", number, token=user(number, "viewer", subgroups=["002"]))
    assert [o["subgroup_number"] for o in limited["offerings"]] == ["002"]
    assert limited["elections"] == {"begin": 0, "keep": 1, "decline": 0, "not_elected": 0}

    # The renewal date: the complete-due job runs first here (the e2e test lets the renewal run first).
    clock.set_today(date(2028, 1, 1))
    on_the_day = refusal(roster.call, "elect_open_enrollment", number, nothing[0], keep, token=admin)
    assert (on_the_day["status"], on_the_day["code"]) == (422, "open_enrollment_closed")
    assert on_the_day["detail"].endswith("Open enrollment for the plan year starting 2028-01-01 closed on 2027-12-31.")
    assert roster.call("complete_due_transactions", "2028-01-01") == {"completed": 3}  # 2 begin, 1 decline
    with collect_events(roster_config, "roster.events") as events:
        run = roster.call("run_renewals", "2028-01-01")
        again = roster.call("run_renewals", "2028-01-01")
        received = events.wait_for(3)
        renewed_events = of_kind(received, "group_renewed", number)
        updated = of_kind(received, "group_updated", number)
    counts = {"carried_over": 1, "kept": 1, "began": 2, "declined": 1}
    assert [r for r in run["renewed"] if r["group_number"] == number] == [
        dict(group_number=number, plan_year_start="2028-01-01", plan_year_end="2028-12-31", **counts)]
    assert [r for r in again["renewed"] if r["group_number"] == number] == []
    assert renewed_events == [dict(group_number=number, plan_year_start="2028-01-01", plan_year_end="2028-12-31",
                                   **counts)]
    assert [event["renewal_date"] for event in updated] == ["2029-01-01"]
    assert group_renewal_date(roster_db, number) == date(2029, 1, 1)

    # Did nothing: the retired plan carried over into its mapping, at the same tier.
    for member_id in nothing:
        assert coverage_of(roster_db, member_id) == ("active", [
            ("PPO-OLD", "ESP", "2027-03-01", "2027-12-31", "terminated"),
            ("PPO-NEW", "ESP", "2028-01-01", None, "active")])
    # Declined: covered through the plan year's end, then terminated.
    assert coverage_of(roster_db, decliner[0]) == ("terminated", [
        ("PPO-OLD", "EMP", "2027-03-01", "2027-12-31", "terminated")])
    # Began: the new plan with the spouse only; the child's coverage ended with the plan year.
    assert coverage_of(roster_db, beginner[0])[1][-1] == ("PPO-NEW", "ESP", "2028-01-01", None, "active")
    assert coverage_of(roster_db, beginner[2]) == ("terminated", [
        ("PPO-OLD", "FAM", "2027-03-01", "2027-12-31", "terminated")])
    assert coverage_of(roster_db, switcher[0]) == ("active", [
        ("PPO-OLD", "EMP", "2027-03-01", "2027-12-31", "terminated"),
        ("PPO-NEW", "EMP", "2028-01-01", None, "active")])
    # Kept a plan still offered: the same span goes on.
    assert coverage_of(roster_db, keeper[0]) == ("active", [("HMO-PLANT", "EMP", "2027-03-01", None, "active")])
    carried = roster.call("list_transactions", number, {"member_id": nothing[0], "type": "renewal_carry_over"},
                          token=admin)["items"]
    assert [(t["status"], t["effective_date"], t["maintenance_type"], t["reason"], t["requested_by"])
            for t in carried] == [("completed", "2028-01-01", "001", "22", "system:renewal")]
