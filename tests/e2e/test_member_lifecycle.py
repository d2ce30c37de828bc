"""Issue 5 part A over HTTP through the gateway, on business dates set for the whole stack: terminating a member
or a family (the retroactive window at 60/61 days, a mid-month death, a future termination completed by the
daily job or cancelled, the rest of the family's tier), reinstating on day 60 but not 61, transferring to
another subgroup without a gap, address and demographic changes, the events carriers receive, and roles."""
import uuid
from datetime import date, timedelta

import pytest

from journeys import drain, events_queue, ok, unique_ssn, user

PLANS = [
    {"plan_code": "LC-PPO", "name": "Lifecycle PPO", "product": "medical", "plan_type": "PPO",
     "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "LC-EPO", "name": "Lifecycle EPO", "product": "medical", "plan_type": "EPO", "network": "METRO",
     "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
]
ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
EVENT_TYPES = ("coverage_terminated", "subscriber_terminated", "coverage_reinstated", "subscriber_reinstated",
               "member_transferred", "member_address_changed", "member_demographics_changed",
               "transaction_status_changed")


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-lifecycle", carrier=True))


@pytest.fixture(scope="module")
def lifecycle_events(stack):
    """A carrier system's queue on roster.events, bound before anything happens."""
    return events_queue(stack, "lifecycle", EVENT_TYPES)


@pytest.fixture(scope="module")
def group(stack, carrier, lifecycle_events):
    """Subgroups 001 and 003 offer LC-PPO, 002 only LC-EPO, for the plan year 2027."""
    number = "LC%s" % uuid.uuid4().hex[:6].upper()
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    ok(carrier.post("/api/v1/admin/groups", json={
        "group_number": number, "legal_name": "Lifecycle Widgets LLC", "ein": "061234567",
        "mailing_address": ADDRESS, "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@e2e.example"}],
        "renewal_date": "2027-01-01", "employee_count": 45, "waiting_period_days": 0,
        "age_off_policy": "end_of_month", "continuation": "cobra"}), 201)
    for subgroup, codes in (("001", ["LC-PPO"]), ("002", ["LC-EPO"]), ("003", ["LC-PPO"])):
        ok(carrier.post("/api/v1/admin/groups/%s/subgroups" % number,
                        json={"subgroup_number": subgroup, "name": "Site %s" % subgroup}), 201)
        ok(carrier.put("/api/v1/admin/groups/%s/subgroups/%s/plans" % (number, subgroup),
                       json={"plan_year_start": "2027-01-01", "plan_codes": codes}))
    return number


