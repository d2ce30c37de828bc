"""Issue 4's paths (routes_identity.py): each calls the identity RPC the contract names with the path's, body's and
query's values (and the caller's address where the contract asks for it), validates with identity's wire
contracts, keeps the public routes public, and runs the web portal's session in cookies (session_cookies.py)."""
import io
import json

import pytest
from nameko.exceptions import RemoteError
from servicekit.errors import NotAuthenticated, TooManyRequests, ValidationFailed
from servicekit.testing.tokens import grant, mint_token

from gateway.identity_contracts import RPC_SCHEMAS
from gateway.routes_identity import identity_routes
from gateway.testing import assert_problem

API = "/api/v1"
G = API + "/groups/G100"
ADDRESS = "127.0.0.1"  # the test client's peer

LOGIN = {"username": "pat.admin", "password": "correct horse battery staple"}
MFA = {"mfa_token": "mfa-3f9a", "code": "123456"}
REGISTER = {"group_number": "G100", "invitation_code": "INV-7Q2K-9XPL", "first_name": "Pat", "last_name": "Admin",
            "email": "pat@example.com", "phone": "+1 860 555 0100", "username": "pat.admin",
            "password": "correct horse battery staple"}
NEW_USER = {"first_name": "Lee", "last_name": "Viewer", "email": "lee@example.com", "role": "viewer",
            "subgroups": ["001"]}
ACCESS_REQUEST = {"group_number": "G100", "first_name": "Sam", "last_name": "Asker", "email": "sam@example.com",
                  "requested_role": "enrollment_manager", "reason": "I run open enrollment."}
STAFF_USER = {"first_name": "Bo", "last_name": "Broker", "email": "bo@brokers.example", "kind": "broker",
              "firm_name": "Harbor Brokers"}
PASSWORD_CHANGE = {"current_password": "correct horse battery staple", "new_password": "an even longer passphrase 2"}
SETUP = {"token": "setup-token-abc", "username": "lee.viewer", "password": "correct horse battery staple"}
LINK = {"old_username": "PSMITH01", "code": "654321", "username": "pat.smith", "password": "correct horse battery staple"}
RESET = {"token": "reset-token-abc", "password": "correct horse battery staple"}



def addr(body):
    """The body as identity gets it: with the caller's address, which the gateway adds."""
    return dict(body, remote_addr=ADDRESS)


