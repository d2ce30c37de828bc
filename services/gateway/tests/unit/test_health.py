"""GET /health asks the four services at once and names the ones that do not answer."""
import time

from gateway.testing import assert_problem

SERVICES = ("identity", "roster", "billing", "messaging")


def answer_healthy(rpc, *services):
    for service in services:
        rpc.answer(service, "health", {"status": "ok", "service": service, "database": "sqlite",
                                       "outbox_unpublished": 0})


def test_all_services_answer_200_with_each_state(client, rpc):
    answer_healthy(rpc, *SERVICES)

    response = client.get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["services"]) == set(SERVICES)
    assert body["services"]["roster"] == {"status": "ok", "service": "roster", "database": "sqlite",
                                          "outbox_unpublished": 0}
    # the health timeout, not the (longer) ordinary RPC timeout, bounds each call
    assert {call.timeout for call in rpc.calls} == {0.3}


def test_a_service_not_running_is_named_in_a_503(client, rpc):
    answer_healthy(rpc, "identity", "roster", "messaging")  # billing is not running

    response = client.get("/health")

    body = assert_problem(response, 503, "services_unavailable")
    assert body["detail"] == "Not answering: billing."
    assert body["services"]["billing"]["status"] == "unavailable"
    assert all(body["services"][name]["status"] == "ok" for name in ("identity", "roster", "messaging"))


def test_services_are_asked_concurrently_and_a_slow_one_times_out(client, rpc):
    # Each healthy service takes 0.2 s and roster 10 s; sequential calls would need > 0.6 s even
    # without roster, and waiting for roster would take 10 s.
    for service in ("identity", "billing", "messaging"):
        rpc.answer(service, "health", {"status": "ok"}, delay=0.2)
    rpc.answer("roster", "health", {"status": "ok"}, delay=10)

    started = time.monotonic()
    response = client.get("/health")
    elapsed = time.monotonic() - started

    body = assert_problem(response, 503, "services_unavailable")
    assert body["detail"] == "Not answering: roster."
    assert body["services"]["roster"]["status"] == "timeout"
    assert elapsed < 0.3 + 0.4, elapsed  # the health timeout (0.3 s) and some slack


def test_a_call_that_ignores_its_timeout_still_cannot_hold_the_answer(client, rpc):
    def hang(*args, **kwargs):
        time.sleep(3)
        return {"status": "ok"}

    answer_healthy(rpc, "identity", "roster", "billing")
    rpc.answer("messaging", "health", hang)

    started = time.monotonic()
    body = assert_problem(client.get("/health"), 503, "services_unavailable")

    assert time.monotonic() - started < 2.0  # health timeout + the proxy start-up grace, not 3 s
    assert body["services"]["messaging"]["status"] == "timeout"
    assert body["detail"] == "Not answering: messaging."


def test_a_failing_health_rpc_reports_error_without_its_details(client, rpc):
    from nameko.exceptions import RemoteError

    answer_healthy(rpc, "identity", "roster", "billing")
    rpc.answer("messaging", "health", RemoteError("OperationalError", "could not connect to db at 10.0.0.5"))

    body = assert_problem(client.get("/health"), 503, "services_unavailable")

    assert body["services"]["messaging"] == {"status": "error", "detail": "the service's health check failed"}
    assert "10.0.0.5" not in str(body)
