"""Events of billing's part: the statement run (issue 6), on `billing.events`; see billing.events.

statement_issued: a billing account's statement for a coverage month was cut (once per account and month),
on the account's aggregate `account:<account number>`. Money as strings with two places. Notifications
("invoice available") and the group's dashboards listen for it.
"""
from marshmallow import Schema, fields

from portal_contracts.money import Money

STATEMENT_ISSUED = "statement_issued"


class StatementIssued(Schema):
    statement_number = fields.String(required=True)   # S<YYYYMM>-<account number>
    account_number = fields.String(required=True)     # <group>-<subgroup>
    group_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    coverage_month = fields.Date(required=True)       # the 1st of the month it bills
    cut_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    balance_forward = Money(required=True)
    payments = Money(required=True)                   # payments, returns, refunds since the last cut (signed)
    charges = Money(required=True)
    adjustments = Money(required=True)                # retro changes (signed)
    amount_due = Money(required=True)                 # the ledger balance at the cut


PUBLISHED = {
    STATEMENT_ISSUED: {"version": 1, "schema": StatementIssued, "example": {
        "statement_number": "S202704-100234-001", "account_number": "100234-001", "group_number": "100234",
        "subgroup_number": "001", "coverage_month": "2027-04-01", "cut_date": "2027-03-15",
        "due_date": "2027-04-01", "balance_forward": "2400.00", "payments": "-2400.00", "charges": "2400.00",
        "adjustments": "186.66", "amount_due": "2586.66"}},
}
