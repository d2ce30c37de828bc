"""Payments through the real billing service (issue 6, part P4): bank accounts as payment methods, one payment
split across two subgroup accounts and settled, the same payment retried with its key, allocations that do not
add up or reach an ungranted account (nothing written), the default split oldest month first, a late payment
of last month, NACHA returns re-opening the months, check payments, the payment list, and refund requests.

Groups, accounts and charges are written straight into billing's tables (billingtesting), as roster's events
and the statement run would have made them. Business date: Wednesday 2027-03-10."""
import base64
import json
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import AutoPay, BillingAccount, BillingGroup, LedgerEntry, Payment, PaymentAllocation, PaymentMethod, Statement
from billingtesting import NOW, refusal, seed_group, user
from servicekit import tables

D = Decimal
JAN, FEB, MAR, APR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)
BANK = {"holder_name": "Harbor Widgets LLC", "account_type": "checking", "routing_number": "021000021",
        "account_number": "000123456789", "nickname": "Operating"}


def new_group(billing_db, subgroups=("001", "002"), charges=None):
    """A group with one account per subgroup and premium charges {subgroup: [(month, amount)]}."""
    number = "P%s" % uuid.uuid4().hex[:6].upper()
    with Session(billing_db) as session:
        group = seed_group(session, number, subgroups=subgroups)
        for subgroup, months in (charges or {}).items():
            account = session.scalar(select(BillingAccount).where(BillingAccount.account_number == "%s-%s"
                                                                  % (number, subgroup)))
            for month, amount in months:
                ledger.post(session, account, "charge", amount, "Premium %s" % month.strftime("%B %Y"),
                            posted_on=month, coverage_month=month,
                            line_key="M100000001:PPO-1")
        session.commit()
        del group
    return number


def account_of(session, account_number):
    return session.scalar(select(BillingAccount).where(BillingAccount.account_number == account_number))


def balances(billing_db, number, subgroups=("001", "002")):
    with Session(billing_db) as session:
        return {subgroup: ledger.balance(session, account_of(session, "%s-%s" % (number, subgroup)).id)
                for subgroup in subgroups}


def open_months(billing_db, account_number):
    with Session(billing_db) as session:
        months, credit = ledger.open_months(session, account_of(session, account_number).id)
        return [(month.isoformat(), amount) for month, amount in months], credit


def payments_written(billing_db, number):
    """(payments, allocations, payment ledger entries) of the group: proof that a refusal wrote nothing."""
    with Session(billing_db) as session:
        group_id = session.scalar(select(BillingGroup.id).where(BillingGroup.group_number == number))
        accounts = select(BillingAccount.id).where(BillingAccount.group_id == group_id)
        return (session.scalar(select(func.count()).select_from(Payment).where(Payment.group_id == group_id)),
                session.scalar(select(func.count()).select_from(PaymentAllocation)
                               .where(PaymentAllocation.account_id.in_(accounts))),
                session.scalar(select(func.count()).select_from(LedgerEntry)
                               .where(LedgerEntry.account_id.in_(accounts), LedgerEntry.kind == "payment")))


def events(billing_db, event_type, group_number):
    """The data of the events of `event_type` for the group in billing's outbox, oldest first."""
    with Session(billing_db) as session:
        rows = session.execute(select(tables.outbox.c.envelope).where(
            tables.outbox.c.event_type == event_type, tables.outbox.c.group_id == group_number)
            .order_by(tables.outbox.c.id)).scalars().all()
        return [json.loads(row)["data"] for row in rows]


def add_method(billing, number, token, **fields):
    return billing.call("add_payment_method", number, dict(BANK, **fields), token=token)


# --- payment methods ------------------------------------------------------------------------------------

