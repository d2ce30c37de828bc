"""Delinquency through the real billing service: the stage of each account by day after the oldest open due
date (past_due day 1, in_grace day 16, terminated_nonpayment day 32), each change published once with the
paid-through date, a payment bringing an account back to current, termination final, a retroactive adjustment
due with the statement that billed it, and the daily job. Data seeded straight into billing's tables."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import BillingAccount, Statement
from servicekit import clock
from servicekit.jobs import ScheduledJob
from servicekit.testing.broker import collect_events
from billingtesting import NOW, refusal, seed_group, user

JAN, FEB, MARCH, APRIL = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)


def account_of(session, number):
    return session.scalar(select(BillingAccount).where(BillingAccount.account_number == number))


def seed_statement(session, account, month, amount, adjustments=()):
    """The statement of `month` (cut on the 15th before, due on the 1st), its charge and the retroactive
    adjustments [(month, amount)] it took up."""
    cut = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 15)
    statement = Statement(statement_number="S%s-%s" % (month.strftime("%Y%m"), account.account_number),
                          account_id=account.id, group_id=account.group_id, coverage_month=month, cut_date=cut,
                          due_date=month, balance_forward=Decimal("0.00"), payments=Decimal("0.00"),
                          charges=Decimal(amount), adjustments=Decimal("0.00"), amount_due=Decimal(amount),
                          status="issued", lines=[], issued_at=NOW)
    session.add(statement)
    session.flush()
    ledger.post(session, account, "charge", Decimal(amount), "Premium", posted_on=cut, coverage_month=month,
                line_key="M100000001:PPO-1", statement_id=statement.id)
    for adjusted_month, adjustment in adjustments:
        ledger.post(session, account, "adjustment", Decimal(adjustment), "Retro", posted_on=cut,
                    coverage_month=adjusted_month, line_key="M100000002:PPO-1", statement_id=statement.id)
    return statement


def pay(billing_db, number, amount, on):
    with Session(billing_db) as session:
        ledger.post(session, account_of(session, number), "payment", -Decimal(amount), "Check", posted_on=on)
        session.commit()


def stage_of(billing_db, number):
    with Session(billing_db) as session:
        account = account_of(session, number)
        return account.delinquency_stage, account.stage_changed_on


def changes(run):
    return [(c["account_number"], c["previous_stage"], c["stage"], c["paid_through"], c["amount_past_due"])
            for c in run["changes"]]


def test_an_unpaid_account_moves_through_the_stages_and_is_terminated_on_day_32(billing, billing_db,
                                                                                billing_config):
    with Session(billing_db) as session:
        group = seed_group(session, "100234", subgroups=("001", "002"))
        paid_up, late = account_of(session, "100234-001"), account_of(session, "100234-002")
        for month in (JAN, FEB, MARCH):
            seed_statement(session, paid_up, month, "2400.00")
        seed_statement(session, late, MARCH, "1000.00")
        session.commit()
        assert group.grace_days == 31
    pay(billing_db, "100234-001", "4800.00", date(2027, 1, 28))   # January and February

    with collect_events(billing_config, "billing.events", "account_delinquency_changed") as events:
        assert billing.call("run_delinquency", "2027-03-01") == {"as_of": "2027-03-01", "changes": []}
        day_1 = billing.call("run_delinquency", "2027-03-02")
        assert changes(day_1) == [("100234-001", "current", "past_due", "2027-02-28", "2400.00"),
                                  ("100234-002", "current", "past_due", "2027-02-28", "1000.00")]
        assert billing.call("run_delinquency", "2027-03-02")["changes"] == []   # once per stage
        pay(billing_db, "100234-002", "1000.00", date(2027, 3, 9))
        assert changes(billing.call("run_delinquency", "2027-03-10")) == [
            ("100234-002", "past_due", "current", "2027-03-31", "0.00")]
        assert billing.call("run_delinquency", "2027-03-16")["changes"] == []   # day 15: still past_due
        assert changes(billing.call("run_delinquency", "2027-03-17")) == [
            ("100234-001", "past_due", "in_grace", "2027-02-28", "2400.00")]
        with Session(billing_db) as session:   # April's statement, cut on March 15, unpaid too
            seed_statement(session, account_of(session, "100234-001"), APRIL, "2400.00")
            session.commit()
        assert billing.call("run_delinquency", "2027-04-01")["changes"] == []   # day 31: the last day of grace
        assert changes(billing.call("run_delinquency", "2027-04-02")) == [
            ("100234-001", "in_grace", "terminated_nonpayment", "2027-02-28", "4800.00")]
        received = events.wait_for(5)

    assert [(event["aggregate_id"], event["data"]["previous_stage"], event["data"]["stage"],
             event["data"]["as_of"], event["data"]["paid_through"], event["data"]["amount_past_due"])
            for event in received] == [
        ("account:100234-001", "current", "past_due", "2027-03-02", "2027-02-28", "2400.00"),
        ("account:100234-002", "current", "past_due", "2027-03-02", "2027-02-28", "1000.00"),
        ("account:100234-002", "past_due", "current", "2027-03-10", "2027-03-31", "0.00"),
        ("account:100234-001", "past_due", "in_grace", "2027-03-17", "2027-02-28", "2400.00"),
        ("account:100234-001", "in_grace", "terminated_nonpayment", "2027-04-02", "2027-02-28", "4800.00")]
    assert stage_of(billing_db, "100234-001") == ("terminated_nonpayment", date(2027, 4, 2))

    # Termination is final: paying afterwards, or a run for an earlier date, does not turn it back.
    pay(billing_db, "100234-001", "4800.00", date(2027, 4, 5))
    assert billing.call("run_delinquency", "2027-04-06")["changes"] == []
    assert billing.call("run_delinquency", "2027-03-20")["changes"] == []
    assert stage_of(billing_db, "100234-001") == ("terminated_nonpayment", date(2027, 4, 2))


def test_a_retroactive_adjustment_is_due_with_the_statement_that_billed_it(billing, billing_db):
    with Session(billing_db) as session:
        seed_group(session, "300500")
        account = account_of(session, "300500-001")
        seed_statement(session, account, FEB, "500.00")
        seed_statement(session, account, MARCH, "500.00")
        # A member added back to February, billed on April's statement (cut 2027-03-15, due 2027-04-01).
        seed_statement(session, account, APRIL, "600.00", adjustments=[(FEB, "100.00")])
        session.commit()
    pay(billing_db, "300500-001", "1000.00", date(2027, 2, 27))   # February and March as billed
    assert billing.call("run_delinquency", "2027-03-20")["changes"] == []
    assert changes(billing.call("run_delinquency", "2027-04-02")) == [
        ("300500-001", "current", "past_due", "2027-02-28", "700.00")]


def test_the_daily_job_assesses_once_per_business_date_and_only_carrier_staff_run_it(billing, billing_db,
                                                                                     billing_service):
    with Session(billing_db) as session:
        seed_group(session, "100234")
        seed_statement(session, account_of(session, "100234-001"), MARCH, "2400.00")
        session.commit()
    assert refusal(billing.call, "run_delinquency", "2027-03-02",
                   token=user("100234", "group_admin"))["status"] == 403
    job = next(entrypoint for entrypoint in billing_service.entrypoints
               if isinstance(entrypoint, ScheduledJob) and entrypoint.job == "delinquency")
    clock.set_today(date(2027, 3, 17))
    job.handle_timer_tick()
    job.worker_complete.wait()
    assert stage_of(billing_db, "100234-001") == ("in_grace", date(2027, 3, 17))
