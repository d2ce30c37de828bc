"""What a statement cut decides (billing.domain.statements): the month a run cuts, the statement numbers, the
months it re-prices, the retro adjustments per line, and the totals."""
from datetime import date
from decimal import Decimal

import pytest

from billing.domain.premiums import Line
from billing.domain.statements import (Held, adjustments, consolidated_number, coverage_month_to_cut, due_date,
                                       retro_months, statement_number, statement_line, totals)


@pytest.mark.parametrize("as_of,month", [
    (date(2027, 3, 14), None),
    (date(2027, 3, 15), date(2027, 4, 1)),
    (date(2027, 3, 31), date(2027, 4, 1)),
    (date(2027, 12, 15), date(2028, 1, 1)),
    (date(2028, 1, 1), None),
])
def test_the_15th_cuts_next_month(as_of, month):
    assert coverage_month_to_cut(as_of) == month


def test_numbers_and_due_date():
    assert statement_number(date(2027, 4, 1), "100234-001") == "S202704-100234-001"
    assert consolidated_number(date(2027, 4, 1), "100234") == "C202704-100234"
    assert due_date(date(2027, 4, 1)) == date(2027, 4, 1)


def test_retro_months_are_charged_earlier_months_with_a_day_in_the_window():
    charged = [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1), date(2027, 4, 1)]
    # cut 15 April, 60 days: the window starts 14 February, so February (ends the 28th) is in, January is not.
    assert retro_months(date(2027, 5, 1), date(2027, 4, 15), 60, charged) == [
        date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)]
    assert retro_months(date(2027, 5, 1), date(2027, 4, 15), 0, charged) == [date(2027, 4, 1)]
    assert retro_months(date(2027, 2, 1), date(2027, 1, 15), 60, charged) == [date(2027, 1, 1)]


def line(line_key, rate_key, amount, member_id="M000000001"):
    return Line(line_key, "M000000001", member_id, "PPO-1", rate_key, "premium", Decimal(amount))


def held(amount, rate_key="ESP", member_id="M000000001"):
    return Held(Decimal(amount), "M000000001", member_id, "PPO-1", rate_key)


def test_an_adjustment_is_expected_now_minus_what_the_ledger_holds_per_line():
    april = date(2027, 4, 1)
    found = adjustments(april, [line("M000000001:PPO-1", "ESP", "533.33"), line("M000000001:PPO-1", "FAM", "653.33")],
                        {"M000000001:PPO-1": held("1000.00")})
    assert [(a.line_key, a.rate_key, str(a.amount)) for a in found] == [("M000000001:PPO-1", "FAM", "186.66")]
    assert found[0].coverage_month == april
    assert found[0].description == "Adjustment M000000001 PPO-1, April 2027: 1000.00 billed, 1186.66 now"


def test_a_line_gone_is_credited_and_a_new_line_debited_and_equal_lines_left_alone():
    found = adjustments(date(2027, 4, 1),
                        [line("M000000001:PPO-1", "40", "450.50"), line("M000000004:PPO-1", "0-14", "140.00",
                                                                         member_id="M000000004")],
                        {"M000000001:PPO-1": held("450.50", "40"),
                         "M000000002:PPO-1": held("460.25", "41", member_id="M000000002")})
    assert [(a.line_key, a.member_id, a.rate_key, str(a.amount)) for a in found] == [
        ("M000000002:PPO-1", "M000000002", "41", "-460.25"),
        ("M000000004:PPO-1", "M000000004", "0-14", "140.00")]


def test_after_an_adjustment_the_same_month_adjusts_nothing_again():
    assert adjustments(date(2027, 4, 1), [line("M000000001:PPO-1", "FAM", "1400.00")],
                       {"M000000001:PPO-1": held("1400.00")}) == []


def test_totals_carry_the_balance_and_take_the_ledger_balance_as_amount_due():
    taken = [("payment", Decimal("-2400.00")), ("charge", Decimal("1400.00")), ("charge", Decimal("1000.00")),
             ("adjustment", Decimal("186.66")), ("return", Decimal("100.00"))]
    result = totals(Decimal("2400.00"), taken, Decimal("2686.66"))
    assert (str(result.balance_forward), str(result.payments), str(result.charges), str(result.adjustments),
            str(result.amount_due)) == ("2400.00", "-2300.00", "2400.00", "186.66", "2686.66")


def test_a_statement_line_is_json():
    assert statement_line("charge", date(2027, 4, 1), "M000000001:PPO-1", "M000000001", "M000000001", "PPO-1",
                          "FAM", "premium", Decimal("1400")) == {
        "kind": "charge", "coverage_month": "2027-04-01", "line_key": "M000000001:PPO-1", "member_id": "M000000001",
        "subscriber_member_id": "M000000001", "plan_code": "PPO-1", "rate_key": "FAM", "description": "premium",
        "amount": "1400.00"}