def test_a_bank_account_is_stored_encrypted_and_shown_by_its_last_4(billing, billing_db):
    number = new_group(billing_db)
    added = add_method(billing, number, user(number, "billing_manager"))
    assert {key: added[key] for key in ("nickname", "holder_name", "account_type", "routing_number", "account_last4",
                                        "status")} == {
        "nickname": "Operating", "holder_name": "Harbor Widgets LLC", "account_type": "checking",
        "routing_number": "021000021", "account_last4": "6789", "status": "active"}
    assert "000123456789" not in json.dumps(added)
    with Session(billing_db) as session:
        stored = session.get(PaymentMethod, added["id"])
        assert stored.account_ciphertext.startswith("v1:") and "000123456789" not in stored.account_ciphertext
        assert len(stored.account_hash) == 64 and stored.account_last4 == "6789"
    listed = billing.call("list_payment_methods", number, token=user(number, "viewer"))
    assert [(method["id"], method["account_last4"]) for method in listed["items"]] == [(added["id"], "6789")]
    assert "000123456789" not in json.dumps(listed)


def test_a_routing_number_with_a_wrong_check_digit_is_422_and_a_viewer_may_not_add(billing, billing_db):
    number = new_group(billing_db)
    bad = refusal(billing.call, "add_payment_method", number, dict(BANK, routing_number="021000022"),
                  token=user(number, "group_admin"))
    assert (bad["status"], bad["errors"]) == (422, {"routing_number": [
        "This is not a valid routing number (its check digit does not match)."]})
    short = refusal(billing.call, "add_payment_method", number, dict(BANK, account_number="123"),
                    token=user(number, "group_admin"))
    assert (short["status"], short["errors"]) == (422, {"account_number": ["An account number is 4 to 17 digits."]})
    assert "123" not in short["detail"]
    assert refusal(billing.call, "add_payment_method", number, BANK, token=user(number, "viewer"))["status"] == 403
    assert refusal(billing.call, "add_payment_method", number, BANK, token=user("OTHER1", "group_admin"))["status"] \
        == 404
    again = add_method(billing, number, user(number, "group_admin"))
    twice = refusal(billing.call, "add_payment_method", number, dict(BANK, account_number="0001-2345-6789"),
                    token=user(number, "group_admin"))
    assert (twice["status"], twice["code"]) == (409, "payment_method_exists")
    assert again["status"] == "active"


def test_a_method_used_by_an_active_auto_pay_cannot_be_removed_until_it_is_cancelled(billing, billing_db):
    number = new_group(billing_db)
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    with Session(billing_db) as session:
        autopay = AutoPay(account_id=account_of(session, "%s-001" % number).id, method_id=method["id"],
                          days_before_due=0, status="active", authorized_by="billing-manager-1", authorized_at=NOW,
                          terms_version="2026-11")
        session.add(autopay)
        session.commit()
        autopay_id = autopay.id
    in_use = refusal(billing.call, "remove_payment_method", number, method["id"], token=manager)
    assert (in_use["status"], in_use["code"]) == (409, "payment_method_in_use")
    assert "%s-001" % number in in_use["detail"]
    with Session(billing_db) as session:
        session.get(AutoPay, autopay_id).status = "cancelled"
        session.commit()
    assert refusal(billing.call, "remove_payment_method", "OTHER1", method["id"],
                   token=user("OTHER1", "group_admin"))["status"] == 404
    removed = billing.call("remove_payment_method", number, method["id"], token=manager)
    assert removed["status"] == "removed"
    assert billing.call("list_payment_methods", number, token=manager)["items"] == []
    gone = refusal(billing.call, "make_payment", number, {"method_id": method["id"], "amount": "10.00"},
                   token=manager)
    assert (gone["status"], gone["errors"]) == (422, {"method_id": ["This bank account was removed from the group."]})


# --- one payment split across two subgroup accounts --------------------------------------------------------

