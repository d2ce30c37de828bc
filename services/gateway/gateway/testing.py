"""Test support for the gateway (and for anything that tests code calling it): a fake RPC client with
RpcClient's interface, tokens that must be refused, and a problem+json assertion."""
import base64
import json
import time
from dataclasses import dataclass

from nameko.exceptions import RemoteError
from servicekit.testing.tokens import grant, mint_token

from gateway.rpc import GatewayTimeout, ServiceUnavailable, translate_remote_error


@dataclass
class Call:
    service: str
    method: str
    args: tuple
    kwargs: dict
    context: dict
    timeout: float


class FakeRpc:
    """Stands in for gateway.rpc.RpcClient: the same `call()`, answering what a test scripted.

    `answer(service, method, value)` returns value; a callable is called with the call's arguments;
    an exception is raised (a nameko RemoteError is first translated as the real client does);
    `delay` seconds beyond the call's timeout (`timeout`, as RpcClient's, when the call gives none)
    become a GatewayTimeout, as the real client's would. A service nobody scripted is not running:
    ServiceUnavailable.
    """

    def __init__(self, timeout=0.5):
        self.timeout = timeout
        self.answers = {}
        self.calls = []

    def answer(self, service, method, value=None, delay=0.0):
        self.answers[(service, method)] = (value, delay)

    def call(self, service, method, *args, context=None, timeout=None, **kwargs):
        self.calls.append(Call(service, method, args, kwargs, dict(context or {}), timeout))
        if (service, method) not in self.answers:
            raise ServiceUnavailable(service, method, "no %s service is running" % service)
        value, delay = self.answers[(service, method)]
        limit = self.timeout if timeout is None else timeout
        if delay:
            time.sleep(min(delay, limit))
            if delay > limit:
                raise GatewayTimeout(service, method, "%s.%s did not answer within %ss" % (service, method, limit))
        if isinstance(value, RemoteError):
            raise translate_remote_error(service, method, value)
        if isinstance(value, BaseException):
            raise value
        return value(*args, **kwargs) if callable(value) else value

    def last(self, service, method):
        return [call for call in self.calls if (call.service, call.method) == (service, method)][-1]


def expired_token():
    return mint_token("u-100", [grant("G100", "group_admin")], issued_at=time.time() - 3600, expires_in=600)


def tampered_token():
    """A good token whose payload was edited (another user id) without re-signing it."""
    header, payload, signature = mint_token("u-100", [grant("G100", "viewer")]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "u-999"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, forged, signature])


def assert_problem(response, status, code):
    """The response is RFC 9457 problem+json with this status and code, and carries the request id."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
