"""The statement history through the real billing service (issue 6 part P3): search, details with the paid state
read from the ledger, the CSV export and the PDF, the consolidated invoice, rebill requests through their states
(a rebill takes up the same ledger entries), and adjust invoice, which asks roster (a real roster service, and a
stand-in to watch the context and time out) to record the termination.

Statements are what part P2's run would have cut, written straight into billing's tables: group G100 (composite)
with subgroups 001 and 002, business date 2027-03-20 (after the April cut of 2027-03-15):
  001 March  S202703-G100-001  cut 2027-02-15  charges 1900.00 (FAM 1400.00 + EMP 500.00)      due 1900.00
      payment 1900.00 on 2027-02-25
  001 April  S202704-G100-001  cut 2027-03-15  forward 1900.00, payments -1900.00, charges 1900.00,
                                               adjustment -250.00 (March, M200000001)           due 1650.00
  002 April  S202704-G100-002  cut 2027-03-15  charges 500.00                                   due 500.00
  consolidated C202704-G100 = 2150.00; and group G200's own April statement.
"""
import base64
import csv
import io
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import eventlet
import pytest
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import BillableFamily, BillingAccount, BillingGroup, BillingRequest, ConsolidatedStatement, \
    LedgerEntry, Statement
from billingtesting import member, refusal, seed_family, seed_group, span, user
from roster.models import Base as RosterBase
from roster.service import RosterService
from servicekit import clock, tables
from servicekit.crypto import generate_key
from servicekit.db import make_engine
from servicekit.entrypoints import rpc
from servicekit.errors import Forbidden
from servicekit.testing import ServiceClient, drop_database, fresh_database, wait_for
from servicekit.testing.broker import collect_events
from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM, mint_token

DAY = date(2027, 3, 20)
APRIL, MARCH = date(2027, 4, 1), date(2027, 3, 1)
CUT_AT = datetime(2027, 3, 15, 12, tzinfo=timezone.utc)
ROSTER_TIMEOUT = 3


@pytest.fixture
def billing_config(billing_config):
    return dict(billing_config, ROSTER_RPC_TIMEOUT_SECONDS=ROSTER_TIMEOUT)


@pytest.fixture(autouse=True)
def after_the_april_cut(business_date):
    clock.set_today(DAY)


# --- seeding what the statement run would have made -----------------------------------------------------

def charge(session, account, month, subscriber, tier, amount, kind="charge", posted_on=None):
    return ledger.post(session, account, kind, Decimal(amount), "Premium %s %s" % (tier, month.strftime("%B %Y")),
                       posted_on=posted_on, coverage_month=month, line_key="%s:PPO-1" % subscriber,
                       subscriber_member_id=subscriber, plan_code="PPO-1", rate_key=tier)


def cut(session, account, month, cut_date, entries, balance_forward, number=None):
    """A statement taking up `entries`, its lines and amounts as the statement run makes them."""
    by_kind = {kind: sum((e.amount for e in entries if e.kind == kind), Decimal("0.00"))
               for kind in ("charge", "adjustment")}
    payments = sum((e.amount for e in entries if e.kind not in ("charge", "adjustment")), Decimal("0.00"))
    statement = Statement(
        statement_number=number or "S%s-%s" % (month.strftime("%Y%m"), account.account_number),
        account_id=account.id, group_id=account.group_id, coverage_month=month, cut_date=cut_date, due_date=month,
        balance_forward=Decimal(balance_forward), payments=payments, charges=by_kind["charge"],
        adjustments=by_kind["adjustment"],
        amount_due=Decimal(balance_forward) + payments + by_kind["charge"] + by_kind["adjustment"], status="issued",
        lines=[{"kind": e.kind, "coverage_month": e.coverage_month.isoformat(), "line_key": e.line_key,
                "member_id": e.member_id,
                "subscriber_member_id": e.subscriber_member_id, "plan_code": e.plan_code, "rate_key": e.rate_key,
                "description": e.description, "amount": str(e.amount)}
               for e in entries if e.kind in ("charge", "adjustment")],
        issued_at=CUT_AT)
    session.add(statement)
    session.flush()
    for entry in entries:
        entry.statement_id = statement.id
    session.flush()
    return statement