def test_one_payment_split_across_two_subgroup_accounts_pays_both_and_settles_two_business_days_later(
        billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))], "002": [(MAR, D("900.00"))]})
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    paid = billing.call("make_payment", number, {"method_id": method["id"], "amount": "2400.00", "allocations": [
        {"account_number": "%s-001" % number, "amount": "1500.00"},
        {"account_number": "%s-002" % number, "amount": "900.00"}]}, token=manager)
    assert (paid["source"], paid["status"], paid["amount"], paid["received_on"], paid["settles_on"]) == (
        "ach", "pending", "2400.00", "2027-03-10", "2027-03-12")
    assert len(paid["trace_number"]) == 15 and paid["trace_number"].isdigit()
    assert paid["method"] == {"id": method["id"], "nickname": "Operating", "account_type": "checking",
                              "account_last4": "6789"}
    assert paid["allocations"] == [
        {"account_number": "%s-001" % number, "statement_number": None, "amount": "1500.00"},
        {"account_number": "%s-002" % number, "statement_number": None, "amount": "900.00"}]
    # The ledger shows it at once: both accounts are paid up, both months closed.
    assert balances(billing_db, number) == {"001": D("0.00"), "002": D("0.00")}
    assert open_months(billing_db, "%s-001" % number) == ([("2027-03-01", D("0.00"))], D("0.00"))
    [received] = events(billing_db, "payment_received", number)
    assert (received["payment_number"], received["amount"], received["status"], received["method_last4"],
            [a["amount"] for a in received["allocations"]]) == (paid["payment_number"], "2400.00", "pending", "6789",
                                                                ["1500.00", "900.00"])

    assert billing.call("settle_payments", "2027-03-11")["settled"] == []
    settled = billing.call("settle_payments", "2027-03-12")
    assert settled == {"as_of": "2027-03-12", "settled": [paid["payment_number"]]}
    assert billing.call("settle_payments", "2027-03-15")["settled"] == []   # once
    assert events(billing_db, "payment_settled", number) == [
        {"group_number": number, "payment_number": paid["payment_number"], "amount": "2400.00",
         "settled_on": "2027-03-12"}]
    listed = billing.call("list_payments", number, {}, token=user(number, "viewer"))
    assert [(item["payment_number"], item["status"]) for item in listed["items"]] == [
        (paid["payment_number"], "settled")]


def test_settlement_is_for_carrier_staff(billing, billing_db):
    number = new_group(billing_db)
    assert refusal(billing.call, "settle_payments", None, token=user(number, "group_admin"))["status"] == 403


# --- the same payment retried ---------------------------------------------------------------------------

def test_the_same_payment_retried_with_its_key_is_charged_once_and_the_key_with_another_amount_is_422(
        billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))]})
    admin = user(number, "group_admin")
    method = add_method(billing, number, admin)
    body = {"method_id": method["id"], "amount": "1500.00"}
    first = billing.call("make_payment", number, body, token=admin, idempotency_key="pay-march-1")
    again = billing.call("make_payment", number, body, token=admin, idempotency_key="pay-march-1")
    assert again == first
    assert payments_written(billing_db, number) == (1, 1, 1)
    assert balances(billing_db, number, ("001",)) == {"001": D("0.00")}

    other = refusal(billing.call, "make_payment", number, dict(body, amount="1400.00"), token=admin,
                    idempotency_key="pay-march-1")
    assert (other["status"], other["code"]) == (422, "idempotency_key_reused")
    assert payments_written(billing_db, number) == (1, 1, 1)
    assert len(events(billing_db, "payment_received", number)) == 1


# --- refusals write nothing -----------------------------------------------------------------------------

def test_allocations_that_do_not_add_up_are_422_and_write_nothing(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))], "002": [(MAR, D("900.00"))]})
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    short = refusal(billing.call, "make_payment", number, {"method_id": method["id"], "amount": "2400.00",
                                                           "allocations": [
        {"account_number": "%s-001" % number, "amount": "1500.00"},
        {"account_number": "%s-002" % number, "amount": "899.99"}]}, token=manager)
    assert (short["status"], short["errors"]) == (422, {"allocations": [
        "The allocations add up to 2399.99, not the payment's 2400.00."]})
    negative = refusal(billing.call, "make_payment", number, {"method_id": method["id"], "amount": "100.00",
                                                              "allocations": [
        {"account_number": "%s-001" % number, "amount": "150.00"},
        {"account_number": "%s-002" % number, "amount": "-50.00"}]}, token=manager)
    assert negative["errors"] == {"allocations.1.amount": ["An allocation is more than 0.00."]}
    assert payments_written(billing_db, number) == (0, 0, 0)
    assert balances(billing_db, number) == {"001": D("1500.00"), "002": D("900.00")}
    assert events(billing_db, "payment_received", number) == []