# (method, path, JSON body or None, identity RPC, its positional arguments, its keyword arguments, success status)
CALLS = [
    ("POST", API + "/auth/login", LOGIN, "login", (addr(LOGIN),), {}, 200),
    ("POST", API + "/auth/mfa/email-code", {"mfa_token": "mfa-3f9a"}, "send_mfa_email_code",
     (addr({"mfa_token": "mfa-3f9a"}),), {}, 200),
    ("POST", API + "/auth/mfa/verify", MFA, "verify_mfa", (addr(MFA),), {}, 200),
    ("POST", API + "/auth/refresh", {"refresh_token": "r-1"}, "refresh", (addr({"refresh_token": "r-1"}),), {},
     200),
    ("POST", API + "/auth/logout", {"refresh_token": "r-1"}, "logout", (addr({"refresh_token": "r-1"}),), {},
     200),
    ("POST", API + "/auth/register", REGISTER, "register", (addr(REGISTER),), {}, 201),
    ("POST", API + "/auth/register/verify", {"username": "pat.admin", "code": "123456"}, "verify_registration",
     (addr({"username": "pat.admin", "code": "123456"}),), {}, 200),
    ("POST", API + "/auth/register/existing", {"old_username": "PSMITH01"}, "register_existing",
     (addr({"old_username": "PSMITH01"}),), {}, 200),
    ("POST", API + "/auth/register/existing/confirm", LINK, "confirm_existing", (addr(LINK),), {}, 200),
    ("POST", API + "/auth/setup", SETUP, "complete_setup", (addr(SETUP),), {}, 200),
    ("POST", API + "/auth/access-requests", ACCESS_REQUEST, "request_access", (ACCESS_REQUEST,),
     {"remote_addr": ADDRESS}, 201),
    ("POST", API + "/auth/recover-username", {"email": "pat@example.com"}, "recover_username",
     (addr({"email": "pat@example.com"}),), {}, 200),
    ("POST", API + "/auth/password-reset", {"username_or_email": "pat.admin"}, "reset_password",
     (addr({"username_or_email": "pat.admin"}),), {}, 200),
    ("POST", API + "/auth/password-reset/confirm", RESET, "confirm_password_reset", (addr(RESET),), {}, 200),
    ("GET", API + "/me", None, "me", (), {}, 200),
    ("PATCH", API + "/me", {"phone": "+1 860 555 0101"}, "update_me", ({"phone": "+1 860 555 0101"},), {}, 200),
    ("POST", API + "/me/email/confirm", {"code": "123456"}, "confirm_email", ({"code": "123456"},), {}, 200),
    ("POST", API + "/me/password", PASSWORD_CHANGE, "change_password", (PASSWORD_CHANGE,), {}, 200),
    ("POST", API + "/me/mfa/totp", None, "start_totp_setup", (), {}, 200),
    ("POST", API + "/me/mfa/totp/confirm", {"code": "123456"}, "confirm_totp_setup", ({"code": "123456"},), {}, 200),
    ("GET", API + "/me/groups", None, "my_groups", (), {}, 200),
    ("GET", G + "/users", None, "list_users", ("G100",), {}, 200),
    ("POST", G + "/users", NEW_USER, "create_user", ("G100", NEW_USER), {}, 201),
    ("GET", G + "/users/u-7f3a", None, "get_user", ("G100", "u-7f3a"), {}, 200),
    ("PATCH", G + "/users/u-7f3a", {"role": "billing_manager", "subgroups": None}, "update_user",
     ("G100", "u-7f3a", {"role": "billing_manager", "subgroups": None}), {}, 200),
    ("POST", G + "/users/u-7f3a/deactivate", None, "deactivate_user", ("G100", "u-7f3a"), {}, 200),
    ("POST", G + "/users/u-7f3a/reactivate", None, "reactivate_user", ("G100", "u-7f3a"), {}, 200),
    ("POST", G + "/users/u-7f3a/reset-password", None, "reset_user_password", ("G100", "u-7f3a"), {}, 200),
    ("POST", G + "/users/u-7f3a/resend-welcome", None, "resend_welcome", ("G100", "u-7f3a"), {}, 200),
    ("GET", G + "/access-requests", None, "list_access_requests", ("G100", None), {}, 200),
    ("GET", G + "/access-requests?status=pending", None, "list_access_requests", ("G100", "pending"), {}, 200),
    ("POST", G + "/access-requests/42/approve", {"role": "viewer", "subgroups": ["001"]}, "approve_access_request",
     ("G100", "42", {"role": "viewer", "subgroups": ["001"]}), {}, 200),
    ("POST", G + "/access-requests/42/deny", {"reason": "Not an employee"}, "deny_access_request",
     ("G100", "42", {"reason": "Not an employee"}), {}, 200),
    ("GET", G + "/delegates", None, "list_delegates", ("G100",), {}, 200),
    ("POST", G + "/delegates", {"username": "bo.broker", "actions": ["change_roster"]}, "grant_delegate",
     ("G100", {"username": "bo.broker", "actions": ["change_roster"]}), {}, 201),
    ("DELETE", G + "/delegates/17", None, "revoke_delegate", ("G100", "17"), {}, 200),
    ("POST", API + "/admin/users", STAFF_USER, "create_carrier_user", (STAFF_USER,), {}, 201),
    ("POST", API + "/admin/groups/G100/registration-codes", {"role": "group_admin", "valid_days": 60},
     "issue_registration_code", ("G100", {"role": "group_admin", "valid_days": 60}), {}, 201),
    ("GET", API + "/audit", None, "list_audit", ({},), {}, 200),
    ("GET", API + "/audit?user_id=u-7f3a&action=sign_in_failed&group_number=G100&date_from=2026-11-01"
            "&date_to=2026-11-23&page=2&limit=100", None, "list_audit",
     ({"user_id": "u-7f3a", "action": "sign_in_failed", "group_number": "G100", "date_from": "2026-11-01",
       "date_to": "2026-11-23", "page": "2", "limit": "100"},), {}, 200),
]
CALL_IDS = ["%s %s" % (method, path) for method, path, *_ in CALLS]

PUBLIC_PATHS = {API + "/auth/" + name for name in (
    "login", "mfa/email-code", "mfa/verify", "refresh", "logout", "register", "register/verify", "register/existing",
    "register/existing/confirm", "setup", "access-requests", "recover-username", "password-reset",
    "password-reset/confirm")}


def send(client, method, path, body=None, headers=None):
    if body is None:
        return client.open(path, method=method, headers=headers)
    return client.open(path, method=method, headers=headers, data=json.dumps(body), content_type="application/json")


def remote(error):
    """A service's BusinessError as nameko delivers it to the gateway."""
    return RemoteError(type(error).__name__, str(error))


@pytest.fixture
def carrier_auth():
    return {"Authorization": "Bearer " + mint_token("staff-1", carrier=True)}


