"""The statement history's rules (billing.domain.invoices) and files (billing.invoice_documents), without a service:
paid state from the ledger's open months, rebill numbers and amounts, what may be rebilled, which member an
invoice adjustment may name, the CSV rows and the PDF's text."""
import csv
import io
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing import invoice_documents as documents
from billing.domain import requests
from billing.domain import invoices as rules
from portal_contracts import billing_invoice as wire
from servicekit.errors import Conflict, ValidationFailed

APRIL = date(2027, 4, 1)
MARCH = date(2027, 3, 1)


def entry(kind, amount, month=None, line_key=None, entry_id=1, member_id=None, subscriber=None):
    return SimpleNamespace(id=entry_id, kind=kind, amount=Decimal(amount), coverage_month=month, line_key=line_key,
                           member_id=member_id, subscriber_member_id=subscriber, plan_code="PPO-1", rate_key="EMP",
                           description="%s %s" % (kind, amount))


# --- paid state ---------------------------------------------------------------------------------------------

def test_a_month_with_nothing_open_is_paid_and_one_with_an_open_amount_is_not():
    open_months = [(MARCH, Decimal("0.00")), (APRIL, Decimal("250.00"))]
    assert rules.month_paid(open_months, MARCH) == (True, Decimal("0.00"))
    assert rules.month_paid(open_months, APRIL) == (False, Decimal("250.00"))


def test_a_month_the_ledger_holds_no_premium_for_owes_nothing():
    assert rules.month_paid([(MARCH, Decimal("10.00"))], APRIL) == (True, Decimal("0.00"))


def test_a_month_credited_below_zero_is_paid_with_nothing_open():
    assert rules.month_paid([(APRIL, Decimal("-35.00"))], APRIL) == (True, Decimal("0.00"))


# --- lines --------------------------------------------------------------------------------------------------

def test_stored_lines_load_as_dates_and_cents():
    line = rules.line_out({"kind": "charge", "coverage_month": "2027-04-01", "member_id": "M000000001",
                           "subscriber_member_id": "M000000001", "plan_code": "PPO-1", "rate_key": "EMP",
                           "description": "Premium", "amount": "500.5"})
    assert line["coverage_month"] == APRIL and line["amount"] == Decimal("500.50")
    assert wire.InvoiceLine().dump(line)["amount"] == "500.50"


def test_a_statements_lines_are_its_premium_charges_then_adjustments_by_month_then_line():
    entries = [entry("payment", "-100.00", entry_id=1),
               entry("charge", "500.00", APRIL, "M2:PPO-1", entry_id=2, member_id="M2", subscriber="M2"),
               entry("adjustment", "-250.00", MARCH, "M1:PPO-1", entry_id=3, member_id="M1", subscriber="M1"),
               entry("charge", "900.00", APRIL, "M1:PPO-1", entry_id=4, member_id="M1", subscriber="M1")]
    lines = rules.statement_lines(entries)
    assert [(line["kind"], line["coverage_month"], line["line_key"], line["amount"]) for line in lines] == [
        ("charge", "2027-04-01", "M1:PPO-1", "900.00"), ("charge", "2027-04-01", "M2:PPO-1", "500.00"),
        ("adjustment", "2027-03-01", "M1:PPO-1", "-250.00")]


# --- rebill -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("number,rebilled", [
    ("S202704-G100-001", "S202704-G100-001-R1"),
    ("S202704-G100-001-R1", "S202704-G100-001-R2"),
    ("S202704-G100-001-R9", "S202704-G100-001-R10"),
])
def test_a_rebill_adds_the_next_r_number(number, rebilled):
    assert rules.rebill_number(number) == rebilled


def test_rebill_amounts_come_from_the_entries_taken_up_and_the_balance_now():
    """Charges 1400.00 and an adjustment of -500.00 on the statement, a payment of 600.00 posted since; the
    ledger's balance is 1300.00 (1000.00 carried forward from earlier cuts)."""
    taken = [entry("charge", "1400.00", APRIL), entry("adjustment", "-500.00", MARCH),
             entry("payment", "-600.00")]
    assert rules.rebill_amounts(taken, Decimal("1300.00")) == {
        "charges": Decimal("1400.00"), "adjustments": Decimal("-500.00"), "payments": Decimal("-600.00"),
        "balance_forward": Decimal("1000.00"), "amount_due": Decimal("1300.00")}


def statement(status="issued", month=APRIL, number="S202704-G100-001"):
    return SimpleNamespace(status=status, coverage_month=month, statement_number=number)


def test_the_newest_issued_statement_may_be_rebilled():
    rules.require_rebillable(statement(), APRIL, None)


@pytest.mark.parametrize("candidate,newest,pending,code", [
    (statement(status="superseded"), APRIL, None, "statement_superseded"),
    (statement(month=MARCH, number="S202703-G100-001"), APRIL, None, "statement_not_newest"),
    (statement(), APRIL, SimpleNamespace(request_number="RB1"), "rebill_already_requested"),
])
def test_what_may_not_be_rebilled(candidate, newest, pending, code):
    with pytest.raises(Conflict) as refused:
        rules.require_rebillable(candidate, newest, pending)
    assert refused.value.code == code and refused.value.status == 409


def test_a_decided_request_is_not_decided_again():
    requests.require_undecided(SimpleNamespace(status="requested", request_number="RB1", kind="rebill"))
    with pytest.raises(Conflict) as refused:
        requests.require_undecided(SimpleNamespace(status="denied", request_number="RB1", kind="rebill"))
    assert refused.value.code == "rebill_already_decided"
    assert refused.value.detail == "Rebill request RB1 was already decided (denied)."
    with pytest.raises(Conflict) as refused:
        requests.require_undecided(SimpleNamespace(status="completed", request_number="F1", kind="refund"))
    assert refused.value.code == "refund_already_decided"


