"""Member lifecycle through the real roster service (issue 5 part A): address and demographic changes,
terminating and reinstating a member or a family (with the tier of the rest of the family recomputed, the
daily job completing a future termination, cancelling one), transfers to another subgroup with continuous
coverage, and who may do what."""
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from roster.models import CoverageSpan, Member
from servicekit import clock
from servicekit.testing.broker import collect_events
from rostertesting import ADDRESS, TODAY, refusal, user

PLANS = [
    {"plan_code": "PPO-FAM", "name": "Family PPO", "product": "medical", "plan_type": "PPO", "network": "STATEWIDE"},
    {"plan_code": "HMO-PLANT", "name": "Plant HMO", "product": "medical", "plan_type": "HMO", "network": "METRO"},
]
NEW_HOME = {"line1": "9 Elm St", "line2": None, "city": "Avon", "state": "CT", "zip": "06001"}
SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}
CHILD = {"relationship": "child", "first_name": "Riley", "last_name": "Whitfield", "date_of_birth": "2015-02-03",
         "gender": "U", "ssn": "345-67-8901"}


def set_up_group(roster):
    """Subgroups 001 and 003 offer PPO-FAM, 002 only HMO-PLANT, for the plan year 2027."""
    number = "L%s" % uuid.uuid4().hex[:7].upper()
    roster.call("load_plans", PLANS)
    roster.call("create_group", {"group_number": number, "legal_name": "Harbor Widgets LLC", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": 0,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@harbor.example"}]})
    for subgroup, plans in (("001", ["PPO-FAM"]), ("002", ["HMO-PLANT"]), ("003", ["PPO-FAM"])):
        roster.call("create_subgroup", number, {"subgroup_number": subgroup, "name": "Site %s" % subgroup})
        roster.call("set_subgroup_plans", number, subgroup, {"plan_year_start": "2027-01-01", "plan_codes": plans})
    return number


def enroll_family(roster, number, ssn="123-45-6789", dependents=(SPOUSE, CHILD), subgroup="001", plan="PPO-FAM"):
    """A family covered since 2027-01-01 (enrolled on that day, so completed), back on the test's date."""
    clock.set_today(date(2027, 1, 1))
    enrolled = roster.call("enroll_subscriber", number, {
        "subgroup_number": subgroup, "plan_code": plan, "dependents": list(dependents),
        "subscriber": {"first_name": "Dana", "last_name": "Whitfield", "date_of_birth": "1986-04-12", "gender": "F",
                       "marital_status": "M", "ssn": ssn, "mailing_address": ADDRESS, "hire_date": "2027-01-01",
                       "employment_status": "active"}}, token=user(number, "group_admin"))
    clock.set_today(TODAY)
    assert enrolled["status"] == "completed"
    return enrolled["subscriber"]


def spans(roster_db, member_id):
    """{member id: [(plan, tier, from, through, status)]} of the family (cancelled spans aside), oldest first."""
    with Session(roster_db) as session:
        head = session.scalar(select(Member).where(Member.member_id == member_id))
        members = session.scalars(select(Member).where((Member.id == head.id) | (Member.subscriber_id == head.id))
                                  .order_by(Member.id)).all()
        return {member.member_id: [
            (span.plan.plan_code, span.tier, span.effective_from.isoformat(),
             span.effective_through and span.effective_through.isoformat(), span.status)
            for span in session.scalars(select(CoverageSpan).where(CoverageSpan.member_id == member.id,
                                                                   CoverageSpan.status != "cancelled")
                                        .order_by(CoverageSpan.effective_from, CoverageSpan.id))]
            for member in members}


def statuses(roster, number, member_id, token):
    page = roster.call("get_subscriber", number, member_id, token=token)
    return [page["status"]] + [dependent["status"] for dependent in page["dependents"]]


# --- terminate one member, the tier of the rest, reinstate ----------------------------------------------

