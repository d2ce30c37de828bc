"""Wire schemas of identity's admin-side RPCs: a group's users, access requests, broker/TPA delegates, carrier
staff's RPCs (staff and firm users, registration codes, the old portal's users), the audit log and the role
table.

Input schemas refuse unknown fields, trim strings and treat an empty optional string as absent (forms.Input).
identity loads its RPC input with them; the gateway validates HTTP bodies with the same classes and builds the
OpenAPI document from them. Send the JSON body on as received (dates stay YYYY-MM-DD text over RPC).

Times are UTC ISO-8601; dates YYYY-MM-DD.
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal_contracts.forms import Input
from portal_contracts.roster_groups import GROUP_NUMBER, PHONE, SUBGROUP_NUMBER

# DOMAIN.md's roles a group's users may hold (brokers and TPAs come in as delegates; carrier staff are not
# granted per group). servicekit.roles is the one definition; these lists are its wire form.
GROUP_ROLES = ("group_admin", "enrollment_manager", "billing_manager", "viewer")
DELEGATE_ACTIONS = ("change_roster", "pay_billing")                 # what a group may grant a delegate
DELEGATE_BASE_ACTIONS = ("view_roster", "view_billing", "messages")  # what a delegate always has
STAFF_KINDS = ("carrier", "broker", "tpa")
USER_STATUSES = ("invited", "unverified", "active", "deactivated")
ACCESS_REQUEST_STATUSES = ("pending", "approved", "denied")
MAX_PAGE_SIZE = 200


def _name():
    return fields.String(required=True, validate=validate.Length(min=1, max=60))


def _email(**kwargs):
    return fields.Email(validate=validate.Length(max=254), **kwargs)


def _phone(**kwargs):
    return fields.String(validate=validate.Regexp(PHONE, error="Not a phone number."), **kwargs)


def _subgroups(**kwargs):
    return fields.List(
        fields.String(validate=validate.Regexp(SUBGROUP_NUMBER, error="Not a subgroup number.")),
        validate=validate.Length(min=1, error="Name at least one subgroup, or leave the limit out."),
        metadata={"description": "Limit the grant to these subgroups; absent or null = the whole group."},
        **kwargs)


def _group_role(**kwargs):
    return fields.String(validate=validate.OneOf(GROUP_ROLES), **kwargs)


# --- a group's users -------------------------------------------------------------------------------------

class NewUserInput(Input):
    first_name = _name()
    last_name = _name()
    email = _email(required=True)
    phone = _phone(load_default=None, allow_none=True)
    role = _group_role(required=True)
    subgroups = _subgroups(load_default=None, allow_none=True)


class UserChanges(Input):
    """A partial update: fields given replace, fields left out stay. `subgroups: null` lifts a limit. The
    e-mail address can be corrected only while the user has not set up the account (they change it
    themselves afterwards, with a code sent to the new address)."""
    first_name = fields.String(validate=validate.Length(min=1, max=60))
    last_name = fields.String(validate=validate.Length(min=1, max=60))
    email = _email()
    phone = _phone(allow_none=True)
    role = _group_role()
    subgroups = _subgroups(allow_none=True)

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class GroupUser(Schema):
    """A user as a group's admin sees them: the account and its grant on that group."""
    user_id = fields.String()
    username = fields.String(allow_none=True)
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    phone = fields.String(allow_none=True)
    kind = fields.String()
    status = fields.String(metadata={"description": "invited | unverified | active | deactivated"})
    mfa_method = fields.String()
    group_number = fields.String()
    role = fields.String()
    subgroups = fields.List(fields.String(), allow_none=True)
    granted_at = fields.DateTime()
    created_at = fields.DateTime()


class Sent(Schema):
    status = fields.String(metadata={"description": "sent"})


# --- access requests -------------------------------------------------------------------------------------

class AccessRequestInput(Input):
    """Anyone may ask for access to a group; its administrator (or carrier staff) decides."""
    group_number = fields.String(required=True, validate=validate.Regexp(GROUP_NUMBER, error="Not a group number."))
    first_name = _name()
    last_name = _name()
    email = _email(required=True)
    requested_role = _group_role(load_default="viewer")
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class AccessRequestReceipt(Schema):
    reference = fields.String()
    status = fields.String()


class AccessRequestQuery(Input):
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ACCESS_REQUEST_STATUSES))


class ApproveInput(Input):
    """The role to give (default: the one asked for) and an optional subgroup limit."""
    role = _group_role(load_default=None, allow_none=True)
    subgroups = _subgroups(load_default=None, allow_none=True)


class DenyInput(Input):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                           metadata={"description": "Sent to the requester."})


class AccessRequest(Schema):
    id = fields.Integer()
    reference = fields.String()
    group_number = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    requested_role = fields.String()
    reason = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True, metadata={"description": "a denial's reason"})
    granted_role = fields.String(allow_none=True, metadata={"description": "an approval's role"})
    granted_subgroups = fields.List(fields.String(), allow_none=True,
                                    metadata={"description": "an approval's subgroup limit (null: the whole group)"})


# --- broker / TPA delegates ------------------------------------------------------------------------------

class DelegateInput(Input):
    """Let a broker's or TPA's user (by username) into the group, or change what they may do there."""
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    actions = fields.List(fields.String(validate=validate.OneOf(DELEGATE_ACTIONS + DELEGATE_BASE_ACTIONS)),
                          load_default=list, metadata={
                              "description": "change_roster and/or pay_billing; view_roster, view_billing and "
                                             "messages they always have."})