@pytest.mark.parametrize("body,field", [
    ({"decision": "deny"}, "note"),
    ({"decision": "deny", "note": "  "}, "note"),
    ({"decision": "maybe"}, "decision"),
    ({}, "decision"),
])
def test_a_denial_needs_a_note_and_a_decision_is_approve_or_deny(body, field):
    assert field in wire.RebillDecisionInput().validate(body)


# --- adjust invoice -----------------------------------------------------------------------------------------

COMPOSITE_LINES = [{"kind": "charge", "member_id": None, "subscriber_member_id": "M100000001"}]
FAMILIES = [("M100000001", ["M100000001", "M100000002", "M100000003"]), ("M200000001", ["M200000001"])]


def test_a_dependent_of_a_family_billed_on_a_composite_statement_may_be_named():
    assert rules.require_member_on_statement(COMPOSITE_LINES, FAMILIES, "m100000002", "terminate_coverage") \
        == "M100000001"


def test_a_member_of_a_family_not_on_the_statement_is_422_on_member_id():
    with pytest.raises(ValidationFailed) as refused:
        rules.require_member_on_statement(COMPOSITE_LINES, FAMILIES, "M200000001", "terminate_coverage")
    assert list(refused.value.errors) == ["member_id"]


def test_a_family_is_terminated_through_its_subscriber():
    with pytest.raises(ValidationFailed) as refused:
        rules.require_member_on_statement(COMPOSITE_LINES, FAMILIES, "M100000003", "terminate_subscriber")
    assert "M100000001" in refused.value.errors["member_id"][0]
    assert rules.require_member_on_statement(COMPOSITE_LINES, FAMILIES, "M100000001", "terminate_subscriber") \
        == "M100000001"


@pytest.mark.parametrize("body,field", [
    ({"member_id": "M1", "change": "terminate_coverage", "event_date": "2027-03-20", "cause": "divorce"},
     "member_id"),
    ({"member_id": "M100000002", "change": "cancel", "event_date": "2027-03-20", "cause": "divorce"}, "change"),
    ({"member_id": "M100000002", "change": "terminate_coverage", "event_date": "March", "cause": "divorce"},
     "event_date"),
    ({"member_id": "M100000002", "change": "terminate_coverage", "event_date": "2027-03-20", "cause": "moved"},
     "cause"),
])
def test_an_adjustment_names_a_member_a_change_a_date_and_a_cause(body, field):
    assert list(wire.InvoiceAdjustmentInput().validate(body)) == [field]


def test_a_search_range_must_not_end_before_it_starts():
    assert wire.InvoiceQuery().validate({"date_from": "2027-03-01", "date_to": "2027-02-01"}) == {
        "date_to": ["Must not be before date_from."]}
    assert "limit" in wire.InvoiceQuery().validate({"limit": "201"})


def test_a_period_is_a_month():
    assert wire.ConsolidatedQuery().load({"period": "2027-04"})["period"] == APRIL
    assert "period" in wire.ConsolidatedQuery().validate({"period": "2027-13"})


# --- files --------------------------------------------------------------------------------------------------

SUMMARY = {"statement_number": "S202704-G100-001", "account_number": "G100-001", "subgroup_number": "001",
           "account_name": "Main office", "coverage_month": "2027-04-01", "cut_date": "2027-03-15",
           "due_date": "2027-04-01", "balance_forward": "0.00", "payments": "0.00", "charges": "1900.00",
           "adjustments": "-250.00", "amount_due": "1650.00", "status": "issued", "paid": False,
           "open_amount": "1650.00", "supersedes": None, "superseded_by": None}


def test_the_csv_has_a_header_and_one_row_per_statement():
    content = documents.invoices_csv([SUMMARY, dict(SUMMARY, statement_number="S202703-G100-001",
                                                    status="superseded", paid=True, open_amount="0.00",
                                                    superseded_by="S202703-G100-001-R1")])
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == list(documents.CSV_COLUMNS)
    assert rows[1] == ["S202704-G100-001", "G100-001", "001", "2027-04-01", "2027-03-15", "2027-04-01", "0.00",
                       "0.00", "1900.00", "-250.00", "1650.00", "issued", "no", "1650.00", "", ""]
    assert rows[2][11:] == ["superseded", "yes", "0.00", "", "S202703-G100-001-R1"]


def test_the_pdf_holds_the_statement_number_and_the_amount_due_as_text():
    lines = [{"kind": "charge", "coverage_month": "2027-04-01", "member_id": "M100000001",
              "subscriber_member_id": "M100000001", "plan_code": "PPO-1", "rate_key": "FAM",
              "description": "Premium April 2027", "amount": "1400.00"}] * 80   # more than a page
    content = documents.invoice_pdf(dict(SUMMARY, group_number="G100", group_name="Harbor Widgets",
                                         issued_at="2027-03-15T12:00:00+00:00", lines=lines), "Harbor Health Plan")
    assert content.startswith(b"%PDF")
    assert b"S202704-G100-001" in content and b"$1,650.00" in content and b"Harbor Widgets" in content
    assert b"/Count 2" in content   # 80 lines take a second page


def test_money_shows_with_thousands_and_a_sign():
    assert documents.money_text("1234.5") == "$1,234.50"
    assert documents.money_text("-12.00") == "-$12.00"
