"""GET /metrics: Prometheus text with request and RPC counters (multiprocess mode: tests/integration)."""
from prometheus_client import REGISTRY


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_by_route_and_rpc_calls_by_outcome(client, rpc):
    rpc.answer("identity", "list_roles", [])
    requests_before = sample("http_requests_total", method="GET", route="/api/v1/roles", status="200")
    unmatched_before = sample("http_requests_total", method="GET", route="unmatched", status="404")
    ok_before = sample("rpc_calls_total", service="identity", method="list_roles", outcome="ok")
    down_before = sample("rpc_calls_total", service="messaging", method="health", outcome="unavailable")

    client.get("/api/v1/roles")
    client.get("/api/v1/roles")
    client.get("/no/such/page/12345")
    client.get("/health")  # nothing scripted for health: every service unavailable
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "# TYPE http_requests_total counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert 'http_request_duration_seconds_bucket{le="0.005",route="/api/v1/roles"}' in text
    assert "/no/such/page" not in text  # unknown paths share one label value
    assert sample("http_requests_total", method="GET", route="/api/v1/roles", status="200") == requests_before + 2
    assert sample("http_requests_total", method="GET", route="unmatched", status="404") == unmatched_before + 1
    assert sample("rpc_calls_total", service="identity", method="list_roles", outcome="ok") == ok_before + 2
    assert sample("rpc_calls_total", service="messaging", method="health", outcome="unavailable") == down_before + 1
