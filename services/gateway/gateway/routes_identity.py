"""Identity and access (issue 4): the identity service's paths, top-down as a user meets them.

Sign-in (password, then a second factor; refresh; logout), registration (new users, old-portal users, the
welcome e-mail's set-up link, access requests), recovery, the caller's own profile, a group's users, access
requests and broker/TPA delegates, and the carrier's staff users, registration codes, old-portal import and
audit log. The role table (`GET /api/v1/roles`) stays in app.py.

- The pre-sign-in routes are public. Each passes the caller's address (`remote_addr`: the peer, or the hop
  `TRUSTED_PROXY_HOPS` trusts) where identity's contract asks for it: identity throttles and audits by it. The
  service's answers never tell a known account from an unknown one, and the gateway adds nothing that could
  (no header depends on the account or on how long the service took).
- Cookie mode (session_cookies.py): a browser that sends `X-Session-Mode: cookie` gets its session as HttpOnly
  cookies instead of tokens in the body; refresh and logout then read the refresh token from its cookie, and
  need the CSRF header like every other change made with a cookie.
- Everything else needs sign-in; identity decides what the caller may do (manage_users on the group, carrier
  staff on the admin and audit paths; a group without a grant answers 404).

Bodies and query strings are validated with identity's wire contracts (identity_contracts.py) and sent on as
received; answers are forwarded as the service serialised them.
"""
from flask import current_app, jsonify, request

from gateway import session_cookies, uploads
from gateway.auth import REFRESH_COOKIE, SESSION_COOKIE, CredentialRejected, check_csrf
from gateway.calls import call_service
from gateway.identity_contracts import REMOTE_ADDR, rpc_input, rpc_output, wants_remote_addr
from gateway.problems import Problem, problem_response
from gateway.routes_roster import PATH_PATTERNS as ROSTER_PATH_PATTERNS
from gateway.routing import Routes

SERVICE = "identity"

PATH_PATTERNS = {
    "group": ROSTER_PATH_PATTERNS["group"],  # the same converter as the roster's paths (one per app)
    "user": r"[A-Za-z0-9_-]{1,40}",          # a user's public id
    "id": r"[0-9]{1,18}",                    # an access request's or a delegate grant's id
}

identity_routes = Routes(path_patterns=PATH_PATTERNS)

# Public RPCs that take the caller's address as an argument of their own rather than in the body:
# request_access(request, remote_addr=None) (identity/admin_entrypoints.py).
ADDRESS_ARGUMENT = frozenset({"request_access"})

AUTH = "/api/v1/auth"
ME = "/api/v1/me"
GROUP = "/api/v1/groups/<group:group>"
USERS = GROUP + "/users"
USER = USERS + "/<user:user>"
ACCESS_REQUEST = GROUP + "/access-requests/<id:id>"
DELEGATES = GROUP + "/delegates"
ADMIN = "/api/v1/admin"


SESSION_COOKIE_HEADERS = {"Set-Cookie": {
    "description": "Cookie mode only (request header `X-Session-Mode: cookie`, or the portal_refresh cookie sent): "
                   "portal_session, portal_refresh and portal_csrf.",
    "schema": {"type": "string"}}}
CLEARED_COOKIE_HEADERS = {"Set-Cookie": {
    "description": "Cookie mode only: portal_session, portal_refresh and portal_csrf, expired.",
    "schema": {"type": "string"}}}


def problems(**described):
    """{status: (description, "Problem")} from forbidden="...", not_found="...", ..."""
    statuses = {"unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409, "invalid": 422,
                "throttled": 429}
    return {statuses[name]: (description, "Problem") for name, description in described.items()}


def nothing_required(schema):
    """A body whose fields are all optional may be left out altogether."""
    return not any(field.required for field in schema.fields.values())


def caller_address():
    """The caller's address as the gateway trusts it (app.py: ProxyFix with TRUSTED_PROXY_HOPS)."""
    return request.remote_addr or "unknown"


