"""This milestone's API routes: the public role table and the pre-sign-in "Report an Issue" form."""
import json

from gateway.testing import assert_problem

REPORT = {
    "name": "Pat Example",
    "email": "pat@example.com",
    "group_number": "G100",
    "phone": "+1 (555) 010-0199 x12",
    "category": "sign_in",
    "description": "My verification code never arrives.",
}
RECEIPT = {"reference": "ISS-20261123-0001", "status": "received", "received_at": "2026-11-23T10:00:00+00:00"}


def report(client, body, **headers):
    return client.post("/api/v1/support/issues", data=json.dumps(body), content_type="application/json",
                       headers=headers)


def test_roles_are_public_and_come_from_identity(client, rpc):
    roles = [{"role": "viewer", "name": "Viewer", "legacy_roles": ["Inquiry Only"]}]
    rpc.answer("identity", "list_roles", roles)

    response = client.get("/api/v1/roles")

    assert response.status_code == 200
    assert response.get_json() == roles
    call = rpc.last("identity", "list_roles")
    assert (call.args, call.kwargs, call.context["authorization"]) == ((), {}, None)


def test_an_issue_report_goes_to_messaging_with_the_senders_address(client, rpc):
    rpc.answer("messaging", "report_issue", RECEIPT)

    response = report(client, REPORT, **{"Idempotency-Key": "form-1"})

    assert response.status_code == 201
    assert response.get_json() == RECEIPT
    call = rpc.last("messaging", "report_issue")
    assert call.args == (dict(REPORT, remote_addr="127.0.0.1"),)
    assert call.context["idempotency_key"] == "form-1"
    assert call.context["authorization"] is None


def test_optional_fields_may_be_left_out_or_blank_and_strings_are_trimmed(client, rpc):
    rpc.answer("messaging", "report_issue", RECEIPT)
    minimal = {"name": "  Pat  ", "email": "pat@example.com", "category": "other",
               "description": "Something is wrong here.", "phone": ""}

    assert report(client, minimal).status_code == 201

    sent = rpc.last("messaging", "report_issue").args[0]
    assert sent["name"] == "Pat"
    assert sent["phone"] is None and sent["group_number"] is None


def test_an_invalid_issue_report_lists_every_bad_field(client, rpc):
    bad = {"name": "x" * 101, "email": "not-an-email", "group_number": "G-100", "phone": "call me",
           "category": "billing", "description": "short"}

    body = assert_problem(report(client, bad), 422, "validation_failed")

    assert set(body["errors"]) == {"name", "email", "group_number", "phone", "category", "description"}
    assert body["errors"]["email"] == ["Not a valid email address."]
    assert rpc.calls == []


def test_required_issue_fields(client, rpc):
    body = assert_problem(report(client, {}), 422, "validation_failed")

    assert set(body["errors"]) == {"name", "email", "category", "description"}
    assert body["errors"]["name"] == ["Missing data for required field."]


def test_messaging_throttling_answers_429(client, rpc):
    from nameko.exceptions import RemoteError
    from servicekit.errors import TooManyRequests

    rpc.answer("messaging", "report_issue", RemoteError("TooManyRequests", str(TooManyRequests("Try in an hour."))))

    body = assert_problem(report(client, REPORT), 429, "too_many_requests")
    assert body["detail"] == "Try in an hour."


def test_the_senders_address_comes_from_trusted_proxy_hops_only(rpc):
    from gateway.app import create_app
    from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM

    rpc.answer("messaging", "report_issue", RECEIPT)
    direct = create_app({"TOKEN_PUBLIC_KEY": TEST_PUBLIC_KEY_PEM}, rpc=rpc).test_client()
    report(direct, REPORT, **{"X-Forwarded-For": "198.51.100.7"})
    assert rpc.last("messaging", "report_issue").args[0]["remote_addr"] == "127.0.0.1"  # a client can't pick it

    behind_balancer = create_app({"TOKEN_PUBLIC_KEY": TEST_PUBLIC_KEY_PEM, "TRUSTED_PROXY_HOPS": 1},
                                 rpc=rpc).test_client()
    report(behind_balancer, REPORT, **{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
    assert rpc.last("messaging", "report_issue").args[0]["remote_addr"] == "198.51.100.7"  # the hop it added
