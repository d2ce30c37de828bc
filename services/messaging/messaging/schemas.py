"""marshmallow schemas for the messaging service's RPC input and output."""
from marshmallow import Schema, fields, validate

from messaging.domain import ISSUE_CATEGORIES


class IssueReportInput(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, validate=validate.Length(max=30))
    group_number = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9]{1,20}$"))
    category = fields.String(required=True, validate=validate.OneOf(ISSUE_CATEGORIES))
    description = fields.String(required=True, validate=validate.Length(min=10, max=5000))
    remote_addr = fields.String(required=True, validate=validate.Length(min=1, max=64))


class IssueReportReceipt(Schema):
    reference = fields.String()
    status = fields.String()
    received_at = fields.DateTime()
