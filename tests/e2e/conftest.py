"""The whole stack, started once per test session the way `make run` starts it, but isolated:
its own RabbitMQ vhost, its own PostgreSQL databases (one per service), its own ports and var dir.
"""
import os
import socket
import subprocess
import sys
import uuid

import pytest
import requests

from servicekit.testing import drop_database, fresh_database

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = ["identity", "roster", "billing", "messaging"]
RABBIT_API = os.environ.get("TEST_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    root = ROOT

    def __init__(self, tmp_dir):
        self.vhost = "e2e-%s" % uuid.uuid4().hex[:8]
        self.port = free_port()
        self.url = "http://127.0.0.1:%s" % self.port
        self.var_dir = str(tmp_dir)
        self.database_urls = {service: fresh_database("e2e_" + service) for service in SERVICES}
        self.amqp_uri = "amqp://guest:guest@127.0.0.1:5672/%s" % self.vhost
        self.env = dict(os.environ, VAR_DIR=self.var_dir, PORT=str(self.port), AMQP_URI=self.amqp_uri,
                        MAIL_DIR=os.path.join(self.var_dir, "mail"), HEALTH_TIMEOUT_SECONDS="2", TRUSTED_PROXY_HOPS="1",
                        EVENT_RETRY_BASE_SECONDS="0.2", OUTBOX_POLL_SECONDS="0.5")
        for service in SERVICES:
            self.env["%s_DATABASE_URL" % service.upper()] = self.database_urls[service]
            self.env["%s_METRICS_PORT" % service.upper()] = str(free_port())

    def portalctl(self, *args, timeout=180):
        return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "portalctl.py"), *args],
                              cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)

    def up(self):
        requests.put("%s/vhosts/%s" % (RABBIT_API, self.vhost), timeout=10).raise_for_status()
        result = self.portalctl("up", "--wait", "60")
        if result.returncode != 0:
            raise RuntimeError("the stack did not come up:\n%s%s\n%s" % (result.stdout, result.stderr, self.logs()))

    def down(self):
        self.portalctl("down")
        requests.delete("%s/vhosts/%s" % (RABBIT_API, self.vhost), timeout=10)
        for url in self.database_urls.values():
            drop_database(url)

    def logs(self):
        log_dir = os.path.join(self.var_dir, "log")
        if not os.path.isdir(log_dir):
            return ""
        return "\n".join("== %s ==\n%s" % (name, open(os.path.join(log_dir, name)).read()[-3000:])
                         for name in sorted(os.listdir(log_dir)))

    def pid(self, name):
        with open(os.path.join(self.var_dir, "run", name + ".pid")) as handle:
            return int(handle.read())

    def token(self, user_id, grants=(), carrier=False):
        """A token as identity will issue it, signed with this stack's development key."""
        from servicekit.auth import TokenSigner

        with open(os.path.join(self.var_dir, "keys", "token_private.pem")) as handle:
            return TokenSigner(handle.read(), ttl_seconds=3600).issue(user_id, grants=list(grants), carrier=carrier)

    def start_service(self, name):
        code = "import sys; sys.path.insert(0, %r); import portalctl; portalctl.start_service(%r)" % (
            os.path.join(ROOT, "scripts"), name)
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=self.env, check=True, timeout=30)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("stack"))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture
def api(stack):
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    session.base_url = stack.url
    return session
