"""roster's own copy of the event payloads it consumes from other services (unknown fields are ignored).

Billing's rates_loaded: the plans of a plan year with a complete rate sheet; open enrollment waits for them.

Billing's delinquency (docs/billing-contract.md, "Delinquency stages"): when an account (a subgroup) reaches
`terminated_nonpayment`, roster ends the subgroup's coverage on `paid_through` (roster.nonpayment). Only the
fields roster reads are copied: billing may add fields freely; removing or retyping one of these breaks
tests/contracts/test_event_contracts.py first.
"""
from marshmallow import EXCLUDE, Schema, fields


class AccountDelinquencyChanged(Schema):
    class Meta:
        unknown = EXCLUDE

    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    account_number = fields.String(required=True)
    stage = fields.String(required=True)            # current | past_due | in_grace | terminated_nonpayment
    previous_stage = fields.String(required=True)
    as_of = fields.Date(required=True)
    paid_through = fields.Date(required=True, allow_none=True)   # the last covered day on termination


class RatesLoaded(Schema):
    """Billing has a complete rate sheet for these plans of the plan year: open enrollment may begin."""
    class Meta:
        unknown = EXCLUDE

    group_number = fields.String(required=True)
    plan_year_start = fields.Date(required=True)
    plan_codes = fields.List(fields.String(), required=True)


CONSUMED = {
    ("billing", "account_delinquency_changed"): AccountDelinquencyChanged,
    ("billing", "rates_loaded"): RatesLoaded,
}
