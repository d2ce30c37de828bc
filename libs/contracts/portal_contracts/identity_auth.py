"""Wire schemas of identity's sign-in side (issue 4): sign-in with a second factor, refresh and logout,
registration (new users, old-portal users, the welcome e-mail's set-up link), recovery, and the signed-in
user's own profile, password and TOTP set-up.

Input schemas refuse unknown fields, trim strings and treat an empty optional string as absent
(forms.Input), except passwords, which are kept exactly as typed (spaces are characters like any other,
NIST SP 800-63B). identity loads its RPC input with them; the gateway validates HTTP bodies with the same
classes and builds the OpenAPI document from them. `RPC_SCHEMAS` at the bottom pairs each RPC with its
(input, output).

`remote_addr` in an input is the caller's address, which the GATEWAY fills in (for throttling and the audit);
a client never sends it. Secrets (passwords, codes, tokens) are load-only: no answer ever echoes one, except
the tokens a sign-in or refresh hands out and the TOTP secret being set up.
"""
from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from portal_contracts.forms import Input
from portal_contracts.roster_groups import GROUP_NUMBER, PHONE

USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"
SIX_DIGITS = r"^[0-9]{6}$"
MFA_METHODS = ("email", "totp")
USER_KINDS = ("group", "broker", "tpa", "carrier")
PASSWORD_FIELDS = ("password", "current_password", "new_password")


class AuthInput(Input):
    """forms.Input, but a password is never trimmed: "  correct horse  " is a different password."""

    @pre_load
    def trim_strings(self, data, **kwargs):
        cleaned = super().trim_strings(data, **kwargs)
        if isinstance(data, dict) and isinstance(cleaned, dict):
            for name in PASSWORD_FIELDS:
                if name in data:
                    cleaned[name] = data[name]
        return cleaned


def _remote_addr():
    return fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                         metadata={"description": "The caller's address; the gateway sets it, a client never "
                                                  "sends it."})


def _username(**kwargs):
    return fields.String(validate=validate.Regexp(USERNAME, error="Use 3 to 64 letters, digits, '.', '_', '-' or "
                                                                  "'@', starting with a letter or digit."),
                         **kwargs)


def _new_password(**kwargs):
    # Length and the other rules are checked by identity (identity.domain.credentials.password_problems), which
    # knows the username too; this only bounds what is sent.
    return fields.String(load_only=True, validate=validate.Length(min=1, max=1024),
                         metadata={"description": "12 to 128 characters, anything you can type; not a very "
                                                  "common password and not your username."}, **kwargs)


def _secret(description, **kwargs):
    return fields.String(load_only=True, validate=validate.Length(min=1, max=256),
                         metadata={"description": description}, **kwargs)


def _code(description="The 6-digit code from the e-mail."):
    return fields.String(required=True, load_only=True,
                         validate=validate.Regexp(SIX_DIGITS, error="Enter the 6 digits."),
                         metadata={"description": description})


def _name(**kwargs):
    return fields.String(validate=validate.Length(min=1, max=60), **kwargs)


def _email(**kwargs):
    return fields.Email(validate=validate.Length(max=254), **kwargs)


def _phone(**kwargs):
    return fields.String(validate=validate.Regexp(PHONE, error="Not a phone number."), **kwargs)


# --- answers shared by several RPCs -----------------------------------------------------------------------------

class GroupAccess(Schema):
    """A group the user can act on: the role, the subgroup limit (null = the whole group) and what it allows."""
    group_number = fields.String()
    legal_name = fields.String(allow_none=True)
    role = fields.String()
    subgroups = fields.List(fields.String(), allow_none=True)
    actions = fields.List(fields.String())


class Me(Schema):
    user_id = fields.String()
    username = fields.String(allow_none=True)
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    pending_email = fields.String(allow_none=True, metadata={
        "description": "A new address waiting for the code sent to it (POST /api/v1/me/email/confirm)."})
    phone = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "group | broker | tpa | carrier"})
    mfa_method = fields.String(metadata={"description": "email | totp: the second factor at sign-in"})
    groups = fields.List(fields.Nested(GroupAccess))


class Status(Schema):
    status = fields.String()


# --- sign in --------------------------------------------------------------------------------------------------

class LoginInput(AuthInput):
    # No format rules on what is typed: a malformed username is just a wrong one (the same 401).
    username = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    remote_addr = _remote_addr()


class LoginChallenge(Schema):
    mfa_required = fields.Boolean()
    mfa_token = fields.String(metadata={"description": "Send it with the second factor; 5 minutes, single use."})
    methods = fields.List(fields.String(), metadata={"description": "[\"totp\"] or [\"email\"]"})
    expires_in = fields.Integer(metadata={"description": "Seconds the mfa_token stays valid."})


class MfaCodeRequest(AuthInput):
    mfa_token = _secret("The token login answered.", required=True)
    remote_addr = _remote_addr()


class CodeSent(Schema):
    sent = fields.Boolean()


class MfaVerifyInput(AuthInput):
    mfa_token = _secret("The token login answered.", required=True)
    code = _code("The 6-digit code from the authenticator app, or from the e-mail.")
    remote_addr = _remote_addr()


