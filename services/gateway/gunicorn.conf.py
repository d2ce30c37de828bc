"""gunicorn settings for the gateway: `gunicorn -c services/gateway/gunicorn.conf.py gateway.wsgi:app`.

gthread workers, no monkey-patching: gunicorn >= 26 has no eventlet worker, and the gateway talks to
the services through one standalone nameko proxy per thread (gateway/rpc.py). Environment:
PORT (default 8080) on 127.0.0.1, or BIND (e.g. 0.0.0.0:8080 in a container); GATEWAY_WORKERS (2),
GATEWAY_THREADS (8); PROMETHEUS_MULTIPROC_DIR; LOG_LEVEL (INFO).
"""
import glob
import os
import tempfile

bind = os.environ.get("BIND") or "127.0.0.1:%s" % os.environ.get("PORT", "8080")

# prometheus_client picks multiprocess mode when it is first imported, from this variable, so it must
# be set before any worker imports the app. Without it each worker would count alone and /metrics
# would show whichever worker happened to answer. The default is per address, so two gateways on one
# machine do not wipe each other's files (on_starting).
multiproc_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(
    tempfile.gettempdir(), "portal-gateway-metrics-" + bind.replace(":", "-").replace("/", "-")))

from gateway.logs import logging_config  # noqa: E402  (after the variable above)
worker_class = "gthread"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
# RPC calls time out after RPC_TIMEOUT_SECONDS (10 s), well inside gunicorn's worker timeout. Census imports and
# roster exports may wait BULK_RPC_TIMEOUT_SECONDS (60 s): that is fine under gthread, whose main loop keeps
# notifying the arbiter while a request thread waits (the timeout only catches a stuck worker process).
timeout = 30
graceful_timeout = 15
# gunicorn 27's control socket has one default path per user, which a second gunicorn on the machine
# (the gateway test's, next to `make run`'s) would take over; nothing here uses gunicornc.
control_socket_disable = True

# One JSON object a line, with the request id: the access log on stdout, everything else on stderr.
accesslog = "-"
logger_class = "gateway.logs.JsonAccessLogger"
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO").upper())


def on_starting(server):
    """Start every run with an empty metrics directory: old workers' files would add stale counts."""
    os.makedirs(multiproc_dir, exist_ok=True)
    for stale in glob.glob(os.path.join(multiproc_dir, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    """A dead worker's live gauges must stop counting (its counters stay, as Prometheus expects)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, multiproc_dir)
