"""RpcClient against a real RabbitMQ (a fresh vhost per test) and a real nameko service in this process."""
import threading
import time

import pytest
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy
from servicekit.errors import BusinessError, NotFound

from gateway.rpc import GatewayTimeout, RemoteFailure, RemoteProblem, RpcClient, ServiceUnavailable

CONTEXT_KEYS = ("authorization", "request_id", "idempotency_key", "remote_addr")


class ContextData(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx.data


class EchoService:
    name = "gateway_echo"
    context = ContextData()

    @rpc(expected_exceptions=BusinessError)
    def seen_context(self):
        return {key: self.context.get(key) for key in CONTEXT_KEYS}

    @rpc(expected_exceptions=BusinessError)
    def echo(self, value, suffix=""):
        return value + suffix

    @rpc(expected_exceptions=BusinessError)
    def slow(self, seconds, value):
        time.sleep(seconds)
        return value

    @rpc(expected_exceptions=BusinessError)
    def missing_group(self):
        raise NotFound("No group G999")

    @rpc(expected_exceptions=BusinessError)
    def bug(self):
        raise KeyError("ssn")


class CountingProxy(ClusterRpcProxy):
    started = []

    def start(self):
        CountingProxy.started.append(self)
        return super().start()


@pytest.fixture
def echo_service(container_factory, rabbit_config):
    container = container_factory(EchoService, rabbit_config)
    container.start()
    return container


@pytest.fixture
def rpc_client(rabbit_config, echo_service):
    CountingProxy.started = []
    rpc_client = RpcClient(rabbit_config["AMQP_URI"], timeout=5, proxy_class=CountingProxy)
    yield rpc_client
    rpc_client.close()


def test_each_call_carries_its_own_context(rpc_client):
    first = rpc_client.call("gateway_echo", "seen_context",
                        context={"authorization": "tok-1", "request_id": "req-1", "idempotency_key": "key-1",
                                 "remote_addr": "198.51.100.7"})
    second = rpc_client.call("gateway_echo", "seen_context", context={"request_id": "req-2"})

    assert first == {"authorization": "tok-1", "request_id": "req-1", "idempotency_key": "key-1",
                     "remote_addr": "198.51.100.7"}
    assert second == {"authorization": None, "request_id": "req-2", "idempotency_key": None, "remote_addr": None}
    assert len(CountingProxy.started) == 1  # one proxy served both calls of this thread


def test_arguments_and_results(rpc_client):
    assert rpc_client.call("gateway_echo", "echo", "a", suffix="b", context={}) == "ab"


def test_one_proxy_per_thread(rpc_client):
    results = []

    def work():
        results.append(rpc_client.call("gateway_echo", "echo", threading.current_thread().name, context={}))
        results.append(rpc_client.call("gateway_echo", "echo", "again", context={}))

    threads = [threading.Thread(target=work, name="t%d" % n) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(results) == ["again"] * 3 + ["t0", "t1", "t2"]
    assert len(CountingProxy.started) == 3


def test_a_business_error_becomes_a_remote_problem(rpc_client):
    with pytest.raises(RemoteProblem) as raised:
        rpc_client.call("gateway_echo", "missing_group", context={})

    assert raised.value.problem == {"code": "not_found", "status": 404, "title": "Not found",
                                    "detail": "No group G999"}


def test_any_other_remote_error_is_a_remote_failure(rpc_client):
    with pytest.raises(RemoteFailure) as raised:
        rpc_client.call("gateway_echo", "bug", context={})

    assert "KeyError" in raised.value.detail


def test_a_timeout_discards_the_proxy_so_a_late_reply_cannot_answer_the_next_call(rpc_client):
    with pytest.raises(GatewayTimeout):
        rpc_client.call("gateway_echo", "slow", 0.6, "late", context={}, timeout=0.2)
    time.sleep(0.8)  # the late reply has been sent by now

    assert rpc_client.call("gateway_echo", "echo", "fresh", context={}) == "fresh"
    assert len(CountingProxy.started) == 2
    assert CountingProxy.started[0]._reply_listener.queue_consumer.stopped


def test_a_service_that_is_not_running_is_unavailable(rpc_client):
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as raised:
        rpc_client.call("billing_nowhere", "health", context={})

    assert raised.value.service == "billing_nowhere"
    assert time.monotonic() - started < 1.0  # nameko's mandatory publish says so at once: no wait for a timeout


def test_an_unreachable_broker_is_unavailable():
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = RpcClient("amqp://guest:guest@127.0.0.1:%d/" % port, timeout=1)

    with pytest.raises(ServiceUnavailable) as raised:
        client.call("identity", "health", context={})
    assert "broker" in raised.value.detail
