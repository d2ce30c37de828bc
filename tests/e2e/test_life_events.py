"""Issue 5's life events over HTTP through the gateway, with the business date set for the whole stack: a newborn
added on day 60 and refused on day 61, a marriage on day 30 (EMP -> ESP) and refused on day 31, a divorce
(ESP -> EMP), a court order after 100 days, the age-off job keeping a child who turns 26 mid-month to the month's
end and leaving a disabled child covered, the dependent_added event with the family, and a viewer refused."""
import uuid
from datetime import date

import pytest
from kombu import Connection, Exchange, Queue, binding

from servicekit.testing import problem

from journeys import drain, ok, unique_ssn, user

PLAN = {"plan_code": "LIFE-PPO", "name": "Life Events PPO", "product": "medical", "plan_type": "PPO",
        "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}
ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}
PLAN_YEAR = date(2031, 1, 1)
TODAY = date(2031, 3, 15)


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-life-events", carrier=True))


@pytest.fixture(scope="module")
def group(stack, carrier):
    """A group (V + random digits) offering LIFE-PPO for the 2031 plan year, age-off at the end of the month."""
    number = "V%06d" % (uuid.uuid4().int % 10 ** 6)
    assert carrier.post("/api/v1/admin/plans", json=[PLAN]).status_code in (200, 201)
    ok(carrier.post("/api/v1/admin/groups", json={
        "group_number": number, "legal_name": "Life Events Widgets LLC", "ein": "061234567",
        "mailing_address": ADDRESS, "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@e2e.example"}],
        "renewal_date": PLAN_YEAR.isoformat(), "employee_count": 45, "waiting_period_days": 0,
        "age_off_policy": "end_of_month"}), 201)
    ok(carrier.post("/api/v1/admin/groups/%s/subgroups" % number,
                          json={"subgroup_number": "001", "name": "Office"}), 201)
    ok(carrier.put("/api/v1/admin/groups/%s/subgroups/001/plans" % number,
                         json={"plan_year_start": PLAN_YEAR.isoformat(), "plan_codes": [PLAN["plan_code"]]}), 200)
    return number


@pytest.fixture
def family_events(stack):
    """A carrier system's queue on roster.events for the life-event family events."""
    queue = Queue("carrier.e2e.life.%s" % uuid.uuid4().hex[:6], durable=False, auto_delete=False,
                  bindings=[binding(Exchange("roster.events", type="topic", durable=True), routing_key=key)
                            for key in ("dependent_added", "dependent_removed")])
    with Connection(stack.amqp_uri) as connection:
        queue(connection.default_channel).declare()
    yield queue
    with Connection(stack.amqp_uri) as connection:
        queue(connection.default_channel).delete()


