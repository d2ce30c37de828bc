"""`call_service`: how a view calls a service, with this request's context, metrics and error mapping."""
import logging

from flask import current_app, g, has_request_context, request
from servicekit.context import AUTHORIZATION, IDEMPOTENCY_KEY, REQUEST_ID

from gateway.metrics import count_rpc
from gateway.problems import Problem, from_business_problem
from gateway.request_ids import current_request_id
from gateway.rpc import GatewayTimeout, RemoteFailure, RemoteProblem, RpcError, ServiceUnavailable

_log = logging.getLogger(__name__)


# The caller's address (as the gateway trusts it: app.py's ProxyFix), for the audit and throttles of signed-in
# calls (identity's ClientAddress reads it). Anonymous RPCs that need it also take it in their input.
REMOTE_ADDR = "remote_addr"


def request_context():
    """The context data every RPC of this request carries (servicekit.context's keys, and the caller's address)."""
    return {
        AUTHORIZATION: g.get("token"),
        REQUEST_ID: current_request_id(),
        IDEMPOTENCY_KEY: g.get("idempotency_key"),
        REMOTE_ADDR: request.remote_addr if has_request_context() else None,
    }


def rpc_outcome(exc=None):
    """The `outcome` label of rpc_calls_total for a call that raised `exc` (None: it answered)."""
    return {
        None: "ok",
        RemoteProblem: "business_error",
        RemoteFailure: "remote_error",
        GatewayTimeout: "timeout",
        ServiceUnavailable: "unavailable",
    }.get(type(exc) if exc is not None else None, "error")


def call_service(service, method, *args, timeout=None, **kwargs):
    """service.method(*args, **kwargs) over RPC; its failures become problem+json answers."""
    rpc = current_app.extensions["gateway.rpc"]
    try:
        result = rpc.call(service, method, *args, context=request_context(), timeout=timeout, **kwargs)
    except RpcError as exc:
        count_rpc(service, method, rpc_outcome(exc))
        raise problem_for(exc) from None
    except Exception:
        count_rpc(service, method, "error")
        raise
    count_rpc(service, method, "ok")
    return result


def problem_for(exc):
    if isinstance(exc, RemoteProblem):
        return from_business_problem(exc.problem)
    if isinstance(exc, GatewayTimeout):
        return Problem(504, "upstream_timeout", "The service did not answer in time",
                       "The %s service did not answer in time. The request may still complete: retry with the "
                       "same Idempotency-Key, or check before repeating it." % exc.service, service=exc.service)
    if isinstance(exc, ServiceUnavailable):
        _log.warning("%s.%s unavailable: %s", exc.service, exc.method, exc.detail)
        return Problem(503, "service_unavailable", "A service is unavailable",
                       "The %s service is not available right now; try again shortly." % exc.service,
                       headers={"Retry-After": "5"}, service=exc.service)
    # RemoteFailure (a bug in a service) or anything unexpected: the detail stays in our log.
    _log.error("%s.%s failed (request %s): %s", exc.service, exc.method, current_request_id(), exc.detail)
    return Problem(500, "internal_error", "Internal error",
                   "Something went wrong on our side. If it keeps happening, contact support and quote the "
                   "request id.")