def seed_history(engine, group_number="G100", subscribers=("M100000001", "M200000001", "M300000001")):
    """The group, its accounts and families, and the statements above."""
    first, second, _third = subscribers
    with Session(engine) as session:
        group = seed_group(session, group_number, subgroups=("001", "002"))
        seed_family(session, group, "001", first, [
            member(first, "18", "1985-01-01", span("PPO-1", "FAM", "2027-01-01")),
            member(first[:-1] + "2", "01", "1986-01-01", span("PPO-1", "FAM", "2027-01-01")),
            member(first[:-1] + "3", "19", "2015-01-01", span("PPO-1", "FAM", "2027-01-01"))])
        seed_family(session, group, "001", second, [member(second, "18", "1990-01-01",
                                                           span("PPO-1", "EMP", "2027-01-01"))])
        seed_statements(session, group, subscribers)
        session.commit()
        return group.id


def seed_statements(session, group, subscribers):
    first, second, third = subscribers
    main, plant = (session.scalar(select(BillingAccount).where(
        BillingAccount.account_number == "%s-%s" % (group.group_number, sub))) for sub in ("001", "002"))
    march = cut(session, main, MARCH, date(2027, 2, 15),
                [charge(session, main, MARCH, first, "FAM", "1400.00", posted_on=date(2027, 2, 15)),
                 charge(session, main, MARCH, second, "EMP", "500.00", posted_on=date(2027, 2, 15))], "0.00")
    paid = ledger.post(session, main, "payment", Decimal("-1900.00"), "ACH payment", posted_on=date(2027, 2, 25))
    april = cut(session, main, APRIL, date(2027, 3, 15),
                [paid, charge(session, main, APRIL, first, "FAM", "1400.00", posted_on=date(2027, 3, 15)),
                 charge(session, main, APRIL, second, "EMP", "500.00", posted_on=date(2027, 3, 15)),
                 charge(session, main, MARCH, second, "EMP", "-250.00", kind="adjustment",
                        posted_on=date(2027, 3, 15))], march.amount_due)
    plant_april = cut(session, plant, APRIL, date(2027, 3, 15),
                      [charge(session, plant, APRIL, third, "EMP", "500.00", posted_on=date(2027, 3, 15))], "0.00")
    session.add(ConsolidatedStatement(statement_number="C202704-%s" % group.group_number, group_id=group.id,
                                      coverage_month=APRIL, due_date=APRIL, amount_due=Decimal("2150.00"),
                                      statement_ids=[april.id, plant_april.id], issued_at=CUT_AT))
    session.flush()


@pytest.fixture
def history(billing_db):
    seed_history(billing_db)
    other = seed_history(billing_db, "G200", ("M400000001", "M500000001", "M600000001"))
    return other


def post_payment(engine, account_number, amount, on):
    with Session(engine) as session:
        account = session.scalar(select(BillingAccount).where(BillingAccount.account_number == account_number))
        ledger.post(session, account, "payment", Decimal(amount), "Check payment", posted_on=on)
        session.commit()


# --- search and export ------------------------------------------------------------------------------------

def test_the_history_is_newest_first_with_its_total_and_paid_state_from_the_ledger(billing, history):
    manager = user("G100", "billing_manager")
    found = billing.call("list_invoices", "G100", {}, token=manager)
    assert found["total"] == 3 and (found["page"], found["limit"]) == (1, 50)
    assert [(i["statement_number"], i["cut_date"], i["amount_due"], i["paid"], i["open_amount"])
            for i in found["items"]] == [
        ("S202704-G100-002", "2027-03-15", "500.00", False, "500.00"),
        ("S202704-G100-001", "2027-03-15", "1650.00", False, "1650.00"),
        ("S202703-G100-001", "2027-02-15", "1900.00", True, "0.00")]

    second_page = billing.call("list_invoices", "G100", {"page": 2, "limit": 2}, token=manager)
    assert second_page["total"] == 3 and [i["statement_number"] for i in second_page["items"]] == ["S202703-G100-001"]


