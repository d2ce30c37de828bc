"""An account's ledger (DOMAIN.md "Money"): the balance is always the sum of its entries; payments apply to
the oldest open charges first. Shared by every part of billing (statements, payments, auto pay, delinquency,
the overview)."""
from datetime import timedelta

from sqlalchemy import func, select

from billing.domain.money import ZERO, apply_oldest_first, cents
from billing.models import LedgerEntry
from servicekit import clock

DEBIT_KINDS = ("charge", "adjustment", "return", "refund")   # may be negative (a credit adjustment)
CREDIT_KINDS = ("payment", "write_off")


def post(session, account, kind, amount, description, posted_on=None, **fields):
    """Add one entry (flushed). `amount`: debits positive, credits negative."""
    entry = LedgerEntry(account_id=account.id, kind=kind, amount=cents(amount), description=description[:200],
                        posted_on=posted_on or clock.today(), created_at=clock.utcnow(), **fields)
    session.add(entry)
    session.flush()
    return entry


def post_many(session, account, entries, posted_on=None):
    """Add several entries with one flush (a statement cut posts a line per member or contract):
    `entries` are dicts of post()'s arguments (kind, amount, description, and LedgerEntry fields)."""
    posted_on, created_at = posted_on or clock.today(), clock.utcnow()
    rows = [LedgerEntry(account_id=account.id, posted_on=posted_on, created_at=created_at,
                        **dict(entry, amount=cents(entry["amount"]), description=entry["description"][:200]))
            for entry in entries]
    session.add_all(rows)
    session.flush()
    return rows


def balance(session, account_id):
    """What the account owes now (negative: a credit balance)."""
    return cents(session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                                .where(LedgerEntry.account_id == account_id)))


def month_balances(session, account_id):
    """[(coverage month, premium billed for it)] oldest first: charges and adjustments by coverage month
    (returns and refunds count as debits of their own, without a month, at the end)."""
    rows = session.execute(
        select(LedgerEntry.coverage_month, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.account_id == account_id, LedgerEntry.kind.in_(("charge", "adjustment")))
        .group_by(LedgerEntry.coverage_month).order_by(LedgerEntry.coverage_month)).all()
    return [(month, cents(amount)) for month, amount in rows]


def open_months(session, account_id):
    """[(coverage month, amount still open)] after every payment, return and refund is applied oldest month
    first, and the credit balance left over. A return re-opens what its payment had paid."""
    credits = -cents(session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.account_id == account_id,
               LedgerEntry.kind.in_(CREDIT_KINDS + ("return", "refund")))))
    return apply_oldest_first(month_balances(session, account_id), credits)


def paid_through(session, account_id):
    """The last day of the last fully paid coverage month, counting from the oldest (None: nothing paid)."""
    last_paid = None
    months, _credit = open_months(session, account_id)
    for month, still_open in months:
        if still_open > ZERO:
            break
        last_paid = month
    if last_paid is None:
        return None
    return (last_paid.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
