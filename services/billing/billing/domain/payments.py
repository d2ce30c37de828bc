"""Payments (DOMAIN.md "payments", docs/billing-contract.md "Rules fixed here"): how an amount is split across
billing accounts, when an ACH payment settles, its NACHA trace number, and what may be refunded.

Pure functions on plain values: the entrypoints (billing.payment_entrypoints) read the ledger and the tables,
these decide.
"""
import secrets
from datetime import timedelta
from decimal import Decimal

from billing.domain.money import ZERO, cents

# Payment sources and statuses (billing.models.Payment)
ACH = "ach"
AUTOPAY = "autopay"
CHECK = "check"
LOCKBOX = "lockbox"
CARRIER_POSTED_SOURCES = (CHECK, LOCKBOX)
ACH_SOURCES = (ACH, AUTOPAY)   # debits that settle later and may come back as a return

PENDING = "pending"
SETTLED = "settled"
RETURNED = "returned"
STATUSES = (PENDING, SETTLED, RETURNED)

SETTLEMENT_BUSINESS_DAYS = 2   # NACHA: an ACH debit settles 2 business days after it is received
MAX_AMOUNT = Decimal("9999999.99")

# Refund requests (billing.models.BillingRequest, kind refund)
REFUND = "refund"
APPROVE = "approve"
DENY = "deny"

_NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # no 0/O or 1/I: read aloud over the phone


def add_business_days(day, count):
    """`day` moved forward by `count` business days (Mon-Fri; a weekend day first moves to Monday's count)."""
    moved = day
    while count > 0:
        moved += timedelta(days=1)
        if moved.weekday() < 5:
            count -= 1
    return moved


def settlement_date(received_on):
    """When an ACH payment received on `received_on` settles unless it is returned first."""
    return add_business_days(received_on, SETTLEMENT_BUSINESS_DAYS)


def new_number(prefix, day):
    """A business reference people can read out: prefix, the date, and 6 random characters (P20270310-K7Q2MZ)."""
    return "%s%s-%s" % (prefix, day.strftime("%Y%m%d"), "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(6)))


def allocation_errors(amount, allocations):
    """The field errors of a split payment ({} when good): every allocation above zero, and together exactly
    the payment's amount, so no cent is left unassigned or assigned twice."""
    errors = {}
    for index, allocation in enumerate(allocations):
        if cents(allocation["amount"]) <= ZERO:
            errors["allocations.%d.amount" % index] = ["An allocation is more than 0.00."]
    if errors:
        return errors
    total = cents(sum((allocation["amount"] for allocation in allocations), ZERO))
    if total != cents(amount):
        errors["allocations"] = ["The allocations add up to %s, not the payment's %s." % (total, cents(amount))]
    return errors


def default_allocations(amount, open_months_by_account):
    """Where a payment without allocations goes: [(account key, amount)] in the accounts' order.

    `open_months_by_account`: [(account key, [(coverage month, amount still open)])], accounts in the order
    the caller sees them. The oldest open month of any account is paid first (ties: the account listed
    first); what is left after every open month goes to the first account as a credit balance."""
    if not open_months_by_account:
        return []
    order = {key: index for index, (key, _months) in enumerate(open_months_by_account)}
    still_open = sorted(((month, order[key], key, cents(open_amount))
                         for key, months in open_months_by_account for month, open_amount in months
                         if cents(open_amount) > ZERO), key=lambda item: (item[0], item[1]))
    remaining = cents(amount)
    paid = {}
    for _month, _index, key, open_amount in still_open:
        if remaining <= ZERO:
            break
        applied = min(remaining, open_amount)
        paid[key] = paid.get(key, ZERO) + applied
        remaining -= applied
    if remaining > ZERO:
        first = open_months_by_account[0][0]
        paid[first] = paid.get(first, ZERO) + remaining
    return [(key, paid[key]) for key, _months in open_months_by_account if key in paid]


def refundable_credit(balance, already_requested):
    """The credit a new refund request may ask for: the credit balance (a negative balance) less what open
    refund requests already ask for, so two requests never refund the same credit."""
    credit = -cents(balance) - cents(already_requested)
    return max(credit, ZERO)


def refund_amount(requested, credit):
    """The amount to refund (`requested`, or all of `credit` when None) and its field errors."""
    if credit <= ZERO:
        return None, {"account_number": ["The account has no credit balance to refund."]}
    if requested is None:
        return credit, {}
    requested = cents(requested)
    if requested <= ZERO:
        return None, {"amount": ["A refund is more than 0.00."]}
    if requested > credit:
        return None, {"amount": ["At most the credit balance of %s can be refunded." % credit]}
    return requested, {}
