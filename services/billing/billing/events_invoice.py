"""Events of billing's part: statement history: search, details, CSV export, PDF, consolidated invoices, rebill
requests, adjust invoice (issue 6), on `billing.events`; see billing.events.

rebill_requested tells the carrier's billing staff (and messaging's notices) that a group asked for a statement to
be reissued. It is on the account's aggregate (`account:<account number>`), ordered with the account's other
events. No money moves: the reason is the group's own words.
"""
from marshmallow import Schema, fields

REBILL_REQUESTED = "rebill_requested"
VERSION = 1


class RebillRequested(Schema):
    request_number = fields.String(required=True)
    group_number = fields.String(required=True)
    account_number = fields.String(required=True)
    subgroup_number = fields.String(required=True)
    statement_number = fields.String(required=True)
    coverage_month = fields.Date(required=True)
    reason = fields.String(required=True)
    requested_by = fields.String(required=True)


PUBLISHED = {
    REBILL_REQUESTED: {
        "version": VERSION,
        "schema": RebillRequested,
        "example": {"request_number": "RB7K2Q9XW4MZ", "group_number": "100234", "account_number": "100234-001",
                    "subgroup_number": "001", "statement_number": "S202704-100234-001",
                    "coverage_month": "2027-04-01", "reason": "Two employees who left in February are still billed.",
                    "requested_by": "u-1042"},
    },
}
