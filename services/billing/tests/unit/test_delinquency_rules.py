"""Delinquency stages (docs/billing-contract.md): past_due on days 1-15 after the due date of the oldest open
statement, in_grace on days 16..grace_days, terminated_nonpayment from day grace_days + 1 (32 by default);
current when nothing due is open. Each debit is due with the statement that billed it."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.domain import delinquency as rules

MARCH_DUE = date(2027, 3, 1)
APRIL_DUE = date(2027, 4, 1)
D = Decimal


@pytest.mark.parametrize("day, stage", [
    (0, "current"), (1, "past_due"), (15, "past_due"), (16, "in_grace"), (31, "in_grace"),
    (32, "terminated_nonpayment"), (90, "terminated_nonpayment"),
])
def test_the_stage_by_day_after_the_due_date(day, stage):
    assessed = rules.assess(MARCH_DUE + timedelta(days=day), [(MARCH_DUE, D("2400.00"))], D("0"))
    assert assessed.stage == stage
    assert assessed.amount_past_due == (D("0.00") if day == 0 else D("2400.00"))


def test_day_32_is_april_2_for_a_statement_due_march_1():
    assert rules.assess(date(2027, 4, 1), [(MARCH_DUE, D("100.00"))], D("0")).stage == "in_grace"
    terminated = rules.assess(date(2027, 4, 2), [(MARCH_DUE, D("100.00"))], D("0"))
    assert (terminated.stage, terminated.oldest_due_date, terminated.days_late) == (
        "terminated_nonpayment", MARCH_DUE, 32)


def test_the_groups_grace_days_move_the_termination_day():
    debits = [(MARCH_DUE, D("100.00"))]
    assert rules.assess(MARCH_DUE + timedelta(days=45), debits, D("0"), grace_days=45).stage == "in_grace"
    assert rules.assess(MARCH_DUE + timedelta(days=46), debits, D("0"), grace_days=45).stage == \
        "terminated_nonpayment"


def test_payments_pay_the_oldest_statement_first_and_the_oldest_open_one_decides():
    debits = [(MARCH_DUE, D("1000.00")), (APRIL_DUE, D("1000.00"))]
    # March paid in full, April unpaid: 5 days after April's due date.
    assessed = rules.assess(date(2027, 4, 6), debits, D("1000.00"))
    assert (assessed.stage, assessed.oldest_due_date, assessed.amount_past_due) == ("past_due", APRIL_DUE,
                                                                                    D("1000.00"))
    # A cent short on March keeps March the oldest open one: day 36 after it.
    short = rules.assess(date(2027, 4, 6), debits, D("999.99"))
    assert (short.stage, short.oldest_due_date, short.amount_past_due) == ("terminated_nonpayment", MARCH_DUE,
                                                                           D("1000.01"))


def test_nothing_open_or_nothing_due_yet_is_current():
    assert rules.assess(date(2027, 4, 6), [(MARCH_DUE, D("1000.00"))], D("1200.00")).stage == "current"
    # April's statement is cut but not due before April 1: open, yet current.
    assert rules.assess(date(2027, 3, 20), [(MARCH_DUE, D("1000.00")), (APRIL_DUE, D("1000.00"))],
                        D("1000.00")) == rules.Delinquency("current", None, 0, D("0.00"))
    assert rules.assess(date(2027, 3, 20), [], D("0")).stage == "current"


def test_an_adjustment_is_due_with_the_statement_that_billed_it_and_unbilled_debits_are_not_due():
    # A retro debit for January taken up by April's statement is due on April 1, not January 1.
    debits = [(MARCH_DUE, D("500.00")), (APRIL_DUE, D("500.00")), (APRIL_DUE, D("80.00")), (None, D("500.00"))]
    assessed = rules.assess(date(2027, 4, 3), debits, D("500.00"))
    assert (assessed.stage, assessed.oldest_due_date, assessed.amount_past_due) == ("past_due", APRIL_DUE,
                                                                                    D("580.00"))


def test_termination_is_final_and_paid_through_falls_back_to_the_day_before_the_first_month():
    assert rules.next_stage("terminated_nonpayment", "current") == "terminated_nonpayment"
    assert rules.next_stage("in_grace", "current") == "current"
    assert rules.next_stage("current", "terminated_nonpayment") == "terminated_nonpayment"
    assert rules.paid_through_or_before_first_month(date(2027, 2, 28), date(2027, 1, 1)) == date(2027, 2, 28)
    assert rules.paid_through_or_before_first_month(None, date(2027, 1, 1)) == date(2026, 12, 31)
    assert rules.paid_through_or_before_first_month(None, None) is None
