"""The gateway's Prometheus metrics.

gunicorn runs several worker processes; each keeps its own counters. With PROMETHEUS_MULTIPROC_DIR
set (gunicorn.conf.py sets it) prometheus_client writes every process's values to files in that
directory and /metrics adds them up, so a scrape sees the whole gateway whichever worker answers it.
prometheus_client decides this when it is first imported, from the environment, which is why the
directory comes from the environment and not from the app's config.
"""
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY
from servicekit.metrics import counter, histogram

HTTP_REQUESTS = counter(
    "http_requests_total", "HTTP requests answered by the gateway.", ["method", "route", "status"])
HTTP_DURATION = histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by route.", ["route"])
RPC_CALLS = counter(
    "rpc_calls_total",
    "RPC calls from the gateway by outcome: ok, business_error, remote_error, timeout, unavailable.",
    ["service", "method", "outcome"])

UNMATCHED_ROUTE = "unmatched"  # 404s: one label value, so a scanner cannot blow up the label set


def observe_request(method, route, status, seconds):
    HTTP_REQUESTS.labels(method=method, route=route or UNMATCHED_ROUTE, status=str(status)).inc()
    HTTP_DURATION.labels(route=route or UNMATCHED_ROUTE).observe(seconds)


def count_rpc(service, method, outcome):
    RPC_CALLS.labels(service=service, method=method, outcome=outcome).inc()


def exposition():
    """(body, content type) of every metric, across all worker processes in multiprocess mode."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