# --- each route calls its RPC ------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, body, rpc_method, args, kwargs, status", CALLS, ids=CALL_IDS)
def test_each_route_calls_its_rpc_with_the_request_values_and_context(client, rpc, token, method, path, body,
                                                                       rpc_method, args, kwargs, status):
    answer = {"answered_by": rpc_method, "items": [1, "two"]}
    rpc.answer("identity", rpc_method, answer)
    public = path.split("?")[0] in PUBLIC_PATHS
    headers = {"X-Request-ID": "req-42"}
    if not public:
        headers["Authorization"] = "Bearer " + token

    response = send(client, method, path, body, headers)

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json() == answer  # as the service returned it
    assert [(call.service, call.method) for call in rpc.calls] == [("identity", rpc_method)]
    call = rpc.calls[0]
    assert call.args == args and call.kwargs == kwargs
    assert call.context["request_id"] == "req-42"
    assert call.context["authorization"] == (None if public else token)
    if method != "GET":
        assert call.context["idempotency_key"] == "req-42"  # no Idempotency-Key: the request id
    assert "Set-Cookie" not in response.headers  # cookies only in cookie mode


def test_every_rpc_of_the_contract_has_a_route():
    """docs/identity-contract.md's RPCs, as the wire contracts' RPC_SCHEMAS list them: each is called by a route
    (list_roles by GET /api/v1/roles in app.py)."""
    called = {call[3] for call in CALLS} | {"import_legacy_users", "list_roles"}
    assert called == set(RPC_SCHEMAS)


def test_every_identity_route_is_in_the_table_or_tested_below():
    declared = {(route.method, route.rule) for route in identity_routes.routes}
    assert len(declared) == len(identity_routes.routes) == 39


@pytest.mark.parametrize("path", sorted(PUBLIC_PATHS))
def test_the_pre_sign_in_routes_are_public_and_the_rest_are_not(path):
    public = {route.rule for route in identity_routes.routes if route.public}
    assert public == PUBLIC_PATHS
    assert path in public


@pytest.mark.parametrize("route", [route for route in identity_routes.routes if not route.public],
                         ids=lambda route: "%s %s" % (route.method, route.rule))
def test_every_signed_in_route_is_401_without_a_token(client, rpc, route):
    path = (route.rule.replace("<group:group>", "G100").replace("<user:user>", "u-7f3a").replace("<id:id>", "42"))

    response = client.open(path, method=route.method, data="{}", content_type="application/json")

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert rpc.calls == []


@pytest.mark.parametrize("path", [API + "/auth/login", API + "/auth/register", API + "/auth/password-reset"])
def test_public_routes_go_on_anonymously_with_a_stale_session(client, rpc, path):
    from gateway.testing import expired_token

    rpc.answer("identity", {"login": "login", "register": "register"}.get(path.rsplit("/", 1)[1], "reset_password"),
               {"status": "sent"})
    client.set_cookie("portal_session", expired_token())
    body = {API + "/auth/login": LOGIN, API + "/auth/register": REGISTER,
            API + "/auth/password-reset": {"username_or_email": "pat"}}[path]

    response = send(client, "POST", path, body)  # no CSRF header either: the form must still work

    assert response.status_code in (200, 201), response.get_data(as_text=True)
    assert rpc.calls[-1].context["authorization"] is None


# --- the caller's address ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [(path, body) for method, path, body, *_ in CALLS
                                        if path in PUBLIC_PATHS and path != API + "/auth/access-requests"])
def test_a_client_cannot_choose_its_own_address(client, rpc, path, body):
    problem = assert_problem(send(client, "POST", path, dict(body, remote_addr="10.9.9.9")), 422, "validation_failed")

    assert list(problem["errors"]) == ["remote_addr"]
    assert rpc.calls == []


def test_request_access_takes_no_address_from_the_body(client, rpc):
    problem = assert_problem(send(client, "POST", API + "/auth/access-requests",
                                  dict(ACCESS_REQUEST, remote_addr="10.9.9.9")), 422, "validation_failed")

    assert list(problem["errors"]) == ["remote_addr"]


def test_the_address_is_the_hop_the_gateway_trusts(make_app, rpc):
    rpc.answer("identity", "login", {"mfa_required": True})
    rpc.answer("identity", "request_access", {"reference": "AR-1", "status": "pending"})
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}

    send(make_app().test_client(), "POST", API + "/auth/login", LOGIN, forwarded)
    assert rpc.last("identity", "login").args[0]["remote_addr"] == ADDRESS  # no trusted hop: the peer

    behind_balancer = make_app(TRUSTED_PROXY_HOPS=1).test_client()
    send(behind_balancer, "POST", API + "/auth/login", LOGIN, forwarded)
    send(behind_balancer, "POST", API + "/auth/access-requests", ACCESS_REQUEST, forwarded)
    assert rpc.last("identity", "login").args[0]["remote_addr"] == "198.51.100.7"
    assert rpc.last("identity", "request_access").kwargs == {"remote_addr": "198.51.100.7"}


