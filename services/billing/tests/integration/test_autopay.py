"""Auto pay through the real billing service: the authorisation (who may set it, the terms in force, an active
method of the group), the debit run (the statement's debit date, catching up, nothing owed, one NACHA file per
date, a rerun adds nothing) and two replicas running it at once. Groups, statements, ledgers and payment
methods are seeded straight into billing's tables."""
import os
import re
from datetime import date
from decimal import Decimal

import eventlet
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import (AchFile, AutoPay, BillingAccount, LedgerEntry, Payment, PaymentAllocation, PaymentMethod,
                            Statement)
from billing.service import BillingService
from servicekit import tables
from servicekit.crypto import FieldCipher
from servicekit.jobs import ScheduledJob
from servicekit.testing import ServiceClient
from servicekit.testing.broker import collect_events
from billingtesting import NOW, refusal, seed_group, user

TERMS = "2026-11"
MARCH = date(2027, 3, 1)
APRIL = date(2027, 4, 1)


def cipher_of(config):
    return FieldCipher(config["FIELD_ENCRYPTION_KEY"], config["FIELD_HASH_KEY"])


def seed_method(session, config, group, number="123456789", routing="011000015", account_type="checking",
                status="active"):
    cipher = cipher_of(config)
    method = PaymentMethod(group_id=group.id, nickname="Operating", holder_name="Harbor Light Mfg",
                           account_type=account_type, routing_number=routing, account_ciphertext=cipher.encrypt(number),
                           account_last4=cipher.last4(number), account_hash=cipher.lookup_hash(number), status=status,
                           created_by="seed", created_at=NOW)
    session.add(method)
    session.flush()
    return method


def seed_statement(session, account, month, amount, status="issued"):
    """The statement of `month` (cut on the 15th before, due on the 1st) and the charge it took up."""
    cut = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 15)
    statement = Statement(statement_number="S%s-%s" % (month.strftime("%Y%m"), account.account_number),
                          account_id=account.id, group_id=account.group_id, coverage_month=month, cut_date=cut,
                          due_date=month, balance_forward=Decimal("0.00"), payments=Decimal("0.00"),
                          charges=Decimal(amount), adjustments=Decimal("0.00"), amount_due=Decimal(amount),
                          status=status, lines=[], issued_at=NOW)
    session.add(statement)
    session.flush()
    ledger.post(session, account, "charge", Decimal(amount), "Premium %s" % month.strftime("%Y-%m"), posted_on=cut,
                coverage_month=month, line_key="M100000001:PPO-1", statement_id=statement.id)
    return statement


def account_of(session, number):
    return session.scalar(select(BillingAccount).where(BillingAccount.account_number == number))


@pytest.fixture
def harbor(billing_db, billing_config):
    """Group 100234: accounts 001 (owes 2400.00 for March), 002 (1234.56) and 003 (500.00, no auto pay); a
    checking and a savings method. Group 200777 has a method of its own."""
    with Session(billing_db) as session:
        group = seed_group(session, "100234", subgroups=("001", "002", "003"))
        checking = seed_method(session, billing_config, group)
        savings = seed_method(session, billing_config, group, number="000987654321", routing="021000021",
                              account_type="savings")
        removed = seed_method(session, billing_config, group, number="5555", status="removed")
        for subgroup, amount in (("001", "2400.00"), ("002", "1234.56"), ("003", "500.00")):
            seed_statement(session, account_of(session, "100234-%s" % subgroup), MARCH, amount)
        other = seed_group(session, "200777")
        foreign = seed_method(session, billing_config, other, number="9999")
        session.commit()
        return {"checking": checking.id, "savings": savings.id, "removed": removed.id, "foreign": foreign.id}


def authorise(billing, account, method_id, days=3, token=None):
    return billing.call("set_autopay", "100234", account, {
        "method_id": method_id, "days_before_due": days, "accept_terms": True, "terms_version": TERMS},
        token=token or user("100234", "billing_manager"))


def payments(billing_db):
    with Session(billing_db) as session:
        return [(p.payment_number, p.source, p.status, p.amount, p.received_on, p.settles_on, p.trace_number,
                 p.method_id) for p in session.scalars(select(Payment).order_by(Payment.id))]


def balances(billing_db):
    with Session(billing_db) as session:
        return {account.account_number: ledger.balance(session, account.id)
                for account in session.scalars(select(BillingAccount).order_by(BillingAccount.id))}


# --- the authorisation --------------------------------------------------------------------------------------

