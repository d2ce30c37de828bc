"""What travels with each RPC: the request id, the caller's token and the idempotency key."""
import json
import uuid

import pytest

from gateway.testing import assert_problem

THING = {"name": "widget", "count": 2}


def post_thing(client, headers, path="/api/v1/test/things"):
    return client.post(path, data=json.dumps(THING), content_type="application/json", headers=headers)


def test_a_sane_client_request_id_is_kept_echoed_and_passed_on(client, rpc):
    rpc.answer("identity", "list_roles", [])

    response = client.get("/api/v1/roles", headers={"X-Request-ID": "web-1234_ab.c"})

    assert response.headers["X-Request-ID"] == "web-1234_ab.c"
    assert rpc.last("identity", "list_roles").context["request_id"] == "web-1234_ab.c"


@pytest.mark.parametrize("offered", ["", "x" * 65, "has space", "semi;colon", "new\\nline", "ünï"])
def test_an_unusable_request_id_is_replaced_by_a_uuid(client, rpc, offered):
    rpc.answer("identity", "list_roles", [])

    response = client.get("/api/v1/roles", headers={"X-Request-ID": offered})

    request_id = response.headers["X-Request-ID"]
    assert request_id != offered
    assert str(uuid.UUID(request_id)) == request_id
    assert rpc.last("identity", "list_roles").context["request_id"] == request_id


def test_each_request_gets_its_own_id_which_problems_carry(client):
    first, second = client.get("/nowhere"), client.get("/nowhere")

    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert first.get_json()["request_id"] == first.headers["X-Request-ID"]


def test_the_idempotency_key_header_is_passed_through(client, rpc, auth, token):
    rpc.answer("roster", "create_thing", {"id": "T1"})

    response = post_thing(client, dict(auth, **{"Idempotency-Key": "enrol-7f3a 2026-11-01"}))

    assert response.status_code == 201
    assert response.get_json() == {"id": "T1"}
    call = rpc.last("roster", "create_thing")
    assert call.args == (dict(THING, tags=[]),)
    assert call.context == {"authorization": token, "request_id": response.headers["X-Request-ID"],
                            "idempotency_key": "enrol-7f3a 2026-11-01", "remote_addr": "127.0.0.1"}


def test_without_an_idempotency_key_the_request_id_is_used(client, rpc, auth):
    rpc.answer("roster", "delete_thing", None)

    response = client.delete("/api/v1/test/things/T1", headers=dict(auth, **{"X-Request-ID": "req-42"}))

    assert response.status_code == 200
    call = rpc.last("roster", "delete_thing")
    assert call.args == ("T1",)
    assert call.context["idempotency_key"] == "req-42"


def test_reads_carry_no_idempotency_key(client, rpc, auth):
    rpc.answer("identity", "whoami", {"user": "u-100"})

    client.get("/api/v1/test/me", headers=dict(auth, **{"Idempotency-Key": "ignored"}))

    assert rpc.last("identity", "whoami").context["idempotency_key"] is None


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", "naïve"])
def test_an_unusable_idempotency_key_is_400(client, rpc, auth, key):
    response = post_thing(client, dict(auth, **{"Idempotency-Key": key}))

    assert_problem(response, 400, "invalid_idempotency_key")
    assert rpc.calls == []


def test_a_route_can_require_the_idempotency_key(client, rpc, auth):
    rpc.answer("billing", "pay", {"payment": "P1"})

    assert_problem(post_thing(client, auth, "/api/v1/test/payments"), 400, "idempotency_key_required")
    assert rpc.calls == []

    response = post_thing(client, dict(auth, **{"Idempotency-Key": "pay-1"}), "/api/v1/test/payments")
    assert response.status_code == 201
    assert rpc.last("billing", "pay").context["idempotency_key"] == "pay-1"
