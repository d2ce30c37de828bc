"""Prometheus metrics (pattern 12): the `Metrics` provider and get-or-create helpers for the kit's metrics.

A service declares `metrics = Metrics()`. Every worker of the container is then counted in
`entrypoint_calls_total{service,entrypoint,outcome}` (outcome `ok`, `business_error` for a
`servicekit.errors.BusinessError`, `error` for anything else) and timed in
`entrypoint_duration_seconds{service,entrypoint}`. The outcome is taken in `worker_result`, i.e.
after the kit's entrypoints committed, so a failed commit counts as an error, as the caller saw it.

With config `METRICS_PORT` set (not 0), the first container in the process serves the default
registry on that port (`METRICS_ADDR`, default 0.0.0.0, so Prometheus can scrape a pod); one
server per process, however many services the process runs.

The helpers `counter`, `gauge` and `histogram` return the metric already registered under that
name in this process: the kit declares its metrics at import, but tests build many containers and
a second registration in prometheus_client's default registry would raise.
"""
import logging
import threading
import time

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from servicekit.errors import BusinessError

_log = logging.getLogger(__name__)

_metrics = {}
_metrics_lock = threading.Lock()
_server = None  # (port, server) once serving


def _get_or_create(kind, name, documentation, labelnames, **options):
    labelnames = tuple(labelnames or ())
    with _metrics_lock:
        metric = _metrics.get(name)
        if metric is None:
            metric = kind(name, documentation, labelnames, **options)
            _metrics[name] = metric
        elif not isinstance(metric, kind) or tuple(metric._labelnames) != labelnames:
            # Same name, different shape: two pieces of code disagree about a metric; say so now.
            raise ValueError("metric %s already exists as a %s with labels %s"
                             % (name, type(metric).__name__, metric._labelnames))
        return metric


def counter(name, documentation, labelnames=()):
    return _get_or_create(Counter, name, documentation, labelnames)


def gauge(name, documentation, labelnames=(), **options):
    return _get_or_create(Gauge, name, documentation, labelnames, **options)


def histogram(name, documentation, labelnames=(), **options):
    return _get_or_create(Histogram, name, documentation, labelnames, **options)


ENTRYPOINT_CALLS = counter("entrypoint_calls_total", "Entrypoint calls by outcome (ok, business_error, error).",
                           ["service", "entrypoint", "outcome"])
ENTRYPOINT_DURATION = histogram("entrypoint_duration_seconds", "Time from worker setup to result, seconds.",
                                ["service", "entrypoint"])


def serve(port, addr="0.0.0.0"):
    """Serve the default registry on `port` unless this process already serves it; returns the port served."""
    global _server
    with _metrics_lock:
        if _server is None:
            server, _thread = start_http_server(port, addr=addr)
            _server = (port, server)
            _log.info("serving /metrics on %s:%s", addr, port)
        elif _server[0] != port:
            _log.warning("metrics already served on port %s; not also on %s", _server[0], port)
        return _server[0]


def outcome_of(exc_info):
    if exc_info is None:
        return "ok"
    if isinstance(exc_info[1], BusinessError):
        return "business_error"
    return "error"


class Metrics(DependencyProvider):
    """`metrics = Metrics()`: counts and times every entrypoint of the service; serves /metrics."""

    def __init__(self):
        self.started = {}

    def setup(self):
        port = int(self.container.config.get("METRICS_PORT") or 0)
        if port:
            serve(port, self.container.config.get("METRICS_ADDR") or "0.0.0.0")

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        service = self.container.service_name
        entrypoint = worker_ctx.entrypoint.method_name
        ENTRYPOINT_CALLS.labels(service, entrypoint, outcome_of(exc_info)).inc()
        if started is not None:
            ENTRYPOINT_DURATION.labels(service, entrypoint).observe(time.perf_counter() - started)

    def worker_teardown(self, worker_ctx):
        # worker_result is always called first; this only guards against a leak if it was not.
        self.started.pop(worker_ctx, None)