def test_a_spouse_terminated_at_month_end_leaves_the_family_in_ech_and_a_reinstatement_restores_fam(
        roster, roster_db, roster_config):
    number = set_up_group(roster)
    admin = user(number, "enrollment_manager")
    family = enroll_family(roster, number)
    head, spouse, child = family["member_id"], *[d["member_id"] for d in family["dependents"]]

    with collect_events(roster_config, "roster.events") as events:
        ended = roster.call("terminate_coverage", number, spouse, {"event_date": "2027-03-10", "cause": "divorce"},
                            token=admin)
        [event] = events.wait_for(1)
    # 2027-03-31 has not passed on 2027-03-15: pending until the daily job reaches 2027-04-01.
    assert (ended["status"], ended["effective_date"], ended["termination_date"], ended["cause"],
            ended["member_ids"]) == ("pending", "2027-03-31", "2027-03-31", "01", [spouse])
    assert (ended["transaction"]["type"], ended["transaction"]["maintenance_type"], ended["transaction"]["reason"]) \
        == ("coverage_termination", "024", "01")
    assert event["event_type"] == "coverage_terminated"
    assert event["data"]["change"] == {"member_ids": [spouse], "termination_date": "2027-03-31", "cause": "01",
                                       "date_of_death": None}
    assert statuses(roster, number, head, admin) == ["active", "active", "active"]

    assert roster.call("complete_due_transactions", "2027-03-31") == {"completed": 0}
    assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 1}
    clock.set_today(date(2027, 4, 10))
    assert statuses(roster, number, head, admin) == ["active", "terminated", "active"]
    assert spans(roster_db, head) == {
        head: [("PPO-FAM", "FAM", "2027-01-01", "2027-03-31", "terminated"),
               ("PPO-FAM", "ECH", "2027-04-01", None, "active")],
        spouse: [("PPO-FAM", "FAM", "2027-01-01", "2027-03-31", "terminated")],
        child: [("PPO-FAM", "FAM", "2027-01-01", "2027-03-31", "terminated"),
                ("PPO-FAM", "ECH", "2027-04-01", None, "active")]}

    with collect_events(roster_config, "roster.events", "coverage_reinstated") as events:
        back = roster.call("reinstate_coverage", number, spouse, {}, token=admin)
        [event] = events.wait_for(1)
    assert (back["status"], back["effective_date"], back["reinstated_from"], back["terminated_by"]) == (
        "completed", "2027-04-01", "2027-04-01", ended["confirmation_number"])
    assert (back["transaction"]["maintenance_type"], back["transaction"]["reason"]) == ("025", "41")
    assert event["data"]["change"] == {"member_ids": [spouse], "reinstated_from": "2027-04-01",
                                       "terminated_by": ended["confirmation_number"]}
    # The very spans re-open: continuous FAM coverage, the ECH ones never happened.
    assert spans(roster_db, head) == {member: [("PPO-FAM", "FAM", "2027-01-01", None, "active")]
                                      for member in (head, spouse, child)}
    assert statuses(roster, number, head, admin) == ["active", "active", "active"]
    again = refusal(roster.call, "reinstate_coverage", number, spouse, {}, token=admin)
    assert (again["status"], again["code"]) == (409, "member_not_terminated")