@pytest.mark.parametrize("query,numbers", [
    ({"date_from": "2027-03-01"}, ["S202704-G100-002", "S202704-G100-001"]),
    ({"date_to": "2027-02-28"}, ["S202703-G100-001"]),
    ({"date_from": "2027-02-15", "date_to": "2027-02-15"}, ["S202703-G100-001"]),
    ({"subgroup": "001"}, ["S202704-G100-001", "S202703-G100-001"]),
    ({"number": "S202704-G100-001"}, ["S202704-G100-001"]),
    ({"number": "s202704"}, ["S202704-G100-002", "S202704-G100-001"]),
    ({"number": "S202704-G200"}, []),
    ({"status": "superseded"}, []),
])
def test_search_by_cut_date_subgroup_number_and_status(billing, history, query, numbers):
    found = billing.call("list_invoices", "G100", query, token=user("G100", "viewer"))
    assert [i["statement_number"] for i in found["items"]] == numbers and found["total"] == len(numbers)


def test_a_user_limited_to_a_subgroup_sees_only_its_statements(billing, history):
    found = billing.call("list_invoices", "G100", {}, token=user("G100", "billing_manager", subgroups=["002"]))
    assert [i["statement_number"] for i in found["items"]] == ["S202704-G100-002"]
    assert billing.call("list_invoices", "G100", {"subgroup": "001"},
                        token=user("G100", "billing_manager", subgroups=["002"]))["total"] == 0


def test_who_may_search(billing, history):
    assert refusal(billing.call, "list_invoices", "G100", {}, token=user("G200", "group_admin"))["status"] == 404
    assert refusal(billing.call, "list_invoices", "G100", {},
                   token=user("G100", "enrollment_manager"))["status"] == 403
    viewer = user("G100", "viewer")
    backwards = refusal(billing.call, "list_invoices", "G100", {"date_from": "2027-04-01", "date_to": "2027-03-01"},
                        token=viewer)
    assert backwards["status"] == 422 and list(backwards["errors"]) == ["date_to"]
    assert list(refusal(billing.call, "list_invoices", "G100", {"limit": 500}, token=viewer)["errors"]) == ["limit"]


def test_the_csv_export_has_one_row_per_statement(billing, history):
    export = billing.call("list_invoices", "G100", {"format": "csv", "subgroup": "001"},
                          token=user("G100", "viewer"))
    assert (export["filename"], export["content_type"], export["rows"]) == ("invoices-G100-20270320.csv",
                                                                            "text/csv", 2)
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(export["content_base64"]).decode("utf-8-sig"))))
    assert [(r["statement_number"], r["coverage_month"], r["balance_forward"], r["payments"], r["charges"],
             r["adjustments"], r["amount_due"], r["paid"]) for r in rows] == [
        ("S202704-G100-001", "2027-04-01", "1900.00", "-1900.00", "1900.00", "-250.00", "1650.00", "no"),
        ("S202703-G100-001", "2027-03-01", "0.00", "0.00", "1900.00", "0.00", "1900.00", "yes")]


# --- one statement ----------------------------------------------------------------------------------------