def test_an_allocation_to_an_account_the_caller_is_not_granted_is_403_and_writes_nothing(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))], "002": [(MAR, D("900.00"))]})
    method = add_method(billing, number, user(number, "group_admin"))
    limited = user(number, "billing_manager", subgroups=["001"])
    split = {"method_id": method["id"], "amount": "2400.00", "allocations": [
        {"account_number": "%s-001" % number, "amount": "1500.00"},
        {"account_number": "%s-002" % number, "amount": "900.00"}]}
    refused = refusal(billing.call, "make_payment", number, split, token=limited)
    assert refused["status"] == 403
    # A broker sees every account but pays for none unless the group granted it.
    assert refusal(billing.call, "make_payment", number, split, token=user(number, "broker"))["status"] == 403
    unknown = refusal(billing.call, "make_payment", number, dict(split, allocations=[
        {"account_number": "%s-001" % number, "amount": "1500.00"},
        {"account_number": "%s-009" % number, "amount": "900.00"}]), token=user(number, "group_admin"))
    assert (unknown["status"], unknown["code"]) == (404, "account_not_found")
    bad_statement = refusal(billing.call, "make_payment", number, dict(split, allocations=[
        {"account_number": "%s-001" % number, "statement_number": "S202704-%s-002" % number, "amount": "1500.00"},
        {"account_number": "%s-002" % number, "amount": "900.00"}]), token=user(number, "group_admin"))
    assert bad_statement["errors"] == {"allocations.0.statement_number": [
        "Account %s-001 has no statement S202704-%s-002." % (number, number)]}
    assert payments_written(billing_db, number) == (0, 0, 0)
    assert balances(billing_db, number) == {"001": D("1500.00"), "002": D("900.00")}

    # The same user pays for the account they are granted.
    own = billing.call("make_payment", number, {"method_id": method["id"], "amount": "1500.00", "allocations": [
        {"account_number": "%s-001" % number, "amount": "1500.00"}]}, token=limited)
    assert own["status"] == "pending"
    assert balances(billing_db, number) == {"001": D("0.00"), "002": D("900.00")}


def test_a_billing_manager_can_pay_but_a_viewer_and_carrier_staff_cannot(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("500.00"))]})
    method = add_method(billing, number, user(number, "group_admin"))
    body = {"method_id": method["id"], "amount": "500.00"}
    viewer = refusal(billing.call, "make_payment", number, body, token=user(number, "viewer"))
    assert (viewer["status"], viewer["code"]) == (403, "forbidden")
    assert refusal(billing.call, "make_payment", number, body)["status"] == 403   # carrier staff never pay
    assert refusal(billing.call, "make_payment", number, body, token=user("OTHER1", "billing_manager"))["status"] \
        == 404
    assert refusal(billing.call, "make_payment", number, dict(body, method_id=999999),
                   token=user(number, "billing_manager"))["status"] == 404
    assert payments_written(billing_db, number) == (0, 0, 0)
    paid = billing.call("make_payment", number, body, token=user(number, "billing_manager"))
    assert (paid["amount"], paid["allocations"]) == ("500.00", [
        {"account_number": "%s-001" % number, "statement_number": None, "amount": "500.00"}])


# --- where a payment without allocations goes -------------------------------------------------------------