@pytest.fixture
def family(stack, group, business_date):
    """A subscriber, spouse and child covered in LC-PPO (FAM) since 2027-01-01, enrolled that day; the test
    then sets its own business date."""
    business_date(date(2027, 1, 1))
    last = "Lifecycle-%s" % uuid.uuid4().hex[:4]
    enrolled = ok(user(stack, group, "group_admin").post("/api/v1/groups/%s/subscribers" % group, json={
        "subgroup_number": "001", "plan_code": "LC-PPO",
        "subscriber": {"first_name": "Avery", "last_name": last, "date_of_birth": "1985-04-12", "gender": "F",
                       "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"},
        "dependents": [{"relationship": "spouse", "first_name": "Sam", "last_name": last,
                        "date_of_birth": "1984-09-30", "gender": "M", "ssn": unique_ssn()},
                       {"relationship": "child", "first_name": "Riley", "last_name": last,
                        "date_of_birth": "2015-02-03", "gender": "U", "ssn": unique_ssn()}]}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2027-01-01")
    subscriber = enrolled["subscriber"]
    return {"subscriber": subscriber["member_id"], "spouse": subscriber["dependents"][0]["member_id"],
            "child": subscriber["dependents"][1]["member_id"]}


def page(stack, group, member_id):
    return ok(user(stack, group, "group_admin").get("/api/v1/groups/%s/subscribers/%s" % (group, member_id)))


def coverage_of(details):
    """{relationship: [(plan, tier, from, through, status)]} of a subscriber page (cancelled spans aside)."""
    people = [details] + details["dependents"]
    return {person["relationship"]: [(c["plan_code"], c["tier"], c["effective_from"], c["effective_through"],
                                      c["status"]) for c in person["coverage"] if c["status"] != "cancelled"]
            for person in people}


def path(group, kind, member_id, action):
    return "/api/v1/groups/%s/%s/%s/%s" % (group, kind, member_id, action)


def run_daily_job(carrier, as_of):
    return ok(carrier.post("/api/v1/admin/jobs/complete-due-transactions", json={"as_of": as_of}))["completed"]


# --- terminations -----------------------------------------------------------------------------------------

def test_a_future_spouse_termination_is_completed_by_the_daily_job_and_the_family_becomes_ech(
        stack, group, carrier, family, business_date, lifecycle_events):
    manager = user(stack, group, "enrollment_manager")
    business_date(date(2027, 3, 15))
    drain(stack, lifecycle_events, seconds=1)  # what enrolling and earlier tests produced
    ended = ok(manager.post(path(group, "members", family["spouse"], "coverage/terminate"),
                            json={"event_date": "2027-03-10", "cause": "divorce"}))
    assert (ended["status"], ended["termination_date"], ended["transaction"]["maintenance_type"],
            ended["transaction"]["reason"]) == ("pending", "2027-03-31", "024", "01")
    assert page(stack, group, family["subscriber"])["dependents"][0]["status"] == "active"

    assert run_daily_job(carrier, "2027-04-01") >= 1
    business_date(date(2027, 4, 1))
    details = page(stack, group, family["subscriber"])
    assert [details["status"]] + [d["status"] for d in details["dependents"]] == ["active", "terminated", "active"]
    assert coverage_of(details) == {
        "subscriber": [("LC-PPO", "FAM", "2027-01-01", "2027-03-31", "terminated"),
                       ("LC-PPO", "ECH", "2027-04-01", None, "active")],
        "spouse": [("LC-PPO", "FAM", "2027-01-01", "2027-03-31", "terminated")],
        "child": [("LC-PPO", "FAM", "2027-01-01", "2027-03-31", "terminated"),
                  ("LC-PPO", "ECH", "2027-04-01", None, "active")]}
    txn = ok(manager.get("/api/v1/groups/%s/transactions/%s" % (group, ended["confirmation_number"])))
    assert txn["status"] == "completed"

    events = [event for event in drain(stack, lifecycle_events)
              if event["aggregate_id"] == "family:%s" % family["subscriber"]]
    assert [(event["event_type"], event["data"]["transaction"]["status"]) for event in events] == [
        ("coverage_terminated", "pending"), ("transaction_status_changed", "completed")]
    assert events[0]["data"]["change"] == {"member_ids": [family["spouse"]], "termination_date": "2027-03-31",
                                           "cause": "01", "date_of_death": None}
    assert "ssn" not in str(events).lower()


def test_a_termination_61_days_back_is_refused_and_60_days_back_held_for_review(stack, group, family,
                                                                                 business_date):
    admin = user(stack, group, "group_admin")
    terminate = path(group, "members", family["spouse"], "coverage/terminate")
    body = {"event_date": "2027-01-15", "cause": "termination_of_benefits"}  # covered through 2027-01-31
    business_date(date(2027, 4, 2))
    refused = admin.post(terminate, json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"event_date": [
        "2027-01-31 is 61 days in the past; a change may reach back at most 60 days."]}
    business_date(date(2027, 4, 1))
    held = ok(admin.post(terminate, json=body))
    assert (held["status"], held["termination_date"]) == ("pending", "2027-01-31")
    assert held["transaction"]["hold_reason"].startswith("Effective 60 days in the past")


def test_a_mid_month_death_ends_coverage_that_day(stack, group, family, business_date):
    admin = user(stack, group, "group_admin")
    business_date(date(2027, 3, 15))
    ended = ok(admin.post(path(group, "members", family["child"], "coverage/terminate"),
                          json={"event_date": "2027-03-05", "cause": "death"}))
    assert (ended["status"], ended["termination_date"], ended["cause"]) == ("completed", "2027-03-05", "03")
    covered = coverage_of(ended["subscriber"])
    assert covered["child"] == [("LC-PPO", "FAM", "2027-01-01", "2027-03-05", "terminated")]
    assert covered["spouse"] == [("LC-PPO", "FAM", "2027-01-01", "2027-03-05", "terminated"),
                                 ("LC-PPO", "ESP", "2027-03-06", None, "active")]
    assert ended["subscriber"]["dependents"][1]["status"] == "terminated"


def test_a_pending_future_termination_cancelled_leaves_coverage_untouched(stack, group, carrier, family,
                                                                          business_date):
    admin = user(stack, group, "group_admin")
    business_date(date(2027, 3, 15))
    before = coverage_of(page(stack, group, family["subscriber"]))
    ended = ok(admin.post(path(group, "subscribers", family["subscriber"], "terminate"),
                          json={"event_date": "2027-04-20", "cause": "termination_of_employment"}))
    assert (ended["status"], ended["termination_date"], len(ended["member_ids"])) == ("pending", "2027-04-30", 3)
    cancelled = ok(admin.post("/api/v1/groups/%s/transactions/%s/cancel" % (group, ended["confirmation_number"]),
                              json={"reason": "Stays employed"}))
    assert cancelled["status"] == "cancelled"
    run_daily_job(carrier, "2027-05-01")
    business_date(date(2027, 5, 1))
    details = page(stack, group, family["subscriber"])
    assert coverage_of(details) == before == {
        person: [("LC-PPO", "FAM", "2027-01-01", None, "active")] for person in ("subscriber", "spouse", "child")}
    assert [details["status"]] + [d["status"] for d in details["dependents"]] == ["active"] * 3


# --- reinstatement ----------------------------------------------------------------------------------------

def test_a_family_is_reinstated_on_day_60_and_refused_on_day_61(stack, group, carrier, family, business_date,
                                                                lifecycle_events):
    admin = user(stack, group, "group_admin")
    business_date(date(2027, 3, 15))
    ended = ok(admin.post(path(group, "subscribers", family["subscriber"], "terminate"),
                          json={"event_date": "2027-02-20", "cause": "termination_of_benefits"}))
    assert (ended["status"], ended["termination_date"]) == ("completed", "2027-02-28")
    reinstate = path(group, "subscribers", family["subscriber"], "reinstate")

    business_date(date(2027, 4, 30))  # 61 days after 2027-02-28
    late = admin.post(reinstate, json={})
    assert late.status_code == 422 and "Re-enroll the member instead" in late.json()["errors"]["termination_date"][0]
    business_date(date(2027, 4, 29))  # day 60
    drain(stack, lifecycle_events, seconds=1)
    back = ok(admin.post(reinstate))
    assert (back["status"], back["reinstated_from"], back["terminated_by"]) == (
        "pending", "2027-03-01", ended["confirmation_number"])
    assert (back["transaction"]["maintenance_type"], back["transaction"]["reason"]) == ("025", "41")
    ok(carrier.post("/api/v1/admin/transactions/%s/approve" % back["confirmation_number"], json={}))
    assert coverage_of(page(stack, group, family["subscriber"])) == {
        person: [("LC-PPO", "FAM", "2027-01-01", None, "active")] for person in ("subscriber", "spouse", "child")}
    [event] = [event for event in drain(stack, lifecycle_events) if event["event_type"] == "subscriber_reinstated"
               and event["aggregate_id"] == "family:%s" % family["subscriber"]]
    assert event["data"]["change"]["terminated_by"] == ended["confirmation_number"]
    assert event["data"]["change"]["reinstated_from"] == "2027-03-01"


# --- transfer -------------------------------------------------------------------------------------------

def no_gap_no_overlap(spans):
    live = sorted(spans, key=lambda span: span[2])
    for earlier, later in zip(live, live[1:]):
        assert date.fromisoformat(earlier[3]) + timedelta(days=1) == date.fromisoformat(later[2]), live
    return True


def test_a_transfer_keeps_coverage_continuous(stack, group, carrier, family, business_date, lifecycle_events):
    admin = user(stack, group, "group_admin")
    transfer = path(group, "subscribers", family["subscriber"], "transfer")
    business_date(date(2027, 3, 15))
    no_plan = admin.post(transfer, json={"to_subgroup_number": "002"})
    assert no_plan.status_code == 422
    assert no_plan.json()["errors"]["plan_code"][0].startswith("Plan LC-PPO is not offered to subgroup 002")

    moved = ok(admin.post(transfer, json={"to_subgroup_number": "002", "plan_code": "LC-EPO"}))
    assert (moved["status"], moved["effective_date"], moved["transaction"]["reason"]) == ("pending", "2027-04-01",
                                                                                         "XT")
    run_daily_job(carrier, "2027-04-01")
    business_date(date(2027, 4, 1))
    details = page(stack, group, family["subscriber"])
    assert details["subgroup_number"] == "002"
    for spans in coverage_of(details).values():
        assert spans == [("LC-PPO", "FAM", "2027-01-01", "2027-03-31", "terminated"),
                         ("LC-EPO", "FAM", "2027-04-01", None, "active")]
        assert no_gap_no_overlap(spans)

    # The family is in 002 now: a transfer to 002 is refused.
    same = admin.post(transfer, json={"to_subgroup_number": "002"})
    assert same.status_code == 422 and list(same.json()["errors"]) == ["to_subgroup_number"]


def test_a_transfer_to_a_subgroup_with_the_same_plan_leaves_the_spans_as_they_are(stack, group, family,
                                                                                  business_date, lifecycle_events):
    admin = user(stack, group, "group_admin")
    business_date(date(2027, 3, 15))
    drain(stack, lifecycle_events, seconds=1)
    moved = ok(admin.post(path(group, "subscribers", family["subscriber"], "transfer"),
                          json={"to_subgroup_number": "003", "effective_date": "2027-03-01"}))
    assert (moved["status"], moved["subscriber"]["subgroup_number"]) == ("completed", "003")
    assert coverage_of(moved["subscriber"]) == {
        person: [("LC-PPO", "FAM", "2027-01-01", None, "active")] for person in ("subscriber", "spouse", "child")}
    [event] = [event for event in drain(stack, lifecycle_events) if event["event_type"] == "member_transferred"
               and event["aggregate_id"] == "family:%s" % family["subscriber"]]
    assert (event["data"]["subgroup_number"], event["data"]["change"]["from_subgroup_number"],
            event["data"]["change"]["to_subgroup_number"], event["data"]["change"]["effective_date"]) == (
        "003", "001", "003", "2027-03-01")


# --- address, demographics, roles ----------------------------------------------------------------------

def test_address_and_demographic_changes_are_completed_transactions(stack, group, family, business_date):
    business_date(date(2027, 3, 15))
    admin, manager = user(stack, group, "group_admin"), user(stack, group, "enrollment_manager")
    home = {"line1": "9 Elm St", "line2": None, "city": "Avon", "state": "CT", "zip": "06001"}
    moved = ok(manager.patch(path(group, "subscribers", family["subscriber"], "address"),
                             json={"mailing_address": home}))
    assert (moved["status"], moved["effective_date"], moved["transaction"]["reason"]) == (
        "completed", "2027-03-15", "43")
    assert moved["confirmation_number"] and moved["subscriber"]["mailing_address"] == home
    assert sorted(moved["member_ids"]) == sorted(family.values())  # dependents without an address follow

    demographics = path(group, "members", family["child"], "demographics")
    assert manager.patch(demographics, json={"ssn": unique_ssn()}).status_code == 403
    fixed = ok(admin.patch(demographics, json={"first_name": "Rylee", "ssn": unique_ssn()}))
    assert (fixed["changed_fields"], fixed["transaction"]["reason"]) == (["first_name", "ssn"], "25")
    too_old = manager.patch(demographics, json={"date_of_birth": "2001-03-15"})
    assert too_old.status_code == 422 and "until age 26" in too_old.json()["errors"]["date_of_birth"][0]
    assert manager.patch(demographics, json={}).status_code == 422


def test_a_viewer_may_not_change_the_roster_and_a_limited_user_sees_only_their_subgroups(stack, group, family,
                                                                                         business_date):
    business_date(date(2027, 3, 15))
    viewer = user(stack, group, "viewer")
    for method, target, body in (
            ("post", path(group, "members", family["spouse"], "coverage/terminate"),
             {"event_date": "2027-03-10", "cause": "divorce"}),
            ("post", path(group, "subscribers", family["subscriber"], "terminate"),
             {"event_date": "2027-03-10", "cause": "termination_of_employment"}),
            ("post", path(group, "subscribers", family["subscriber"], "reinstate"), {}),
            ("post", path(group, "subscribers", family["subscriber"], "transfer"), {"to_subgroup_number": "003"}),
            ("patch", path(group, "subscribers", family["subscriber"], "address"), {"mailing_address": ADDRESS}),
            ("patch", path(group, "members", family["child"], "demographics"), {"first_name": "X"})):
        response = getattr(viewer, method)(target, json=body)
        assert response.status_code == 403, (target, response.text)
    plant = user(stack, group, "enrollment_manager", subgroups=["002"])
    assert plant.post(path(group, "members", family["spouse"], "coverage/terminate"),
                      json={"event_date": "2027-03-10", "cause": "divorce"}).status_code == 404
    bad = user(stack, group, "group_admin").post(path(group, "members", family["spouse"], "coverage/terminate"),
                                                 json={"event_date": "2027-03-10", "cause": "07"})
    assert bad.status_code == 422 and list(bad.json()["errors"]) == ["cause"]