def test_a_statement_shows_its_header_and_lines_and_is_paid_once_the_ledger_says_so(billing, billing_db, history):
    viewer = user("G100", "viewer")
    invoice = billing.call("get_invoice", "G100", "S202704-G100-001", token=viewer)
    assert {name: invoice[name] for name in (
        "account_number", "subgroup_number", "coverage_month", "cut_date", "due_date", "balance_forward",
        "payments", "charges", "adjustments", "amount_due", "status", "paid", "open_amount", "supersedes",
        "superseded_by", "group_number")} == {
        "account_number": "G100-001", "subgroup_number": "001", "coverage_month": "2027-04-01",
        "cut_date": "2027-03-15", "due_date": "2027-04-01", "balance_forward": "1900.00", "payments": "-1900.00",
        "charges": "1900.00", "adjustments": "-250.00", "amount_due": "1650.00", "status": "issued", "paid": False,
        "open_amount": "1650.00", "supersedes": None, "superseded_by": None, "group_number": "G100"}
    assert [(line["kind"], line["coverage_month"], line["subscriber_member_id"], line["rate_key"], line["amount"])
            for line in invoice["lines"]] == [
        ("charge", "2027-04-01", "M100000001", "FAM", "1400.00"), ("charge", "2027-04-01", "M200000001", "EMP",
                                                                    "500.00"),
        ("adjustment", "2027-03-01", "M200000001", "EMP", "-250.00")]

    post_payment(billing_db, "G100-001", "-1000.00", date(2027, 3, 18))
    partly = billing.call("get_invoice", "G100", "s202704-g100-001", token=viewer)
    assert (partly["paid"], partly["open_amount"], partly["amount_due"]) == (False, "650.00", "1650.00")
    post_payment(billing_db, "G100-001", "-650.00", date(2027, 3, 19))
    assert billing.call("get_invoice", "G100", "S202704-G100-001", token=viewer)["paid"] is True


def test_another_groups_statement_is_404_and_another_subgroups_403(billing, history):
    assert refusal(billing.call, "get_invoice", "G100", "S202704-G200-001",
                   token=user("G100", "viewer"))["code"] == "statement_not_found"
    assert refusal(billing.call, "get_invoice", "G100", "S202704-G100-001",
                   token=user("G100", "viewer", subgroups=["002"]))["status"] == 403
    assert refusal(billing.call, "invoice_pdf", "G200", "S202704-G200-001",
                   token=user("G100", "viewer"))["status"] == 404


def test_the_pdf_is_a_pdf_with_the_number_and_the_amount_due(billing, history):
    document = billing.call("invoice_pdf", "G100", "S202704-G100-001", token=user("G100", "viewer"))
    assert (document["filename"], document["content_type"]) == ("invoice-S202704-G100-001.pdf", "application/pdf")
    content = base64.b64decode(document["content_base64"])
    assert content.startswith(b"%PDF")
    assert b"S202704-G100-001" in content and b"$1,650.00" in content and b"Group G100" in content


# --- consolidated -----------------------------------------------------------------------------------------

def test_the_consolidated_invoice_sums_the_subgroups_for_users_of_the_whole_group(billing, history):
    consolidated = billing.call("get_consolidated", "G100", {"period": "2027-04"}, token=user("G100", "viewer"))
    assert (consolidated["statement_number"], consolidated["coverage_month"], consolidated["due_date"],
            consolidated["amount_due"]) == ("C202704-G100", "2027-04-01", "2027-04-01", "2150.00")
    assert [(s["statement_number"], s["amount_due"]) for s in consolidated["statements"]] == [
        ("S202704-G100-001", "1650.00"), ("S202704-G100-002", "500.00")]

    limited = user("G100", "group_admin", subgroups=["001", "002"])
    assert refusal(billing.call, "get_consolidated", "G100", {"period": "2027-04"},
                   token=limited)["code"] == "group_wide_only"
    assert refusal(billing.call, "get_consolidated", "G100", {"period": "2027-05"},
                   token=user("G100", "viewer"))["code"] == "consolidated_not_found"
    assert "period" in refusal(billing.call, "get_consolidated", "G100", {"period": "April"},
                               token=user("G100", "viewer"))["errors"]


# --- rebill -----------------------------------------------------------------------------------------------

