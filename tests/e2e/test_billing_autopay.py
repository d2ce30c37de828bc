"""Issue 6 part 5 over HTTP through the gateway, on business dates set for the whole stack: auto pay and
delinquency, the non-payment saga with roster.

Carrier staff set up a composite group in roster (001: a subscriber alone, EMP 500.00; 002: a couple, ESP
1000.00), billing learns it from roster's events, carrier staff set the policy and rates, the families enroll on
2027-01-01. A billing manager adds the group's bank account and turns auto pay on for both sub-groups (a viewer
may not). The statement run of 15 January cuts February (due 1 February); auto pay debits both on 29 January (3
days before) in one NACHA file with 94-character lines, a line count divisible by 10 and control totals and
entry hash matching its entries; a rerun adds nothing. 002's auto pay is cancelled, March is cut, 001 is
debited again and 002 stays unpaid: past_due on 2 March, in_grace by 1 April (day 31), terminated_nonpayment on
2 April (day 32), published with paid-through 2027-02-28, and roster ends the couple's coverage on 2027-02-28
with reason 59 while 001's family stays covered.

The jobs run over every account of the stack, so the answers are checked for this module's accounts only.
"""
import os
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from journeys import create_group, drain, events_queue, ok, unique_ssn, user
from servicekit.testing import wait_for