def anonymous(method, body=None):
    """identity.<method>(body), with the caller's address added where the contract asks for it: a field of the
    body (the input schema has `remote_addr`), or the RPC's `remote_addr` argument (ADDRESS_ARGUMENT)."""
    body = dict(body or {})
    if wants_remote_addr(method):
        body[REMOTE_ADDR] = caller_address()
    if method in ADDRESS_ARGUMENT:
        return call_service(SERVICE, method, body, remote_addr=caller_address())
    return call_service(SERVICE, method, body)


def signed_in_with_cookie():
    """This request is signed in with the session cookie (not a bearer token)."""
    return "Authorization" not in request.headers and bool(request.cookies.get(SESSION_COOKIE))


def with_session(answer, cookies, new_sign_in=True):
    """A token answer as the client wants it: as is, or (`cookies`) as cookies and the JSON without tokens."""
    if cookies and isinstance(answer, dict) and answer.get("access_token") and answer.get("refresh_token"):
        return session_cookies.session_response(request, answer, new_sign_in=new_sign_in)
    return answer


# --- sign in ----------------------------------------------------------------------------------------

THROTTLED = "Too many attempts from this address or for this account; try again later"
SIGN_IN_PROBLEMS = problems(unauthorized="Wrong username or password: the same answer for an unknown username",
                            throttled=THROTTLED)
MFA_PROBLEMS = problems(unauthorized="The sign-in token expired, or the code is wrong, expired or already used",
                        throttled=THROTTLED)


@identity_routes.post(AUTH + "/login", public=True, body=rpc_input("login"), response=rpc_output("login"),
                      validate_only=True, tag="sign-in", problems=SIGN_IN_PROBLEMS,
                      summary="Sign in, step 1: username and password; answers an MFA token and the methods")
def login(body):
    """Never says whether the username exists: a wrong password and an unknown username get the same answer.
    Throttled per account and per address. Then send the second factor to `POST /api/v1/auth/mfa/verify`
    (for the e-mail method, first ask for a code at `POST /api/v1/auth/mfa/email-code`)."""
    return anonymous("login", body)


@identity_routes.post(AUTH + "/mfa/email-code", public=True, body=rpc_input("send_mfa_email_code"),
                      response=rpc_output("send_mfa_email_code"), validate_only=True, tag="sign-in",
                      problems=MFA_PROBLEMS, summary="Sign in, step 2 (e-mail method): e-mail a 6-digit code")
def send_mfa_email_code(body):
    """The code is valid for 10 minutes."""
    return anonymous("send_mfa_email_code", body)


@identity_routes.post(AUTH + "/mfa/verify", public=True, body=rpc_input("verify_mfa"),
                      response=rpc_output("verify_mfa"), response_headers=SESSION_COOKIE_HEADERS, validate_only=True,
                      tag="sign-in", problems=MFA_PROBLEMS,
                      summary="Sign in, step 2: the TOTP or e-mailed code; answers the tokens (or, in cookie mode, "
                              "sets the session cookies)")
def verify_mfa(body):
    """Answers the access token (minutes), a refresh token and the signed-in user. With the header
    `X-Session-Mode: cookie` (the web portal), the answer leaves the tokens out and sets the cookies instead:
    `portal_session` (the access token; HttpOnly), `portal_refresh` (HttpOnly, sent to /api/v1/auth only) and
    `portal_csrf` (readable by scripts: send it back as `X-CSRF-Token` on every POST, PUT, PATCH and DELETE)."""
    return with_session(anonymous("verify_mfa", body), session_cookies.requested(request))


REFRESH_BODY = rpc_input("refresh", partial=("refresh_token",))
LOGOUT_BODY = rpc_input("logout", partial=("refresh_token",))


def presented_refresh_token(body):
    """(refresh token, whether it came from the portal_refresh cookie): the body's wins. The cookie counts only
    with the CSRF header, like any change made with a cookie (403)."""
    if body.get("refresh_token"):
        return body["refresh_token"], False
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        return None, False
    try:
        check_csrf(request)
    except CredentialRejected as rejected:
        raise Problem(rejected.status, rejected.code, rejected.title, rejected.detail) from None
    return cookie, True


