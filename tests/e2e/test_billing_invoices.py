"""Issue 6 part P3 over HTTP through the gateway, on business dates set for the whole stack: a group's statements
(cut by the statement run from what billing learned from roster's events) are searched, read, exported as CSV
and downloaded as PDF; the consolidated invoice sums the subgroups for users of the whole group; a rebill is
requested by the billing manager and approved by carrier staff (the statement superseded by "-R1"); and "adjust
invoice" from a statement line creates roster's termination transaction, whose premium change shows on the next
statement as an adjustment.

Group BI…: composite rates EMP 500.00, ESP 1000.00, ECH 900.00, FAM 1400.00; subgroup 001 a subscriber and spouse
(ESP), subgroup 002 a subscriber alone (EMP), both covered since 2027-01-01.
"""
import csv
import io
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from journeys import create_group, ok, unique_ssn, user
from servicekit.testing import wait_for

PLANS = [{"plan_code": "BI-PPO", "name": "Invoice PPO", "product": "medical", "plan_type": "PPO",
          "network": "STATEWIDE", "requires_pcp": False, "tiers": ["EMP", "ESP", "ECH", "FAM"]}]
ADDRESS = {"line1": "1 Harbor Way", "line2": None, "city": "Hartford", "state": "CT", "zip": "06103"}
RATES = [{"plan_code": "BI-PPO", "rate_key": key, "amount": amount}
         for key, amount in (("EMP", "500.00"), ("ESP", "1000.00"), ("ECH", "900.00"), ("FAM", "1400.00"))]


@pytest.fixture(scope="module")
def carrier(stack):
    return stack.client(stack.token("carrier-billing-invoices", carrier=True))


@pytest.fixture(scope="module")
def group(stack, carrier):
    ok(carrier.post("/api/v1/admin/plans", json=PLANS))
    return create_group(carrier, "BI", {"001": ("Office", ["BI-PPO"]), "002": ("Plant", ["BI-PPO"])},
                        legal_name="Invoice Widgets LLC")


def enroll(admin, group, subgroup, last_name, spouse=False):
    dependents = [{"relationship": "spouse", "first_name": "Sam", "last_name": last_name,
                   "date_of_birth": "1984-09-30", "gender": "M", "ssn": unique_ssn()}] if spouse else []
    enrolled = ok(admin.post("/api/v1/groups/%s/subscribers" % group, json={
        "subgroup_number": subgroup, "plan_code": "BI-PPO", "dependents": dependents,
        "subscriber": {"first_name": "Avery", "last_name": last_name, "date_of_birth": "1985-04-12", "gender": "F",
                       "marital_status": "M" if spouse else "I", "ssn": unique_ssn(), "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"}}), 201)
    return enrolled["subscriber"]


def projected_members(stack, subscriber):
    """The family's members as billing's projection holds them, or None."""
    engine = create_engine(stack.database_urls["billing"])
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT members FROM billable_families WHERE subscriber_member_id = :id"),
                                     {"id": subscriber}).first()
    finally:
        engine.dispose()
    return None if row is None else {member["member_id"]: member for member in row.members}


def ended_on(stack, subscriber, member_id, last_day):
    members = projected_members(stack, subscriber) or {}
    return any(span["effective_through"] == last_day and span["status"] == "terminated"
               for span in members.get(member_id, {}).get("coverage", []))


def cut(carrier, as_of):
    return ok(carrier.post("/api/v1/admin/jobs/statement-run", json={"as_of": as_of}))


