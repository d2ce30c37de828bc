"""Events of billing's part: auto pay (the debits of a run) and delinquency (stage changes), on `billing.events`;
see billing.events. Both are account events (aggregate `account:<account number>`). No bank account numbers:
the method's last 4 at most.

account_delinquency_changed is the start of the non-payment saga: on `terminated_nonpayment` roster ends the
subgroup's coverage on `paid_through` (reason 59). Consumers keep their own copy of the fields they read
(roster/consumes.py).
"""
from marshmallow import Schema, fields, validate

from billing.domain.delinquency import STAGES
from portal_contracts.money import Money

AUTOPAY_DEBIT_SCHEDULED = "autopay_debit_scheduled"
ACCOUNT_DELINQUENCY_CHANGED = "account_delinquency_changed"


class AutopayDebitScheduled(Schema):
    """A debit auto pay put in the day's NACHA file: a pending payment that settles in 2 business days."""
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    account_number = fields.String(required=True)
    payment_number = fields.String(required=True)
    statement_number = fields.String(required=True)
    amount = Money(required=True)
    effective_date = fields.Date(required=True)          # the debit's effective entry date
    settles_on = fields.Date(required=True)
    trace_number = fields.String(required=True)          # the NACHA entry's trace (returns name it)
    method_last4 = fields.String(required=True)


class AccountDelinquencyChanged(Schema):
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    account_number = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    previous_stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    as_of = fields.Date(required=True)
    paid_through = fields.Date(required=True, allow_none=True)   # the last day of the last fully paid month
    amount_past_due = Money(required=True)


PUBLISHED = {
    AUTOPAY_DEBIT_SCHEDULED: {"version": 1, "schema": AutopayDebitScheduled, "example": {
        "group_number": "100234", "subgroup_number": "001", "account_number": "100234-001",
        "payment_number": "AP20270226-0000001", "statement_number": "S202703-100234-001", "amount": "2400.00",
        "effective_date": "2027-02-26", "settles_on": "2027-03-02", "trace_number": "021000020000001",
        "method_last4": "6789"}},
    ACCOUNT_DELINQUENCY_CHANGED: {"version": 1, "schema": AccountDelinquencyChanged, "example": {
        "group_number": "100234", "subgroup_number": "001", "account_number": "100234-001",
        "stage": "terminated_nonpayment", "previous_stage": "in_grace", "as_of": "2027-04-02",
        "paid_through": "2027-02-28", "amount_past_due": "2400.00"}},
}
