"""Events the identity service publishes on `identity.events` (through the outbox).

A user's events are on the aggregate `user:<user_id>` (the public id, a token's `sub`), so a consumer sees one
user's changes in order. An access request has no user yet: its events are on `access_request:<reference>`.

Payloads carry ids, roles, group numbers, subgroups, actions and statuses: what another service needs to act
(refuse a token, show who may do what). Never an e-mail address or a name, and never a password, code or
token: events are kept and replayed for months (OUTBOX_RETENTION_DAYS) and reach systems identity does not
control.

The four revoking events (servicekit.auth.REVOKING_EVENTS) carry `not_before`: every service's
RevocationListener stores it and from then on refuses the user's tokens issued earlier, even unexpired ones.
`record_user_event` sets it, so no caller can forget it.
"""
from marshmallow import Schema, fields, validate

from servicekit import clock
from servicekit.auth import REVOKING_EVENTS

USER_REGISTERED = "user_registered"
USER_UPDATED = "user_updated"
ACCESS_REQUESTED = "access_requested"
ACCESS_GRANTED = "access_granted"
ACCESS_DENIED = "access_denied"
USER_DEACTIVATED = "user_deactivated"
USER_REACTIVATED = "user_reactivated"
PASSWORD_CHANGED = "password_changed"
SESSIONS_REVOKED = "sessions_revoked"
DELEGATE_GRANTED = "delegate_granted"
DELEGATE_REVOKED = "delegate_revoked"
GRANT_CHANGED = "grant_changed"

USER_KINDS = ("group", "broker", "tpa", "carrier")
USER_STATUSES = ("invited", "unverified", "active", "deactivated")
VERSION = 1


def user_aggregate(user_id):
    return "user:%s" % user_id


def access_request_aggregate(reference):
    return "access_request:%s" % reference


# --- payloads ------------------------------------------------------------------------------------------

class GroupGrant(Schema):
    """A role on a group; subgroups None = the whole group; actions only for a delegate (broker/TPA)."""
    group_number = fields.String(required=True)
    role = fields.String(required=True)
    subgroups = fields.List(fields.String(), required=True, allow_none=True)
    actions = fields.List(fields.String(), required=True)


class _UserEvent(Schema):
    user_id = fields.String(required=True)


class _Revoking(_UserEvent):
    not_before = fields.String(required=True, metadata={"description": "UTC ISO time; older tokens are refused"})


class UserRegistered(_UserEvent):
    """A new account: registered (invitation, registration code, old-portal link) or set up by an admin."""
    kind = fields.String(required=True, validate=validate.OneOf(USER_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(USER_STATUSES))
    source = fields.String(required=True, validate=validate.OneOf(
        ("invitation", "registration_code", "legacy", "created_by_admin")))
    groups = fields.List(fields.Nested(GroupGrant), required=True)


class UserUpdated(_UserEvent):
    """The account changed; `changed` names the fields (their values stay in identity)."""
    status = fields.String(required=True, validate=validate.OneOf(USER_STATUSES))
    changed = fields.List(fields.String(), required=True)


class AccessRequested(Schema):
    reference = fields.String(required=True)
    group_number = fields.String(required=True)
    requested_role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.Equal("pending"))


class AccessGranted(Schema):
    """An access request approved: an invitation with this role went to the requester."""
    reference = fields.String(required=True)
    group_number = fields.String(required=True)
    role = fields.String(required=True)
    subgroups = fields.List(fields.String(), required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.Equal("approved"))


class AccessDenied(Schema):
    reference = fields.String(required=True)
    group_number = fields.String(required=True)
    status = fields.String(required=True, validate=validate.Equal("denied"))


class UserDeactivated(_Revoking):
    group_number = fields.String(required=True, allow_none=True, metadata={
        "description": "the group whose admin deactivated the user; None when carrier staff did it outside one"})
    status = fields.String(required=True, validate=validate.Equal("deactivated"))


class UserReactivated(_UserEvent):
    group_number = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(USER_STATUSES))


class PasswordChanged(_Revoking):
    how = fields.String(required=True, validate=validate.OneOf(("changed", "reset", "set_up")))


class SessionsRevoked(_Revoking):
    reason = fields.String(required=True)


class DelegateGranted(_UserEvent):
    """A broker/TPA user let into a group with these actions (on top of the base view/messages ones)."""
    grant_id = fields.Integer(required=True)
    group_number = fields.String(required=True)
    role = fields.String(required=True, validate=validate.Equal("broker"))
    kind = fields.String(required=True, validate=validate.OneOf(("broker", "tpa")))
    actions = fields.List(fields.String(), required=True)


class DelegateRevoked(_UserEvent):
    grant_id = fields.Integer(required=True)
    group_number = fields.String(required=True)


