"""The real thing: gunicorn with gunicorn.conf.py (gthread, 2 workers, multiprocess metrics, JSON logs)
against a real RabbitMQ on which no service is running (a fresh vhost)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM

GATEWAY_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEALTH_TIMEOUT = 2.0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gateway(rabbit_config, tmp_path):
    """gunicorn serving the gateway on a free loopback port; yields (base url, metrics dir, stdout path)."""
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    env = dict(os.environ, PORT=str(port), AMQP_URI=rabbit_config["AMQP_URI"],
               PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), HEALTH_TIMEOUT_SECONDS=str(HEALTH_TIMEOUT),
               TOKEN_PUBLIC_KEY=TEST_PUBLIC_KEY_PEM, GATEWAY_WORKERS="2", GATEWAY_THREADS="4")
    env.pop("BIND", None)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen([gunicorn, "-c", os.path.join(GATEWAY_DIR, "gunicorn.conf.py"), "gateway.wsgi:app"],
                                   cwd=GATEWAY_DIR, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, "gunicorn exited:\n" + stderr.read_text()[-3000:]
            try:
                if requests.get(base + "/api/docs", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a worker still booting
                pass
            assert time.monotonic() < deadline, "gunicorn did not serve within 15 s:\n" + stderr.read_text()[-3000:]
            time.sleep(0.1)
        yield base, metrics_dir, stdout, stderr
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def counter(text, name, **labels):
    wanted = "%s{%s}" % (name, ",".join('%s="%s"' % item for item in sorted(labels.items())))
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def test_health_names_every_service_within_the_timeout_and_metrics_add_up_across_workers(gateway):
    base, metrics_dir, stdout, stderr = gateway

    started = time.monotonic()
    health = requests.get(base + "/health", headers={"X-Request-ID": "probe-1"}, timeout=10)
    elapsed = time.monotonic() - started

    assert health.status_code == 503
    assert elapsed < HEALTH_TIMEOUT + 1.0, elapsed
    assert health.headers["Content-Type"] == "application/problem+json"
    body = health.json()
    assert body["detail"] == "Not answering: billing, identity, messaging, roster."
    assert {name: state["status"] for name, state in body["services"].items()} == {
        "identity": "unavailable", "roster": "unavailable", "billing": "unavailable", "messaging": "unavailable"}
    assert body["request_id"] == health.headers["X-Request-ID"] == "probe-1"

    before = requests.get(base + "/metrics", timeout=5).text
    for _ in range(6):  # a new connection each: both workers get some
        assert requests.get(base + "/api/v1/openapi.json", timeout=5).status_code == 200
    scrape = requests.get(base + "/metrics", timeout=5)

    assert scrape.status_code == 200 and scrape.headers["Content-Type"].startswith("text/plain")
    route = {"method": "GET", "route": "/api/v1/openapi.json", "status": "200"}
    assert counter(scrape.text, "http_requests_total", **route) - counter(before, "http_requests_total", **route) == 6
    assert counter(scrape.text, "http_requests_total", method="GET", route="/health", status="503") == 1
    assert counter(scrape.text, "rpc_calls_total", service="roster", method="health", outcome="unavailable") == 1
    assert list(metrics_dir.glob("counter_*.db"))  # values live in the multiprocess directory

    # one JSON access-log line per request, with its request id
    access = [json.loads(line) for line in stdout.read_text().splitlines()]
    probe = [entry for entry in access if entry.get("path") == "/health"]
    assert probe and probe[0]["request_id"] == "probe-1" and probe[0]["status"] == 503
    assert all(json.loads(line)["service"] == "gateway" for line in stderr.read_text().splitlines())
