"""The walking skeleton through the real stack: gateway over HTTP, RabbitMQ, PostgreSQL, all four services."""
import importlib.util
import os
import signal
import threading
import time
import uuid

import requests
from kombu import Connection

from servicekit.mail import read_maildir
from servicekit.testing import problem, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("carrier_subscriber", os.path.join(ROOT, "examples", "carrier_subscriber.py"))
carrier_subscriber = importlib.util.module_from_spec(spec)
spec.loader.exec_module(carrier_subscriber)


def report(**overrides):
    body = {"name": "Pat Benefits", "email": "pat@employer.example", "group_number": "100234",
            "category": "password_reset", "description": "The reset link in my e-mail says it has expired."}
    body.update(overrides)
    return body


def sender():
    """A distinct client address per test: the gateway trusts one proxy hop in this stack."""
    return {"X-Forwarded-For": "203.0.113.%d" % (uuid.uuid4().int % 250 + 1)}


def test_health_lists_the_four_services(api, stack):
    response = api.get(stack.url + "/health")
    assert response.status_code == 200, response.text
    services = response.json()["services"]
    assert set(services) == {"identity", "roster", "billing", "messaging"}
    assert all(state["status"] == "ok" for state in services.values())


def test_metrics_are_prometheus_text(api, stack):
    api.get(stack.url + "/health")
    response = api.get(stack.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "http_requests_total" in response.text


def test_openapi_document_and_docs_page(api, stack):
    spec = api.get(stack.url + "/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/support/issues" in spec["paths"] and "/api/v1/roles" in spec["paths"]
    page = api.get(stack.url + "/api/docs")
    assert page.status_code == 200 and "openapi.json" in page.text


def test_roles_show_the_legacy_mapping(api, stack):
    roles = api.get(stack.url + "/api/v1/roles").json()
    by_legacy = {legacy: role["role"] for role in roles for legacy in role.get("legacy_roles", [])}
    assert by_legacy == {"Super User": "group_admin", "Eligibility User": "enrollment_manager",
                         "Billing User": "billing_manager", "Inquiry Only": "viewer"}


def test_report_an_issue_before_sign_in(api, stack):
    """A reference number, a confirmation e-mail in the mail sink, and an event a carrier system receives."""
    queue = carrier_subscriber.subscription("messaging", ["issue_reported"], "carrier.e2e.%s" % uuid.uuid4().hex[:6])
    with Connection(stack.amqp_uri) as connection:
        queue(connection.default_channel).declare()
    response = api.post(stack.url + "/api/v1/support/issues", json=report(), headers=sender())
    assert response.status_code == 201, response.text
    reference = response.json()["reference"]
    assert reference.startswith("IR-")

    mail_dir = os.path.join(stack.var_dir, "mail")
    mail = wait_for(lambda: [m for m in read_maildir(mail_dir) if reference in m["subject"]], timeout=15,
                    message="the confirmation e-mail")
    assert mail[0]["to"] == "pat@employer.example"
    assert "expired" not in mail[0]["body"]  # what the user wrote stays in the portal

    received = []
    carrier_subscriber.consume(stack.amqp_uri, queue, received.append, limit=1, timeout=15)
    envelope = received[0]
    assert envelope["event_type"] == "issue_reported" and envelope["data"]["reference"] == reference
    assert envelope["sequence"] == 1 and envelope["request_id"] == response.headers["X-Request-ID"]
    assert "pat@employer.example" not in str(envelope)


def test_a_retried_request_with_the_same_idempotency_key_answers_the_same(api, stack):
    headers = dict(sender(), **{"Idempotency-Key": "retry-%s" % uuid.uuid4()})
    first = api.post(stack.url + "/api/v1/support/issues", json=report(), headers=headers)
    again = api.post(stack.url + "/api/v1/support/issues", json=report(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["reference"] == again.json()["reference"]

    other = api.post(stack.url + "/api/v1/support/issues", json=report(description="Something else entirely."),
                     headers=headers)
    assert other.status_code == 422
    assert problem(other)["code"] == "idempotency_key_reused"


def test_bad_input_gets_problem_json_with_field_messages(api, stack):
    response = api.post(stack.url + "/api/v1/support/issues", json=report(email="not-an-address", description="short"),
                        headers=sender())
    assert response.status_code == 422
    body = problem(response)
    assert set(body["errors"]) >= {"email", "description"}

    malformed = api.post(stack.url + "/api/v1/support/issues", data="{not json",
                         headers=dict(sender(), **{"Content-Type": "application/json"}))
    assert malformed.status_code == 400
    problem(malformed)


def test_a_flood_from_one_address_is_throttled(api, stack):
    headers = sender()
    statuses = [api.post(stack.url + "/api/v1/support/issues", json=report(), headers=headers).status_code
                for _ in range(7)]
    assert statuses[:5] == [201] * 5
    assert statuses[5:] == [429, 429]


def test_concurrent_requests_through_the_gateway_all_answer(api, stack):
    results = []

    def call():
        results.append(requests.get(stack.url + "/api/v1/roles", timeout=30).status_code)

    threads = [threading.Thread(target=call) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 32


# Last in this file on purpose (pytest keeps file order): it kills a service of the shared stack.
def test_a_killed_service_is_named_by_health_and_recovers(api, stack):
    os.killpg(stack.pid("messaging"), signal.SIGKILL)
    started = time.monotonic()
    response = api.get(stack.url + "/health")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert "messaging" in response.text
    assert response.json()["services"]["messaging"]["status"] != "ok"
    assert response.json()["services"]["roster"]["status"] == "ok"

    stack.start_service("messaging")
    wait_for(lambda: api.get(stack.url + "/health").status_code == 200, timeout=30, interval=0.5,
             message="messaging to come back")