class GrantChanged(_Revoking):
    """The user's grant on a group changed (role, subgroups, actions), was added or was removed (role None):
    tokens carry grants, so the old ones are refused and the user's next token has the new grant."""
    group_number = fields.String(required=True)
    role = fields.String(required=True, allow_none=True)
    subgroups = fields.List(fields.String(), required=True, allow_none=True)
    actions = fields.List(fields.String(), required=True)


_USER = "u-7f3c9a2e41d84b6f"
_NOT_BEFORE = "2026-11-03T14:05:09.412345+00:00"

PUBLISHED = {
    USER_REGISTERED: {"version": VERSION, "schema": UserRegistered, "example": {
        "user_id": _USER, "kind": "group", "status": "invited", "source": "created_by_admin",
        "groups": [{"group_number": "100234", "role": "enrollment_manager", "subgroups": ["001"], "actions": []}]}},
    USER_UPDATED: {"version": VERSION, "schema": UserUpdated, "example": {
        "user_id": _USER, "status": "active", "changed": ["phone", "last_name"]}},
    ACCESS_REQUESTED: {"version": VERSION, "schema": AccessRequested, "example": {
        "reference": "AR-7K2M9Q4T", "group_number": "100234", "requested_role": "viewer", "status": "pending"}},
    ACCESS_GRANTED: {"version": VERSION, "schema": AccessGranted, "example": {
        "reference": "AR-7K2M9Q4T", "group_number": "100234", "role": "viewer", "subgroups": None,
        "status": "approved"}},
    ACCESS_DENIED: {"version": VERSION, "schema": AccessDenied, "example": {
        "reference": "AR-7K2M9Q4T", "group_number": "100234", "status": "denied"}},
    USER_DEACTIVATED: {"version": VERSION, "schema": UserDeactivated, "example": {
        "user_id": _USER, "not_before": _NOT_BEFORE, "group_number": "100234", "status": "deactivated"}},
    USER_REACTIVATED: {"version": VERSION, "schema": UserReactivated, "example": {
        "user_id": _USER, "group_number": "100234", "status": "active"}},
    PASSWORD_CHANGED: {"version": VERSION, "schema": PasswordChanged, "example": {
        "user_id": _USER, "not_before": _NOT_BEFORE, "how": "reset"}},
    SESSIONS_REVOKED: {"version": VERSION, "schema": SessionsRevoked, "example": {
        "user_id": _USER, "not_before": _NOT_BEFORE, "reason": "logout_everywhere"}},
    DELEGATE_GRANTED: {"version": VERSION, "schema": DelegateGranted, "example": {
        "user_id": _USER, "grant_id": 42, "group_number": "100234", "role": "broker", "kind": "broker",
        "actions": ["change_roster"]}},
    DELEGATE_REVOKED: {"version": VERSION, "schema": DelegateRevoked, "example": {
        "user_id": _USER, "grant_id": 42, "group_number": "100234"}},
    GRANT_CHANGED: {"version": VERSION, "schema": GrantChanged, "example": {
        "user_id": _USER, "not_before": _NOT_BEFORE, "group_number": "100234", "role": "billing_manager",
        "subgroups": ["001", "002"], "actions": []}},
}

assert set(REVOKING_EVENTS) <= set(PUBLISHED)  # the kit's listeners consume these; they must exist here


# --- recording -----------------------------------------------------------------------------------------

def record_user_event(outbox, event_type, user, **data):
    """Record one of a user's events in the worker's transaction (`outbox` is the service's `self.outbox`).

    Adds `user_id` (the public id) and, for the revoking events, `not_before` = now: the user's tokens issued
    until now are refused everywhere once the event lands. A payload that does not match the event's schema
    (a missing field, a stray one such as an e-mail address) is a programming error and raises ValueError,
    so nothing unplanned is ever published. The envelope's group_id is the payload's group_number, if any.
    """
    payload = dict(data, user_id=user.user_id)
    if event_type in REVOKING_EVENTS:
        payload["not_before"] = clock.utcnow().isoformat()
    return _record(outbox, event_type, payload, user_aggregate(user.user_id))


def record_access_request_event(outbox, event_type, access_request, **data):
    """Record access_requested / access_granted / access_denied on the request's own aggregate."""
    payload = dict(data, reference=access_request.reference, group_number=access_request.group_number)
    return _record(outbox, event_type, payload, access_request_aggregate(access_request.reference))


def _record(outbox, event_type, payload, aggregate_id):
    spec = PUBLISHED[event_type]
    schema = spec["schema"]()
    dumped = schema.dump(payload)
    errors = schema.validate(dumped)
    unknown = set(payload) - set(schema.fields)
    if errors or unknown:
        raise ValueError("%s payload does not match its schema: %s" % (
            event_type, errors or "unexpected fields %s" % ", ".join(sorted(unknown))))
    return outbox.record(event_type, dumped, aggregate_id, group_id=payload.get("group_number"),
                         version=spec["version"])
