"""Test helpers: fresh PostgreSQL databases, service configs pointing at them, waiting for conditions."""
import os
import time
import uuid

from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(prefix="kit"):
    """Create an empty PostgreSQL database with a unique name; returns its URL."""
    name = "t_%s_%s" % (prefix, uuid.uuid4().hex[:10])
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE "%s"' % name))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url):
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name))
    admin.dispose()


def wait_for(condition, timeout=10.0, interval=0.05, message="condition"):
    """Poll `condition()` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, message))
        time.sleep(interval)


def problem(response):
    """The RFC 9457 body of a `requests` response, after checking it is one."""
    assert response.headers["Content-Type"].startswith("application/problem+json"), (
        response.status_code, response.headers.get("Content-Type"), response.text[:500])
    body = response.json()
    assert body["status"] == response.status_code and body["code"], body
    return body


class ServiceClient:
    """Calls a running service's RPCs the way the gateway does: a caller token, a request id, and a fresh
    idempotency key per call unless one is given (a retry passes the same key)."""

    def __init__(self, service_name, config, token=None):
        self.service_name = service_name
        self.config = config
        self.token = token

    def call(self, method, *args, token=..., idempotency_key=None, **kwargs):
        from nameko.standalone.rpc import ServiceRpcProxy

        context = {"authorization": self.token if token is ... else token, "request_id": str(uuid.uuid4()),
                   "idempotency_key": idempotency_key or str(uuid.uuid4())}
        with ServiceRpcProxy(self.service_name, self.config, context_data=context, timeout=30) as proxy:
            return getattr(proxy, method)(*args, **kwargs)


def refusal(call, *args, **kwargs):
    """The problem (code, status, detail, errors) of an RPC that must be refused: it fails the test if the
    call succeeds or fails with anything but a BusinessError."""
    import pytest
    from nameko.exceptions import RemoteError

    from servicekit.errors import problem_from_remote

    with pytest.raises(RemoteError) as raised:
        call(*args, **kwargs)
    found = problem_from_remote(raised.value.value)
    assert found is not None, raised.value
    return found
