"""Issue 6 part P4 over HTTP through the gateway, on business dates set for the whole stack: a group set up in
roster, two families enrolled on 2027-01-01 (subgroup 001: EMP at 500.00, subgroup 002: ESP at 1000.00, composite,
no proration), billing learning them from roster's events, and the statement runs of 2027-01-15 and 2027-02-15
billing February and March. Then, on Wednesday 2027-03-10: one payment split across the two subgroup accounts
settles both; retried with its Idempotency-Key it is charged once, and the key with another amount is a 422;
allocations that do not add up or reach an ungranted account are refused and write nothing; a billing manager
pays, a viewer may not; a NACHA return re-opens the statement months; paying last month late never makes the
same money owed twice; a credit balance is refunded on request."""
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from journeys import create_group, drain, events_queue, ok, unique_ssn, user
from servicekit.testing import wait_for

PLAN = "BP-PPO"
PLANS = [{"plan_code": PLAN, "name": "Payments PPO", "product": "medical", "plan_type": "PPO",
          "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}]
RATES = [{"plan_code": PLAN, "rate_key": key, "amount": amount}
         for key, amount in (("EMP", "500.00"), ("ESP", "1000.00"), ("ECH", "900.00"), ("FAM", "1400.00"))]
ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
BANK = {"holder_name": "Payments Widgets LLC", "account_type": "checking", "routing_number": "021000021",
        "account_number": "000123456789", "nickname": "Operating"}
PAYMENT_EVENTS = ("payment_received", "payment_settled", "payment_returned", "refund_requested")


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-billing-payments", carrier=True))


@pytest.fixture(scope="module")
def payment_events(stack):
    """A carrier system's queue on billing.events, bound before anything happens."""
    return events_queue(stack, "payments", PAYMENT_EVENTS, exchange="billing.events")


def projected_families(stack, group):
    engine = create_engine(stack.database_urls["billing"])
    try:
        with engine.connect() as connection:
            return connection.execute(text(
                "SELECT count(*) FROM billable_families f JOIN billing_groups g ON g.id = f.group_id "
                "WHERE g.group_number = :group"), {"group": group}).scalar()
    finally:
        engine.dispose()


def enroll(stack, group, subgroup, spouse=False):
    last = "Payer-%s" % uuid.uuid4().hex[:4]
    dependents = [{"relationship": "spouse", "first_name": "Sam", "last_name": last, "date_of_birth": "1984-09-30",
                   "gender": "M", "ssn": unique_ssn()}] if spouse else []
    enrolled = ok(user(stack, group, "group_admin").post("/api/v1/groups/%s/subscribers" % group, json={
        "subgroup_number": subgroup, "plan_code": PLAN, "dependents": dependents,
        "subscriber": {"first_name": "Avery", "last_name": last, "date_of_birth": "1985-04-12", "gender": "F",
                       "marital_status": "M", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"}}), 201)
    assert (enrolled["status"], enrolled["effective_date"]) == ("completed", "2027-01-01")


@pytest.fixture
def billed_group(stack, carrier, business_date):
    """A fresh group billed for February and March (001: 500.00 a month, 002: 1000.00), on 2027-03-10."""
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    number = create_group(carrier, "BP", {"001": ("Site 001", [PLAN]), "002": ("Site 002", [PLAN])},
                          legal_name="Payments Widgets LLC")
    business_date(date(2027, 1, 1))
    enroll(stack, number, "001")
    enroll(stack, number, "002", spouse=True)
    admin = user(stack, number, "group_admin")
    wait_for(lambda: (lambda answer: answer.status_code == 200 and len(answer.json()["accounts"]) == 2)(
        admin.get("/api/v1/groups/%s/billing" % number)), timeout=30, interval=0.3,
        message="billing to open the group's accounts")
    wait_for(lambda: projected_families(stack, number) == 2, timeout=30, interval=0.3,
             message="billing to project both families")
    ok(carrier.put("/api/v1/admin/groups/%s/rates" % number, json={"plan_year_start": "2027-01-01", "rates": RATES}))
    for as_of in ("2027-01-15", "2027-02-15"):
        business_date(date.fromisoformat(as_of))
        run = ok(carrier.post("/api/v1/admin/jobs/statement-run", json={"as_of": as_of}))
        assert run["errors"] == [] and run["statements"] >= 2, run
    business_date(date(2027, 3, 10))
    assert balances(stack, number) == {"001": "1000.00", "002": "2000.00"}
    return number


def balances(stack, group):
    overview = ok(user(stack, group, "group_admin").get("/api/v1/groups/%s/billing" % group))
    return {account["subgroup_number"]: account["balance"] for account in overview["accounts"]}


def paid_through(stack, group):
    overview = ok(user(stack, group, "group_admin").get("/api/v1/groups/%s/billing" % group))
    return {account["subgroup_number"]: account["paid_through"] for account in overview["accounts"]}


def add_method(client, group):
    return ok(client.post("/api/v1/groups/%s/payment-methods" % group, json=BANK), 201)


def pay(client, group, body, key=None):
    return client.post("/api/v1/groups/%s/payments" % group, json=body,
                       headers={"Idempotency-Key": key or str(uuid.uuid4())})


def payments(client, group, **params):
    return ok(client.get("/api/v1/groups/%s/payments" % group, params=params))


def test_one_payment_split_across_two_subgroup_accounts_settles_both_and_a_retry_is_charged_once(
        stack, carrier, billed_group, payment_events):
    group = billed_group
    manager = user(stack, group, "billing_manager")
    method = add_method(manager, group)
    assert method["account_last4"] == "6789" and "000123456789" not in str(method)
    drain(stack, payment_events, seconds=1)
    split = {"method_id": method["id"], "amount": "3000.00", "allocations": [
        {"account_number": "%s-001" % group, "statement_number": "S202703-%s-001" % group, "amount": "1000.00"},
        {"account_number": "%s-002" % group, "amount": "2000.00"}]}

    missing_key = manager.post("/api/v1/groups/%s/payments" % group, json=split)
    assert (missing_key.status_code, missing_key.json()["code"]) == (400, "idempotency_key_required")
    paid = ok(pay(manager, group, split, key="march-split"), 201)
    assert (paid["status"], paid["amount"], paid["received_on"], paid["settles_on"]) == (
        "pending", "3000.00", "2027-03-10", "2027-03-12")
    assert [(a["account_number"], a["statement_number"], a["amount"]) for a in paid["allocations"]] == [
        ("%s-001" % group, "S202703-%s-001" % group, "1000.00"), ("%s-002" % group, None, "2000.00")]
    assert balances(stack, group) == {"001": "0.00", "002": "0.00"}
    assert paid_through(stack, group) == {"001": "2027-03-31", "002": "2027-03-31"}

    # The same payment retried with its key: the first answer again, charged once.
    assert ok(pay(manager, group, split, key="march-split"), 201) == paid
    other = pay(manager, group, dict(split, amount="2999.00"), key="march-split")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert balances(stack, group) == {"001": "0.00", "002": "0.00"}
    assert payments(manager, group)["total"] == 1

    early = ok(carrier.post("/api/v1/admin/jobs/payment-settlement", json={"as_of": "2027-03-11"}))
    assert paid["payment_number"] not in early["settled"]
    settled = ok(carrier.post("/api/v1/admin/jobs/payment-settlement", json={"as_of": "2027-03-12"}))
    assert settled["as_of"] == "2027-03-12" and paid["payment_number"] in settled["settled"]
    # once: other groups' payments of the shared stack may settle too, this one never again
    again = ok(carrier.post("/api/v1/admin/jobs/payment-settlement", json={"as_of": "2027-03-12"}))
    assert paid["payment_number"] not in again["settled"]
    listed = payments(user(stack, group, "viewer"), group)
    assert [(item["payment_number"], item["status"]) for item in listed["items"]] == [
        (paid["payment_number"], "settled")]

    events = [event for event in drain(stack, payment_events) if event["group_id"] == group]
    assert [(event["event_type"], event["data"]["payment_number"], event["data"]["amount"]) for event in events] == [
        ("payment_received", paid["payment_number"], "3000.00"), ("payment_settled", paid["payment_number"],
                                                                   "3000.00")]

    exported = user(stack, group, "billing_manager", subgroups=["002"]).get(
        "/api/v1/groups/%s/payments" % group, params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert exported.headers["Content-Disposition"] == 'attachment; filename="payments-%s-20270310.csv"' % group
    rows = exported.text.splitlines()
    assert rows[1:] == ["%s,2027-03-10,ach,settled,2027-03-12,2000.00,%s-002,,2000.00,6789,,,"
                        % (paid["payment_number"], group)]


def test_refused_payments_write_nothing_and_only_those_who_may_pay_can(stack, carrier, billed_group):
    group = billed_group
    method = add_method(user(stack, group, "group_admin"), group)
    split = {"method_id": method["id"], "amount": "3000.00", "allocations": [
        {"account_number": "%s-001" % group, "amount": "1000.00"},
        {"account_number": "%s-002" % group, "amount": "1999.99"}]}
    short = pay(user(stack, group, "billing_manager"), group, split)
    assert (short.status_code, short.json()["errors"]) == (422, {"allocations": [
        "The allocations add up to 2999.99, not the payment's 3000.00."]})
    limited = user(stack, group, "billing_manager", subgroups=["001"])
    ungranted = pay(limited, group, dict(split, allocations=[{"account_number": "%s-001" % group, "amount": "1000.00"},
                                                             {"account_number": "%s-002" % group,
                                                              "amount": "2000.00"}]))
    assert ungranted.status_code == 403
    viewer = pay(user(stack, group, "viewer"), group, {"method_id": method["id"], "amount": "1000.00"})
    assert (viewer.status_code, viewer.json()["code"]) == (403, "forbidden")
    assert pay(carrier, group, {"method_id": method["id"], "amount": "1000.00"}).status_code == 403
    assert user(stack, group, "viewer").post("/api/v1/groups/%s/payment-methods" % group,
                                             json=BANK).status_code == 403
    assert payments(user(stack, group, "group_admin"), group)["total"] == 0
    assert balances(stack, group) == {"001": "1000.00", "002": "2000.00"}

    # A billing manager limited to subgroup 001 pays for its account: the oldest month first.
    own = ok(pay(limited, group, {"method_id": method["id"], "amount": "500.00"}), 201)
    assert [(a["account_number"], a["amount"]) for a in own["allocations"]] == [("%s-001" % group, "500.00")]
    assert balances(stack, group) == {"001": "500.00", "002": "2000.00"}
    assert paid_through(stack, group)["001"] == "2027-02-28"


def nacha_return(trace, code, amount_cents):
    """The bank's return file for one entry: headers, the entry detail (6) and its return addenda (7, type 99)."""
    records = [
        "101 021000021 091000010" + "2703151200" + "A094101" + "FIRST HARBOR BANK".ljust(23)
        + "HARBOR HEALTH PLAN".ljust(23) + " " * 8,
        "5225HARBOR HEALTH PLAN                  1234567890CCDPREMIUM         270315   1091000010000001",
        "627021000021000123456789     %010d100234         PAYMENTS WIDGETS LLC    1091000010000001" % amount_cents,
        "799%s%s      02100002%s091000010000001" % (code, trace, " " * 44),
        "8225" + "0" * 90,
        "9" + "0" * 93,
    ]
    assert all(len(record) == 94 for record in records)
    return "\r\n".join(records) + "\r\n"


def test_a_nacha_return_reopens_the_statement_months_it_paid(stack, carrier, billed_group, payment_events):
    group = billed_group
    manager = user(stack, group, "billing_manager")
    method = add_method(manager, group)
    paid = ok(pay(manager, group, {"method_id": method["id"], "amount": "3000.00"}), 201)
    assert [(a["account_number"], a["amount"]) for a in paid["allocations"]] == [
        ("%s-001" % group, "1000.00"), ("%s-002" % group, "2000.00")]
    assert paid_through(stack, group) == {"001": "2027-03-31", "002": "2027-03-31"}
    drain(stack, payment_events, seconds=1)

    returned = carrier.post("/api/v1/admin/ach-returns", data=nacha_return(paid["trace_number"], "R01", 300000),
                            headers={"Content-Type": "text/plain"})
    assert ok(returned) == {"returned": [{"payment_number": paid["payment_number"],
                                          "trace_number": paid["trace_number"], "return_code": "R01",
                                          "return_reason": "Insufficient funds", "amount": "3000.00",
                                          "group_number": group}], "skipped": [], "unknown": []}
    # February and March are owed again; the payment never settles.
    assert balances(stack, group) == {"001": "1000.00", "002": "2000.00"}
    assert paid_through(stack, group) == {"001": None, "002": None}
    settled = ok(carrier.post("/api/v1/admin/jobs/payment-settlement", json={"as_of": "2027-03-12"}))["settled"]
    assert paid["payment_number"] not in settled   # (other groups' payments may settle in the same run)
    item = payments(manager, group, status="returned")["items"][0]
    assert (item["payment_number"], item["return_code"], item["returned_on"]) == (
        paid["payment_number"], "R01", "2027-03-10")
    [event] = [event for event in drain(stack, payment_events) if event["event_type"] == "payment_returned"
               and event["group_id"] == group]
    assert (event["data"]["return_code"], event["data"]["amount"], len(event["data"]["allocations"])) == (
        "R01", "3000.00", 2)

    # The same file again (as JSON this time): skipped, not reversed twice; a trace never sent is reported.
    again = ok(carrier.post("/api/v1/admin/ach-returns",
                            json={"file": nacha_return(paid["trace_number"], "R01", 300000)}))
    assert (again["returned"], again["skipped"]) == ([], [paid["trace_number"]])
    stranger = ok(carrier.post("/api/v1/admin/ach-returns", json={"file": nacha_return("021000029999999", "R03", 1)}))
    assert stranger == {"returned": [], "skipped": [], "unknown": ["021000029999999"]}
    assert balances(stack, group) == {"001": "1000.00", "002": "2000.00"}
    bad = carrier.post("/api/v1/admin/ach-returns", data="not a nacha file", headers={"Content-Type": "text/plain"})
    assert (bad.status_code, bad.json()["errors"]) == (422, {"file": [
        "Line 1: a record is 94 characters, this one has 16."]})
    assert user(stack, group, "group_admin").post(
        "/api/v1/admin/ach-returns", json={"file": nacha_return(paid["trace_number"], "R01", 1)}).status_code == 403


def test_paying_last_months_statement_late_never_makes_the_same_money_owed_twice_and_a_credit_is_refunded(
        stack, carrier, billed_group, business_date):
    group = billed_group
    manager = user(stack, group, "billing_manager")
    method = add_method(manager, group)
    # February (due 2027-02-01) was never paid; March's statement carried it forward: 1000.00 owed, not more.
    late = ok(pay(manager, group, {"method_id": method["id"], "amount": "500.00", "allocations": [
        {"account_number": "%s-001" % group, "statement_number": "S202702-%s-001" % group, "amount": "500.00"}]}),
        201)
    assert late["allocations"][0]["statement_number"] == "S202702-%s-001" % group
    assert balances(stack, group)["001"] == "500.00"
    assert paid_through(stack, group)["001"] == "2027-02-28"
    ok(pay(manager, group, {"method_id": method["id"], "amount": "500.00", "allocations": [
        {"account_number": "%s-001" % group, "statement_number": "S202703-%s-001" % group, "amount": "500.00"}]}),
        201)
    assert balances(stack, group)["001"] == "0.00"

    # April's statement bills April only: nothing paid is billed again.
    business_date(date(2027, 3, 15))
    ok(carrier.post("/api/v1/admin/jobs/statement-run", json={"as_of": "2027-03-15"}))
    assert balances(stack, group) == {"001": "500.00", "002": "3000.00"}

    # An overpayment is a credit balance; a refund of it is asked for and approved by carrier staff.
    ok(pay(manager, group, {"method_id": method["id"], "amount": "700.00", "allocations": [
        {"account_number": "%s-001" % group, "amount": "700.00"}]}), 201)
    assert balances(stack, group)["001"] == "-200.00"
    asked = ok(manager.post("/api/v1/groups/%s/refund-requests" % group,
                            json={"account_number": "%s-001" % group, "reason": "Paid April twice"}), 201)
    assert (asked["status"], asked["amount"]) == ("requested", "200.00")
    viewer = user(stack, group, "viewer")
    assert viewer.post("/api/v1/groups/%s/refund-requests" % group,
                       json={"account_number": "%s-001" % group, "reason": "x"}).status_code == 403
    decided = ok(carrier.post("/api/v1/admin/refund-requests/%s/decide" % asked["request_number"],
                              json={"decision": "approve", "note": "Refund by check"}))
    assert (decided["status"], decided["decision_note"]) == ("completed", "Refund by check")
    assert balances(stack, group)["001"] == "0.00"
    assert [(item["request_number"], item["status"]) for item in ok(viewer.get(
        "/api/v1/groups/%s/refund-requests" % group))["items"]] == [(asked["request_number"], "completed")]

    # Carrier staff post a check to the other account: settled at once.
    check = ok(carrier.post("/api/v1/admin/groups/%s/payments" % group, json={
        "source": "check", "reference": "CHK 20417", "amount": "3000.00"}), 201)
    assert (check["status"], [(a["account_number"], a["amount"]) for a in check["allocations"]]) == (
        "settled", [("%s-002" % group, "3000.00")])
    assert balances(stack, group) == {"001": "0.00", "002": "0.00"}
    removed = ok(manager.delete("/api/v1/groups/%s/payment-methods/%s" % (group, method["id"])))
    assert removed["status"] == "removed"