def test_a_rebill_is_requested_then_approved_taking_up_the_same_entries_and_whats_posted_since(
        billing, billing_db, billing_config, history):
    manager = user("G100", "billing_manager")
    with collect_events(billing_config, "billing.events", "rebill_requested") as events:
        asked = billing.call("request_rebill", "G100", {"statement_number": "S202704-G100-001",
                                                        "reason": "  Employee M200000001 left in February.  "},
                             token=manager)
        [event] = events.wait_for(1)
    assert (asked["status"], asked["statement_number"], asked["account_number"], asked["reason"],
            asked["new_statement_number"]) == ("requested", "S202704-G100-001", "G100-001",
                                               "Employee M200000001 left in February.", None)
    assert (event["aggregate_id"], event["group_id"], event["data"]["request_number"],
            event["data"]["coverage_month"]) == ("account:G100-001", "G100", asked["request_number"], "2027-04-01")
    assert refusal(billing.call, "request_rebill", "G100", {"statement_number": "S202704-G100-001",
                                                            "reason": "again"},
                   token=manager)["code"] == "rebill_already_requested"
    listed = billing.call("list_rebill_requests", "G100", {"status": "requested"}, token=user("G100", "viewer"))
    assert [r["request_number"] for r in listed["items"]] == [asked["request_number"]]

    post_payment(billing_db, "G100-001", "-1000.00", date(2027, 3, 18))   # after the cut, before the rebill
    with collect_events(billing_config, "billing.events", "statement_issued") as events:
        decided = billing.call("decide_rebill", asked["request_number"], {"decision": "approve",
                                                                          "note": "Corrected."})
        [issued] = events.wait_for(1)
    assert (issued["aggregate_id"], issued["data"]["statement_number"], issued["data"]["amount_due"]) == (
        "account:G100-001", "S202704-G100-001-R1", "650.00")
    assert (decided["status"], decided["new_statement_number"], decided["decided_by"], decided["decision_note"]) \
        == ("completed", "S202704-G100-001-R1", "carrier-1", "Corrected.")

    rebill = billing.call("get_invoice", "G100", "S202704-G100-001-R1", token=manager)
    assert {name: rebill[name] for name in ("coverage_month", "cut_date", "due_date", "balance_forward", "payments",
                                            "charges", "adjustments", "amount_due", "status", "supersedes")} == {
        "coverage_month": "2027-04-01", "cut_date": "2027-03-20", "due_date": "2027-04-01",
        "balance_forward": "1900.00", "payments": "-2900.00", "charges": "1900.00", "adjustments": "-250.00",
        "amount_due": "650.00", "status": "issued", "supersedes": "S202704-G100-001"}
    assert [(line["kind"], line["subscriber_member_id"], line["amount"]) for line in rebill["lines"]] == [
        ("charge", "M100000001", "1400.00"), ("charge", "M200000001", "500.00"),
        ("adjustment", "M200000001", "-250.00")]
    old = billing.call("get_invoice", "G100", "S202704-G100-001", token=manager)
    assert (old["status"], old["superseded_by"]) == ("superseded", "S202704-G100-001-R1")

    with Session(billing_db) as session:   # no new charges: the same entries moved, the ledger's sum unchanged
        account = session.scalar(select(BillingAccount).where(BillingAccount.account_number == "G100-001"))
        assert ledger.balance(session, account.id) == Decimal("650.00")
        assert session.scalar(select(LedgerEntry.id).where(LedgerEntry.statement_id == rebill_id(session))) \
            is not None
        assert session.query(LedgerEntry).filter(LedgerEntry.account_id == account.id).count() == 7
        old_id = session.scalar(select(Statement.id).where(Statement.statement_number == "S202704-G100-001"))
        assert session.query(LedgerEntry).filter(LedgerEntry.statement_id == old_id).count() == 0
    consolidated = billing.call("get_consolidated", "G100", {"period": "2027-04"}, token=manager)
    assert consolidated["amount_due"] == "1150.00"
    assert [s["statement_number"] for s in consolidated["statements"]] == ["S202704-G100-001-R1", "S202704-G100-002"]
    assert refusal(billing.call, "decide_rebill", asked["request_number"],
                   {"decision": "deny", "note": "No."})["code"] == "rebill_already_decided"

    # The rebill may itself be rebilled: -R2.
    again = billing.call("request_rebill", "G100", {"statement_number": "S202704-G100-001-R1", "reason": "Still off."},
                         token=manager)
    assert billing.call("decide_rebill", again["request_number"],
                        {"decision": "approve"})["new_statement_number"] == "S202704-G100-001-R2"


def rebill_id(session):
    return session.scalar(select(Statement.id).where(Statement.statement_number == "S202704-G100-001-R1"))