PLAN = "AP-PPO"
PLANS = [{"plan_code": PLAN, "name": "Auto Pay PPO", "product": "medical", "plan_type": "PPO",
          "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}]
ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
RATES = [{"plan_code": PLAN, "rate_key": key, "amount": amount}
         for key, amount in (("EMP", "500.00"), ("ESP", "1000.00"), ("ECH", "900.00"), ("FAM", "1400.00"))]
TERMS = "2026-11"
BANK = {"holder_name": "Autopay Widgets LLC", "account_type": "checking", "routing_number": "011000015",
        "account_number": "123456789", "nickname": "Operating"}


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-autopay", carrier=True))


@pytest.fixture(scope="module")
def business_date_module(stack):
    yield stack.set_business_date
    stack.set_business_date(None)


@pytest.fixture(scope="module")
def delinquency_events(stack):
    return events_queue(stack, "autopay-billing", ["account_delinquency_changed", "autopay_debit_scheduled"],
                        exchange="billing.events")


@pytest.fixture(scope="module")
def termination_events(stack):
    return events_queue(stack, "autopay-roster", ["subscriber_terminated"])


def projected(stack, subscriber):
    engine = create_engine(stack.database_urls["billing"])
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT 1 FROM billable_families WHERE subscriber_member_id = :id"),
                                      {"id": subscriber}).first() is not None
    finally:
        engine.dispose()


def enroll(stack, number, subgroup, dependents=()):
    last = "Autopay-%s" % uuid.uuid4().hex[:4]
    enrolled = ok(user(stack, number, "group_admin").post("/api/v1/groups/%s/subscribers" % number, json={
        "subgroup_number": subgroup, "plan_code": PLAN,
        "subscriber": {"first_name": "Avery", "last_name": last, "date_of_birth": "1986-04-12", "gender": "F",
                       "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"},
        "dependents": [dict(person, last_name=last, ssn=unique_ssn()) for person in dependents]}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2027-01-01")
    return enrolled["subscriber"]["member_id"]


@pytest.fixture(scope="module")
def group(stack, carrier, business_date_module, delinquency_events, termination_events):
    business_date_module(date(2027, 1, 1))
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    number = create_group(carrier, "AP", {"001": ("Site 001", [PLAN]), "002": ("Site 002", [PLAN])},
                          legal_name="Autopay Widgets LLC")
    wait_for(lambda: carrier.put("/api/v1/admin/groups/%s/billing-policy" % number, json={
        "rating_method": "composite", "proration": "none"}).status_code == 200,
        timeout=30, interval=0.3, message="billing to know group %s" % number)
    wait_for(lambda: carrier.put("/api/v1/admin/groups/%s/rates" % number, json={
        "plan_year_start": "2027-01-01", "rates": RATES}).status_code == 200,
        timeout=30, interval=0.3, message="billing to take group %s's rates" % number)
    single = enroll(stack, number, "001")
    couple = enroll(stack, number, "002", [{"relationship": "spouse", "first_name": "Sam",
                                            "date_of_birth": "1985-09-30", "gender": "M"}])
    for subscriber in (single, couple):
        wait_for(lambda: projected(stack, subscriber), timeout=30, interval=0.3,
                 message="billing to project family %s" % subscriber)
    return {"number": number, "single": single, "couple": couple}


def autopay_path(number, subgroup):
    return "/api/v1/groups/%s/billing-accounts/%s-%s/autopay" % (number, number, subgroup)


def mine(answer, number, key="debits"):
    return [item for item in answer[key] if item["account_number"].startswith(number + "-")]


def coverage(stack, number, subscriber):
    page = ok(user(stack, number, "group_admin").get("/api/v1/groups/%s/subscribers/%s" % (number, subscriber)))
    return [(person["status"], [(c["tier"], c["effective_from"], c["effective_through"], c["status"])
                                for c in person["coverage"] if c["status"] != "cancelled"])
            for person in [page] + page["dependents"]]


def test_auto_pay_debits_in_a_nacha_file_and_an_unpaid_subgroup_is_terminated_on_day_32(
        stack, carrier, group, business_date, delinquency_events, termination_events):
    number = group["number"]
    manager, viewer = user(stack, number, "billing_manager"), user(stack, number, "viewer")
    method = ok(manager.post("/api/v1/groups/%s/payment-methods" % number, json=BANK), 201)
    body = {"method_id": method["id"], "days_before_due": 3, "accept_terms": True, "terms_version": TERMS}
    assert viewer.put(autopay_path(number, "001"), json=body).status_code == 403
    assert ok(manager.put(autopay_path(number, "001"), json=dict(body, terms_version="2020-01")), 422)["errors"] \
        == {"terms_version": ["The auto-pay terms in force are version %s; accept those." % TERMS]}
    for subgroup in ("001", "002"):
        on = ok(manager.put(autopay_path(number, subgroup), json=body))
        assert (on["status"], on["method_last4"], on["days_before_due"], on["terms_version"]) == (
            "active", "6789", 3, TERMS)
    assert ok(viewer.get(autopay_path(number, "002")))["status"] == "active"

    # February's statements (cut 15 January, due 1 February), debited 3 days before the due date.
    business_date(date(2027, 1, 15))
    ok(carrier.post("/api/v1/admin/jobs/statement-run", json={"as_of": "2027-01-15"}))
    assert mine(ok(carrier.post("/api/v1/admin/jobs/autopay", json={"as_of": "2027-01-28"})), number) == []
    run = ok(carrier.post("/api/v1/admin/jobs/autopay", json={"as_of": "2027-01-29"}))
    assert [(d["account_number"], d["statement_number"], d["amount"], d["settles_on"])
            for d in mine(run, number)] == [
        ("%s-001" % number, "S202702-%s-001" % number, "500.00", "2027-02-02"),
        ("%s-002" % number, "S202702-%s-002" % number, "1000.00", "2027-02-02")]
    assert run["file"]["name"] == "20270129-autopay.ach"
    with open(os.path.join(stack.var_dir, "ach", "20270129-autopay.ach")) as handle:
        lines = handle.read().splitlines()
    assert all(len(line) == 94 for line in lines) and len(lines) % 10 == 0
    entries = [line for line in lines if line[0] == "6"]
    assert [(line[1:3], line[3:12], line[12:29].strip(), line[29:39]) for line in entries
            if line[39:54].strip().startswith(number)] == [("27", "011000015", "123456789", "0000050000"),
                                                           ("27", "011000015", "123456789", "0000100000")]
    batch_control = next(line for line in lines if line[0] == "8")
    file_control = next(line for line in lines if line[0] == "9" and line != "9" * 94)
    entry_hash = "%010d" % (sum(int(line[3:11]) for line in entries) % 10 ** 10)
    total = "%012d" % sum(int(line[29:39]) for line in entries)
    assert (batch_control[4:10], batch_control[10:20], batch_control[20:32], batch_control[32:44]) == (
        "%06d" % len(entries), entry_hash, total, "0" * 12)
    assert (file_control[1:7], file_control[7:13], file_control[13:21], file_control[21:31],
            file_control[31:43]) == ("000001", "%06d" % (len(lines) // 10), "%08d" % len(entries), entry_hash, total)
    again = ok(carrier.post("/api/v1/admin/jobs/autopay", json={"as_of": "2027-01-29"}))
    assert (again["debits"], again["file"]) == ([], None)

    # 002 turns auto pay off; March is cut; only 001 is debited.
    off = ok(user(stack, number, "group_admin").delete(autopay_path(number, "002")))
    assert off["status"] == "cancelled"
    business_date(date(2027, 2, 15))
    ok(carrier.post("/api/v1/admin/jobs/statement-run", json={"as_of": "2027-02-15"}))
    march = ok(carrier.post("/api/v1/admin/jobs/autopay", json={"as_of": "2027-02-26"}))
    assert [(d["account_number"], d["amount"]) for d in mine(march, number)] == [("%s-001" % number, "500.00")]

    # Delinquency of 002's March statement (due 2027-03-01).
    drain(stack, delinquency_events, seconds=1)
    business_date(date(2027, 3, 2))
    first = ok(carrier.post("/api/v1/admin/jobs/delinquency", json={"as_of": "2027-03-02"}))
    assert [(c["account_number"], c["previous_stage"], c["stage"], c["paid_through"], c["amount_past_due"])
            for c in mine(first, number, "changes")] == [
        ("%s-002" % number, "current", "past_due", "2027-02-28", "1000.00")]
    business_date(date(2027, 4, 1))
    grace = ok(carrier.post("/api/v1/admin/jobs/delinquency", json={"as_of": "2027-04-01"}))   # day 31
    assert [(c["account_number"], c["stage"]) for c in mine(grace, number, "changes")] == [
        ("%s-002" % number, "in_grace")]
    business_date(date(2027, 4, 2))
    drain(stack, termination_events, seconds=1)
    day_32 = ok(carrier.post("/api/v1/admin/jobs/delinquency", json={"as_of": "2027-04-02"}))
    assert [(c["account_number"], c["previous_stage"], c["stage"], c["paid_through"], c["amount_past_due"])
            for c in mine(day_32, number, "changes")] == [
        ("%s-002" % number, "in_grace", "terminated_nonpayment", "2027-02-28", "1000.00")]

    published = [event for event in drain(stack, delinquency_events)
                 if event["event_type"] == "account_delinquency_changed" and event["group_id"] == number]
    assert [(event["data"]["stage"], event["data"]["as_of"], event["data"]["paid_through"]) for event in published] \
        == [("past_due", "2027-03-02", "2027-02-28"), ("in_grace", "2027-04-01", "2027-02-28"),
            ("terminated_nonpayment", "2027-04-02", "2027-02-28")]

    # Roster ends the couple's coverage on the paid-through date; 001's family is untouched.
    wait_for(lambda: coverage(stack, number, group["couple"])[0][0] == "terminated", timeout=30, interval=0.3,
             message="roster to end the couple's coverage")
    assert coverage(stack, number, group["couple"]) == [
        ("terminated", [("ESP", "2027-01-01", "2027-02-28", "terminated")]),
        ("terminated", [("ESP", "2027-01-01", "2027-02-28", "terminated")])]
    assert coverage(stack, number, group["single"]) == [("active", [("EMP", "2027-01-01", None, "active")])]
    ended = [event for event in drain(stack, termination_events) if event["group_id"] == number]
    assert [(event["aggregate_id"], event["data"]["transaction"]["maintenance_type"],
             event["data"]["transaction"]["reason"], event["data"]["change"]["termination_date"])
            for event in ended] == [("family:%s" % group["couple"], "024", "59", "2027-02-28")]
    billing = ok(user(stack, number, "billing_manager").get("/api/v1/groups/%s/billing" % number))
    assert {account["account_number"]: account["delinquency_stage"] for account in billing["accounts"]} == {
        "%s-001" % number: "current", "%s-002" % number: "terminated_nonpayment"}
