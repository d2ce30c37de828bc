"""Rules of the statement history (no nameko, no SQLAlchemy): the paid state of a statement, how a rebill is
numbered and what its amounts are, which member an invoice adjustment may name, and what may be rebilled.

A statement is a frozen cut of the ledger, but whether it is paid is read from the ledger now: the coverage
month is paid when payments, applied oldest month first, leave nothing of it open (billing.ledger.open_months).
"""
import re
from datetime import date
from decimal import Decimal

from billing.domain.money import ZERO, cents
from servicekit.errors import Conflict, ValidationFailed

PREMIUM_KINDS = ("charge", "adjustment")   # what a statement's lines show; the rest are payments and the like
ISSUED = "issued"
SUPERSEDED = "superseded"
_REBILL_SUFFIX = re.compile(r"^(?P<base>.+?)-R(?P<n>[0-9]+)$")


# --- paid state -------------------------------------------------------------------------------------------

def month_paid(open_months, coverage_month):
    """(paid, open amount) of one coverage month from the ledger's [(month, open amount)]. A month the ledger
    holds no premium for owes nothing, so it counts as paid."""
    open_amount = ZERO
    for month, still_open in open_months:
        if month == coverage_month:
            open_amount = cents(still_open)
    return open_amount <= ZERO, max(open_amount, ZERO)


# --- lines ------------------------------------------------------------------------------------------------

def line_out(line):
    """A statement line as stored (JSON: dates and amounts as text) -> typed values for the wire schema."""
    month = line.get("coverage_month")
    return {
        "kind": line.get("kind"),
        "coverage_month": date.fromisoformat(month) if isinstance(month, str) else month,
        "line_key": line.get("line_key"),
        "member_id": line.get("member_id"),
        "subscriber_member_id": line.get("subscriber_member_id"),
        "plan_code": line.get("plan_code"),
        "rate_key": line.get("rate_key"),
        "description": line.get("description") or "",
        "amount": cents(line.get("amount") or 0),
    }


def entry_line(entry):
    """A ledger entry taken up by a statement as one of its lines (stored as JSON: text dates and amounts).
    `entry`: any object with the LedgerEntry attributes."""
    return {
        "kind": entry.kind,
        "coverage_month": entry.coverage_month.isoformat() if entry.coverage_month else None,
        "line_key": entry.line_key,
        "member_id": entry.member_id,
        "subscriber_member_id": entry.subscriber_member_id,
        "plan_code": entry.plan_code,
        "rate_key": entry.rate_key,
        "description": entry.description,
        "amount": str(cents(entry.amount)),
    }


def statement_lines(entries):
    """The lines of a statement: the premium charges and adjustments among the entries it took up, in the
    statement run's order (billing.statement_run): charges first, then adjustments, each by coverage month, line
    (member and plan), then as posted."""
    premium = [entry for entry in entries if entry.kind in PREMIUM_KINDS]
    premium.sort(key=lambda e: (e.kind != "charge", e.coverage_month or date.min, e.line_key or "", e.id or 0))
    return [entry_line(entry) for entry in premium]


# --- rebill -----------------------------------------------------------------------------------------------

def rebill_number(statement_number):
    """S202704-G100-001 -> S202704-G100-001-R1; S202704-G100-001-R1 -> S202704-G100-001-R2."""
    found = _REBILL_SUFFIX.match(statement_number)
    if found:
        return "%s-R%d" % (found.group("base"), int(found.group("n")) + 1)
    return statement_number + "-R1"


def rebill_amounts(entries, balance):
    """The header of a rebill, recomputed from the ledger: `entries` are those the new statement takes up (the
    superseded statement's, and whatever was posted since that no statement took up yet), `balance` the
    account's ledger balance now. The amount due is the balance (what is owed is always the ledger's sum); what
    the statement did not take up was carried forward from earlier cuts."""
    totals = {"charges": ZERO, "adjustments": ZERO, "payments": ZERO}
    for entry in entries:
        if entry.kind == "charge":
            totals["charges"] += Decimal(entry.amount)
        elif entry.kind == "adjustment":
            totals["adjustments"] += Decimal(entry.amount)
        else:   # payments, returns, refunds, write-offs since the previous cut
            totals["payments"] += Decimal(entry.amount)
    totals = {name: cents(value) for name, value in totals.items()}
    amount_due = cents(balance)
    totals["balance_forward"] = amount_due - totals["charges"] - totals["adjustments"] - totals["payments"]
    totals["amount_due"] = amount_due
    return totals


def require_rebillable(statement, newest_month, pending_request):
    """A rebill is asked of the account's newest statement, still issued, once at a time: a later statement
    already carried this one's balance forward, so reissuing an older one would show money twice."""
    if statement.status != ISSUED:
        raise Conflict("Statement %s was already superseded by a rebill." % statement.statement_number,
                       code="statement_superseded")
    if newest_month is not None and statement.coverage_month < newest_month:
        raise Conflict("Only the account's newest statement can be rebilled; %s was followed by a later one."
                       % statement.statement_number, code="statement_not_newest")
    if pending_request is not None:
        raise Conflict("A rebill of %s is already requested (%s)." % (statement.statement_number,
                                                                      pending_request.request_number),
                       code="rebill_already_requested")


# --- adjust invoice ---------------------------------------------------------------------------------------

def require_member_on_statement(lines, families, member_id, change):
    """The member named by an invoice adjustment belongs to a family billed on the statement: `lines` the
    statement's lines, `families` [(subscriber member id, [member ids])] of the families its lines name. A
    family is terminated through its subscriber."""
    member_id = member_id.upper()
    billed = {line.get("subscriber_member_id") for line in lines} | {line.get("member_id") for line in lines}
    billed.discard(None)
    for subscriber, members in families:
        on_statement = subscriber in billed or any(member in billed for member in members)
        if not on_statement or member_id not in {member.upper() for member in members}:
            continue
        if change == "terminate_subscriber" and member_id != subscriber.upper():
            raise ValidationFailed("Terminate a family through its subscriber.",
                                   errors={"member_id": ["%s is a dependent; name the subscriber (%s) to end the "
                                                         "whole family's coverage." % (member_id, subscriber)]})
        return subscriber
    raise ValidationFailed("The member is not billed on this statement.",
                           errors={"member_id": ["No family billed on this statement has member %s." % member_id]})
