"""Events of billing's payments part, on `billing.events`; see billing.events.

A payment's events are on its aggregate `payment:<payment number>` (received -> settled, or -> returned); a
refund request's on its account's aggregate `account:<account number>`. Every event names the group, so the
group's users are told (notices: payment received, payment returned). Money as strings with two places; a bank
account appears by its last 4 digits at most.
"""
from marshmallow import Schema, fields

from portal_contracts.money import Money

PAYMENT_RECEIVED = "payment_received"
PAYMENT_SETTLED = "payment_settled"
PAYMENT_RETURNED = "payment_returned"
REFUND_REQUESTED = "refund_requested"
VERSION = 1


class AllocationData(Schema):
    account_number = fields.String(required=True)
    statement_number = fields.String(required=True, allow_none=True)
    amount = Money(required=True)


class PaymentReceived(Schema):
    group_number = fields.String(required=True)
    payment_number = fields.String(required=True)
    source = fields.String(required=True)              # ach | autopay | check | lockbox
    status = fields.String(required=True)              # pending (ACH) | settled (check, lockbox)
    amount = Money(required=True)
    received_on = fields.Date(required=True)
    settles_on = fields.Date(required=True, allow_none=True)
    trace_number = fields.String(required=True, allow_none=True)
    reference = fields.String(required=True, allow_none=True)
    method_last4 = fields.String(required=True, allow_none=True)
    allocations = fields.List(fields.Nested(AllocationData), required=True)


class PaymentSettled(Schema):
    group_number = fields.String(required=True)
    payment_number = fields.String(required=True)
    amount = Money(required=True)
    settled_on = fields.Date(required=True)


class PaymentReturned(Schema):
    group_number = fields.String(required=True)
    payment_number = fields.String(required=True)
    amount = Money(required=True)
    trace_number = fields.String(required=True)
    return_code = fields.String(required=True)          # NACHA R01 .. R85
    return_reason = fields.String(required=True)
    returned_on = fields.Date(required=True)
    allocations = fields.List(fields.Nested(AllocationData), required=True)   # re-opened: owed again


class RefundRequested(Schema):
    group_number = fields.String(required=True)
    account_number = fields.String(required=True)
    request_number = fields.String(required=True)
    amount = Money(required=True)
    reason = fields.String(required=True)
    requested_by = fields.String(required=True)


_ALLOCATIONS = [{"account_number": "100234-001", "statement_number": "S202704-100234-001", "amount": "1500.00"},
                {"account_number": "100234-002", "statement_number": None, "amount": "900.00"}]

PUBLISHED = {
    PAYMENT_RECEIVED: {
        "version": VERSION,
        "schema": PaymentReceived,
        "example": {"group_number": "100234", "payment_number": "P20270310-K7Q2MZ", "source": "ach",
                    "status": "pending", "amount": "2400.00", "received_on": "2027-03-10", "settles_on": "2027-03-12",
                    "trace_number": "021000020000042", "reference": None, "method_last4": "6789",
                    "allocations": _ALLOCATIONS},
    },
    PAYMENT_SETTLED: {
        "version": VERSION,
        "schema": PaymentSettled,
        "example": {"group_number": "100234", "payment_number": "P20270310-K7Q2MZ", "amount": "2400.00",
                    "settled_on": "2027-03-12"},
    },
    PAYMENT_RETURNED: {
        "version": VERSION,
        "schema": PaymentReturned,
        "example": {"group_number": "100234", "payment_number": "P20270310-K7Q2MZ", "amount": "2400.00",
                    "trace_number": "021000020000042", "return_code": "R01", "return_reason": "Insufficient funds",
                    "returned_on": "2027-03-15", "allocations": _ALLOCATIONS},
    },
    REFUND_REQUESTED: {
        "version": VERSION,
        "schema": RefundRequested,
        "example": {"group_number": "100234", "account_number": "100234-001", "request_number": "F20270310-Q2MZK7",
                    "amount": "250.00", "reason": "Paid twice in March", "requested_by": "u-1042"},
    },
}
