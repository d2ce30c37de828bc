"""GET /health: ask every service's `health` RPC at once and report each.

One thread per service, so a service that hangs costs the health timeout once, not once per
service. The threads belong to a small pool that lives as long as the worker: each keeps its RPC
proxy (rpc.py) between checks instead of opening a broker connection per probe.
"""
import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait

from gateway.calls import rpc_outcome
from gateway.metrics import count_rpc
from gateway.rpc import GatewayTimeout, RpcError, ServiceUnavailable

_log = logging.getLogger(__name__)

SERVICES = ("identity", "roster", "billing", "messaging")
START_GRACE_SECONDS = 1.0  # on top of the RPC timeout, for a thread that must first connect its proxy


class HealthCheck:
    def __init__(self, rpc, timeout, services=SERVICES):
        self.rpc = rpc
        self.timeout = timeout
        self.services = services
        # Several probes may overlap (gthread serves requests concurrently): room for four at once.
        self._pool = ThreadPoolExecutor(max_workers=4 * len(services), thread_name_prefix="health")

    def check(self, context):
        """(all ok?, {service: state}) within about `timeout` seconds, whatever the services do."""
        started = time.monotonic()
        futures = {service: self._pool.submit(self._ask, service, context) for service in self.services}
        wait(futures.values(), timeout=self.timeout + START_GRACE_SECONDS)
        states = {}
        for service, future in futures.items():
            if future.done():
                states[service] = future.result()
            else:
                count_rpc(service, "health", "timeout")
                states[service] = {"status": "timeout",
                                   "detail": "no answer within %.1fs" % (time.monotonic() - started)}
        healthy = all(state["status"] == "ok" for state in states.values())
        return healthy, states

    def _ask(self, service, context):
        try:
            answer = self.rpc.call(service, "health", context=context, timeout=self.timeout)
        except RpcError as exc:
            count_rpc(service, "health", rpc_outcome(exc))
            return _failed_state(exc, self.timeout)
        except Exception:
            _log.exception("health check of %s failed", service)
            count_rpc(service, "health", "error")
            return {"status": "error", "detail": "the health check failed; see the gateway's log"}
        count_rpc(service, "health", "ok")
        state = dict(answer) if isinstance(answer, dict) else {}
        state["status"] = "ok"
        return state


def _failed_state(exc, timeout):
    if isinstance(exc, ServiceUnavailable):
        return {"status": "unavailable", "detail": exc.detail}
    if isinstance(exc, GatewayTimeout):
        return {"status": "timeout", "detail": "no answer within %ss" % timeout}
    # Its own health RPC failed: the details (e.g. a database error) stay in the service's log.
    return {"status": "error", "detail": "the service's health check failed"}