def test_without_allocations_the_oldest_open_months_are_paid_first_and_the_rest_is_a_credit(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(FEB, D("500.00")), (MAR, D("500.00"))],
                                            "002": [(JAN, D("300.00")), (MAR, D("300.00"))]})
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    paid = billing.call("make_payment", number, {"method_id": method["id"], "amount": "1000.00"}, token=manager)
    # JAN 300 (002), FEB 500 (001), MAR 200 of 001's 500 (the account listed first)
    assert [(a["account_number"][-3:], a["amount"]) for a in paid["allocations"]] == [("001", "700.00"),
                                                                                       ("002", "300.00")]
    assert open_months(billing_db, "%s-001" % number) == (
        [("2027-02-01", D("0.00")), ("2027-03-01", D("300.00"))], D("0.00"))
    assert open_months(billing_db, "%s-002" % number) == (
        [("2027-01-01", D("0.00")), ("2027-03-01", D("300.00"))], D("0.00"))

    over = billing.call("make_payment", number, {"method_id": method["id"], "amount": "1000.00"}, token=manager)
    assert [(a["account_number"][-3:], a["amount"]) for a in over["allocations"]] == [("001", "700.00"),
                                                                                       ("002", "300.00")]
    assert balances(billing_db, number) == {"001": D("-400.00"), "002": D("0.00")}


def test_paying_last_months_statement_late_never_makes_the_same_money_owed_twice(billing, billing_db):
    number = new_group(billing_db, subgroups=("001",), charges={"001": [(FEB, D("1500.00"))]})
    with Session(billing_db) as session:
        account = account_of(session, "%s-001" % number)
        ledger.post(session, account, "charge", D("1500.00"), "Premium March 2027", coverage_month=MAR,
                    line_key="M100000001:PPO-1")   # March was billed while February was still unpaid
        session.add(Statement(statement_number="S202702-%s-001" % number, account_id=account.id,
                              group_id=account.group_id, coverage_month=FEB, cut_date=date(2027, 1, 15),
                              due_date=FEB, balance_forward=D("0.00"), payments=D("0.00"), charges=D("1500.00"),
                              adjustments=D("0.00"), amount_due=D("1500.00"), lines=[], issued_at=NOW))
        session.commit()
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    assert balances(billing_db, number, ("001",)) == {"001": D("3000.00")}

    late = billing.call("make_payment", number, {"method_id": method["id"], "amount": "1500.00", "allocations": [
        {"account_number": "%s-001" % number, "statement_number": "S202702-%s-001" % number,
         "amount": "1500.00"}]}, token=manager)
    assert late["allocations"][0]["statement_number"] == "S202702-%s-001" % number
    assert balances(billing_db, number, ("001",)) == {"001": D("1500.00")}
    assert open_months(billing_db, "%s-001" % number) == (
        [("2027-02-01", D("0.00")), ("2027-03-01", D("1500.00"))], D("0.00"))
    billing.call("make_payment", number, {"method_id": method["id"], "amount": "1500.00"}, token=manager)
    assert balances(billing_db, number, ("001",)) == {"001": D("0.00")}


# --- NACHA returns --------------------------------------------------------------------------------------

def nacha_return(*returns):
    """A bank's return file: for each (original trace, reason code, amount in cents) an entry detail record and
    its return addenda, between the headers and controls, 94 characters a line."""
    records = ["101 021000021 091000010" + "2703151200" + "A094101" + "FIRST HARBOR BANK".ljust(23)
               + "HARBOR HEALTH PLAN".ljust(23) + " " * 8,
               "5225HARBOR HEALTH PLAN                  1234567890CCDPREMIUM         270315   1091000010000001"]
    for index, (trace, code, amount) in enumerate(returns, start=1):
        records.append("627021000021000123456789     %010d100234         HARBOR WIDGETS LLC      1%s"
                       % (amount, "0910000100%05d" % index))
        records.append("799%s%s      02100002%s%s" % (code, trace, " " * 44, "0910000100%05d" % index))
    records.append("8225" + "0" * 90)
    records.append("9" + "0" * 93)
    assert all(len(record) == 94 for record in records), [len(record) for record in records]
    return "\n".join(records) + "\n"