def test_a_billing_manager_authorises_auto_pay_under_the_current_terms_and_cancels_it(billing, harbor):
    manager = user("100234", "billing_manager", user_id="bm-1")
    assert billing.call("get_autopay", "100234", "100234-001", token=manager)["status"] == "none"

    on = authorise(billing, "100234-001", harbor["checking"], days=3, token=manager)
    assert {key: on[key] for key in ("group_number", "account_number", "status", "method_id", "method_last4",
                                     "account_type", "days_before_due", "terms_version", "authorized_by",
                                     "cancelled_by", "current_terms_version")} == {
        "group_number": "100234", "account_number": "100234-001", "status": "active", "method_id": harbor["checking"],
        "method_last4": "6789", "account_type": "checking", "days_before_due": 3, "terms_version": TERMS,
        "authorized_by": "bm-1", "cancelled_by": None, "current_terms_version": TERMS}
    assert on["authorized_at"].endswith("+00:00")
    assert "123456789" not in str(on)

    seen = billing.call("get_autopay", "100234", "100234-001", token=user("100234", "viewer"))
    assert (seen["status"], seen["days_before_due"], seen["authorized_by"]) == ("active", 3, "bm-1")

    off = billing.call("cancel_autopay", "100234", "100234-001", token=user("100234", "group_admin", user_id="ga-1"))
    assert (off["status"], off["cancelled_by"], off["authorized_by"], off["terms_version"]) == (
        "cancelled", "ga-1", "bm-1", TERMS)
    assert off["cancelled_at"] is not None
    again = authorise(billing, "100234-001", harbor["savings"], days=0, token=manager)
    assert (again["status"], again["method_last4"], again["days_before_due"], again["cancelled_by"]) == (
        "active", "4321", 0, None)
    assert refusal(billing.call, "cancel_autopay", "100234", "100234-002", token=manager)["code"] == \
        "autopay_not_found"


@pytest.mark.parametrize("body, field", [
    ({"days_before_due": 11}, "days_before_due"),
    ({"days_before_due": -1}, "days_before_due"),
    ({"accept_terms": False}, "accept_terms"),
    ({"terms_version": "2025-01"}, "terms_version"),
    ({"method_id": "removed"}, "method_id"),
    ({"method_id": "foreign"}, "method_id"),
    ({"method_id": 987654}, "method_id"),
])
def test_auto_pay_needs_the_terms_in_force_and_an_active_method_of_the_group(billing, billing_db, harbor, body,
                                                                             field):
    sent = {"method_id": harbor["checking"], "days_before_due": 3, "accept_terms": True, "terms_version": TERMS}
    sent.update({key: harbor.get(value, value) if isinstance(value, str) and key == "method_id" else value
                 for key, value in body.items()})
    refused = refusal(billing.call, "set_autopay", "100234", "100234-001", sent,
                      token=user("100234", "billing_manager"))
    assert (refused["status"], list(refused["errors"])) == (422, [field])
    with Session(billing_db) as session:
        assert session.scalar(select(func.count()).select_from(AutoPay)) == 0


def test_who_may_set_auto_pay(billing, billing_db, harbor):
    body = {"method_id": harbor["checking"], "days_before_due": 3, "accept_terms": True, "terms_version": TERMS}
    assert refusal(billing.call, "set_autopay", "100234", "100234-001", body,
                   token=user("100234", "viewer"))["status"] == 403
    assert refusal(billing.call, "set_autopay", "100234", "100234-001", body)["status"] == 403  # carrier staff
    # A billing manager of subgroup 002 only: 403 on 001; another group's user: 404.
    assert refusal(billing.call, "set_autopay", "100234", "100234-001", body,
                   token=user("100234", "billing_manager", subgroups=["002"]))["status"] == 403
    assert refusal(billing.call, "set_autopay", "100234", "100234-001", body,
                   token=user("200777", "billing_manager"))["status"] == 404
    assert refusal(billing.call, "set_autopay", "100234", "200777-001", body,
                   token=user("100234", "billing_manager"))["status"] == 404
    assert billing.call("get_autopay", "100234", "100234-001")["status"] == "none"  # carrier staff may look
    with Session(billing_db) as session:
        assert session.scalar(select(func.count()).select_from(AutoPay)) == 0


# --- the debit run ------------------------------------------------------------------------------------------

