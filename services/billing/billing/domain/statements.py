"""What a statement cut decides (DOMAIN.md "Money"; docs/billing-contract.md "Rules"): which coverage month a
run cuts, which earlier months it re-prices, the retro adjustments (expected premium now minus what the ledger
holds, per month and line), the statement's numbers and totals. Pure: no nameko, no SQLAlchemy.
"""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from billing.domain.money import ZERO, cents
from billing.domain.premiums import first_of_month, last_of_month, next_month

CUT_DAY = 15   # the statement of month M is cut on the 15th of the month before
PREMIUM_KINDS = ("charge", "adjustment")


def coverage_month_to_cut(as_of):
    """The coverage month a run on `as_of` cuts: the next month from the 15th on; None before the 15th (the
    month after next is not due yet, and next month's statement was cut last month)."""
    if as_of.day < CUT_DAY:
        return None
    return next_month(first_of_month(as_of))


def due_date(coverage_month):
    """Premium is due on the 1st of the coverage month."""
    return coverage_month


def statement_number(coverage_month, account_number):
    return "S%s-%s" % (coverage_month.strftime("%Y%m"), account_number)


def consolidated_number(coverage_month, group_number):
    return "C%s-%s" % (coverage_month.strftime("%Y%m"), group_number)


def retro_months(coverage_month, cut_date, retro_window_days, charged_months):
    """The earlier months this cut re-prices: already charged, and with a day inside the retro window (a
    change may reach back retro_window_days from the cut; older months stay as billed)."""
    window_start = cut_date - timedelta(days=retro_window_days)
    return sorted(month for month in set(charged_months)
                  if month < coverage_month and last_of_month(month) >= window_start)


@dataclass(frozen=True)
class Held:
    """What the ledger holds for one (month, line_key): the sum and the newest entry's particulars."""
    amount: Decimal
    subscriber_member_id: str | None
    member_id: str | None
    plan_code: str | None
    rate_key: str | None


@dataclass(frozen=True)
class Adjustment:
    coverage_month: object
    line_key: str
    subscriber_member_id: str | None
    member_id: str | None
    plan_code: str | None
    rate_key: str | None
    description: str
    amount: Decimal


def adjustments(coverage_month, expected_lines, held):
    """The retro adjustments of one month: per line_key, the premium expected now (sum of its lines: a month
    with a tier change has a line per segment) minus what the ledger holds for it; zero differences dropped.
    `expected_lines`: premiums.Line; `held`: {line_key: Held}."""
    expected = {}
    for line in expected_lines:
        expected.setdefault(line.line_key, []).append(line)
    found = []
    for line_key in sorted(set(expected) | set(held)):
        lines = expected.get(line_key, [])
        now = cents(sum((line.amount for line in lines), ZERO))
        before = held[line_key].amount if line_key in held else ZERO
        difference = now - before
        if difference == ZERO:
            continue
        # The entry names the line as it is now (its newest segment), or as billed when it is gone.
        if lines:
            newest = lines[-1]
            who = (newest.subscriber_member_id, newest.member_id, newest.plan_code, newest.rate_key)
        else:
            old = held[line_key]
            who = (old.subscriber_member_id, old.member_id, old.plan_code, old.rate_key)
        description = "Adjustment %s %s, %s: %s billed, %s now" % (
            who[1] or line_key, who[2] or "", coverage_month.strftime("%B %Y"), before, now)
        found.append(Adjustment(coverage_month, line_key, *who, description=description, amount=difference))
    return found


@dataclass(frozen=True)
class Totals:
    balance_forward: Decimal
    payments: Decimal
    charges: Decimal
    adjustments: Decimal
    amount_due: Decimal


def totals(balance_forward, taken_up, ledger_balance):
    """The statement's totals: the previous statement's amount due carried forward, the entries it takes up
    [(kind, amount)] (charges, adjustments, and everything else - payments, returns, refunds - as payments),
    and the amount due: the ledger's balance at the cut, read with the entries (so a late payment of last
    month's statement is never owed twice: the balance already holds it)."""
    charges = sum((amount for kind, amount in taken_up if kind == "charge"), ZERO)
    adjusted = sum((amount for kind, amount in taken_up if kind == "adjustment"), ZERO)
    payments = sum((amount for kind, amount in taken_up if kind not in PREMIUM_KINDS), ZERO)
    return Totals(cents(balance_forward), cents(payments), cents(charges), cents(adjusted), cents(ledger_balance))


def statement_line(kind, coverage_month, line_key, member_id, subscriber_member_id, plan_code, rate_key,
                   description, amount):
    """A line as Statement.lines keeps it (JSON: dates ISO, amounts "0.00" strings)."""
    return {"kind": kind, "coverage_month": coverage_month.isoformat() if coverage_month else None,
            "line_key": line_key, "member_id": member_id, "subscriber_member_id": subscriber_member_id,
            "plan_code": plan_code, "rate_key": rate_key, "description": description, "amount": str(cents(amount))}
