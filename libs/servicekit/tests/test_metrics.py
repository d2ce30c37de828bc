"""Metrics provider: entrypoint outcomes and latencies in the default registry, /metrics served once per process."""
import socket
import urllib.request

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook
from prometheus_client import REGISTRY

from servicekit import metrics
from servicekit.entrypoints import rpc
from servicekit.errors import Conflict
from servicekit.metrics import Metrics, counter, gauge, histogram


class MeteredService:
    name = "metered_test"
    metrics = Metrics()

    @rpc
    def quote(self):
        eventlet.sleep(0.05)
        return "ok"

    @rpc
    def enrol_twice(self):
        raise Conflict("already enrolled")

    @rpc
    def crash(self):
        raise RuntimeError("bug")


def calls(entrypoint, outcome):
    return REGISTRY.get_sample_value(
        "entrypoint_calls_total", {"service": "metered_test", "entrypoint": entrypoint, "outcome": outcome}) or 0


def duration(entrypoint, sample):
    return REGISTRY.get_sample_value(
        "entrypoint_duration_seconds" + sample, {"service": "metered_test", "entrypoint": entrypoint}) or 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_entrypoint_calls_are_counted_by_outcome_and_timed(container_factory, rabbit_config):
    before = {key: calls(*key) for key in [("quote", "ok"), ("enrol_twice", "business_error"), ("crash", "error")]}
    count_before, sum_before = duration("quote", "_count"), duration("quote", "_sum")
    container = container_factory(MeteredService, rabbit_config)
    container.start()

    with entrypoint_hook(container, "quote") as quote:
        assert quote() == "ok"
        assert quote() == "ok"
    with entrypoint_hook(container, "enrol_twice") as enrol_twice:
        with pytest.raises(Conflict):
            enrol_twice()
    with entrypoint_hook(container, "crash") as crash:
        with pytest.raises(RuntimeError):
            crash()

    assert calls("quote", "ok") - before[("quote", "ok")] == 2
    assert calls("enrol_twice", "business_error") - before[("enrol_twice", "business_error")] == 1
    assert calls("crash", "error") - before[("crash", "error")] == 1
    assert calls("quote", "error") == 0 and calls("crash", "ok") == 0
    assert duration("quote", "_count") - count_before == 2
    assert duration("quote", "_sum") - sum_before >= 0.1  # two calls sleeping 50 ms each
    assert duration("crash", "_count") >= 1


def test_metrics_are_served_once_per_process(container_factory, rabbit_config):
    port = free_port()
    first = container_factory(MeteredService, dict(rabbit_config, METRICS_PORT=port, METRICS_ADDR="127.0.0.1"))
    first.start()
    with entrypoint_hook(first, "quote") as quote:
        quote()
    # A second service in the same process asking for another port does not start a second server.
    second = container_factory(MeteredService, dict(rabbit_config, METRICS_PORT=free_port(), METRICS_ADDR="127.0.0.1"))
    second.start()
    assert metrics.serve(free_port()) == port

    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as response:
        body = response.read().decode()
    assert 'entrypoint_calls_total{entrypoint="quote",outcome="ok",service="metered_test"}' in body
    assert "entrypoint_duration_seconds_bucket" in body


def test_no_port_means_no_server(container_factory, rabbit_config, monkeypatch):
    started = []
    monkeypatch.setattr(metrics, "serve", lambda *args: started.append(args))
    container_factory(MeteredService, dict(rabbit_config, METRICS_PORT=0)).start()
    container_factory(MeteredService, rabbit_config).start()
    assert started == []


def test_helpers_return_the_metric_already_registered():
    first = counter("servicekit_test_widgets_total", "Widgets.", ["kind"])
    assert counter("servicekit_test_widgets_total", "Widgets.", ["kind"]) is first
    first.labels("blue").inc()
    assert REGISTRY.get_sample_value("servicekit_test_widgets_total", {"kind": "blue"}) >= 1
    lag = gauge("servicekit_test_lag_seconds", "Lag.")
    assert gauge("servicekit_test_lag_seconds", "Lag.") is lag
    latency = histogram("servicekit_test_latency_seconds", "Latency.", ["step"], buckets=(0.1, 1))
    assert histogram("servicekit_test_latency_seconds", "Latency.", ["step"], buckets=(0.1, 1)) is latency
    # The same name with another shape is a programming error, reported at once.
    with pytest.raises(ValueError, match="already exists"):
        counter("servicekit_test_widgets_total", "Widgets.", ["colour"])
    with pytest.raises(ValueError, match="already exists"):
        histogram("servicekit_test_lag_seconds", "Lag.")
