"""Issue 5's renewal and open enrollment over HTTP through the gateway, with the stack's business date moved
through a plan year: carrier staff load the next plan year, renewal notices go out 60 and 30 days before the
renewal date (once each), the group records open-enrollment choices inside the window only, and on the renewal
date a family that did nothing is on the mapped plan, a decliner is terminated at the plan year's end and a
begin election takes effect."""
import uuid
from datetime import date

import pytest
from servicekit.testing import wait_for

from journeys import drain, events_queue, ok, unique_ssn, user

ADDRESS = {"line1": "1 Harbor Way", "city": "Hartford", "state": "CT", "zip": "06103"}
PLANS = [
    {"plan_code": "RNW-CLASSIC", "name": "Classic PPO (retiring)", "product": "medical", "plan_type": "PPO",
     "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "RNW-CHOICE", "name": "Choice PPO", "product": "medical", "plan_type": "PPO",
     "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
    {"plan_code": "RNW-VALUE", "name": "Value EPO", "product": "medical", "plan_type": "EPO",
     "network": "METRO", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]},
]
NEXT_YEAR = {"plan_year_start": "2028-01-01",
             "offerings": [{"subgroup_number": "001", "plan_codes": ["RNW-CHOICE", "RNW-VALUE"]}],
             "plan_mappings": [{"from_plan_code": "RNW-CLASSIC", "to_plan_code": "RNW-CHOICE"}]}
NEXT_YEAR_RATES = {"plan_year_start": "2028-01-01", "rates": [
    {"plan_code": code, "rate_key": tier, "amount": amount} for code in ("RNW-CHOICE", "RNW-VALUE")
    for tier, amount in (("EMP", "540.00"), ("ESP", "1080.00"), ("ECH", "970.00"), ("FAM", "1510.00"))]}
EVENTS = ("plan_year_loaded", "group_renewal_upcoming", "group_renewed", "open_enrollment_elected")


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-renewal-e2e", carrier=True))


@pytest.fixture(scope="module")
def group_events(stack):
    """A consumer's queue on roster.events for the renewal events, bound before anything happens."""
    return events_queue(stack, "renewal", EVENTS)


def new_group(stack, carrier, business_date):
    """On 2027-03-15: a group renewing every 1 January, subgroup 001 offered RNW-CLASSIC in 2027."""
    business_date(date(2027, 3, 15))
    number = "RN%s" % uuid.uuid4().hex[:6].upper()
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    ok(carrier.post("/api/v1/admin/groups", json={
        "group_number": number, "legal_name": "Renewal Widgets LLC", "ein": "061234567", "mailing_address": ADDRESS,
        "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@renewal.example"}],
        "renewal_date": "2027-01-01", "employee_count": 45, "waiting_period_days": 0,
        "age_off_policy": "end_of_month", "continuation": "cobra"}), 201)
    ok(carrier.post("/api/v1/admin/groups/%s/subgroups" % number, json={"subgroup_number": "001", "name": "Office"}),
       201)
    ok(carrier.session.put(stack.url + "/api/v1/admin/groups/%s/subgroups/001/plans" % number, timeout=60,
                           json={"plan_year_start": "2027-01-01", "plan_codes": ["RNW-CLASSIC"]}))
    return number


def enroll(stack, number, last, dependents=()):
    """A family hired 2027-03-01, covered by RNW-CLASSIC from that day; answers the member ids."""
    body = {"subgroup_number": "001", "plan_code": "RNW-CLASSIC", "dependents": [
        dict(dependent, last_name=last, ssn=unique_ssn()) for dependent in dependents],
        "subscriber": {"first_name": "Avery", "last_name": last, "date_of_birth": "1985-04-12", "gender": "F",
                       "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-03-01", "employment_status": "active"}}
    enrolled = ok(user(stack, number, "group_admin").post("/api/v1/groups/%s/subscribers" % number, json=body), 201)
    assert enrolled["status"] == "completed"
    return [enrolled["subscriber"]["member_id"]] + [d["member_id"] for d in enrolled["subscriber"]["dependents"]]


SPOUSE = {"relationship": "spouse", "first_name": "Jordan", "date_of_birth": "1984-02-03", "gender": "M"}
CHILD = {"relationship": "child", "first_name": "Riley", "date_of_birth": "2015-06-01", "gender": "F"}


def mine(events, kind, number):
    return [event["data"] for event in events
            if event["event_type"] == kind and event["data"]["group_number"] == number]


