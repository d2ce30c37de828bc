"""Every error is RFC 9457 problem+json with a stable code and the request id, and never a traceback."""
import json

from nameko.exceptions import RemoteError
from servicekit.errors import Conflict, NotFound, ValidationFailed

from gateway.testing import assert_problem

THING = {"name": "widget", "count": 2}


def post_json(client, path, body, headers=None, **kwargs):
    return client.post(path, data=body if isinstance(body, (str, bytes)) else json.dumps(body),
                       headers=headers, content_type=kwargs.pop("content_type", "application/json"), **kwargs)


def test_malformed_json_is_400(client, auth):
    response = post_json(client, "/api/v1/test/things", '{"name": "widget", "count": ', headers=auth)

    body = assert_problem(response, 400, "malformed_json")
    assert body["detail"].startswith("The body is not valid JSON")


def test_json_constants_outside_the_standard_are_malformed(client, auth):
    assert_problem(post_json(client, "/api/v1/test/things", '{"name": "w", "count": NaN}', headers=auth),
                   400, "malformed_json")


def test_a_body_that_is_not_json_is_415(client, auth):
    response = client.post("/api/v1/test/things", data="name=widget&count=2", headers=auth,
                           content_type="application/x-www-form-urlencoded")

    assert_problem(response, 415, "unsupported_media_type")


def test_schema_validation_is_422_with_messages_per_field(client, rpc, auth):
    response = post_json(client, "/api/v1/test/things",
                         {"name": "", "count": 0, "tags": ["ok", "far too long"], "colour": "red"}, headers=auth)

    body = assert_problem(response, 422, "validation_failed")
    assert set(body["errors"]) == {"name", "count", "tags.1", "colour"}
    assert body["errors"]["count"] == ["Must be greater than or equal to 1."]
    assert body["errors"]["colour"] == ["Unknown field."]
    assert all(isinstance(messages, list) and messages for messages in body["errors"].values())
    assert rpc.calls == []  # an invalid body never reaches a service


def test_a_body_that_is_not_an_object_is_422(client, auth):
    body = assert_problem(post_json(client, "/api/v1/test/things", [1, 2], headers=auth), 422, "validation_failed")
    assert "_schema" in body["errors"]


def test_unknown_route_is_404(client):
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["detail"] == "There is no GET /api/v1/no-such-thing."


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/roles")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_is_413(client, auth):
    response = post_json(client, "/api/v1/test/things", {"name": "x" * (65 * 1024), "count": 1}, headers=auth)

    assert_problem(response, 413, "payload_too_large")


def test_the_default_body_limit_is_10_mb():
    from gateway.app import create_app
    from gateway.testing import FakeRpc

    assert create_app({"TOKEN_PUBLIC_KEY_FILE": None}, rpc=FakeRpc()).config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024


def test_a_remote_business_error_keeps_its_status_code_and_fields(client, rpc, auth):
    rpc.answer("roster", "create_thing", RemoteError("NotFound", str(NotFound("No group G999"))))
    assert_problem(post_json(client, "/api/v1/test/things", THING, headers=auth), 404, "not_found")

    rpc.answer("roster", "create_thing",
               RemoteError("ValidationFailed", str(ValidationFailed(errors={"count": ["Too many for the plan."]}))))
    body = assert_problem(post_json(client, "/api/v1/test/things", THING, headers=auth), 422, "validation_failed")
    assert body["errors"] == {"count": ["Too many for the plan."]}

    rpc.answer("roster", "create_thing",
               RemoteError("EnrollmentWindowClosed", str(Conflict("Open enrollment ended", code="window_closed"))))
    body = assert_problem(post_json(client, "/api/v1/test/things", THING, headers=auth), 409, "window_closed")
    assert body["detail"] == "Open enrollment ended"
    assert body["title"] == Conflict.title


def test_an_unknown_remote_error_is_500_without_its_internals(client, rpc, auth, caplog):
    rpc.answer("roster", "create_thing",
               RemoteError("KeyError", "'ssn' Traceback (most recent call last): File \"roster/domain.py\""))

    response = post_json(client, "/api/v1/test/things", THING, headers=auth)

    body = assert_problem(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "KeyError" not in text and "roster/domain.py" not in text
    assert set(body) == {"type", "title", "status", "detail", "code", "request_id"}
    # the detail is in the gateway's log, under the request id
    assert any("KeyError" in record.getMessage() and body["request_id"] in record.getMessage()
               for record in caplog.records)


def test_a_bug_in_the_gateway_is_500_without_a_traceback(client, caplog):
    response = client.get("/api/v1/test/boom")

    assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert any(record.exc_info for record in caplog.records)


def test_an_rpc_timeout_is_504(client, rpc, auth):
    rpc.answer("identity", "whoami", {"user": "u-100"}, delay=5)

    body = assert_problem(client.get("/api/v1/test/me", headers=auth), 504, "upstream_timeout")

    assert body["service"] == "identity"
    assert rpc.last("identity", "whoami").timeout is None  # the client's RPC_TIMEOUT_SECONDS applies


def test_a_service_that_is_not_running_is_503_naming_it(client, auth):
    response = client.get("/api/v1/test/me", headers=auth)  # nothing scripted: identity is not running

    body = assert_problem(response, 503, "service_unavailable")
    assert body["service"] == "identity"
    assert "identity" in body["detail"]
    assert response.headers["Retry-After"]