def test_a_mid_month_death_ends_coverage_that_day_and_the_family_becomes_esp(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    head, spouse, child = family["member_id"], *[d["member_id"] for d in family["dependents"]]
    ended = roster.call("terminate_coverage", number, child, {"event_date": "2027-03-05", "cause": "death"},
                        token=admin)
    assert (ended["status"], ended["termination_date"]) == ("completed", "2027-03-05")
    assert ended["subscriber"]["dependents"][1]["status"] == "terminated"
    assert spans(roster_db, head)[child] == [("PPO-FAM", "FAM", "2027-01-01", "2027-03-05", "terminated")]
    assert spans(roster_db, head)[spouse] == [("PPO-FAM", "FAM", "2027-01-01", "2027-03-05", "terminated"),
                                              ("PPO-FAM", "ESP", "2027-03-06", None, "active")]
    # Divorce is for a spouse; termination of employment is the subscriber's (the whole family).
    wrong = refusal(roster.call, "terminate_coverage", number, spouse,
                    {"event_date": "2027-03-10", "cause": "termination_of_employment"}, token=admin)
    assert (wrong["status"], list(wrong["errors"])) == (422, ["cause"])


def test_the_retroactive_window_of_a_termination_61_days_refused_60_held_for_review(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    spouse = family["dependents"][0]["member_id"]
    clock.set_today(date(2027, 4, 2))  # 2027-01-31 is 61 days back
    refused = refusal(roster.call, "terminate_coverage", number, spouse,
                      {"event_date": "2027-01-15", "cause": "termination_of_benefits"}, token=admin)
    assert refused["status"] == 422
    assert refused["errors"]["event_date"] == ["2027-01-31 is 61 days in the past; a change may reach back at most "
                                               "60 days."]
    clock.set_today(date(2027, 4, 1))  # 60 days back
    held = roster.call("terminate_coverage", number, spouse,
                       {"event_date": "2027-01-15", "cause": "termination_of_benefits"}, token=admin)
    assert (held["status"], held["termination_date"]) == ("pending", "2027-01-31")
    assert "carrier review" in held["transaction"]["hold_reason"]
    assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 0}  # held: not the job's
    roster.call("approve_transaction", held["confirmation_number"], "ok")
    assert spans(roster_db, family["member_id"])[spouse] == [
        ("PPO-FAM", "FAM", "2027-01-01", "2027-01-31", "terminated")]


# --- a whole family ---------------------------------------------------------------------------------------

def test_a_pending_family_termination_cancelled_leaves_coverage_untouched(roster, roster_db, roster_config):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    head = family["member_id"]
    before = spans(roster_db, head)
    with collect_events(roster_config, "roster.events", "subscriber_terminated") as events:
        ended = roster.call("terminate_subscriber", number, head,
                            {"event_date": "2027-04-20", "cause": "termination_of_employment"}, token=admin)
        [event] = events.wait_for(1)
    assert (ended["status"], ended["termination_date"], len(ended["member_ids"])) == ("pending", "2027-04-30", 3)
    assert event["data"]["change"]["cause"] == "08"
    busy = refusal(roster.call, "terminate_coverage", number, family["dependents"][0]["member_id"],
                   {"event_date": "2027-03-10", "cause": "divorce"}, token=admin)
    assert (busy["status"], busy["code"]) == (409, "family_has_pending_change")

    roster.call("cancel_transaction", number, ended["confirmation_number"], "stays employed", token=admin)
    assert spans(roster_db, head) == before
    assert roster.call("complete_due_transactions", "2027-05-01") == {"completed": 0}
    assert statuses(roster, number, head, admin) == ["active", "active", "active"]


def test_a_family_terminated_is_reinstated_on_day_60_but_not_61(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    head = family["member_id"]
    not_terminated = refusal(roster.call, "reinstate_subscriber", number, head, {}, token=admin)
    assert not_terminated["code"] == "member_not_terminated"
    ended = roster.call("terminate_subscriber", number, head, {"event_date": "2027-02-20", "cause": "death"},
                        token=admin)
    assert (ended["status"], ended["termination_date"]) == ("completed", "2027-02-20")
    assert statuses(roster, number, head, admin) == ["terminated"] * 3

    clock.set_today(date(2027, 4, 22))  # 61 days after 2027-02-20
    late = refusal(roster.call, "reinstate_subscriber", number, head, {}, token=admin)
    assert late["status"] == 422 and "Re-enroll the member instead" in late["errors"]["termination_date"][0]
    clock.set_today(date(2027, 4, 21))  # day 60
    back = roster.call("reinstate_subscriber", number, head, {"note": "death certificate was wrong"}, token=admin)
    assert (back["status"], back["reinstated_from"], sorted(back["member_ids"])) == (
        "pending", "2027-02-21", sorted([head] + [d["member_id"] for d in family["dependents"]]))
    assert "carrier review" in back["transaction"]["hold_reason"]  # 59 days back
    roster.call("approve_transaction", back["confirmation_number"], None)
    assert spans(roster_db, head) == {member: [("PPO-FAM", "FAM", "2027-01-01", None, "active")]
                                      for member in spans(roster_db, head)}
    assert statuses(roster, number, head, admin) == ["active"] * 3


def test_a_dependent_is_not_reinstated_without_the_subscriber(roster):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    roster.call("terminate_subscriber", number, family["member_id"],
                {"event_date": "2027-02-10", "cause": "termination_of_benefits"}, token=admin)
    clock.set_today(date(2027, 3, 5))
    refused = refusal(roster.call, "reinstate_coverage", number, family["dependents"][0]["member_id"], {},
                      token=admin)
    assert refused["status"] == 422 and list(refused["errors"]) == ["subscriber"]


# --- address and demographics ---------------------------------------------------------------------------

def test_an_address_change_moves_dependents_who_lived_with_the_subscriber(roster, roster_db, roster_config):
    number = set_up_group(roster)
    admin = user(number, "enrollment_manager")
    family = enroll_family(roster, number)
    head, spouse, child = family["member_id"], *[d["member_id"] for d in family["dependents"]]
    away = {"line1": "4 Dorm Rd", "line2": None, "city": "Storrs", "state": "CT", "zip": "06269"}
    with Session(roster_db) as session:  # the child has an address of their own
        session.scalar(select(Member).where(Member.member_id == child)).mailing_address = away
        session.commit()
    with collect_events(roster_config, "roster.events", "member_address_changed") as events:
        changed = roster.call("update_address", number, head, {"mailing_address": NEW_HOME}, token=admin)
        [event] = events.wait_for(1)
    assert (changed["status"], changed["effective_date"], changed["member_ids"]) == (
        "completed", "2027-03-15", [head, spouse])
    assert (changed["transaction"]["maintenance_type"], changed["transaction"]["reason"]) == ("001", "43")
    assert changed["subscriber"]["mailing_address"] == NEW_HOME
    assert event["data"]["change"] == {"member_ids": [head, spouse], "mailing_address": NEW_HOME,
                                       "physical_address": None}
    with Session(roster_db) as session:
        assert session.scalar(select(Member.mailing_address).where(Member.member_id == child)) == away
        assert session.scalar(select(Member.mailing_address).where(Member.member_id == spouse)) == NEW_HOME
    same = refusal(roster.call, "update_address", number, head, {"mailing_address": NEW_HOME}, token=admin)
    assert same["status"] == 422 and same["errors"] == {"mailing_address": ["This is the address on file already."]}
    not_subscriber = refusal(roster.call, "update_address", number, spouse, {"mailing_address": ADDRESS},
                             token=admin)
    assert (not_subscriber["status"], not_subscriber["code"]) == (404, "subscriber_not_found")


def test_demographic_corrections_name_changed_fields_and_guard_ssns(roster, roster_db, roster_config):
    number = set_up_group(roster)
    admin, manager = user(number, "group_admin"), user(number, "enrollment_manager")
    family = enroll_family(roster, number)
    other = enroll_family(roster, number, ssn="456-78-9012", dependents=())
    child = family["dependents"][1]["member_id"]

    with collect_events(roster_config, "roster.events", "member_demographics_changed") as events:
        fixed = roster.call("correct_demographics", number, child,
                            {"last_name": "Whitfield-Ames", "gender": "U", "ssn": "345-67-8902"}, token=admin)
        [event] = events.wait_for(1)
    assert fixed["changed_fields"] == ["last_name", "ssn"]  # the gender was right already
    assert event["data"]["change"] == {"member_id": child, "changed_fields": ["last_name", "ssn"]}
    assert "345678902" not in str(event) and "8902" not in str(event)
    txn = fixed["transaction"]
    assert (txn["maintenance_type"], txn["reason"], txn["request"]["ssn"], txn["before"]["ssn"],
            txn["after"]["ssn"]) == ("001", "25", "***-**-8902", "***-**-8901", "***-**-8902")
    assert fixed["subscriber"]["dependents"][1]["ssn"] == "345-67-8902"  # a group admin sees it
    found = roster.call("search_members", number, {"last_name": "whitfield-a"}, token=admin)
    assert [item["member_id"] for item in found["items"]] == [child]

    no_ssn_role = refusal(roster.call, "correct_demographics", number, child, {"ssn": "345-67-8903"}, token=manager)
    assert (no_ssn_role["status"], no_ssn_role["code"]) == (403, "ssn_change_not_allowed")
    clash = refusal(roster.call, "correct_demographics", number, family["member_id"], {"ssn": "456-78-9012"},
                    token=admin)
    assert (clash["status"], clash["code"]) == (409, "ssn_in_use") and other["member_id"] in clash["detail"]
    in_family = refusal(roster.call, "correct_demographics", number, child, {"ssn": "234-56-7890"}, token=admin)
    assert in_family["status"] == 409
    too_old = refusal(roster.call, "correct_demographics", number, child, {"date_of_birth": "2001-03-15"},
                      token=manager)
    assert too_old["status"] == 422 and "until age 26" in too_old["errors"]["date_of_birth"][0]
    assert roster.call("correct_demographics", number, child, {"date_of_birth": "2001-03-16"},
                       token=manager)["changed_fields"] == ["date_of_birth"]


# --- transfer -------------------------------------------------------------------------------------------

def test_a_transfer_with_the_same_plan_keeps_the_spans_and_moves_the_family(roster, roster_db, roster_config):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    head = family["member_id"]
    before = spans(roster_db, head)
    with collect_events(roster_config, "roster.events", "member_transferred") as events:
        moved = roster.call("transfer_subscriber", number, head, {"to_subgroup_number": "003",
                                                                  "effective_date": "2027-03-01"}, token=admin)
        [event] = events.wait_for(1)
    assert (moved["status"], moved["effective_date"], moved["plan_code"], moved["subscriber"]["subgroup_number"]) == (
        "completed", "2027-03-01", "PPO-FAM", "003")
    assert (moved["transaction"]["maintenance_type"], moved["transaction"]["reason"]) == ("001", "XT")
    assert event["data"]["subgroup_number"] == "003"
    assert event["data"]["change"]["from_subgroup_number"] == "001"
    assert spans(roster_db, head) == before  # continuous: nothing ended, nothing started
    assert roster.call("search_members", number, {"subgroup": "003"}, token=admin)["total"] == 3


def test_a_transfer_to_a_subgroup_without_the_plan_needs_a_plan_it_offers_and_waits_for_its_date(roster, roster_db):
    number = set_up_group(roster)
    admin = user(number, "group_admin")
    family = enroll_family(roster, number)
    head = family["member_id"]
    refused = refusal(roster.call, "transfer_subscriber", number, head, {"to_subgroup_number": "002"}, token=admin)
    assert refused["status"] == 422
    assert refused["errors"]["plan_code"][0].startswith("Plan PPO-FAM is not offered to subgroup 002")

    moved = roster.call("transfer_subscriber", number, head, {"to_subgroup_number": "002", "plan_code": "HMO-PLANT"},
                        token=admin)
    assert (moved["status"], moved["effective_date"], moved["subscriber"]["subgroup_number"]) == (
        "pending", "2027-04-01", "001")  # the first of next month; moves when it completes
    assert roster.call("complete_due_transactions", "2027-04-01") == {"completed": 1}
    clock.set_today(date(2027, 4, 1))
    page = roster.call("get_subscriber", number, head, token=admin)
    assert (page["subgroup_number"], page["status"]) == ("002", "active")
    for member_spans in spans(roster_db, head).values():  # no gap, no overlap
        assert member_spans == [("PPO-FAM", "FAM", "2027-01-01", "2027-03-31", "terminated"),
                                ("HMO-PLANT", "FAM", "2027-04-01", None, "active")]


# --- who may ----------------------------------------------------------------------------------------------

def test_viewers_are_refused_and_limited_users_reach_only_their_subgroups(roster):
    number = set_up_group(roster)
    family = enroll_family(roster, number)
    head = family["member_id"]
    viewer = user(number, "viewer")
    for method, body in (("update_address", {"mailing_address": NEW_HOME}),
                         ("correct_demographics", {"first_name": "Dee"}),
                         ("terminate_coverage", {"event_date": "2027-03-10", "cause": "death"}),
                         ("reinstate_subscriber", {}),
                         ("transfer_subscriber", {"to_subgroup_number": "003"})):
        assert refusal(roster.call, method, number, head, body, token=viewer)["status"] == 403, method
    plant = user(number, "enrollment_manager", subgroups=["002"])
    assert refusal(roster.call, "terminate_subscriber", number, head, {"event_date": "2027-03-10",
                                                                         "cause": "death"},
                   token=plant)["status"] == 404
    office = user(number, "enrollment_manager", subgroups=["001"])
    assert refusal(roster.call, "transfer_subscriber", number, head, {"to_subgroup_number": "003"},
                   token=office)["status"] == 403
    other_group = user("OTHER1", "group_admin")
    assert refusal(roster.call, "update_address", number, head, {"mailing_address": NEW_HOME},
                   token=other_group)["status"] == 404