def test_a_plan_year_is_renewed_through_open_enrollment(stack, carrier, group_events, business_date):
    drain(stack, group_events, seconds=1)  # what earlier tests produced
    number = new_group(stack, carrier, business_date)
    admin = user(stack, number, "group_admin")
    nothing = enroll(stack, number, "Donothing", [SPOUSE])
    decliner = enroll(stack, number, "Decliner")
    beginner = enroll(stack, number, "Beginner", [SPOUSE, CHILD])
    elect = "/api/v1/groups/%s/subscribers/%%s/open-enrollment" % number

    # 1 November: carrier staff load 2028 (RNW-CLASSIC retires into RNW-CHOICE); the group may not.
    business_date(date(2027, 11, 1))
    assert admin.post("/api/v1/admin/groups/%s/plan-years" % number, json=NEXT_YEAR).status_code == 403
    loaded = ok(carrier.post("/api/v1/admin/groups/%s/plan-years" % number, json=NEXT_YEAR))
    assert (loaded["plan_year_start"], loaded["plan_year_end"], loaded["open_enrollment_start"],
            loaded["open_enrollment_end"]) == ("2028-01-01", "2028-12-31", "2027-12-02", "2027-12-31")
    # Open enrollment needs the new year's rates too: billing learns the offering from roster's events, carrier
    # staff load the rates, and roster learns from billing's rates_loaded that every offered plan is rated.
    assert ok(admin.get("/api/v1/groups/%s/open-enrollment" % number))["rates_loaded"] is False
    wait_for(lambda: carrier.put("/api/v1/admin/groups/%s/rates" % number, json=NEXT_YEAR_RATES).status_code == 200,
             timeout=30, interval=0.3, message="billing to know the 2028 offering and take its rates")
    wait_for(lambda: ok(admin.get("/api/v1/groups/%s/open-enrollment" % number))["rates_loaded"], timeout=30,
             interval=0.3, message="roster to hear that the 2028 rates are loaded")

    # Notices: 60 days before on 2 November, 30 days before on 2 December; reruns send nothing again.
    business_date(date(2027, 11, 2))
    runs = [ok(carrier.post("/api/v1/admin/jobs/renewals", json={})) for _ in range(2)]
    assert [[(n["days_before"], n["renewal_date"]) for n in run["notices"] if n["group_number"] == number]
            for run in runs] == [[(60, "2028-01-01")], []]

    # 1 December: the window has not opened.
    business_date(date(2027, 12, 1))
    early = admin.post(elect % decliner[0], json={"choice": "decline", "decline_reason": "spouse_group_coverage"})
    assert early.status_code == 422 and early.json()["code"] == "open_enrollment_closed"
    assert "runs from 2027-12-02 to 2027-12-31; it has not opened yet (today is 2027-12-01)" in early.json()["detail"]
    assert ok(admin.get("/api/v1/groups/%s/open-enrollment" % number))["is_open"] is False

    business_date(date(2027, 12, 2))
    assert [(n["days_before"]) for n in ok(carrier.post("/api/v1/admin/jobs/renewals", json={}))["notices"]
            if n["group_number"] == number] == [30]
    assert [n for n in ok(carrier.post("/api/v1/admin/jobs/renewals", json={"as_of": "2027-12-03"}))["notices"]
            if n["group_number"] == number] == []
    viewer = user(stack, number, "viewer")
    refused = viewer.post(elect % decliner[0], json={"choice": "decline", "decline_reason": "medicare"})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    declined = ok(admin.post(elect % decliner[0], json={
        "choice": "decline", "decline_reason": "spouse_group_coverage", "alternate_plan": "Acme Corp PPO"}))
    assert (declined["status"], declined["effective_date"], declined["transaction"]["maintenance_type"],
            declined["transaction"]["reason"]) == ("pending", "2027-12-31", "024", "26")
    began = ok(admin.post(elect % beginner[0], json={"choice": "begin", "plan_code": "RNW-VALUE",
                                                     "dependent_member_ids": [beginner[1]]}))
    assert (began["status"], began["effective_date"], began["election"]["member_ids"]) == (
        "pending", "2028-01-01", beginner[:2])
    assert declined["confirmation_number"] and began["confirmation_number"]
    window = ok(viewer.get("/api/v1/groups/%s/open-enrollment" % number))
    assert (window["is_open"], window["plan_year_loaded"], window["elections"]) == (
        True, True, {"begin": 1, "keep": 0, "decline": 1, "not_elected": 1})
    assert [plan["plan_code"] for plan in window["offerings"][0]["plans"]] == ["RNW-CHOICE", "RNW-VALUE"]
    assert window["plan_mappings"] == [{"from_plan_code": "RNW-CLASSIC", "to_plan_code": "RNW-CHOICE"}]

    # The renewal date: too late to choose; the renewal job (here before the complete-due job) renews once.
    business_date(date(2028, 1, 1))
    late = admin.post(elect % nothing[0], json={"choice": "keep"})
    assert late.status_code == 422 and late.json()["code"] == "open_enrollment_closed"
    assert "Open enrollment for the plan year starting 2028-01-01 closed on 2027-12-31." in late.json()["detail"]
    renewed = ok(carrier.post("/api/v1/admin/jobs/renewals", json={}))
    assert [r for r in renewed["renewed"] if r["group_number"] == number] == [{
        "group_number": number, "plan_year_start": "2028-01-01", "plan_year_end": "2028-12-31",
        "carried_over": 1, "kept": 0, "began": 1, "declined": 1}]
    assert [r for r in ok(carrier.post("/api/v1/admin/jobs/renewals", json={}))["renewed"]
            if r["group_number"] == number] == []
    # The renewal completed the choices due that day itself; the complete-due job finds them done.
    for choice in (declined, began):
        txn = ok(admin.get("/api/v1/groups/%s/transactions/%s" % (number, choice["confirmation_number"])))
        assert (txn["status"], txn["decided_by"]) == ("completed", "carrier-renewal-e2e")

    def family(member_id):
        return ok(admin.get("/api/v1/groups/%s/subscribers/%s" % (number, member_id)))

    def spans(member):
        return [(s["plan_code"], s["tier"], s["effective_from"], s["effective_through"], s["status"])
                for s in member["coverage"] if s["status"] != "cancelled"]

    did_nothing = family(nothing[0])
    for member in [did_nothing, *did_nothing["dependents"]]:
        assert member["status"] == "active"
        assert spans(member) == [("RNW-CLASSIC", "ESP", "2027-03-01", "2027-12-31", "terminated"),
                                 ("RNW-CHOICE", "ESP", "2028-01-01", None, "active")]
    declined_family = family(decliner[0])
    assert declined_family["status"] == "terminated"
    assert spans(declined_family) == [("RNW-CLASSIC", "EMP", "2027-03-01", "2027-12-31", "terminated")]
    began_family = family(beginner[0])
    assert (began_family["status"], spans(began_family)[-1]) == (
        "active", ("RNW-VALUE", "ESP", "2028-01-01", None, "active"))
    child = next(d for d in began_family["dependents"] if d["member_id"] == beginner[2])
    assert (child["status"], spans(child)[-1][3]) == ("terminated", "2027-12-31")
    assert ok(admin.get("/api/v1/groups/%s" % number))["renewal_date"] == "2029-01-01"

    events = drain(stack, group_events)
    [plan_year_loaded] = mine(events, "plan_year_loaded", number)
    assert plan_year_loaded["plan_mappings"] == [{"from_plan_code": "RNW-CLASSIC", "to_plan_code": "RNW-CHOICE"}]
    assert [(n["days_before"], n["renewal_date"], n["plan_year_loaded"])
            for n in mine(events, "group_renewal_upcoming", number)] == [(60, "2028-01-01", True),
                                                                         (30, "2028-01-01", True)]
    assert [(e["carried_over"], e["began"], e["declined"]) for e in mine(events, "group_renewed", number)] == [
        (1, 1, 1)]
    elected = [e for e in events if e["event_type"] == "open_enrollment_elected"
               and e["data"]["subscriber_member_id"] in (decliner[0], beginner[0])]
    assert sorted(e["data"]["change"]["choice"] for e in elected) == ["begin", "decline"]