# --- sign-in answers never tell a known account from an unknown one ---------------------------------------

def comparable(response):
    body = response.get_json()
    body.pop("request_id", None)
    headers = sorted((name, value) for name, value in response.headers.items() if name != "X-Request-ID")
    return response.status_code, headers, body


def test_the_gateway_adds_nothing_that_tells_accounts_apart(client, rpc):
    refusal = remote(NotAuthenticated("Wrong username or password.", code="invalid_credentials"))
    rpc.answer("identity", "login", refusal)
    unknown = send(client, "POST", API + "/auth/login", {"username": "nobody", "password": "x" * 20})
    rpc.answer("identity", "login", refusal, delay=0.2)  # a known account may take the service longer
    known = send(client, "POST", API + "/auth/login", LOGIN)

    assert_problem(unknown, 401, "invalid_credentials")
    assert comparable(unknown) == comparable(known)


def test_a_login_in_cookie_mode_answers_the_same_and_sets_no_cookie(client, rpc):
    challenge = {"mfa_required": True, "mfa_token": "mfa-3f9a", "methods": ["totp"], "expires_in": 300}
    rpc.answer("identity", "login", challenge)

    plain = send(client, "POST", API + "/auth/login", LOGIN)
    browser = send(client, "POST", API + "/auth/login", LOGIN, {"X-Session-Mode": "cookie"})

    assert plain.get_json() == browser.get_json() == challenge
    assert "Set-Cookie" not in browser.headers


def test_signed_in_calls_carry_the_callers_address_in_the_context(make_app, rpc, auth):
    rpc.answer("identity", "change_password", {"status": "changed"})

    send(make_app().test_client(), "POST", API + "/me/password", PASSWORD_CHANGE, auth)
    assert rpc.last("identity", "change_password").context["remote_addr"] == ADDRESS

    behind_balancer = make_app(TRUSTED_PROXY_HOPS=1).test_client()
    send(behind_balancer, "POST", API + "/me/password", PASSWORD_CHANGE,
         dict(auth, **{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}))
    call = rpc.last("identity", "change_password")
    assert call.context["remote_addr"] == "198.51.100.7" and call.args == (PASSWORD_CHANGE,)


def test_a_throttled_answer_carries_retry_after(client, rpc):
    class Throttled(TooManyRequests):
        def to_problem(self):
            return dict(super().to_problem(), retry_after=90)

    rpc.answer("identity", "login", remote(Throttled("Too many failed attempts; try again in 90 seconds.")))

    response = send(client, "POST", API + "/auth/login", LOGIN)

    problem = assert_problem(response, 429, "too_many_requests")
    assert response.headers["Retry-After"] == "90" and problem["retry_after"] == 90


def test_throttling_passes_through(client, rpc):
    rpc.answer("identity", "login", remote(TooManyRequests("Too many attempts; try again in 15 minutes.")))

    problem = assert_problem(send(client, "POST", API + "/auth/login", LOGIN), 429, "too_many_requests")
    assert problem["detail"] == "Too many attempts; try again in 15 minutes."


# --- validation with the contracts ---------------------------------------------------------------------

@pytest.mark.parametrize("method, path, body, fields", [
    ("POST", API + "/auth/login", {"username": "pat.admin"}, {"password"}),
    ("POST", API + "/auth/login", dict(LOGIN, remember_me=True), {"remember_me"}),
    ("POST", API + "/auth/mfa/verify", {"mfa_token": "mfa-3f9a"}, {"code"}),
    ("POST", API + "/auth/register", {k: v for k, v in REGISTER.items() if k != "email"}, {"email"}),
    ("POST", API + "/auth/register", dict(REGISTER, email="not-mail"), {"email"}),
    ("POST", API + "/auth/register/existing", {}, {"old_username"}),
    ("POST", API + "/auth/access-requests", dict(ACCESS_REQUEST, requested_role="carrier_admin"), {"requested_role"}),
    ("POST", API + "/auth/recover-username", {"email": "nope"}, {"email"}),
    ("POST", API + "/auth/password-reset/confirm", {"token": "t"}, {"password"}),
    ("POST", API + "/auth/setup", {"token": "t", "username": "lee"}, {"password"}),
])
def test_public_bodies_are_validated_with_the_contracts(client, rpc, method, path, body, fields):
    problem = assert_problem(send(client, method, path, body), 422, "validation_failed")

    assert fields <= set(problem["errors"]), problem["errors"]
    assert rpc.calls == []


