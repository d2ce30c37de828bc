"""COBRA and state continuation over HTTP through the gateway (issue 5, part D), on business dates set with the
`business_date` fixture: a family terminated through the lifecycle API elects COBRA 70 days later (a notice
sent 20 days after the loss) and is covered without a gap; an active member, a never-covered dependent and a
late election are refused; a spouse electing alone gets their own EMP contract; a small group gets 30 months
of state continuation; a disability determination extends 18 months to 29."""
import uuid
from datetime import date

from journeys import ok, unique_ssn, user

PLAN = {"plan_code": "CONT-PPO", "name": "Continuation PPO", "product": "medical", "plan_type": "PPO",
        "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}
PLAN_YEAR = date(2030, 1, 1)
ENROLLED_ON = date(2030, 1, 1)       # hired 2029-12-20, covered from 2030-01-01
TERMINATED_ON = date(2030, 2, 5)     # employment ended 2030-01-20: last covered day 2030-01-31
ELECTION = {"qualifying_event": "1", "event_date": "2030-01-20", "notice_date": "2030-02-20"}


def create_group(stack, business_date, employees):
    """A group (D + random digits) offering CONT-PPO for the 2030 plan year; COBRA from 20 employees, state
    continuation under."""
    business_date(ENROLLED_ON)
    carrier = stack.client(stack.token("carrier-continuation", carrier=True))
    number = "D%06d" % (uuid.uuid4().int % 10 ** 6)
    loaded = carrier.post("/api/v1/admin/plans", json=[PLAN])
    assert loaded.status_code in (200, 201), loaded.text
    ok(carrier.post("/api/v1/admin/groups", json={
        "group_number": number, "legal_name": "Continuation Widgets LLC", "ein": "061234567",
        "mailing_address": ADDRESS, "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@e2e.example"}],
        "renewal_date": PLAN_YEAR.isoformat(), "employee_count": employees, "waiting_period_days": 0}), 201)
    ok(carrier.post("/api/v1/admin/groups/%s/subgroups" % number,
                          json={"subgroup_number": "001", "name": "Office"}), 201)
    ok(carrier.put("/api/v1/admin/groups/%s/subgroups/001/plans" % number,
                         json={"plan_year_start": PLAN_YEAR.isoformat(), "plan_codes": [PLAN["plan_code"]]}), 200)
    return number