def test_the_run_debits_each_account_on_its_debit_date_in_one_nacha_file_and_a_rerun_adds_nothing(
        billing, billing_db, billing_config, harbor):
    authorise(billing, "100234-001", harbor["checking"], days=3)
    authorise(billing, "100234-002", harbor["savings"], days=3)

    assert billing.call("run_autopay", "2027-02-25") == {"as_of": "2027-02-25", "debits": [], "total": "0.00",
                                                         "file": None}
    with collect_events(billing_config, "billing.events", "autopay_debit_scheduled") as events:
        run = billing.call("run_autopay", "2027-02-26")
        received = events.wait_for(2)
    numbers = [debit.pop("payment_number") for debit in run["debits"]]
    assert all(re.fullmatch(r"AP20270226-[A-Z2-9]{6}", number) for number in numbers) and len(set(numbers)) == 2
    assert run["debits"] == [
        {"account_number": "100234-001", "statement_number": "S202703-100234-001", "amount": "2400.00",
         "trace_number": "021000020000001", "settles_on": "2027-03-02"},
        {"account_number": "100234-002", "statement_number": "S202703-100234-002", "amount": "1234.56",
         "trace_number": "021000020000002", "settles_on": "2027-03-02"}]
    assert run["total"] == "3634.56"
    assert run["file"] == {"name": "20270226-autopay.ach", "effective_date": "2027-02-26", "entry_count": 2,
                           "total_debits": "3634.56", "entry_hash": "0003200003"}

    assert payments(billing_db) == [
        (numbers[0], "autopay", "pending", Decimal("2400.00"), date(2027, 2, 26), date(2027, 3, 2),
         "021000020000001", harbor["checking"]),
        (numbers[1], "autopay", "pending", Decimal("1234.56"), date(2027, 2, 26), date(2027, 3, 2),
         "021000020000002", harbor["savings"])]
    assert balances(billing_db) == {"100234-001": Decimal("0.00"), "100234-002": Decimal("0.00"),
                                    "100234-003": Decimal("500.00"), "200777-001": Decimal("0.00")}
    with Session(billing_db) as session:
        allocated = session.execute(select(BillingAccount.account_number, Statement.statement_number,
                                           PaymentAllocation.amount)
                                    .join(BillingAccount, BillingAccount.id == PaymentAllocation.account_id)
                                    .join(Statement, Statement.id == PaymentAllocation.statement_id)
                                    .order_by(PaymentAllocation.id)).all()
        assert allocated == [("100234-001", "S202703-100234-001", Decimal("2400.00")),
                             ("100234-002", "S202703-100234-002", Decimal("1234.56"))]
        entries = session.execute(select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.posted_on)
                                  .where(LedgerEntry.payment_id.is_not(None)).order_by(LedgerEntry.id)).all()
        assert entries == [("payment", Decimal("-2400.00"), date(2027, 2, 26)),
                           ("payment", Decimal("-1234.56"), date(2027, 2, 26))]
        ach = session.scalar(select(AchFile))
        assert (ach.effective_date, ach.entry_count, ach.total_debits, ach.entry_hash) == (
            date(2027, 2, 26), 2, Decimal("3634.56"), "0003200003")

    path = os.path.join(billing_config["VAR_DIR"], "ach", "20270226-autopay.ach")
    assert ach.path == path
    with open(path) as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 10 and all(len(line) == 94 for line in lines)
    entries = [line for line in lines if line[0] == "6"]
    assert [(line[1:3], line[3:12], line[12:29].strip(), line[29:39], line[39:54].strip()) for line in entries] == [
        ("27", "011000015", "123456789", "0000240000", "100234-001"),
        ("37", "021000021", "000987654321", "0000123456", "100234-002")]
    batch_control, file_control = lines[4], lines[5]
    assert batch_control[4:10] == "000002" and batch_control[10:20] == "0003200003"  # 01100001 + 02100002
    assert batch_control[20:32] == file_control[31:43] == "000000363456"

    assert [(event["aggregate_id"], event["data"]["amount"], event["data"]["method_last4"],
             event["data"]["effective_date"]) for event in sorted(received, key=lambda e: e["aggregate_id"])] == [
        ("account:100234-001", "2400.00", "6789", "2027-02-26"), ("account:100234-002", "1234.56", "4321",
                                                                  "2027-02-26")]
    assert all("123456789" not in str(event) and "000987654321" not in str(event) for event in received)

    # A rerun of the date, and the next days, debit nothing again; the file stays as written.
    written = open(path).read()
    assert billing.call("run_autopay", "2027-02-26")["debits"] == []
    assert billing.call("run_autopay", "2027-02-27") == {"as_of": "2027-02-27", "debits": [], "total": "0.00",
                                                         "file": None}
    assert len(payments(billing_db)) == 2 and open(path).read() == written
    assert not os.path.exists(os.path.join(billing_config["VAR_DIR"], "ach", "20270227-autopay.ach"))