@pytest.mark.parametrize("method, path, body, fields", [
    ("PATCH", API + "/me", {"favourite_colour": "red"}, {"favourite_colour"}),
    ("POST", API + "/me/password", {"new_password": "an even longer passphrase 2"}, {"current_password"}),
    ("POST", API + "/me/mfa/totp/confirm", {}, {"code"}),
    ("POST", G + "/users", dict(NEW_USER, role="carrier"), {"role"}),
    ("POST", G + "/users", dict(NEW_USER, subgroups=[]), {"subgroups"}),
    ("PATCH", G + "/users/u-7f3a", {}, {"_schema"}),
    ("POST", G + "/access-requests/42/deny", {}, {"reason"}),
    ("POST", G + "/access-requests/42/approve", {"role": "owner"}, {"role"}),
    ("POST", G + "/delegates", {"username": "bo", "actions": ["delete_everything"]}, {"actions.0"}),
    ("POST", API + "/admin/users", dict(STAFF_USER, firm_name=None), {"firm_name"}),
    ("POST", API + "/admin/groups/G100/registration-codes", {"valid_days": 0}, {"valid_days"}),
])
def test_changes_are_validated_with_the_contracts(client, rpc, carrier_auth, method, path, body, fields):
    problem = assert_problem(send(client, method, path, body, carrier_auth), 422, "validation_failed")

    assert fields <= set(problem["errors"]), problem["errors"]
    assert rpc.calls == []


@pytest.mark.parametrize("path, field", [
    (G + "/access-requests?status=maybe", "status"),
    (G + "/access-requests?colour=red", "colour"),
    (API + "/audit?date_from=yesterday", "date_from"),
    (API + "/audit?limit=500", "limit"),
    (API + "/audit?page=0", "page"),
    (API + "/audit?date_from=2026-11-23&date_to=2026-11-01", "date_from"),
])
def test_a_bad_query_parameter_is_422_naming_it(client, rpc, carrier_auth, path, field):
    problem = assert_problem(client.get(path, headers=carrier_auth), 422, "validation_failed")

    assert list(problem["errors"]) == [field]
    assert rpc.calls == []


@pytest.mark.parametrize("path, rpc_method, args", [
    (G + "/access-requests/42/approve", "approve_access_request", ("G100", "42", {})),
    (API + "/admin/groups/G100/registration-codes", "issue_registration_code", ("G100", {})),
])
def test_a_body_of_optional_fields_may_be_left_out(client, rpc, carrier_auth, path, rpc_method, args):
    rpc.answer("identity", rpc_method, {"status": "ok"})

    response = client.post(path, headers=carrier_auth)

    assert response.status_code in (200, 201), response.get_data(as_text=True)
    assert rpc.last("identity", rpc_method).args == args


@pytest.mark.parametrize("method, path", [
    ("GET", G + "/users/u.7f3a"),
    ("GET", G + "/users/" + "u" * 41),
    ("POST", G + "/access-requests/AR-1/approve"),
    ("DELETE", G + "/delegates/abc"),
    ("GET", API + "/groups/G_100/users"),
])
def test_a_path_parameter_outside_its_pattern_is_404_without_a_call(client, rpc, carrier_auth, method, path):
    assert_problem(client.open(path, method=method, headers=carrier_auth), 404, "not_found")
    assert rpc.calls == []


def test_a_service_refusal_passes_through(client, rpc, auth):
    error = ValidationFailed("The code is wrong or expired.", errors={"code": ["Wrong or expired code."]})
    rpc.answer("identity", "confirm_email", remote(error))

    problem = assert_problem(send(client, "POST", API + "/me/email/confirm", {"code": "123456"}, auth),
                             422, "validation_failed")
    assert problem["errors"] == {"code": ["Wrong or expired code."]}


# --- cookie mode -----------------------------------------------------------------------------------------

ACCESS_TOKEN = mint_token("u-100", [grant("G100", "group_admin")])
ME = {"user_id": "u-100", "username": "pat.admin", "first_name": "Pat", "last_name": "Admin",
      "email": "pat@example.com", "phone": None, "kind": "group", "mfa_method": "totp", "groups": []}
TOKENS = {"access_token": ACCESS_TOKEN, "refresh_token": "refresh-1-" + "r" * 32, "token_type": "Bearer",
          "expires_in": 600, "user": ME}
ROTATED = dict(TOKENS, refresh_token="refresh-2-" + "s" * 32)
COOKIE_MODE = {"X-Session-Mode": "cookie"}


