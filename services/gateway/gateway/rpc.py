"""Calling the nameko services from gunicorn's threads.

nameko 2.14.1's standalone `ClusterRpcProxy` is single-threaded: it polls its own reply queue on the
calling thread. Shared between threads it lost 3-5 % of calls to timeouts under load
(ARCHITECTURE.md), so every thread gets its own, started on that thread's first call and kept for the
thread's life (gthread threads live as long as the worker).

Each call puts the request's context (token, request id, idempotency key) into the proxy's worker
context: nameko reads `_worker_ctx.data` when it builds each message's headers, so one long-lived
proxy serves every request of its thread.

Everything nameko can raise is turned into one of the exceptions below, which the app answers as
problem+json: `ServiceUnavailable` 503, `GatewayTimeout` 504, `RemoteProblem` (a service's
BusinessError, its own status), `RemoteFailure` 500.
"""
import logging
import threading

from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from nameko.exceptions import BadRequest, RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy
from servicekit.errors import problem_from_remote

_log = logging.getLogger(__name__)

# Errors that mean "the broker is not there (any more)": connection refused or reset, a closed channel,
# nameko's "this consumer has been disconnected" (a RuntimeError from the reply listener).
BROKER_ERRORS = (OSError, AMQPError, KombuError, RuntimeError)


class RpcError(Exception):
    def __init__(self, service, method, detail):
        super().__init__(detail)
        self.service = service
        self.method = method
        self.detail = detail


class ServiceUnavailable(RpcError):
    """The broker is unreachable or no instance of the service is running."""


class GatewayTimeout(RpcError):
    """No reply within the timeout. The call may still complete: a retry must reuse the idempotency key."""


class RemoteProblem(RpcError):
    """The service refused the call with a BusinessError; `problem` is its problem dict."""

    def __init__(self, service, method, problem):
        super().__init__(service, method, problem.get("detail") or problem["code"])
        self.problem = problem


class RemoteFailure(RpcError):
    """Any other error in the service (a bug): logged here with its details, answered as a bare 500."""


def translate_remote_error(service, method, exc):
    """nameko's RemoteError -> RemoteProblem for a BusinessError, else RemoteFailure."""
    problem = problem_from_remote(exc.value)
    if problem is not None:
        return RemoteProblem(service, method, problem)
    return RemoteFailure(service, method, "%s: %s" % (exc.exc_type, exc.value))


class RpcClient:
    """`call(service, method, *args, context=..., timeout=None, **kwargs)` from any thread."""

    def __init__(self, amqp_uri, timeout=10.0, proxy_class=ClusterRpcProxy):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self._proxy_class = proxy_class  # a test passes a subclass that counts the proxies started
        self._local = threading.local()

    def call(self, service, method, *args, context=None, timeout=None, **kwargs):
        runner, cluster = self._thread_proxy(service, method)
        timeout = self.timeout if timeout is None else timeout
        # None values are left out: nameko drops them from headers anyway, with a warning.
        runner._worker_ctx.data = {key: value for key, value in (context or {}).items() if value is not None}
        # The reply wait is a socket read timeout on this proxy's connection; set per call, because
        # /health uses a shorter one than ordinary calls.
        runner._reply_listener.queue_consumer.timeout = timeout
        try:
            return getattr(cluster[service], method)(*args, **kwargs)
        except RpcTimeout:
            # The reply may still arrive on this proxy's queue; a fresh proxy cannot be confused by it.
            self._discard(runner)
            raise GatewayTimeout(service, method, "%s.%s did not answer within %ss" % (service, method, timeout))
        except UnknownService:
            raise ServiceUnavailable(service, method, "no %s service is running" % service)
        except RemoteError as exc:
            raise translate_remote_error(service, method, exc) from None
        except BadRequest as exc:
            # MethodNotFound / IncorrectSignature: the gateway and the service disagree about the RPC.
            raise RemoteFailure(service, method, "%s: %s" % (type(exc).__name__, exc)) from None
        except BROKER_ERRORS as exc:
            self._discard(runner)
            raise ServiceUnavailable(service, method, "the message broker is unreachable (%s)" % exc) from None
        except BaseException:
            self._discard(runner)  # unknown state: do not reuse this connection
            raise

    def close(self):
        """Stop this thread's proxy, if it has one."""
        runner = getattr(self._local, "runner", None)
        if runner is not None:
            self._discard(runner)

    def _thread_proxy(self, service, method):
        runner = getattr(self._local, "runner", None)
        if runner is None:
            runner = self._proxy_class({"AMQP_URI": self.amqp_uri}, timeout=self.timeout)
            try:
                cluster = runner.start()
            except BROKER_ERRORS as exc:
                raise ServiceUnavailable(service, method, "the message broker is unreachable (%s)" % exc) from None
            self._local.runner, self._local.cluster = runner, cluster
        return runner, self._local.cluster

    def _discard(self, runner):
        self._local.runner = self._local.cluster = None
        try:
            runner.stop()
        except Exception:  # already broken; dropping it is all that matters
            _log.debug("stopping a discarded RPC proxy failed", exc_info=True)