def test_a_denied_rebill_keeps_the_statement_and_says_why(billing, billing_db, history):
    asked = billing.call("request_rebill", "G100", {"statement_number": "S202704-G100-002", "reason": "Wrong tier."},
                         token=user("G100", "group_admin"))
    assert "note" in refusal(billing.call, "decide_rebill", asked["request_number"], {"decision": "deny"})["errors"]
    denied = billing.call("decide_rebill", asked["request_number"], {"decision": "deny",
                                                                     "note": "The tier is EMP on file."})
    assert (denied["status"], denied["decision_note"], denied["new_statement_number"]) == (
        "denied", "The tier is EMP on file.", None)
    assert billing.call("get_invoice", "G100", "S202704-G100-002", token=user("G100", "viewer"))["status"] == "issued"
    with Session(billing_db) as session:
        assert session.scalar(select(BillingRequest.status)) == "denied"
    listed = billing.call("list_rebill_requests", "G100", {}, token=user("G100", "viewer", subgroups=["001"]))
    assert listed["items"] == []


def test_who_may_ask_and_decide_and_what_may_be_rebilled(billing, billing_db, history):
    body = {"statement_number": "S202704-G100-001", "reason": "Please check."}
    assert refusal(billing.call, "request_rebill", "G100", body, token=user("G100", "viewer"))["status"] == 403
    assert refusal(billing.call, "request_rebill", "G100", body)["status"] == 403   # carrier staff do not ask
    assert refusal(billing.call, "request_rebill", "G100", body,
                   token=user("G100", "billing_manager", subgroups=["002"]))["status"] == 403
    assert refusal(billing.call, "request_rebill", "G100", dict(body, statement_number="S202704-G200-001"),
                   token=user("G100", "billing_manager"))["status"] == 404
    assert refusal(billing.call, "request_rebill", "G100", dict(body, statement_number="S202703-G100-001"),
                   token=user("G100", "billing_manager"))["code"] == "statement_not_newest"
    assert set(refusal(billing.call, "request_rebill", "G100", {"statement_number": "consolidated"},
                       token=user("G100", "billing_manager"))["errors"]) == {"statement_number", "reason"}
    asked = billing.call("request_rebill", "G100", body, token=user("G100", "billing_manager"))
    assert refusal(billing.call, "decide_rebill", asked["request_number"], {"decision": "approve"},
                   token=user("G100", "group_admin"))["status"] == 403
    assert refusal(billing.call, "decide_rebill", "RB0000000000", {"decision": "approve"})["status"] == 404
    with Session(billing_db) as session:
        assert session.query(Statement).count() == 6   # nothing written by the refusals


def test_a_retried_approval_with_its_key_rebills_once(billing, history):
    asked = billing.call("request_rebill", "G100", {"statement_number": "S202704-G100-002", "reason": "Check."},
                         token=user("G100", "billing_manager"))
    key = str(uuid.uuid4())
    first = billing.call("decide_rebill", asked["request_number"], {"decision": "approve"}, idempotency_key=key)
    again = billing.call("decide_rebill", asked["request_number"], {"decision": "approve"}, idempotency_key=key)
    assert first == again and first["new_statement_number"] == "S202704-G100-002-R1"


# --- adjust invoice: a stand-in roster ----------------------------------------------------------------------

SEEN = []


class ContextSeen(DependencyProvider):
    def get_dependency(self, worker_ctx):
        SEEN.append(dict(worker_ctx.data))


class StandInRoster:
    """Answers as roster does: a termination's confirmation, a refusal (BusinessError), or nothing in time."""
    name = "roster"
    seen = ContextSeen()

    @rpc
    def terminate_coverage(self, group_number, member_id, body):
        if body.get("note") == "slow":
            eventlet.sleep(ROSTER_TIMEOUT + 3)
        if body.get("note") == "refuse":
            raise Forbidden("your role may not do this: change_roster")
        return {"confirmation_number": "T2703200001", "status": "pending", "effective_date": "2027-03-31",
                "termination_date": "2027-03-31", "member_ids": [member_id], "cause": "01",
                "group": group_number, "body": body}


