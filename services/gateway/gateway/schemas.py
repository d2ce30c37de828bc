"""marshmallow schemas at the HTTP boundary.

Request bodies are loaded here before any RPC: a bad field is a 422 with a message per field and
never reaches a service (which validates again with its own schema; it trusts no caller).
Response schemas document what the owning service answers (it has already serialised it with its
own output schema, so the gateway forwards it as is); the OpenAPI document is built from both.
"""
import re

from marshmallow import EXCLUDE, Schema, fields, validate
from portal_contracts.forms import Input


class RequestBody(Input):
    """Unknown fields are errors, strings are trimmed, and an empty optional string counts as absent (what an
    HTML form sends for a field left blank): the same rules as the services' wire contracts."""


class ResponseBody(Schema):
    """What the gateway answers. Open to additions (a service may add a field before the schema here
    documents it), so the document does not promise `additionalProperties: false`."""

    class Meta:
        unknown = EXCLUDE


# --- problems -------------------------------------------------------------------------------------

class ProblemSchema(ResponseBody):
    """RFC 9457 problem details, as every error is answered."""
    type = fields.String(metadata={"description": "A stable URI naming the kind of problem."})
    title = fields.String(metadata={"description": "Short, human-readable summary of the kind of problem."})
    status = fields.Integer(metadata={"description": "The HTTP status code."})
    detail = fields.String(metadata={"description": "What went wrong with this request."})
    code = fields.String(metadata={"description": "Stable machine-readable code, e.g. validation_failed."})
    request_id = fields.String(metadata={"description": "Quote it to support; it is in every log line."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Validation messages per field (dotted paths for nested)."})


# --- operations -------------------------------------------------------------------------------------

SERVICE_STATES = ["ok", "unavailable", "timeout", "error"]


class ServiceHealthSchema(ResponseBody):
    status = fields.String(validate=validate.OneOf(SERVICE_STATES))
    service = fields.String()
    detail = fields.String(metadata={"description": "Why the service is not ok."})
    database = fields.String(metadata={"description": "The database dialect the service uses."})
    outbox_unpublished = fields.Integer(metadata={"description": "Events waiting in the service's outbox."})


class HealthSchema(ResponseBody):
    status = fields.String(validate=validate.OneOf(["ok"]))
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceHealthSchema))


class HealthProblemSchema(ProblemSchema):
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceHealthSchema),
                           metadata={"description": "Each service's state; the ones not ok are named in detail."})


# --- roles ---------------------------------------------------------------------------------------

class RoleActionSchema(ResponseBody):
    action = fields.String()
    description = fields.String()


class RoleSchema(ResponseBody):
    role = fields.String(metadata={"description": "Stable role key, e.g. group_admin."})
    name = fields.String()
    description = fields.String()
    scope = fields.String(validate=validate.OneOf(["group", "carrier"]))
    delegate = fields.Boolean(metadata={"description": "A broker/TPA acting for groups that granted it access."})
    actions = fields.List(fields.Nested(RoleActionSchema))
    grantable_actions = fields.List(fields.String(), metadata={"description": "What a group may add for a delegate."})
    sees_full_ssn = fields.Boolean()
    legacy_roles = fields.List(fields.String(), metadata={"description": "Old-portal roles that map to this one."})


# --- support: "Report an Issue" before sign-in -------------------------------------------------------

ISSUE_CATEGORIES = ["registration", "username_recovery", "password_reset", "sign_in", "other"]
PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}(\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)


class IssueReportSchema(RequestBody):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    group_number = fields.String(
        load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9]{1,20}$", error="Use 1 to 20 letters or digits."),
        metadata={"description": "The group number from the welcome letter, if known."})
    phone = fields.String(
        load_default=None,
        validate=validate.Regexp(PHONE, error="Use digits, spaces, + - ( ) . and an optional extension (x123)."))
    category = fields.String(required=True, validate=validate.OneOf(ISSUE_CATEGORIES))
    description = fields.String(required=True, validate=validate.Length(min=10, max=5000))


class IssueReceiptSchema(ResponseBody):
    reference = fields.String(metadata={"description": "The reference number to quote."})
    status = fields.String(metadata={"example": "received"})
    received_at = fields.DateTime()