def refresh_token_missing():
    return Problem(422, "validation_failed", "The request has invalid fields", "Correct the fields listed in errors.",
                   errors={"refresh_token": ["Send the refresh token, or the %s cookie (cookie mode)."
                                             % REFRESH_COOKIE]})


def session_ended(problem):
    """A refused refresh or logout in cookie mode: the problem, and the cookies cleared (they are no use now).
    A 5xx keeps them: the client may retry."""
    if problem.status >= 500:
        raise problem
    return session_cookies.clear_cookies(problem_response(problem), request)


@identity_routes.post(AUTH + "/refresh", public=True, body=REFRESH_BODY, body_optional=True,
                      response=rpc_output("refresh"), response_headers=SESSION_COOKIE_HEADERS, validate_only=True,
                      tag="sign-in",
                      problems=problems(unauthorized="The refresh token is unknown, expired or revoked: sign in again",
                                        forbidden="The portal_refresh cookie was sent without the X-CSRF-Token "
                                                  "header"),
                      summary="A new access token and a new refresh token (the old one stops working)")
def refresh(body):
    """Send `refresh_token` in the body, or (the web portal) no body: the `portal_refresh` cookie is used, with the
    `X-CSRF-Token` header, and the new tokens are set as cookies again. The refresh token is rotated on every
    refresh; it expires after 12 hours unused, and 7 days after sign-in."""
    token, from_cookie = presented_refresh_token(body)
    cookies = from_cookie or session_cookies.requested(request)
    if token is None:
        if cookies:
            return session_ended(Problem(401, "not_authenticated", "Sign-in required",
                                         "The session has ended (no %s cookie): sign in again." % REFRESH_COOKIE))
        raise refresh_token_missing()
    try:
        answer = anonymous("refresh", dict(body, refresh_token=token))
    except Problem as problem:
        if cookies:
            return session_ended(problem)
        raise
    if cookies and isinstance(answer, dict) and answer.get("access_token"):
        return session_cookies.session_response(request, answer, new_sign_in=False)
    return answer


@identity_routes.post(AUTH + "/logout", public=True, body=LOGOUT_BODY, body_optional=True,
                      response=rpc_output("logout"), response_headers=CLEARED_COOKIE_HEADERS, validate_only=True,
                      tag="sign-in",
                      problems=problems(forbidden="The portal_refresh cookie was sent without the X-CSRF-Token "
                                                  "header"),
                      summary="Sign out: revoke the refresh token (and, in cookie mode, clear the cookies)")
def logout(body):
    """Send `refresh_token` in the body, or (the web portal) no body: the `portal_refresh` cookie is revoked, with
    the `X-CSRF-Token` header, and the three cookies are cleared. The access token expires on its own within
    minutes."""
    token, from_cookie = presented_refresh_token(body)
    cookies = from_cookie or session_cookies.requested(request) or bool(request.cookies.get(SESSION_COOKIE))
    if token is None:
        if cookies:  # nothing left to revoke: forget the cookies
            return session_cookies.clear_cookies(jsonify({"signed_out": True}), request)
        raise refresh_token_missing()
    try:
        answer = anonymous("logout", dict(body, refresh_token=token))
    except Problem as problem:
        if cookies:
            return session_ended(problem)
        raise
    if cookies:
        return session_cookies.clear_cookies(jsonify(answer), request)
    return answer


# --- registration -------------------------------------------------------------------------------------

REGISTRATION_PROBLEMS = problems(
    invalid="Invalid fields; or a wrong, expired or used code; or a password the rules refuse",
    conflict="The username is taken", throttled=THROTTLED)


@identity_routes.post(AUTH + "/register", public=True, body=rpc_input("register"), response=rpc_output("register"),
                      status=201, validate_only=True, tag="registration", problems=REGISTRATION_PROBLEMS,
                      summary="Register a new user: group number + an invitation or registration code, profile, "
                              "username, password; e-mails a verification code")
