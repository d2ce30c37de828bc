"""Money: Decimal with two places, rounded half-up per line (DOMAIN.md), never float."""
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value):
    """`value` (Decimal, int or numeric string) rounded half-up to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def apply_oldest_first(debits, credit_total):
    """How much of each debit is still open after `credit_total` (a positive amount) is applied to the debits
    in the order given (oldest first): [(debit key, open amount)]. Credits beyond the debits are a credit
    balance (returned second)."""
    remaining = Decimal(credit_total)
    open_amounts = []
    for key, amount in debits:
        applied = min(max(remaining, ZERO), amount) if amount > 0 else ZERO
        remaining -= applied
        open_amounts.append((key, amount - applied))
    return open_amounts, max(remaining, ZERO)