def test_statements_are_searched_read_exported_rebilled_and_adjusted(stack, carrier, group, business_date):
    business_date(date(2027, 1, 1))
    admin = user(stack, group, "group_admin")
    office = enroll(admin, group, "001", "Ledger", spouse=True)
    plant = enroll(admin, group, "002", "Plant")
    subscriber, spouse = office["member_id"], office["dependents"][0]["member_id"]
    business_date(date(2027, 3, 10))
    ok(carrier.post("/api/v1/admin/jobs/complete-due-transactions", json={"as_of": "2027-03-10"}))
    wait_for(lambda: projected_members(stack, subscriber) and projected_members(stack, plant["member_id"]),
             timeout=30, interval=0.3, message="billing to project both families")
    ok(carrier.put("/api/v1/admin/groups/%s/rates" % group, json={"plan_year_start": "2027-01-01", "rates": RATES}))

    business_date(date(2027, 3, 15))
    cut(carrier, "2027-03-15")
    invoices = "/api/v1/groups/%s/invoices" % group
    office_april, plant_april = "S202704-%s-001" % group, "S202704-%s-002" % group

    # --- search, details, CSV, PDF
    found = ok(admin.get(invoices))
    assert found["total"] == 2
    assert sorted((i["statement_number"], i["amount_due"], i["paid"]) for i in found["items"]) == [
        (office_april, "1000.00", False), (plant_april, "500.00", False)]
    limited = user(stack, group, "viewer", subgroups=["002"])
    assert [i["statement_number"] for i in ok(limited.get(invoices))["items"]] == [plant_april]
    assert ok(admin.get(invoices, params={"number": office_april}))["total"] == 1
    assert ok(admin.get(invoices, params={"date_from": "2027-03-16"}))["total"] == 0
    assert admin.get(invoices, params={"limit": "201"}).status_code == 422

    export = admin.get(invoices, params={"format": "csv", "subgroup": "001"})
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert export.headers["Content-Disposition"] == 'attachment; filename="invoices-%s-20270315.csv"' % group
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [(r["statement_number"], r["charges"], r["amount_due"]) for r in rows] == [
        (office_april, "1000.00", "1000.00")]

    invoice = ok(admin.get("%s/%s" % (invoices, office_april)))
    assert (invoice["coverage_month"], invoice["cut_date"], invoice["due_date"], invoice["balance_forward"],
            invoice["charges"], invoice["adjustments"], invoice["amount_due"], invoice["status"]) == (
        "2027-04-01", "2027-03-15", "2027-04-01", "0.00", "1000.00", "0.00", "1000.00", "issued")
    assert [(line["kind"], line["subscriber_member_id"], line["rate_key"], line["amount"])
            for line in invoice["lines"]] == [("charge", subscriber, "ESP", "1000.00")]
    assert limited.get("%s/%s" % (invoices, office_april)).status_code == 403
    assert user(stack, "ZZ" + group, "viewer").get("%s/%s" % (invoices, office_april)).status_code == 404

    pdf = admin.get("%s/%s.pdf" % (invoices, office_april))
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and office_april.encode() in pdf.content and b"$1,000.00" in pdf.content

    # --- consolidated: for users of the whole group
    consolidated = ok(admin.get(invoices + "/consolidated", params={"period": "2027-04"}))
    assert (consolidated["statement_number"], consolidated["amount_due"]) == ("C202704-%s" % group, "1500.00")
    assert [s["statement_number"] for s in consolidated["statements"]] == [office_april, plant_april]
    assert limited.get(invoices + "/consolidated", params={"period": "2027-04"}).status_code == 403

    # --- rebill: asked by the billing manager (not a viewer), approved by carrier staff
    rebills = "/api/v1/groups/%s/rebill-requests" % group
    body = {"statement_number": office_april, "reason": "The spouse is leaving; please reissue."}
    assert user(stack, group, "viewer").post(rebills, json=body).status_code == 403
    asked = ok(user(stack, group, "billing_manager").post(rebills, json=body), 201)
    assert asked["status"] == "requested"
    decided = ok(carrier.post("/api/v1/admin/rebill-requests/%s/decide" % asked["request_number"],
                              json={"decision": "approve", "note": "Reissued."}))
    rebill = office_april + "-R1"
    assert (decided["status"], decided["new_statement_number"]) == ("completed", rebill)
    assert ok(admin.get("%s/%s" % (invoices, office_april)))["superseded_by"] == rebill
    reissued = ok(admin.get("%s/%s" % (invoices, rebill)))
    assert (reissued["status"], reissued["supersedes"], reissued["charges"], reissued["amount_due"]) == (
        "issued", office_april, "1000.00", "1000.00")
    assert [r["status"] for r in ok(admin.get(rebills))["items"]] == ["completed"]

    # --- adjust invoice: the spouse's coverage ends with March (divorce), recorded by roster
    adjustment = {"member_id": spouse, "change": "terminate_coverage", "event_date": "2027-03-12",
                  "cause": "divorce"}
    assert user(stack, group, "billing_manager").post("%s/%s/adjustments" % (invoices, rebill),
                                                      json=adjustment).status_code == 403
    ended = ok(admin.post("%s/%s/adjustments" % (invoices, rebill), json=adjustment))
    assert (ended["status"], ended["termination_date"], ended["member_ids"]) == ("pending", "2027-03-31", [spouse])
    transaction = ok(admin.get("/api/v1/groups/%s/transactions/%s" % (group, ended["confirmation_number"])))
    assert transaction["status"] == "pending"

    # --- the next statement takes the change up: ESP 1000.00 billed for April is now EMP 500.00
    business_date(date(2027, 4, 15))
    ok(carrier.post("/api/v1/admin/jobs/complete-due-transactions", json={"as_of": "2027-04-01"}))
    wait_for(lambda: ended_on(stack, subscriber, spouse, "2027-03-31"), timeout=30, interval=0.3,
             message="billing to project the spouse's termination")
    cut(carrier, "2027-04-15")
    may = ok(admin.get("%s/S202705-%s-001" % (invoices, group)))
    assert (may["balance_forward"], may["charges"], may["adjustments"], may["amount_due"]) == (
        "1000.00", "500.00", "-500.00", "1000.00")
    assert [(line["kind"], line["coverage_month"], line["amount"]) for line in may["lines"]] == [
        ("charge", "2027-05-01", "500.00"), ("adjustment", "2027-04-01", "-500.00")]