def register(body):
    """Proof of the group: `invitation_code` (from the group admin's invitation) or `registration_code` (the
    group's, from its welcome letter; carrier staff issue it). Then confirm the e-mailed code at
    `POST /api/v1/auth/register/verify`."""
    return anonymous("register", body)


@identity_routes.post(AUTH + "/register/verify", public=True, body=rpc_input("verify_registration"),
                      response=rpc_output("verify_registration"), validate_only=True, tag="registration",
                      problems=REGISTRATION_PROBLEMS,
                      summary="Confirm the e-mail with its code; the account is active")
def verify_registration(body):
    """Then sign in (e-mail codes are the second factor until TOTP is set up at `POST /api/v1/me/mfa/totp`)."""
    return anonymous("verify_registration", body)


@identity_routes.post(AUTH + "/register/existing", public=True, body=rpc_input("register_existing"),
                      response=rpc_output("register_existing"), validate_only=True, tag="registration",
                      problems=problems(throttled=THROTTLED),
                      summary="A user of the old portal: e-mail a code to the address on file for the old username")
def register_existing(body):
    """Always answers the same, whether or not the old username is known (knowing an e-mail is not enough)."""
    return anonymous("register_existing", body)


@identity_routes.post(AUTH + "/register/existing/confirm", public=True, body=rpc_input("confirm_existing"),
                      response=rpc_output("confirm_existing"), validate_only=True, tag="registration",
                      problems=REGISTRATION_PROBLEMS,
                      summary="Link the old portal's account: the e-mailed code, a new username and password; "
                              "answers the mapped role")
def confirm_existing(body):
    """The old role maps to the new one (`GET /api/v1/roles` shows the table)."""
    return anonymous("confirm_existing", body)


@identity_routes.post(AUTH + "/setup", public=True, body=rpc_input("complete_setup"),
                      response=rpc_output("complete_setup"), validate_only=True, tag="registration",
                      problems=REGISTRATION_PROBLEMS,
                      summary="Complete an account from the welcome e-mail's set-up link: username and password")
def complete_setup(body):
    """For a user a group admin (or carrier staff) set up, or an approved access request: the link's token
    expires after 72 hours."""
    return anonymous("complete_setup", body)


@identity_routes.post(AUTH + "/access-requests", public=True, body=rpc_input("request_access"),
                      response=rpc_output("request_access"), status=201, validate_only=True, tag="registration",
                      problems=problems(invalid="Invalid fields", throttled=THROTTLED),
                      summary="Ask for access to a group; answers a reference (approval or denial is e-mailed)")
def request_access(body):
    """The group admin (or carrier staff, when the group has none) approves or denies."""
    return anonymous("request_access", body)


# --- recovery -----------------------------------------------------------------------------------------

@identity_routes.post(AUTH + "/recover-username", public=True, body=rpc_input("recover_username"),
                      response=rpc_output("recover_username"), validate_only=True, tag="recovery",
                      problems=problems(throttled=THROTTLED),
                      summary="E-mail the username to the address on file (same answer for an unknown address)")
def recover_username(body):
    return anonymous("recover_username", body)


@identity_routes.post(AUTH + "/password-reset", public=True, body=rpc_input("reset_password"),
                      response=rpc_output("reset_password"), validate_only=True, tag="recovery",
                      problems=problems(throttled=THROTTLED),
                      summary="E-mail a password reset link (same answer for an unknown account)")
def reset_password(body):
    """The link's token is single use and expires after 30 minutes."""
    return anonymous("reset_password", body)


@identity_routes.post(AUTH + "/password-reset/confirm", public=True, body=rpc_input("confirm_password_reset"),
                      response=rpc_output("confirm_password_reset"), validate_only=True, tag="recovery",
                      problems=problems(invalid="Invalid fields; the token is wrong, expired or used; or the "
                                                "password is refused", throttled=THROTTLED),
                      summary="Set a new password with the reset token; every session is signed out")
