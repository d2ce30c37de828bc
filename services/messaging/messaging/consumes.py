"""messaging's own copy of the event payloads it consumes (unknown fields are ignored)."""
from marshmallow import EXCLUDE, Schema, fields


class IssueReported(Schema):
    class Meta:
        unknown = EXCLUDE

    reference = fields.String(required=True)


CONSUMED = {
    ("messaging", "issue_reported"): IssueReported,
}