@pytest.fixture
def stand_in_roster(container_factory, billing_config):
    SEEN.clear()
    container = container_factory(StandInRoster, dict(billing_config))
    container.start()
    return container


def adjust(config, token, key, body, number="S202704-G100-001", request_id="req-adjust-1"):
    context = {"authorization": token, "request_id": request_id, "idempotency_key": key}
    with ServiceRpcProxy("billing", config, context_data=context, timeout=30) as proxy:
        return proxy.adjust_invoice("G100", number, body)


SPOUSE_DIVORCED = {"member_id": "M100000002", "change": "terminate_coverage", "event_date": "2027-03-05",
                   "cause": "divorce"}


def test_adjust_invoice_asks_roster_as_the_caller_and_answers_its_confirmation(
        billing_service, billing_config, stand_in_roster, history):
    admin = user("G100", "group_admin")
    answer = adjust(billing_config, admin, "key-adjust-1", SPOUSE_DIVORCED)
    assert answer == {"statement_number": "S202704-G100-001", "member_id": "M100000002",
                      "change": "terminate_coverage", "confirmation_number": "T2703200001", "status": "pending",
                      "effective_date": "2027-03-31", "termination_date": "2027-03-31",
                      "member_ids": ["M100000002"]}
    [context] = SEEN   # roster sees the same user, request and retry key
    assert (context["authorization"], context["request_id"], context["idempotency_key"]) == (
        admin, "req-adjust-1", "key-adjust-1")


def test_roster_refusals_come_back_as_they_are_and_a_silent_roster_is_504(
        billing, billing_service, billing_config, stand_in_roster, history):
    admin = user("G100", "group_admin")
    refused = refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-001",
                      dict(SPOUSE_DIVORCED, note="refuse"), token=admin)
    assert (refused["status"], refused["code"], refused["detail"]) == (
        403, "forbidden", "your role may not do this: change_roster")
    started = time.monotonic()
    late = refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-001", dict(SPOUSE_DIVORCED, note="slow"),
                   token=admin)
    assert (late["status"], late["code"]) == (504, "roster_timeout")
    assert time.monotonic() - started < ROSTER_TIMEOUT + 2.5


def test_an_adjustment_names_a_member_billed_on_the_statement_before_roster_is_asked(
        billing, billing_service, stand_in_roster, history):
    admin = user("G100", "group_admin")
    elsewhere = refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-002", SPOUSE_DIVORCED, token=admin)
    assert elsewhere["status"] == 422 and list(elsewhere["errors"]) == ["member_id"]
    family = refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-001",
                     dict(SPOUSE_DIVORCED, change="terminate_subscriber"), token=admin)
    assert family["status"] == 422 and "M100000001" in family["errors"]["member_id"][0]
    assert refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-001", dict(SPOUSE_DIVORCED, cause="moved"),
                   token=admin)["errors"] == {"cause": ["Must be one of: termination_of_benefits, "
                                                        "termination_of_employment, death, divorce."]}
    assert refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-001", SPOUSE_DIVORCED,
                   token=user("G100", "enrollment_manager"))["status"] == 403   # may not see invoices
    assert SEEN == []


# --- adjust invoice: the real roster ----------------------------------------------------------------------

CARRIER = mint_token("carrier-1", carrier=True)
ADDRESS = {"line1": "12 Orchard Ln", "city": "Hartford", "state": "CT", "zip": "06103"}
SPOUSE = {"relationship": "spouse", "first_name": "Sam", "last_name": "Whitfield", "date_of_birth": "1985-09-30",
          "gender": "M", "ssn": "234-56-7890"}