def confirm_password_reset(body):
    return anonymous("confirm_password_reset", body)


# --- my profile -------------------------------------------------------------------------------------

@identity_routes.get(ME, response=rpc_output("me"), tag="profile",
                     summary="Me: profile, second-factor method, and my groups with role, subgroups and actions")
def me():
    return call_service(SERVICE, "me")


@identity_routes.patch(ME, body=rpc_input("update_me"), response=rpc_output("update_me"), validate_only=True,
                       tag="profile", problems=problems(conflict="The username is taken"),
                       summary="Update my name, phone, username or e-mail (a new e-mail waits for its code)")
def update_me(body):
    """A new e-mail address is e-mailed a code and replaces the old one once confirmed at
    `POST /api/v1/me/email/confirm`."""
    return call_service(SERVICE, "update_me", body)


@identity_routes.post(ME + "/email/confirm", body=rpc_input("confirm_email"), response=rpc_output("confirm_email"),
                      validate_only=True, tag="profile",
                      problems=problems(invalid="The code is wrong, expired or used"),
                      summary="Confirm a new e-mail address with the code sent to it")
def confirm_email(body):
    return call_service(SERVICE, "confirm_email", body)


@identity_routes.post(ME + "/password", body=rpc_input("change_password"), response=rpc_output("change_password"),
                      validate_only=True, tag="profile",
                      problems=problems(invalid="The current password is wrong, or the new one is refused"),
                      summary="Change my password (the current one is required); my other sessions are signed out")
def change_password(body):
    """Should the answer carry new tokens (this session's old ones being revoked with the others), a browser signed
    in with the session cookie gets them as cookies, like a sign-in."""
    answer = call_service(SERVICE, "change_password", body)
    return with_session(answer, session_cookies.requested(request) or signed_in_with_cookie(), new_sign_in=False)


@identity_routes.post(ME + "/mfa/totp", response=rpc_output("start_totp_setup"), tag="profile",
                      summary="Start (or redo) TOTP set-up: a secret, its otpauth URI and a QR image")
def start_totp_setup():
    """Scan the QR image (PNG, base64) with an authenticator app, then confirm with a code at
    `POST /api/v1/me/mfa/totp/confirm`; until then the second factor does not change."""
    return call_service(SERVICE, "start_totp_setup")


@identity_routes.post(ME + "/mfa/totp/confirm", body=rpc_input("confirm_totp_setup"),
                      response=rpc_output("confirm_totp_setup"), validate_only=True, tag="profile",
                      problems=problems(invalid="The code is wrong, or no TOTP set-up was started"),
                      summary="Confirm TOTP set-up with a code from the app: TOTP becomes my second factor")
def confirm_totp_setup(body):
    return call_service(SERVICE, "confirm_totp_setup", body)


@identity_routes.get(ME + "/groups", response=rpc_output("my_groups"), tag="profile",
                     summary="The groups I hold a grant on, with my role, subgroups and actions on each")
def my_groups():
    return call_service(SERVICE, "my_groups")


# --- a group's users (group admins, carrier staff) ------------------------------------------------------

MANAGE = "Your role may not manage this group's users"
NO_GROUP = "No such group (or no grant for it)"
NO_USER = "No such user in this group (or no grant for the group)"


@identity_routes.get(USERS, response=rpc_output("list_users"), tag="users",
                     problems=problems(forbidden=MANAGE, not_found=NO_GROUP),
                     summary="The group's users, with their role and subgroups on it")
def list_users(group):
    return call_service(SERVICE, "list_users", group)


@identity_routes.post(USERS, body=rpc_input("create_user"), response=rpc_output("create_user"), status=201,
                      validate_only=True, tag="users",
                      problems=problems(forbidden=MANAGE + ", or give that role", not_found=NO_GROUP,
                                        conflict="The e-mail already belongs to a user of the group"),
                      summary="Set up a user: profile, role, optional subgroups; e-mails a set-up link (72 hours)")
