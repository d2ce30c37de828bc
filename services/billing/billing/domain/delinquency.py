"""Delinquency of a billing account (DOMAIN.md "grace period", docs/billing-contract.md): pure rules.

Day N after a due date is the due date + N days. While the oldest due statement is still (partly) unpaid:
  day 1..15               past_due
  day 16..grace_days      in_grace           (grace_days: the group's policy, 31 by default)
  day grace_days + 1..    terminated_nonpayment (day 32 by default: roster ends coverage back to paid_through)
and `current` when nothing due is open.

What is due when: every debit on the ledger is due on the due date of the statement that billed it (a
retroactive adjustment taken up by April's statement is due with April's, not with the month it is for);
payments, returns and refunds apply to the oldest due debit first (billing.domain.money.apply_oldest_first).
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billing.domain.money import ZERO, apply_oldest_first, cents

CURRENT = "current"
PAST_DUE = "past_due"
IN_GRACE = "in_grace"
TERMINATED_NONPAYMENT = "terminated_nonpayment"
STAGES = (CURRENT, PAST_DUE, IN_GRACE, TERMINATED_NONPAYMENT)

PAST_DUE_DAYS = 15         # past_due on days 1..15 after the due date; in_grace from day 16
DEFAULT_GRACE_DAYS = 31

NOT_BILLED_YET = date.max  # a debit no statement has taken up yet: never due (sorted last)


@dataclass(frozen=True)
class Delinquency:
    stage: str
    oldest_due_date: date | None   # the due date of the oldest statement still open (None: nothing due open)
    days_late: int                 # as_of - that due date, in days (0 when current)
    amount_past_due: Decimal       # what is open of the debits due before as_of


def stage_for_days_late(days_late, grace_days=DEFAULT_GRACE_DAYS):
    if days_late <= 0:
        return CURRENT
    if days_late <= PAST_DUE_DAYS:
        return PAST_DUE
    if days_late <= grace_days:
        return IN_GRACE
    return TERMINATED_NONPAYMENT


def assess(as_of, debits, credits, grace_days=DEFAULT_GRACE_DAYS):
    """The account's delinquency on `as_of`. `debits`: [(due date or None when not billed yet, amount)] of
    charges, adjustments, returns and refunds; `credits`: the total of payments and write-offs net of returns and
    refunds (positive), as billing.ledger.open_months counts it."""
    by_due_date = {}
    for due_date, amount in debits:
        key = due_date or NOT_BILLED_YET
        by_due_date[key] = by_due_date.get(key, ZERO) + cents(amount)
    still_open, _credit_left = apply_oldest_first(sorted(by_due_date.items()), credits)
    due_and_open = [(due_date, amount) for due_date, amount in still_open if amount > ZERO and due_date < as_of]
    if not due_and_open:
        return Delinquency(CURRENT, None, 0, ZERO)
    oldest = due_and_open[0][0]
    days_late = (as_of - oldest).days
    return Delinquency(stage_for_days_late(days_late, grace_days), oldest, days_late,
                       cents(sum((amount for _due, amount in due_and_open), ZERO)))


def next_stage(stage_now, assessed):
    """The stage the account moves to. Termination for non-payment is final: coverage has ended (roster's side
    of the saga), so a later payment or the credit of the terminated months does not bring the account back;
    carrier staff reinstate a group by hand."""
    if stage_now == TERMINATED_NONPAYMENT:
        return TERMINATED_NONPAYMENT
    return assessed


def paid_through_or_before_first_month(paid_through, first_billed_month):
    """The last covered day for a termination: the last day of the last fully paid month, or, when nothing was
    ever paid, the day before the first billed month (coverage is cancelled from its start)."""
    if paid_through is not None:
        return paid_through
    if first_billed_month is None:
        return None
    return first_billed_month - timedelta(days=1)