def set_cookies(response):
    """{name: (value, {attribute: value})} of the response's Set-Cookie headers (attribute names lower-cased)."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        pair, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = pair.partition("=")
        flags = {}
        for attribute in attributes:
            key, _, flag_value = attribute.partition("=")
            flags[key.lower()] = flag_value or True
        cookies[name] = (value, flags)
    return cookies


def sign_in(client, rpc, headers=COOKIE_MODE):
    rpc.answer("identity", "verify_mfa", TOKENS)
    return send(client, "POST", API + "/auth/mfa/verify", MFA, headers)


def test_cookie_mode_sets_the_three_cookies_and_leaves_the_tokens_out(client, rpc):
    response = sign_in(client, rpc)

    assert response.status_code == 200
    assert response.get_json() == {"token_type": "Bearer", "expires_in": 600, "user": ME}
    cookies = set_cookies(response)
    assert set(cookies) == {"portal_session", "portal_refresh", "portal_csrf"}

    session_value, session = cookies["portal_session"]
    assert session_value == ACCESS_TOKEN
    assert session["max-age"] == "600" and session["path"] == "/" and session["samesite"] == "Strict"
    assert session.get("httponly") is True

    refresh_value, refresh = cookies["portal_refresh"]
    assert refresh_value == TOKENS["refresh_token"]
    assert refresh["path"] == "/api/v1/auth" and refresh["samesite"] == "Strict" and refresh.get("httponly") is True

    csrf_value, csrf = cookies["portal_csrf"]
    assert len(csrf_value) >= 32 and csrf_value not in (ACCESS_TOKEN, TOKENS["refresh_token"])
    assert "httponly" not in csrf and csrf["path"] == "/" and csrf["samesite"] == "Strict"
    # plain http between loopback addresses (make run): no Secure, or the browser would not keep them
    assert not any("secure" in flags for _, flags in cookies.values())


def test_each_sign_in_draws_a_new_csrf_value(client, rpc):
    first = set_cookies(sign_in(client, rpc))["portal_csrf"][0]
    second = set_cookies(sign_in(client, rpc))["portal_csrf"][0]

    assert first != second


def test_the_header_value_is_case_insensitive_and_other_values_are_not_cookie_mode(client, rpc):
    assert "access_token" not in sign_in(client, rpc, {"X-Session-Mode": "Cookie"}).get_json()
    bearer = sign_in(client, rpc, {"X-Session-Mode": "bearer"})
    assert bearer.get_json() == TOKENS and "Set-Cookie" not in bearer.headers
    assert sign_in(client, rpc, {}).get_json() == TOKENS


@pytest.mark.parametrize("base_url, peer", [
    ("https://portal.example.com", "203.0.113.5"),
    ("https://127.0.0.1:8443", "127.0.0.1"),
    ("http://portal.example.com", "203.0.113.5"),
    ("http://portal.example.com", "127.0.0.1"),   # a proxy on this host that forwards the public name
    ("http://localhost", "203.0.113.5"),          # a Host header of localhost from afar
])
def test_cookies_are_secure_unless_plain_http_on_loopback(app, rpc, base_url, peer):
    client = app.test_client()
    rpc.answer("identity", "verify_mfa", TOKENS)

    response = client.post(API + "/auth/mfa/verify", data=json.dumps(MFA), content_type="application/json",
                           headers=COOKIE_MODE, base_url=base_url, environ_base={"REMOTE_ADDR": peer})

    cookies = set_cookies(response)
    assert len(cookies) == 3
    assert all(flags.get("secure") is True for _, flags in cookies.values())


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080"])
def test_loopback_over_plain_http_is_not_secure(app, rpc, base_url):
    rpc.answer("identity", "verify_mfa", TOKENS)

    response = app.test_client().post(API + "/auth/mfa/verify", data=json.dumps(MFA),
                                      content_type="application/json", headers=COOKIE_MODE, base_url=base_url)

    assert not any("secure" in flags for _, flags in set_cookies(response).values())


def test_the_session_lasts_as_long_as_the_refresh_token_when_the_service_says(client, rpc):
    rpc.answer("identity", "verify_mfa", dict(TOKENS, refresh_expires_in=43200))

    cookies = set_cookies(send(client, "POST", API + "/auth/mfa/verify", MFA, COOKIE_MODE))

    assert cookies["portal_refresh"][1]["max-age"] == "43200"
    assert cookies["portal_csrf"][1]["max-age"] == "43200"
    assert cookies["portal_session"][1]["max-age"] == "600"


def test_a_refused_code_in_cookie_mode_sets_no_cookie(client, rpc):
    rpc.answer("identity", "verify_mfa", remote(NotAuthenticated("Wrong or used code.", code="invalid_code")))

    response = send(client, "POST", API + "/auth/mfa/verify", MFA, COOKIE_MODE)

    assert_problem(response, 401, "invalid_code")
    assert "Set-Cookie" not in response.headers


def test_the_session_cookie_signs_in_and_a_change_needs_the_csrf_header(client, rpc):
    sign_in(client, rpc)
    rpc.answer("identity", "me", ME)
    rpc.answer("identity", "update_me", dict(ME, phone="+1 860 555 0101"))

    assert client.get(API + "/me").get_json() == ME  # a read needs no CSRF header
    assert rpc.last("identity", "me").context["authorization"] == ACCESS_TOKEN

    change = {"phone": "+1 860 555 0101"}
    assert_problem(send(client, "PATCH", API + "/me", change), 403, "csrf_failed")
    assert_problem(send(client, "PATCH", API + "/me", change, {"X-CSRF-Token": "guess"}), 403, "csrf_failed")
    assert [call.method for call in rpc.calls] == ["verify_mfa", "me"]

    csrf = client.get_cookie("portal_csrf").value
    response = send(client, "PATCH", API + "/me", change, {"X-CSRF-Token": csrf})
    assert response.status_code == 200
    call = rpc.last("identity", "update_me")
    assert call.args == (change,) and call.context["authorization"] == ACCESS_TOKEN


def test_the_refresh_cookie_is_sent_to_the_auth_paths_only(client, rpc):
    sign_in(client, rpc)

    assert client.get_cookie("portal_refresh", path="/api/v1/auth").value == TOKENS["refresh_token"]
    assert client.get_cookie("portal_refresh") is None  # not at Path=/


def test_refresh_from_the_cookie_sets_new_cookies_and_keeps_the_csrf_value(client, rpc):
    sign_in(client, rpc)
    csrf = client.get_cookie("portal_csrf").value
    rpc.answer("identity", "refresh", ROTATED)

    response = client.post(API + "/auth/refresh", headers={"X-CSRF-Token": csrf})  # no body, no mode header

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"token_type": "Bearer", "expires_in": 600, "user": ME}
    assert rpc.last("identity", "refresh").args == (addr({"refresh_token": TOKENS["refresh_token"]}),)
    cookies = set_cookies(response)
    assert cookies["portal_refresh"][0] == ROTATED["refresh_token"]
    assert cookies["portal_session"][0] == ACCESS_TOKEN
    assert cookies["portal_csrf"][0] == csrf  # another tab's request with it still passes
    assert client.get_cookie("portal_refresh", path="/api/v1/auth").value == ROTATED["refresh_token"]


def test_refresh_from_the_cookie_needs_the_csrf_header(client, rpc):
    sign_in(client, rpc)

    response = client.post(API + "/auth/refresh")

    assert_problem(response, 403, "csrf_failed")
    assert [call.method for call in rpc.calls] == ["verify_mfa"]


def test_a_refused_refresh_in_cookie_mode_clears_the_cookies(client, rpc):
    sign_in(client, rpc)
    csrf = client.get_cookie("portal_csrf").value
    rpc.answer("identity", "refresh", remote(NotAuthenticated("The session has ended.", code="session_expired")))

    response = client.post(API + "/auth/refresh", headers={"X-CSRF-Token": csrf})

    assert_problem(response, 401, "session_expired")
    cleared = set_cookies(response)
    assert set(cleared) == {"portal_session", "portal_refresh", "portal_csrf"}
    assert all(value == "" and flags["max-age"] == "0" for value, flags in cleared.values())
    assert client.get_cookie("portal_session") is None


def test_a_refresh_while_identity_is_down_keeps_the_cookies(client, rpc):
    sign_in(client, rpc)
    csrf = client.get_cookie("portal_csrf").value
    # nothing answers identity.refresh: the fake says the service is not running

    response = client.post(API + "/auth/refresh", headers={"X-CSRF-Token": csrf})

    assert_problem(response, 503, "service_unavailable")
    assert "Set-Cookie" not in response.headers  # the client may retry


def test_refresh_with_the_token_in_the_body_answers_tokens(client, rpc):
    rpc.answer("identity", "refresh", ROTATED)

    response = send(client, "POST", API + "/auth/refresh", {"refresh_token": "refresh-1"})

    assert response.get_json() == ROTATED and "Set-Cookie" not in response.headers


def test_refresh_with_the_token_in_the_body_in_cookie_mode_sets_cookies(client, rpc):
    rpc.answer("identity", "refresh", ROTATED)

    response = send(client, "POST", API + "/auth/refresh", {"refresh_token": "refresh-1"}, COOKIE_MODE)

    assert "refresh_token" not in response.get_json()
    assert set_cookies(response)["portal_refresh"][0] == ROTATED["refresh_token"]


def test_refresh_without_any_token_is_422_or_in_cookie_mode_401(client, rpc):
    problem = assert_problem(client.post(API + "/auth/refresh"), 422, "validation_failed")
    assert list(problem["errors"]) == ["refresh_token"]

    ended = client.post(API + "/auth/refresh", headers=COOKIE_MODE)
    assert_problem(ended, 401, "not_authenticated")
    assert rpc.calls == []


def test_logout_with_the_cookie_revokes_it_and_clears_the_cookies(client, rpc):
    sign_in(client, rpc)
    csrf = client.get_cookie("portal_csrf").value
    rpc.answer("identity", "logout", {"signed_out": True})

    response = client.post(API + "/auth/logout", headers={"X-CSRF-Token": csrf})

    assert response.status_code == 200 and response.get_json() == {"signed_out": True}
    assert rpc.last("identity", "logout").args == (addr({"refresh_token": TOKENS["refresh_token"]}),)
    cleared = set_cookies(response)
    assert set(cleared) == {"portal_session", "portal_refresh", "portal_csrf"}
    assert cleared["portal_refresh"][1]["path"] == "/api/v1/auth"
    assert all(value == "" and flags["max-age"] == "0" for value, flags in cleared.values())
    assert client.get_cookie("portal_session") is None and client.get_cookie("portal_csrf") is None
    assert client.get_cookie("portal_refresh", path="/api/v1/auth") is None
    assert_problem(client.get(API + "/me"), 401, "not_authenticated")


def test_logout_with_the_cookie_needs_the_csrf_header(client, rpc):
    sign_in(client, rpc)

    assert_problem(client.post(API + "/auth/logout"), 403, "csrf_failed")
    assert [call.method for call in rpc.calls] == ["verify_mfa"]


def test_logout_without_a_refresh_token_in_cookie_mode_just_clears_the_cookies(client, rpc):
    client.set_cookie("portal_session", ACCESS_TOKEN)

    response = client.post(API + "/auth/logout", headers=COOKIE_MODE)

    assert response.status_code == 200 and response.get_json() == {"signed_out": True}
    assert len(set_cookies(response)) == 3
    assert rpc.calls == []


def test_logout_without_any_token_is_422(client, rpc):
    problem = assert_problem(client.post(API + "/auth/logout"), 422, "validation_failed")

    assert list(problem["errors"]) == ["refresh_token"]


def test_a_password_change_answering_new_tokens_renews_the_cookies(client, rpc):
    sign_in(client, rpc)
    csrf = client.get_cookie("portal_csrf").value
    rpc.answer("identity", "change_password", dict(ROTATED, status="changed"))

    response = send(client, "POST", API + "/me/password", PASSWORD_CHANGE, {"X-CSRF-Token": csrf})

    assert response.status_code == 200
    assert response.get_json() == {"status": "changed", "token_type": "Bearer", "expires_in": 600, "user": ME}
    assert set_cookies(response)["portal_refresh"][0] == ROTATED["refresh_token"]


# --- the old portal's users -------------------------------------------------------------------------

LEGACY = "old_username,first_name,last_name,email,old_role,groups\r\nPSMITH01,Pat,Smith,pat@example.com,Super User,G100\r\n"
IMPORTED = {"imported": 1, "rows": [{"row": 2, "old_username": "PSMITH01", "role": "group_admin"}]}
LEGACY_URL = API + "/admin/legacy-users"


def test_legacy_users_are_accepted_as_a_text_csv_body(client, rpc, carrier_auth):
    rpc.answer("identity", "import_legacy_users", IMPORTED)

    response = client.post(LEGACY_URL, data=LEGACY.encode("utf-8"), headers=carrier_auth, content_type="text/csv")

    assert response.status_code == 200 and response.get_json() == IMPORTED
    call = rpc.last("identity", "import_legacy_users")
    assert call.args == (LEGACY,) and call.timeout == 60.0


def test_legacy_users_are_accepted_as_a_form_file(client, rpc, carrier_auth):
    rpc.answer("identity", "import_legacy_users", IMPORTED)

    response = client.post(LEGACY_URL, headers=carrier_auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"\xef\xbb\xbf" + LEGACY.encode("utf-8")), "users.csv")})

    assert response.status_code == 200
    assert rpc.last("identity", "import_legacy_users").args == (LEGACY,)


@pytest.mark.parametrize("data, content_type, status, message", [
    (b"", "text/csv", 422, "The file is empty."),
    ({}, "multipart/form-data", 422, "Attach the user list CSV as the 'file' field of the form."),
    (LEGACY, "application/json", 415, None),
])
def test_an_unreadable_legacy_file_is_refused(client, rpc, carrier_auth, data, content_type, status, message):
    response = client.post(LEGACY_URL, data=data, headers=carrier_auth, content_type=content_type)

    problem = assert_problem(response, status, "validation_failed" if status == 422 else "unsupported_media_type")
    if message:
        assert problem["errors"] == {"file": [message]}
    assert rpc.calls == []