def create_user(group, body):
    return call_service(SERVICE, "create_user", group, body)


@identity_routes.get(USER, response=rpc_output("get_user"), tag="users",
                     problems=problems(forbidden=MANAGE, not_found=NO_USER),
                     summary="One user of the group, with their grant on it")
def get_user(group, user):
    return call_service(SERVICE, "get_user", group, user)


@identity_routes.patch(USER, body=rpc_input("update_user"), response=rpc_output("update_user"), validate_only=True,
                       tag="users", problems=problems(forbidden=MANAGE, not_found=NO_USER),
                       summary="Update a user's profile, role or subgroups on the group")
def update_user(group, user, body):
    """A changed role or subgroups takes effect at once: the user's older tokens are refused."""
    return call_service(SERVICE, "update_user", group, user, body)


@identity_routes.post(USER + "/deactivate", response=rpc_output("deactivate_user"), tag="users",
                      problems=problems(forbidden=MANAGE, not_found=NO_USER),
                      summary="Deactivate a user: every service refuses their tokens at once")
def deactivate_user(group, user):
    return call_service(SERVICE, "deactivate_user", group, user)


@identity_routes.post(USER + "/reactivate", response=rpc_output("reactivate_user"), tag="users",
                      problems=problems(forbidden=MANAGE, not_found=NO_USER), summary="Reactivate a user")
def reactivate_user(group, user):
    return call_service(SERVICE, "reactivate_user", group, user)


@identity_routes.post(USER + "/reset-password", response=rpc_output("reset_user_password"), tag="users",
                      problems=problems(forbidden=MANAGE, not_found=NO_USER),
                      summary="E-mail the user a password reset link")
def reset_user_password(group, user):
    return call_service(SERVICE, "reset_user_password", group, user)


@identity_routes.post(USER + "/resend-welcome", response=rpc_output("resend_welcome"), tag="users",
                      problems=problems(forbidden=MANAGE, not_found=NO_USER,
                                        conflict="The user has already completed set-up"),
                      summary="E-mail the welcome message again, with a new set-up link")
def resend_welcome(group, user):
    return call_service(SERVICE, "resend_welcome", group, user)


# --- access requests -------------------------------------------------------------------------------------

NO_REQUEST = "No such access request for this group (or no grant for the group)"
DECIDED = "The request has already been decided"
APPROVAL = rpc_input("approve_access_request")


@identity_routes.get(GROUP + "/access-requests", query=rpc_input("list_access_requests"),
                     response=rpc_output("list_access_requests"), validate_only=True, tag="access",
                     problems=problems(forbidden=MANAGE, not_found=NO_GROUP),
                     summary="The group's access requests (`status`: pending, approved, denied)")
def list_access_requests(group, query):
    return call_service(SERVICE, "list_access_requests", group, query.get("status"))


@identity_routes.post(ACCESS_REQUEST + "/approve", body=APPROVAL, body_optional=nothing_required(APPROVAL),
                      response=rpc_output("approve_access_request"), validate_only=True, tag="access",
                      problems=problems(forbidden=MANAGE, not_found=NO_REQUEST, conflict=DECIDED),
                      summary="Approve an access request (role, subgroups): the requester is e-mailed a set-up link")
def approve_access_request(group, id, body):
    return call_service(SERVICE, "approve_access_request", group, id, body)


@identity_routes.post(ACCESS_REQUEST + "/deny", body=rpc_input("deny_access_request"),
                      response=rpc_output("deny_access_request"), validate_only=True, tag="access",
                      problems=problems(forbidden=MANAGE, not_found=NO_REQUEST, conflict=DECIDED),
                      summary="Deny an access request: the requester is e-mailed the reason")
def deny_access_request(group, id, body):
    return call_service(SERVICE, "deny_access_request", group, id, body)


# --- broker / TPA delegates -------------------------------------------------------------------------------

