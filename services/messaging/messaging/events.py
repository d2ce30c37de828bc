"""Events the messaging service publishes on `messaging.events`.

Payloads carry no personal data: carrier systems learn that a report came in and its reference;
who sent it and what it says stay in messaging's database.
"""
from marshmallow import Schema, fields

ISSUE_REPORTED = "issue_reported"


class IssueReported(Schema):
    reference = fields.String(required=True)
    channel = fields.String(required=True)
    category = fields.String(required=True)
    group_number = fields.String(allow_none=True)


PUBLISHED = {
    ISSUE_REPORTED: {
        "version": 1,
        "schema": IssueReported,
        "example": {"reference": "IR-20261123-7KQ3MZ", "channel": "pre_sign_in",
                    "category": "password_reset", "group_number": "100234"},
    },
}
