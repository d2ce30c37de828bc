"""The gateway verifies the token (401 early), hands the raw token on, and guards cookie sessions with CSRF."""
import json

import pytest
from servicekit.testing.tokens import grant, mint_token

from gateway.testing import assert_problem, expired_token, tampered_token

THING = json.dumps({"name": "widget", "count": 2})


def test_a_valid_bearer_token_is_passed_on_raw(client, rpc, auth, token):
    rpc.answer("identity", "whoami", {"user": "u-100"})

    response = client.get("/api/v1/test/me", headers=auth)

    assert response.status_code == 200
    assert rpc.last("identity", "whoami").context["authorization"] == token  # no "Bearer " prefix


def test_no_token_is_401_with_a_bearer_challenge(client, rpc):
    response = client.get("/api/v1/test/me")

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert rpc.calls == []


@pytest.mark.parametrize("make_token, detail", [(expired_token, "token expired"),
                                                (tampered_token, "invalid token"),
                                                (lambda: "not.a.token", "invalid token")])
def test_an_expired_or_tampered_token_is_401_before_any_rpc(client, rpc, make_token, detail):
    response = client.get("/api/v1/test/me", headers={"Authorization": "Bearer " + make_token()})

    body = assert_problem(response, 401, "not_authenticated")
    assert body["detail"] == detail
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert rpc.calls == []


def test_a_token_signed_with_another_key_is_401(client, rpc):
    from servicekit.auth import generate_keypair

    other_private, _ = generate_keypair()
    forged = mint_token("u-100", [grant("G100", "group_admin")], key=other_private)

    assert_problem(client.get("/api/v1/test/me", headers={"Authorization": "Bearer " + forged}),
                   401, "not_authenticated")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
def test_an_authorization_header_that_is_not_bearer_is_401(client, header):
    response = client.get("/api/v1/test/me", headers={"Authorization": header})

    assert_problem(response, 401, "not_authenticated")


def test_a_session_cookie_authenticates_reads_without_csrf(client, rpc, token):
    rpc.answer("identity", "whoami", {"user": "u-100"})
    client.set_cookie("portal_session", token)

    assert client.get("/api/v1/test/me").status_code == 200
    assert rpc.last("identity", "whoami").context["authorization"] == token


def test_a_change_made_with_the_session_cookie_needs_the_csrf_header(client, rpc, token):
    rpc.answer("roster", "create_thing", {"id": "T1"})
    client.set_cookie("portal_session", token)
    client.set_cookie("portal_csrf", "c5rf-t0ken")

    missing = client.post("/api/v1/test/things", data=THING, content_type="application/json")
    wrong = client.post("/api/v1/test/things", data=THING, content_type="application/json",
                        headers={"X-CSRF-Token": "guess"})
    assert_problem(missing, 403, "csrf_failed")
    assert_problem(wrong, 403, "csrf_failed")
    assert rpc.calls == []

    right = client.post("/api/v1/test/things", data=THING, content_type="application/json",
                        headers={"X-CSRF-Token": "c5rf-t0ken"})
    assert right.status_code == 201
    assert rpc.last("roster", "create_thing").context["authorization"] == token


def test_csrf_needs_the_csrf_cookie_too(client, rpc, token):
    client.set_cookie("portal_session", token)  # no portal_csrf cookie: an empty header must not match it

    response = client.delete("/api/v1/test/things/T1", headers={"X-CSRF-Token": ""})

    assert_problem(response, 403, "csrf_failed")


def test_a_bearer_token_wins_over_the_cookie_and_needs_no_csrf(client, rpc, auth, token):
    rpc.answer("roster", "create_thing", {"id": "T1"})
    client.set_cookie("portal_session", "stale-cookie-token")

    response = client.post("/api/v1/test/things", data=THING, content_type="application/json", headers=auth)

    assert response.status_code == 201
    assert rpc.last("roster", "create_thing").context["authorization"] == token


def test_an_expired_session_cookie_is_401(client, rpc):
    client.set_cookie("portal_session", expired_token())

    assert_problem(client.get("/api/v1/test/me"), 401, "not_authenticated")


def test_public_routes_go_on_anonymously_with_stale_credentials(client, rpc):
    """Someone whose session expired must still be able to report a sign-in problem."""
    rpc.answer("identity", "list_roles", [])
    client.set_cookie("portal_session", expired_token())

    response = client.get("/api/v1/roles", headers={"Authorization": "Bearer " + tampered_token()})

    assert response.status_code == 200
    assert rpc.last("identity", "list_roles").context["authorization"] is None


def test_without_a_public_key_signed_in_routes_are_503_and_public_ones_work(make_app, rpc, auth):
    rpc.answer("identity", "list_roles", [])
    client = make_app(TOKEN_PUBLIC_KEY=None, TOKEN_PUBLIC_KEY_FILE=None).test_client()

    assert_problem(client.get("/api/v1/test/me", headers=auth), 503, "sign_in_unavailable")
    assert client.get("/api/v1/roles", headers=auth).status_code == 200
    assert rpc.last("identity", "list_roles").context["authorization"] is None  # unverified: not passed on


def test_the_public_key_can_come_from_a_file(make_app, rpc, auth, tmp_path):
    from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM

    key_file = tmp_path / "token_public.pem"
    key_file.write_text(TEST_PUBLIC_KEY_PEM)
    rpc.answer("identity", "whoami", {"user": "u-100"})
    client = make_app(TOKEN_PUBLIC_KEY=None, TOKEN_PUBLIC_KEY_FILE=str(key_file)).test_client()

    assert client.get("/api/v1/test/me", headers=auth).status_code == 200
    assert_problem(client.get("/api/v1/test/me", headers={"Authorization": "Bearer " + expired_token()}),
                   401, "not_authenticated")