def test_a_nacha_return_reverses_the_payment_and_reopens_the_months_it_paid(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(FEB, D("1500.00")), (MAR, D("1500.00"))],
                                            "002": [(MAR, D("900.00"))]})
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    paid = billing.call("make_payment", number, {"method_id": method["id"], "amount": "3900.00"}, token=manager)
    assert balances(billing_db, number) == {"001": D("0.00"), "002": D("0.00")}
    assert open_months(billing_db, "%s-001" % number) == (
        [("2027-02-01", D("0.00")), ("2027-03-01", D("0.00"))], D("0.00"))

    unknown_trace = "021000029999999"
    imported = billing.call("import_ach_returns", nacha_return((paid["trace_number"], "R01", 390000),
                                                               (unknown_trace, "R03", 100)))
    assert imported == {"returned": [{"payment_number": paid["payment_number"], "trace_number": paid["trace_number"],
                                      "return_code": "R01", "return_reason": "Insufficient funds",
                                      "amount": "3900.00", "group_number": number}],
                        "skipped": [], "unknown": [unknown_trace]}
    # Owed again: the months it paid are open again, as if it never came.
    assert balances(billing_db, number) == {"001": D("3000.00"), "002": D("900.00")}
    assert open_months(billing_db, "%s-001" % number) == (
        [("2027-02-01", D("1500.00")), ("2027-03-01", D("1500.00"))], D("0.00"))
    assert open_months(billing_db, "%s-002" % number) == ([("2027-03-01", D("900.00"))], D("0.00"))
    [returned] = events(billing_db, "payment_returned", number)
    assert (returned["payment_number"], returned["return_code"], returned["returned_on"], returned["amount"],
            len(returned["allocations"])) == (paid["payment_number"], "R01", "2027-03-10", "3900.00", 2)
    listed = billing.call("list_payments", number, {"status": "returned"}, token=manager)
    assert [(item["payment_number"], item["return_code"], item["return_reason"], item["returned_on"])
            for item in listed["items"]] == [(paid["payment_number"], "R01", "Insufficient funds", "2027-03-10")]

    # The same file again: nothing is reversed twice; a returned payment never settles.
    again = billing.call("import_ach_returns", nacha_return((paid["trace_number"], "R01", 390000)))
    assert again == {"returned": [], "skipped": [paid["trace_number"]], "unknown": []}
    assert balances(billing_db, number) == {"001": D("3000.00"), "002": D("900.00")}
    assert billing.call("settle_payments", "2027-03-31")["settled"] == []


def test_an_unreadable_return_file_is_422_naming_its_lines_and_only_carrier_staff_import(billing, billing_db):
    number = new_group(billing_db)
    text = nacha_return(("021000020000001", "R01", 100)).split("\n")
    text[2] = text[2][:90]
    bad = refusal(billing.call, "import_ach_returns", "\n".join(text))
    assert (bad["status"], bad["errors"]) == (422, {"file": [
        "Line 3: a record is 94 characters, this one has 90.",
        "Line 4: a return addenda without the entry detail record before it."]})
    assert refusal(billing.call, "import_ach_returns", "", )["status"] == 422
    assert refusal(billing.call, "import_ach_returns", nacha_return(),
                   token=user(number, "group_admin"))["status"] == 403


# --- check and lockbox payments -------------------------------------------------------------------------