class Delegate(Schema):
    grant_id = fields.Integer()
    group_number = fields.String()
    user_id = fields.String()
    username = fields.String(allow_none=True)
    first_name = fields.String()
    last_name = fields.String()
    kind = fields.String()
    firm_name = fields.String(allow_none=True)
    granted_actions = fields.List(fields.String(), metadata={"description": "what the group chose"})
    actions = fields.List(fields.String(), metadata={"description": "everything the delegate may do"})
    granted_by = fields.String(allow_none=True)
    granted_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


# --- carrier staff ---------------------------------------------------------------------------------------

class StaffUserInput(Input):
    """A carrier staff user, or a broker's or TPA's user (then firm_name is required)."""
    first_name = _name()
    last_name = _name()
    email = _email(required=True)
    phone = _phone(load_default=None, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(STAFF_KINDS))
    firm_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))

    @validates_schema
    def firm_for_firms_only(self, data, **kwargs):
        if data.get("kind") in ("broker", "tpa") and not data.get("firm_name"):
            raise ValidationError("A broker's or TPA's user needs the firm's name.", "firm_name")
        if data.get("kind") == "carrier" and data.get("firm_name"):
            raise ValidationError("Carrier staff have no firm name.", "firm_name")


class StaffUser(Schema):
    user_id = fields.String()
    username = fields.String(allow_none=True)
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    phone = fields.String(allow_none=True)
    kind = fields.String()
    firm_name = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()


class RegistrationCodeInput(Input):
    role = _group_role(load_default="group_admin")
    valid_days = fields.Integer(load_default=30, strict=True, validate=validate.Range(min=1, max=365))


class RegistrationCode(Schema):
    group_number = fields.String()
    role = fields.String()
    code = fields.String(metadata={"description": "Shown once; identity keeps only its hash."})
    expires_at = fields.DateTime()


class LegacyImportInput(Input):
    csv_text = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "CSV with a header row: old_username, first_name, last_name, email, old_role (Super User, "
                       "Eligibility User, Billing User, Inquiry Only), groups (group numbers separated by ;)."})


class LegacyRowReport(Schema):
    row = fields.Integer(metadata={"description": "Line number in the file; the header is row 1."})
    old_username = fields.String()
    old_role = fields.String()
    role = fields.String()
    groups = fields.List(fields.String())
    status = fields.String()


class LegacyImportReport(Schema):
    imported = fields.Integer()
    rows = fields.List(fields.Nested(LegacyRowReport))


# --- the audit log ---------------------------------------------------------------------------------------

class AuditQuery(Input):
    user_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40),
                            metadata={"description": "who acted or was acted on"})
    action = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    group_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    date_from = fields.Date(load_default=None, allow_none=True, metadata={"description": "carrier's time zone"})
    date_to = fields.Date(load_default=None, allow_none=True, metadata={"description": "inclusive"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))

    @validates_schema
    def dates_in_order(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("date_from is after date_to.", "date_from")


class AuditEntry(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    action = fields.String()
    outcome = fields.String()
    group_number = fields.String(allow_none=True)
    remote_addr = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntry))
    total = fields.Integer()
    page = fields.Integer()
    limit = fields.Integer()


# --- the role table (public) -----------------------------------------------------------------------------

class RoleAction(Schema):
    action = fields.String()
    description = fields.String()


class Role(Schema):
    role = fields.String()
    name = fields.String()
    description = fields.String()
    scope = fields.String(metadata={"description": "group (granted per group) or carrier"})
    delegate = fields.Boolean()
    actions = fields.List(fields.Nested(RoleAction))
    grantable_actions = fields.List(fields.String())
    sees_full_ssn = fields.Boolean()
    legacy_roles = fields.List(fields.String(), metadata={"description": "old portal roles that map to it"})


# The admin side's RPCs: (input, output). `input` loads the RPC's JSON argument (None: path values only),
# `output` dumps the answer. The gateway validates with `input` and documents both.
RPC_SCHEMAS = {
    "list_roles": (None, Role(many=True)),
    "list_users": (None, GroupUser(many=True)),
    "get_user": (None, GroupUser),
    "create_user": (NewUserInput, GroupUser),
    "update_user": (UserChanges, GroupUser),
    "deactivate_user": (None, GroupUser),
    "reactivate_user": (None, GroupUser),
    "reset_user_password": (None, Sent),
    "resend_welcome": (None, Sent),
    "request_access": (AccessRequestInput, AccessRequestReceipt),
    "list_access_requests": (AccessRequestQuery, AccessRequest(many=True)),  # the query string
    "approve_access_request": (ApproveInput, AccessRequest),
    "deny_access_request": (DenyInput, AccessRequest),
    "list_delegates": (None, Delegate(many=True)),
    "grant_delegate": (DelegateInput, Delegate),
    "revoke_delegate": (None, Delegate),
    "create_carrier_user": (StaffUserInput, StaffUser),
    "issue_registration_code": (RegistrationCodeInput, RegistrationCode),
    "import_legacy_users": (LegacyImportInput, LegacyImportReport),
    "list_audit": (AuditQuery, AuditPage),  # the query string
}