@identity_routes.get(DELEGATES, response=rpc_output("list_delegates"), tag="delegates",
                     problems=problems(forbidden=MANAGE, not_found=NO_GROUP),
                     summary="The broker and TPA users with access to the group, and what each may do")
def list_delegates(group):
    return call_service(SERVICE, "list_delegates", group)


@identity_routes.post(DELEGATES, body=rpc_input("grant_delegate"), response=rpc_output("grant_delegate"),
                      status=201, validate_only=True, tag="delegates",
                      problems=problems(forbidden=MANAGE, not_found=NO_GROUP + ", or no broker/TPA user by that name",
                                        conflict="The user already has access to the group"),
                      summary="Grant a broker or TPA user access to the group, with what they may do")
def grant_delegate(group, body):
    """`actions` may add `change_roster` and `pay_billing`; viewing the roster and billing and messages are
    always included."""
    return call_service(SERVICE, "grant_delegate", group, body)


@identity_routes.delete(DELEGATES + "/<id:id>", response=rpc_output("revoke_delegate"), tag="delegates",
                        problems=problems(forbidden=MANAGE, not_found="No such delegate grant on this group"),
                        summary="Revoke a delegate's access: their next call to the group is refused")
def revoke_delegate(group, id):
    return call_service(SERVICE, "revoke_delegate", group, id)


# --- carrier staff ------------------------------------------------------------------------------------

CARRIER_ONLY = "Carrier staff only"
LEGACY_USERS = uploads.CsvUpload("user list", rpc_input("import_legacy_users"))
REGISTRATION_CODE = rpc_input("issue_registration_code")


@identity_routes.post(ADMIN + "/users", body=rpc_input("create_carrier_user"), response=rpc_output("create_carrier_user"),
                      status=201, validate_only=True, tag="admin",
                      problems=problems(forbidden=CARRIER_ONLY, conflict="The e-mail already belongs to a user"),
                      summary="Set up a carrier staff, broker or TPA user; e-mails a set-up link")
def create_carrier_user(body):
    return call_service(SERVICE, "create_carrier_user", body)


@identity_routes.post(ADMIN + "/groups/<group:group>/registration-codes", body=REGISTRATION_CODE,
                      body_optional=nothing_required(REGISTRATION_CODE),
                      response=rpc_output("issue_registration_code"), status=201, validate_only=True, tag="admin",
                      problems=problems(forbidden=CARRIER_ONLY, not_found="No such group"),
                      summary="Issue a group's registration code for its welcome letter (shown once)")
def issue_registration_code(group, body):
    return call_service(SERVICE, "issue_registration_code", group, body)


@identity_routes.post(ADMIN + "/legacy-users", upload=LEGACY_USERS.media_types, max_body_bytes=uploads.MAX_BYTES,
                      response=rpc_output("import_legacy_users"), tag="admin",
                      problems={**problems(forbidden=CARRIER_ONLY,
                                           invalid="Bad rows (errors names each), or an unreadable file (errors.file)"),
                                413: ("The file is larger than 10 MB", "Problem")},
                      summary="Import the old portal's users (CSV) so that each can link an account")
def import_legacy_users():
    """Send the CSV as the body (`Content-Type: text/csv`) or as the `file` field of a form
    (`multipart/form-data`), at most 10 MB, in UTF-8. Carrier staff only."""
    return call_service(SERVICE, "import_legacy_users", LEGACY_USERS.text(),
                        timeout=current_app.config["BULK_RPC_TIMEOUT_SECONDS"])


@identity_routes.get("/api/v1/audit", query=rpc_input("list_audit"), response=rpc_output("list_audit"),
                     validate_only=True, tag="audit", problems=problems(forbidden=CARRIER_ONLY),
                     summary="The security audit log: sign-ins, failures, MFA, password and role changes, "
                             "deactivations (who, what, when, from where, outcome)")
def list_audit(query):
    """Filters: `user_id`, `action`, `group_number`, `date_from`, `date_to`; paginated with `page` and `limit`.
    Carrier staff only."""
    return call_service(SERVICE, "list_audit", query)