def test_carrier_staff_post_a_check_to_any_account_settled_at_once(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))], "002": [(MAR, D("900.00"))]})
    posted = billing.call("post_check_payment", number, {
        "source": "check", "reference": "CHK 10442", "amount": "1000.00", "received_on": "2027-03-09",
        "allocations": [{"account_number": "%s-002" % number, "amount": "1000.00"}]})
    assert (posted["source"], posted["status"], posted["reference"], posted["received_on"], posted["settles_on"],
            posted["trace_number"], posted["method"]) == ("check", "settled", "CHK 10442", "2027-03-09",
                                                          "2027-03-09", None, None)
    assert balances(billing_db, number) == {"001": D("1500.00"), "002": D("-100.00")}
    assert [e["status"] for e in events(billing_db, "payment_received", number)] == ["settled"]
    assert len(events(billing_db, "payment_settled", number)) == 1

    lockbox = billing.call("post_check_payment", number, {"source": "lockbox", "reference": "LBX-0310-7",
                                                          "amount": "1500.00"})
    assert [(a["account_number"][-3:], a["amount"]) for a in lockbox["allocations"]] == [("001", "1500.00")]
    future = refusal(billing.call, "post_check_payment", number, {"source": "check", "reference": "CHK 1",
                                                                   "amount": "5.00", "received_on": "2027-03-11"})
    assert future["errors"] == {"received_on": ["A payment cannot be received after today (2027-03-10)."]}
    assert refusal(billing.call, "post_check_payment", number, {"source": "check", "reference": "CHK 1",
                                                                "amount": "5.00"},
                   token=user(number, "billing_manager"))["status"] == 403


# --- the payment list -----------------------------------------------------------------------------------

def test_a_caller_limited_to_a_subgroup_sees_only_what_went_to_its_account_and_the_csv_matches(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))], "002": [(MAR, D("900.00"))]})
    admin = user(number, "group_admin")
    method = add_method(billing, number, admin)
    split = billing.call("make_payment", number, {"method_id": method["id"], "amount": "2400.00", "allocations": [
        {"account_number": "%s-001" % number, "amount": "1500.00"},
        {"account_number": "%s-002" % number, "amount": "900.00"}]}, token=admin)
    only_001 = billing.call("post_check_payment", number, {"source": "check", "reference": "CHK 7", "amount": "5.00",
                                                           "allocations": [{"account_number": "%s-001" % number,
                                                                            "amount": "5.00"}]})
    viewer_002 = user(number, "viewer", subgroups=["002"])
    seen = billing.call("list_payments", number, {}, token=viewer_002)
    assert (seen["total"], [(item["payment_number"], item["amount"], item["allocations"]) for item in seen["items"]]) \
        == (1, [(split["payment_number"], "900.00",
                 [{"account_number": "%s-002" % number, "statement_number": None, "amount": "900.00"}])])
    everything = billing.call("list_payments", number, {"limit": "1"}, token=admin)
    assert (everything["total"], everything["page"], everything["limit"], len(everything["items"])) == (2, 1, 1, 1)
    assert billing.call("list_payments", number, {"status": "settled"}, token=admin)["items"][0]["payment_number"] \
        == only_001["payment_number"]
    assert billing.call("list_payments", number, {"date_to": "2027-03-09"}, token=admin)["total"] == 0

    exported = billing.call("list_payments", number, {"format": "csv"}, token=viewer_002)
    assert (exported["filename"], exported["content_type"], exported["rows"]) == (
        "payments-%s-20270310.csv" % number, "text/csv", 1)
    lines = base64.b64decode(exported["content_base64"]).decode("utf-8").splitlines()
    assert lines == [
        "payment_number,received_on,source,status,settles_on,payment_amount,account_number,statement_number,"
        "allocated_amount,method_last4,reference,return_code,returned_on",
        "%s,2027-03-10,ach,pending,2027-03-12,900.00,%s-002,,900.00,6789,,," % (split["payment_number"], number)]
    assert refusal(billing.call, "list_payments", number, {"status": "lost"}, token=admin)["errors"] == {
        "status": ["Must be one of: pending, settled, returned."]}


# --- refund requests ------------------------------------------------------------------------------------