class TokenPair(Schema):
    access_token = fields.String(metadata={"description": "Send as 'Authorization: Bearer <token>'; minutes."})
    refresh_token = fields.String(metadata={"description": "For POST /api/v1/auth/refresh; rotated each time."})
    token_type = fields.String()
    expires_in = fields.Integer(metadata={"description": "Seconds the access token is valid."})
    refresh_expires_in = fields.Integer(metadata={
        "description": "Seconds the refresh token stays valid unused (12 hours, at most 7 days after sign-in)."})
    user = fields.Nested(Me)


class RefreshInput(AuthInput):
    refresh_token = _secret("The refresh token of the session.", required=True)
    remote_addr = _remote_addr()


class SignedOut(Schema):
    signed_out = fields.Boolean()


# --- registration ---------------------------------------------------------------------------------------------

class RegisterInput(AuthInput):
    """A new user of a group: the group number plus one proof, an invitation code (from the group admin's
    invitation, for this e-mail address) or the group's registration code (from its welcome letter)."""
    group_number = fields.String(required=True, validate=validate.Regexp(GROUP_NUMBER, error="Not a group number."))
    invitation_code = _secret("The invitation's code.", load_default=None, allow_none=True)
    registration_code = _secret("The group's registration code from its welcome letter.", load_default=None,
                                allow_none=True)
    first_name = _name(required=True)
    last_name = _name(required=True)
    email = _email(required=True)
    phone = _phone(load_default=None, allow_none=True)
    username = _username(required=True)
    password = _new_password(required=True)
    remote_addr = _remote_addr()

    @validates_schema
    def one_proof(self, data, **kwargs):
        if bool(data.get("invitation_code")) == bool(data.get("registration_code")):
            raise ValidationError("Give either the invitation code or the group's registration code.",
                                  "invitation_code")


class VerifyRegistrationInput(AuthInput):
    username = fields.String(required=True, validate=validate.Length(min=1, max=254))
    code = _code()
    remote_addr = _remote_addr()


class ExistingUserInput(AuthInput):
    old_username = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                 metadata={"description": "The username on the old portal."})
    remote_addr = _remote_addr()


class ConfirmExistingInput(AuthInput):
    old_username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    code = _code("The 6-digit code sent to the e-mail address the old portal had.")
    username = _username(required=True)
    password = _new_password(required=True)
    remote_addr = _remote_addr()


class LinkedAccount(Schema):
    status = fields.String()
    role = fields.String(metadata={"description": "The new role the old portal's role maps to."})
    groups = fields.List(fields.String())


class SetupInput(AuthInput):
    token = _secret("The token from the welcome e-mail's set-up link.", required=True)
    username = _username(required=True)
    password = _new_password(required=True)
    remote_addr = _remote_addr()


# --- recovery -------------------------------------------------------------------------------------------------

class RecoverUsernameInput(AuthInput):
    email = _email(required=True)
    remote_addr = _remote_addr()


class ResetPasswordInput(AuthInput):
    username_or_email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    remote_addr = _remote_addr()


class ConfirmResetInput(AuthInput):
    token = _secret("The token from the reset link.", required=True)
    password = _new_password(required=True)
    remote_addr = _remote_addr()


# --- the signed-in user -----------------------------------------------------------------------------------------

class ProfileChanges(AuthInput):
    """Fields given replace, fields left out stay. A new e-mail address waits for the code sent to it."""
    first_name = _name()
    last_name = _name()
    phone = _phone(allow_none=True)
    username = _username()
    email = _email()

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class ConfirmEmailInput(AuthInput):
    code = _code("The 6-digit code sent to the new address.")


class ChangePasswordInput(AuthInput):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    new_password = _new_password(required=True)


class TotpSetup(Schema):
    secret = fields.String(metadata={"description": "Base32; type it into the app if the QR image cannot be read."})
    otpauth_uri = fields.String()
    qr_png_base64 = fields.String(metadata={"description": "The otpauth URI as a QR code, PNG, base64."})


class TotpConfirmInput(AuthInput):
    code = _code("A 6-digit code from the authenticator app.")


# The sign-in side's RPCs: (input, output). `input` loads the RPC's JSON argument (None: it takes none), `output`
# dumps the answer. The gateway validates with `input` (without remote_addr, which it fills in) and documents both.
RPC_SCHEMAS = {
    "login": (LoginInput, LoginChallenge),
    "send_mfa_email_code": (MfaCodeRequest, CodeSent),
    "verify_mfa": (MfaVerifyInput, TokenPair),
    "refresh": (RefreshInput, TokenPair),
    "logout": (RefreshInput, SignedOut),
    "register": (RegisterInput, Status),
    "verify_registration": (VerifyRegistrationInput, Status),
    "register_existing": (ExistingUserInput, Status),
    "confirm_existing": (ConfirmExistingInput, LinkedAccount),
    "complete_setup": (SetupInput, Status),
    "recover_username": (RecoverUsernameInput, Status),
    "reset_password": (ResetPasswordInput, Status),
    "confirm_password_reset": (ConfirmResetInput, Status),
    "me": (None, Me),
    "update_me": (ProfileChanges, Me),
    "confirm_email": (ConfirmEmailInput, Me),
    "change_password": (ChangePasswordInput, Status),
    "start_totp_setup": (None, TotpSetup),
    "confirm_totp_setup": (TotpConfirmInput, Me),
    "my_groups": (None, GroupAccess(many=True)),
}