def enroll(stack, business_date, group, dependents=()):
    """A family covered from 2031-01-01 (enrolled on that business date): the subscriber's member id."""
    business_date(PLAN_YEAR)
    enrolled = ok(user(stack, group, "group_admin").post("/api/v1/groups/%s/subscribers" % group, json={
        "subgroup_number": "001", "plan_code": PLAN["plan_code"], "dependents": list(dependents),
        "subscriber": {"first_name": "Avery", "last_name": "Life-%s" % uuid.uuid4().hex[:4],
                       "date_of_birth": "1985-04-12", "gender": "F", "marital_status": "M", "ssn": unique_ssn(),
                       "mailing_address": ADDRESS, "hire_date": "2031-01-01", "employment_status": "active"}}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2031-01-01")
    return enrolled["subscriber"]["member_id"]


def dependents_path(group, member):
    return "/api/v1/groups/%s/subscribers/%s/dependents" % (group, member)


def newborn(born):
    return {"relationship": "child", "first_name": "Robin", "last_name": "Life", "date_of_birth": born, "gender": "F"}


def spouse():
    return {"relationship": "spouse", "first_name": "Jordan", "last_name": "Life", "date_of_birth": "1984-02-03",
            "gender": "M", "ssn": unique_ssn()}


def spans(family, first_name):
    person = next(p for p in [family] + family["dependents"] if p["first_name"] == first_name)
    return [(span["tier"], span["effective_from"], span["effective_through"], span["status"])
            for span in person["coverage"] if span["status"] != "cancelled"]


def test_the_life_event_table_is_there_for_forms(stack, group):
    table = ok(user(stack, group, "viewer").get("/api/v1/life-events"), 200)["items"]
    windows = {row["life_event"]: row["window_days"] for row in table}
    assert (windows["birth"], windows["marriage"], windows["loss_of_other_coverage"], windows["court_order"]) == (
        60, 30, 30, None)


def test_a_newborn_is_added_on_day_60_with_the_family_event_and_refused_on_day_61(stack, business_date, group,
                                                                                 family_events):
    subscriber = enroll(stack, business_date, group)
    business_date(TODAY)
    admin = user(stack, group, "group_admin")
    viewer = user(stack, group, "viewer")
    body = {"life_event": "birth", "event_date": "2031-01-14", "dependent": newborn("2031-01-14")}
    refused = viewer.post(dependents_path(group, subscriber), json=body)
    assert refused.status_code == 403 and problem(refused)["code"] == "forbidden"

    late = admin.post(dependents_path(group, subscriber),
                      json=dict(body, event_date="2031-01-13", dependent=newborn("2031-01-13")))
    assert late.status_code == 422
    assert problem(late)["errors"] == {"event_date": [
        "A birth must be reported within 60 days of the event; 2031-01-13 was 61 days ago."]}

    added = ok(admin.post(dependents_path(group, subscriber), json=body), 201)
    assert (added["status"], added["effective_date"], added["tier"]) == ("completed", "2031-01-14", "ECH")
    assert (added["transaction"]["maintenance_type"], added["transaction"]["reason"]) == ("021", "02")
    family = ok(admin.get("/api/v1/groups/%s/subscribers/%s" % (group, subscriber)), 200)
    assert spans(family, "Avery") == [("EMP", "2031-01-01", "2031-01-13", "terminated"),
                                      ("ECH", "2031-01-14", None, "active")]
    assert spans(family, "Robin") == [("ECH", "2031-01-14", None, "active")]

    events = [event for event in drain(stack, family_events) if event["aggregate_id"] == "family:%s" % subscriber]
    assert [event["event_type"] for event in events] == ["dependent_added"]
    data = events[0]["data"]
    assert data["change"] == {"member_id": added["member_id"], "life_event": "birth", "event_date": "2031-01-14",
                              "effective_date": "2031-01-14"}
    assert [(m["first_name"], m["status"], m["coverage"][-1]["tier"]) for m in data["members"]] == [
        ("Avery", "active", "ECH"), ("Robin", "active", "ECH")]


def test_a_marriage_on_day_30_makes_the_family_esp_and_a_divorce_makes_it_emp_again(stack, business_date, carrier,
                                                                                   group):
    subscriber = enroll(stack, business_date, group)
    business_date(TODAY)
    admin = user(stack, group, "group_admin")
    late = admin.post(dependents_path(group, subscriber),
                      json={"life_event": "marriage", "event_date": "2031-02-12", "dependent": spouse()})
    assert late.status_code == 422 and "within 30 days" in problem(late)["errors"]["event_date"][0]
    married = ok(admin.post(dependents_path(group, subscriber),
                                  json={"life_event": "marriage", "event_date": "2031-02-13",
                                        "dependent": spouse()}), 201)
    assert (married["status"], married["effective_date"], married["tier"], married["transaction"]["reason"]) == (
        "pending", "2031-04-01", "ESP", "32")

    business_date(date(2031, 4, 1))
    ok(carrier.post("/api/v1/admin/jobs/complete-due-transactions", json={"as_of": "2031-04-01"}), 200)
    family = ok(admin.get("/api/v1/groups/%s/subscribers/%s" % (group, subscriber)), 200)
    assert spans(family, "Avery") == [("EMP", "2031-01-01", "2031-03-31", "terminated"),
                                      ("ESP", "2031-04-01", None, "active")]

    business_date(date(2031, 4, 15))
    divorced = ok(admin.post("%s/%s/remove" % (dependents_path(group, subscriber), married["member_id"]),
                                   json={"life_event": "divorce", "event_date": "2031-04-10"}), 200)
    assert (divorced["status"], divorced["effective_date"], divorced["tier"]) == ("pending", "2031-04-30", "EMP")
    assert (divorced["transaction"]["maintenance_type"], divorced["transaction"]["reason"]) == ("024", "01")
    business_date(date(2031, 5, 1))
    ok(carrier.post("/api/v1/admin/jobs/complete-due-transactions", json={"as_of": "2031-05-01"}), 200)
    family = ok(admin.get("/api/v1/groups/%s/subscribers/%s" % (group, subscriber)), 200)
    assert spans(family, "Avery")[-2:] == [("ESP", "2031-04-01", "2031-04-30", "terminated"),
                                           ("EMP", "2031-05-01", None, "active")]
    assert spans(family, "Jordan") == [("ESP", "2031-04-01", "2031-04-30", "terminated")]


def test_a_court_order_is_accepted_after_more_than_90_days(stack, business_date, group):
    subscriber = enroll(stack, business_date, group)
    business_date(TODAY)
    ordered = ok(user(stack, group, "enrollment_manager").post(dependents_path(group, subscriber), json={
        "life_event": "court_order", "event_date": "2030-12-01",   # 104 days before
        "dependent": {"relationship": "child", "first_name": "Casey", "last_name": "Life",
                      "date_of_birth": "2016-06-01", "gender": "M", "ssn": unique_ssn()}}), 201)
    assert (ordered["status"], ordered["effective_date"], ordered["tier"]) == ("pending", "2031-04-01", "ECH")


def test_a_child_turning_26_mid_month_is_covered_to_the_month_end_and_a_disabled_child_stays(stack, business_date,
                                                                                            carrier, group):
    subscriber = enroll(stack, business_date, group, dependents=[
        {"relationship": "child", "first_name": "Riley", "last_name": "Life", "date_of_birth": "2005-03-10",
         "gender": "F", "ssn": unique_ssn()},
        {"relationship": "child", "first_name": "Jamie", "last_name": "Life", "date_of_birth": "2004-05-01",
         "gender": "M", "ssn": unique_ssn(), "disabled": True}])
    admin = user(stack, group, "group_admin")
    family_path = "/api/v1/groups/%s/subscribers/%s" % (group, subscriber)

    business_date(TODAY)  # Riley turned 26 on 2031-03-10: still covered this month
    ok(carrier.post("/api/v1/admin/jobs/dependent-age-off", json={"as_of": "2031-03-15"}), 200)
    assert spans(ok(admin.get(family_path), 200), "Riley") == [("ECH", "2031-01-01", None, "active")]
    assert admin.post("/api/v1/admin/jobs/dependent-age-off", json={}).status_code == 403

    business_date(date(2031, 4, 1))
    ok(carrier.post("/api/v1/admin/jobs/dependent-age-off", json={"as_of": "2031-04-01"}), 200)
    family = ok(admin.get(family_path), 200)
    assert spans(family, "Riley") == [("ECH", "2031-01-01", "2031-03-31", "terminated")]
    assert spans(family, "Jamie") == [("ECH", "2031-01-01", None, "active")]
    aged_off = [txn for txn in family["transactions"] if txn["type"] == "dependent_age_off"]
    assert [(txn["status"], txn["effective_date"], txn["maintenance_type"], txn["reason"]) for txn in aged_off] == [
        ("completed", "2031-03-31", "024", "07")]