def test_a_plan_year_that_strands_a_plan_is_refused_naming_it(stack, carrier, business_date):
    number = new_group(stack, carrier, business_date)
    enroll(stack, number, "Stranded")
    business_date(date(2027, 11, 1))
    stranded = carrier.post("/api/v1/admin/groups/%s/plan-years" % number, json=dict(NEXT_YEAR, plan_mappings=[]))
    assert stranded.status_code == 422
    assert stranded.json()["errors"] == {"plan_mappings": {"RNW-CLASSIC": [
        "RNW-CLASSIC (subgroup 001) is not offered in the plan year starting 2028-01-01: map it to a plan offered "
        "there."]}}
    unknown_field = carrier.post("/api/v1/admin/groups/%s/plan-years" % number, json=dict(NEXT_YEAR, rates=[]))
    assert unknown_field.status_code == 422 and "rates" in unknown_field.json()["errors"]
    assert ok(carrier.post("/api/v1/admin/groups/%s/plan-years" % number, json=NEXT_YEAR))["plan_year_start"] == \
        "2028-01-01"
    # Open enrollment has opened: the load stands.
    business_date(date(2027, 12, 2))
    again = carrier.post("/api/v1/admin/groups/%s/plan-years" % number, json=NEXT_YEAR)
    assert (again.status_code, again.json()["code"]) == (409, "open_enrollment_started")