def test_a_missed_debit_date_is_caught_up_and_nothing_owed_is_not_debited(billing, billing_db, billing_config,
                                                                          harbor):
    authorise(billing, "100234-001", harbor["checking"], days=5)
    authorise(billing, "100234-002", harbor["checking"], days=0)
    with Session(billing_db) as session:  # 002 paid its March statement by check already
        ledger.post(session, account_of(session, "100234-002"), "payment", Decimal("-1234.56"), "Check 1001",
                    posted_on=date(2027, 2, 20))
        session.commit()
    # 001's debit date was 2027-02-24; the first run after it is on 2027-03-03.
    run = billing.call("run_autopay", "2027-03-03")
    assert [(d["account_number"], d["amount"], d["settles_on"]) for d in run["debits"]] == [
        ("100234-001", "2400.00", "2027-03-05")]
    assert run["file"]["name"] == "20270303-autopay.ach"

    # April's statement: the newest one is the one auto pay debits, on its own date.
    with Session(billing_db) as session:
        seed_statement(session, account_of(session, "100234-001"), APRIL, "2400.00")
        session.commit()
    assert billing.call("run_autopay", "2027-03-26")["debits"] == []
    april = billing.call("run_autopay", "2027-03-27")
    assert [(d["payment_number"][:11], d["statement_number"], d["amount"], d["trace_number"])
            for d in april["debits"]] == [("AP20270327-", "S202704-100234-001", "2400.00", "021000020000002")]


def test_a_cancelled_auto_pay_or_a_removed_method_is_not_debited(billing, billing_db, harbor):
    authorise(billing, "100234-001", harbor["checking"])
    authorise(billing, "100234-002", harbor["savings"])
    billing.call("cancel_autopay", "100234", "100234-001", token=user("100234", "billing_manager"))
    with Session(billing_db) as session:
        session.get(PaymentMethod, harbor["savings"]).status = "removed"
        session.commit()
    assert billing.call("run_autopay", "2027-03-01")["debits"] == []
    assert payments(billing_db) == []


def test_only_carrier_staff_run_the_job(billing, harbor):
    assert refusal(billing.call, "run_autopay", "2027-02-26", token=user("100234", "group_admin"))["status"] == 403
    assert refusal(billing.call, "run_autopay", "26/02/2027")["errors"] == {"as_of": ["Not a valid date."]}


# --- replicas ---------------------------------------------------------------------------------------------------

@pytest.fixture
def second_replica(container_factory, billing_config, billing_service):
    replica = container_factory(BillingService, billing_config)
    replica.start()
    return replica


def tick(job):
    job.handle_timer_tick()
    job.worker_complete.wait()
    job.worker_complete.reset()


def autopay_job(container):
    return next(entrypoint for entrypoint in container.entrypoints
                if isinstance(entrypoint, ScheduledJob) and entrypoint.job == "autopay")


def test_two_replicas_running_auto_pay_at_once_debit_each_account_once(
        billing, billing_db, billing_config, billing_service, second_replica, harbor):
    from servicekit import clock

    authorise(billing, "100234-001", harbor["checking"])
    authorise(billing, "100234-002", harbor["savings"])
    authorise(billing, "100234-003", harbor["checking"])
    clock.set_today(date(2027, 2, 26))
    carrier = ServiceClient("billing", billing_config, token=billing.token)
    # Both replicas' daily ticks and two admin runs (which the broker hands to either replica), all at once.
    runs = [eventlet.spawn(tick, autopay_job(billing_service)), eventlet.spawn(tick, autopay_job(second_replica)),
            eventlet.spawn(carrier.call, "run_autopay", "2027-02-26"),
            eventlet.spawn(carrier.call, "run_autopay", "2027-02-26")]
    answers = [run.wait() for run in runs][2:]

    debited = sorted(d["account_number"] for answer in answers for d in answer["debits"])
    assert set(debited) <= {"100234-001", "100234-002", "100234-003"}
    assert sorted(p[6] for p in payments(billing_db)) == [
        "021000020000001", "021000020000002", "021000020000003"]
    assert balances(billing_db) == {"100234-001": Decimal("0.00"), "100234-002": Decimal("0.00"),
                                    "100234-003": Decimal("0.00"), "200777-001": Decimal("0.00")}
    with Session(billing_db) as session:
        assert session.scalar(select(func.count()).select_from(AchFile)) == 1
        assert session.scalar(select(func.count()).select_from(LedgerEntry)
                              .where(LedgerEntry.kind == "payment")) == 3
        claims = session.execute(select(tables.job_runs.c.job, tables.job_runs.c.unit)
                                 .where(tables.job_runs.c.job.like("autopay%")).order_by(tables.job_runs.c.unit)).all()
    assert claims == [("autopay", "*"), ("autopay_debit", "100234-001:S202703-100234-001"),
                      ("autopay_debit", "100234-002:S202703-100234-002"),
                      ("autopay_debit", "100234-003:S202703-100234-003"), ("autopay_file", "2027-02-26")]
    with open(os.path.join(billing_config["VAR_DIR"], "ach", "20270226-autopay.ach")) as handle:
        assert sum(1 for line in handle if line.startswith("6")) == 3