@pytest.fixture
def roster(container_factory, rabbit_config):
    url = fresh_database("roster")
    engine = make_engine(url)
    RosterBase.metadata.create_all(engine)
    tables.metadata.create_all(engine)
    engine.dispose()
    config = dict(rabbit_config, DATABASE_URL=url, TOKEN_PUBLIC_KEY=TEST_PUBLIC_KEY_PEM,
                  FIELD_ENCRYPTION_KEY=generate_key(), FIELD_HASH_KEY=generate_key(),
                  CARRIER_TIMEZONE="America/New_York", METRICS_PORT=0, OUTBOX_POLL_SECONDS=0.2,
                  EVENT_RETRY_BASE_SECONDS=0.05)
    container = container_factory(RosterService, config)
    container.start()
    yield ServiceClient("roster", config, token=CARRIER)
    container.stop()
    drop_database(url)


def enroll_in_roster(roster):
    """Group G100, subgroup 001 offering PPO-1, a subscriber and spouse covered since 2027-01-01."""
    roster.call("load_plans", [{"plan_code": "PPO-1", "name": "PPO", "product": "medical", "plan_type": "PPO",
                                "network": "STATEWIDE"}])
    roster.call("create_group", {"group_number": "G100", "legal_name": "Group G100", "ein": "06-1234567",
                                 "mailing_address": ADDRESS, "renewal_date": "2027-01-01", "employee_count": 45,
                                 "waiting_period_days": 0,
                                 "contacts": [{"kind": "primary", "name": "Pat Admin", "email": "pat@g100.example"}]})
    for subgroup in ("001", "002"):
        roster.call("create_subgroup", "G100", {"subgroup_number": subgroup, "name": "Site %s" % subgroup})
        roster.call("set_subgroup_plans", "G100", subgroup, {"plan_year_start": "2027-01-01",
                                                             "plan_codes": ["PPO-1"]})
    clock.set_today(date(2027, 1, 1))
    enrolled = roster.call("enroll_subscriber", "G100", {
        "subgroup_number": "001", "plan_code": "PPO-1", "dependents": [SPOUSE],
        "subscriber": {"first_name": "Dana", "last_name": "Whitfield", "date_of_birth": "1986-04-12", "gender": "F",
                       "marital_status": "M", "ssn": "123-45-6789", "mailing_address": ADDRESS,
                       "hire_date": "2027-01-01", "employment_status": "active"}}, token=user("G100", "group_admin"))
    clock.set_today(DAY)
    subscriber = enrolled["subscriber"]
    return subscriber["member_id"], subscriber["dependents"][0]["member_id"]


def test_adjust_invoice_records_the_termination_in_roster(billing, billing_db, roster):
    """Billing learns the group, its accounts and the family from roster's events (its projection); the
    statements are seeded on the accounts it opened."""
    subscriber, spouse = enroll_in_roster(roster)

    def projected():
        with Session(billing_db) as session:
            family = session.scalar(select(BillableFamily).where(BillableFamily.subscriber_member_id == subscriber))
            accounts = session.scalars(select(BillingAccount.account_number)).all()
            return family is not None and set(accounts) == {"G100-001", "G100-002"}
    wait_for(projected, timeout=20, message="billing's projection of G100 and the family")
    with Session(billing_db) as session:
        seed_statements(session, session.scalar(select(BillingGroup)), (subscriber, "M200000001", "M300000001"))
        session.commit()

    ended = billing.call("adjust_invoice", "G100", "S202704-G100-001",
                         dict(SPOUSE_DIVORCED, member_id=spouse), token=user("G100", "group_admin"))
    # 2027-03-31 has not come on 2027-03-20: roster holds the termination pending until then.
    assert (ended["status"], ended["termination_date"], ended["member_ids"], ended["member_id"]) == (
        "pending", "2027-03-31", [spouse], spouse)
    page = roster.call("get_subscriber", "G100", subscriber)
    assert any(txn["confirmation_number"] == ended["confirmation_number"] for txn in page["transactions"])

    # A billing manager may see the invoice but not change the roster: roster's 403 comes back.
    refused = refusal(billing.call, "adjust_invoice", "G100", "S202704-G100-001",
                      {"member_id": subscriber, "change": "terminate_subscriber", "event_date": "2027-03-05",
                       "cause": "termination_of_employment"}, token=user("G100", "billing_manager"))
    assert refused["status"] == 403