def enroll(stack, business_date, group, dependents=()):
    """A family covered from 2030-01-01: member ids, subscriber first, dependents in the order given."""
    business_date(ENROLLED_ON)
    enrolled = ok(user(stack, group, "group_admin").post("/api/v1/groups/%s/subscribers" % group, json={
        "subgroup_number": "001", "plan_code": PLAN["plan_code"], "dependents": list(dependents),
        "subscriber": {"first_name": "Avery", "last_name": "Cobra-%s" % uuid.uuid4().hex[:4],
                       "date_of_birth": "1985-04-12", "gender": "F", "marital_status": "M", "ssn": unique_ssn(),
                       "mailing_address": ADDRESS, "hire_date": "2029-12-20", "employment_status": "active"}}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2030-01-01")
    return [enrolled["subscriber"]["member_id"]] + [d["member_id"] for d in enrolled["subscriber"]["dependents"]]


def terminate_through_lifecycle_api(stack, business_date, group, subscriber):
    """Part A's POST …/subscribers/{m}/terminate: employment ended 2030-01-20, asked on 2030-02-05, so the family
    is covered through 2030-01-31 (completed at once: 5 days back)."""
    business_date(TERMINATED_ON)
    ended = ok(user(stack, group, "group_admin").post(
        "/api/v1/groups/%s/subscribers/%s/terminate" % (group, subscriber),
        json={"event_date": "2030-01-20", "cause": "termination_of_employment"}), 200)
    assert (ended["status"], ended["transaction"]["effective_date"]) == ("completed", "2030-01-31")


def spouse():
    return {"relationship": "spouse", "first_name": "Jordan", "last_name": "Cobra", "date_of_birth": "1984-02-03",
            "gender": "M", "ssn": unique_ssn()}


def declined_child():
    return {"relationship": "child", "first_name": "Riley", "last_name": "Cobra", "date_of_birth": "2016-06-01",
            "gender": "F", "ssn": unique_ssn(), "elect_coverage": False, "other_coverage": "Parent's plan elsewhere"}


def cobra_path(group, member):
    return "/api/v1/groups/%s/subscribers/%s/cobra" % (group, member)


def test_a_terminated_family_elects_cobra_70_days_later_without_a_gap_and_extends_it(stack, business_date):
    group = create_group(stack, business_date, employees=45)
    manager, viewer = user(stack, group, "enrollment_manager"), user(stack, group, "viewer")
    subscriber, partner, child = enroll(stack, business_date, group, [spouse(), declined_child()])
    active, = enroll(stack, business_date, group)
    terminate_through_lifecycle_api(stack, business_date, group, subscriber)

    business_date(date(2030, 2, 10))
    window = ok(viewer.get(cobra_path(group, subscriber)), 200)
    assert window["elections"] == [] and window["continuation"] == "cobra"
    assert window["election_window"] == {"member_ids": [subscriber, partner], "last_covered_day": "2030-01-31",
                                         "loss_of_coverage_date": "2030-02-01", "deadline": "2030-04-02",
                                         "open": True}
    noticed = dict(ELECTION, notice_date="2030-02-08")
    refused = ok(manager.post(cobra_path(group, active), json=noticed), 409)
    assert refused["code"] == "member_still_covered"
    refused = ok(manager.post(cobra_path(group, subscriber), json=dict(noticed, member_ids=[child])), 409)
    assert refused["code"] == "never_covered"
    assert ok(viewer.post(cobra_path(group, subscriber), json=noticed), 403)
    assert ok(manager.post(cobra_path(group, subscriber), json={"qualifying_event": "8"}), 422)["errors"].keys() \
        >= {"qualifying_event", "event_date", "notice_date"}

    # 70 days after the last covered day, 50 after the notice of 2030-02-20.
    business_date(date(2030, 4, 11))
    elected = ok(manager.post(cobra_path(group, subscriber), json=ELECTION), 201)
    assert (elected["status"], elected["effective_date"], elected["transaction"]["type"],
            elected["transaction"]["maintenance_type"], elected["transaction"]["reason"]) == (
        "completed", "2030-02-01", "cobra_enrollment", "021", "09")
    election = elected["election"]
    assert (election["kind"], election["months"], election["coverage_from"], election["coverage_through"],
            election["election_date"], election["election_deadline"], election["member_ids"], election["tier"]) == (
        "cobra", 18, "2030-02-01", "2031-07-31", "2030-04-11", "2030-04-21", [subscriber, partner], "ESP")

    family = ok(viewer.get("/api/v1/groups/%s/subscribers/%s" % (group, subscriber)), 200)
    assert family["status"] == "cobra"
    assert [(span["effective_from"], span["effective_through"], span["status"]) for span in family["coverage"]] == [
        ("2030-01-01", "2030-01-31", "terminated"), ("2030-02-01", "2031-07-31", "active")]
    found = ok(viewer.get("/api/v1/groups/%s/members" % group, params={"status": "cobra"}), 200)
    assert sorted(item["member_id"] for item in found["items"]) == sorted([subscriber, partner])
    assert ok(manager.post(cobra_path(group, subscriber), json=ELECTION), 409)["code"] == \
        "continuation_already_elected"

    business_date(date(2030, 9, 1))
    extended = ok(manager.post(cobra_path(group, subscriber) + "/extend",
                                     json={"determination_date": "2030-08-15"}), 200)
    assert (extended["election"]["months"], extended["election"]["coverage_through"],
            extended["transaction"]["type"], extended["transaction"]["maintenance_type"]) == (
        29, "2032-06-30", "cobra_extension", "001")
    shown = ok(viewer.get(cobra_path(group, subscriber)), 200)
    assert [(e["months"], e["coverage_through"], e["disability_extended"]) for e in shown["elections"]] == [
        (29, "2032-06-30", True)]
    family = ok(viewer.get("/api/v1/groups/%s/subscribers/%s" % (group, subscriber)), 200)
    assert family["coverage"][-1]["effective_through"] == "2032-06-30"


def test_an_election_after_the_window_is_refused(stack, business_date):
    group = create_group(stack, business_date, employees=45)
    subscriber, = enroll(stack, business_date, group)
    terminate_through_lifecycle_api(stack, business_date, group, subscriber)
    business_date(date(2030, 4, 22))  # the notice of 2030-02-20 closed the window on 2030-04-21
    refused = ok(user(stack, group, "group_admin").post(cobra_path(group, subscriber), json=ELECTION), 422)
    assert refused["code"] == "election_window_closed" and "2030-04-21" in refused["errors"]["election_date"][0]
    assert ok(user(stack, group, "viewer").get(cobra_path(group, subscriber)), 200)["elections"] == []


def test_a_spouse_electing_alone_gets_an_own_employee_only_contract(stack, business_date):
    group = create_group(stack, business_date, employees=45)
    subscriber, partner = enroll(stack, business_date, group, [spouse()])
    terminate_through_lifecycle_api(stack, business_date, group, subscriber)
    business_date(date(2030, 3, 1))
    elected = ok(user(stack, group, "group_admin").post(cobra_path(group, subscriber),
                                                               json=dict(ELECTION, member_ids=[partner])), 201)
    assert (elected["election"]["holder_member_id"], elected["election"]["member_ids"], elected["election"]["tier"],
            elected["election"]["coverage_through"]) == (partner, [partner], "EMP", "2031-07-31")
    family = ok(user(stack, group, "viewer").get("/api/v1/groups/%s/subscribers/%s" % (group, subscriber)), 200)
    assert family["status"] == "terminated"
    (dependent,) = family["dependents"]
    assert dependent["status"] == "cobra"
    assert [(span["tier"], span["effective_from"]) for span in dependent["coverage"]] == [
        ("ESP", "2030-01-01"), ("EMP", "2030-02-01")]


def test_a_small_group_gets_30_months_of_state_continuation(stack, business_date):
    group = create_group(stack, business_date, employees=12)
    subscriber, = enroll(stack, business_date, group)
    terminate_through_lifecycle_api(stack, business_date, group, subscriber)
    business_date(date(2030, 3, 1))
    admin = user(stack, group, "group_admin")
    elected = ok(admin.post(cobra_path(group, subscriber), json=ELECTION), 201)
    assert (elected["election"]["kind"], elected["election"]["months"], elected["election"]["coverage_from"],
            elected["election"]["coverage_through"]) == ("state", 30, "2030-02-01", "2032-07-31")
    refused = ok(admin.post(cobra_path(group, subscriber) + "/extend",
                                  json={"determination_date": "2030-02-20"}), 409)
    assert refused["code"] == "continuation_not_extendable"