def test_a_credit_balance_is_refunded_on_request_once_carrier_staff_approve(billing, billing_db):
    number = new_group(billing_db, charges={"001": [(MAR, D("1500.00"))], "002": [(MAR, D("900.00"))]})
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    billing.call("make_payment", number, {"method_id": method["id"], "amount": "1800.00", "allocations": [
        {"account_number": "%s-001" % number, "amount": "1800.00"}]}, token=manager)
    assert balances(billing_db, number) == {"001": D("-300.00"), "002": D("900.00")}

    none_there = refusal(billing.call, "request_refund", number, {"account_number": "%s-002" % number,
                                                                  "reason": "Overpaid"}, token=manager)
    assert none_there["errors"] == {"account_number": ["The account has no credit balance to refund."]}
    too_much = refusal(billing.call, "request_refund", number, {"account_number": "%s-001" % number,
                                                                "amount": "300.01", "reason": "Overpaid"},
                       token=manager)
    assert too_much["errors"] == {"amount": ["At most the credit balance of 300.00 can be refunded."]}
    assert refusal(billing.call, "request_refund", number, {"account_number": "%s-001" % number, "reason": "x"},
                   token=user(number, "viewer"))["status"] == 403

    small = billing.call("request_refund", number, {"account_number": "%s-001" % number, "amount": "100.00",
                                                    "reason": "Paid March twice"}, token=manager)
    rest = billing.call("request_refund", number, {"account_number": "%s-001" % number, "reason": "The rest"},
                        token=manager)
    assert (small["status"], small["amount"], rest["amount"]) == ("requested", "100.00", "200.00")
    nothing_left = refusal(billing.call, "request_refund", number, {"account_number": "%s-001" % number,
                                                                    "reason": "Again"}, token=manager)
    assert nothing_left["errors"] == {"account_number": ["The account has no credit balance to refund."]}
    assert [(e["request_number"], e["amount"]) for e in events(billing_db, "refund_requested", number)] == [
        (small["request_number"], "100.00"), (rest["request_number"], "200.00")]

    denied = billing.call("decide_refund", small["request_number"], {"decision": "deny", "note": "Keep as credit"})
    assert (denied["status"], denied["decided_by"], denied["decision_note"]) == ("denied", "carrier-1",
                                                                                 "Keep as credit")
    approved = billing.call("decide_refund", rest["request_number"], {"decision": "approve"})
    assert approved["status"] == "completed"
    assert balances(billing_db, number) == {"001": D("-100.00"), "002": D("900.00")}
    twice = refusal(billing.call, "decide_refund", rest["request_number"], {"decision": "approve"})
    assert (twice["status"], twice["code"]) == (409, "refund_already_decided")
    assert refusal(billing.call, "decide_refund", rest["request_number"], {"decision": "approve"},
                   token=manager)["status"] == 403
    assert refusal(billing.call, "decide_refund", "F20270310-NOPE22", {"decision": "deny"})["status"] == 404

    listed = billing.call("list_refund_requests", number, {}, token=user(number, "viewer"))
    assert [(item["request_number"], item["status"]) for item in listed["items"]] == [
        (rest["request_number"], "completed"), (small["request_number"], "denied")]
    assert billing.call("list_refund_requests", number, {}, token=user(number, "viewer", subgroups=["002"])) == {
        "items": []}


def test_a_refund_is_not_approved_when_a_return_took_the_credit_away(billing, billing_db):
    number = new_group(billing_db, subgroups=("001",), charges={"001": [(MAR, D("500.00"))]})
    manager = user(number, "billing_manager")
    method = add_method(billing, number, manager)
    paid = billing.call("make_payment", number, {"method_id": method["id"], "amount": "700.00"}, token=manager)
    asked = billing.call("request_refund", number, {"account_number": "%s-001" % number, "reason": "Overpaid"},
                         token=manager)
    assert asked["amount"] == "200.00"
    billing.call("import_ach_returns", nacha_return((paid["trace_number"], "R02", 70000)))
    refused = refusal(billing.call, "decide_refund", asked["request_number"], {"decision": "approve"})
    assert (refused["status"], refused["code"]) == (409, "credit_balance_changed")
    assert balances(billing_db, number, ("001",)) == {"001": D("500.00")}
