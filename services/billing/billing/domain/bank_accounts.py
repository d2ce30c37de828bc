"""A group's bank account as a payment method: what makes a routing number real, and what may be shown.

An ABA routing number carries its own check digit: 3 x (d1 + d4 + d7) + 7 x (d2 + d5 + d8) + (d3 + d6 + d9)
is a multiple of 10. Checking it here turns a mistyped number into a 422 at once instead of an ACH return
(R03/R04) days later. Messages never repeat an account number.
"""
import re

ACCOUNT_TYPES = ("checking", "savings")
ACTIVE = "active"
REMOVED = "removed"

_ROUTING = re.compile(r"^\d{9}$")
_WEIGHTS = (3, 7, 1) * 3


def routing_check_digit_ok(routing_number):
    """Whether the 9 digits pass the ABA 3-7-1 check (the 9th digit is the check digit)."""
    if not _ROUTING.match(str(routing_number)):
        return False
    return sum(int(digit) * weight for digit, weight in zip(routing_number, _WEIGHTS)) % 10 == 0


def routing_number_errors(routing_number):
    """The field errors of a routing number ({} when it is good)."""
    if not _ROUTING.match(str(routing_number)):
        return {"routing_number": ["A routing number is 9 digits."]}
    if not routing_check_digit_ok(routing_number):
        return {"routing_number": ["This is not a valid routing number (its check digit does not match)."]}
    return {}


def described(method):
    """How a method is named to people and in ledger lines: its nickname or type, and the last 4 only."""
    return "%s ending %s" % (method.nickname or method.account_type, method.account_last4)
