"""The whole stack, started once per test session the way `make run` starts it, but isolated:
its own RabbitMQ vhost, its own PostgreSQL databases (one per service), its own ports and var dir.

Besides `stack.token(...)` (a token minted with the stack's development key, for tests that are not about
signing in), the stack signs people in for real: `stack.bootstrap_user(...)` seeds an active user with
identity's operator CLI, `stack.sign_in(username, password, totp_secret=..., email=...)` does login then the
second factor (a TOTP code computed here, RFC 6238, or the e-mail code read from the mail sink) and returns a
signed-in `Client`; `stack.mail(to=...)` / `stack.wait_mail(to, after=n)` read the stack's mail sink.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import uuid
from email.utils import getaddresses
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from servicekit.mail import read_maildir
from servicekit.testing import drop_database, fresh_database, wait_for

sys.path.insert(0, os.path.dirname(__file__))  # pytest runs with --import-mode=importlib: journeys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = ["identity", "roster", "billing", "messaging"]
RABBIT_API = os.environ.get("TEST_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")
TOTP_STEP_SECONDS = 30


def totp_code(secret, step):
    """RFC 6238 (HMAC-SHA1, 6 digits) for one 30-second time step of a base32 secret."""
    key = base64.b32decode(secret.upper().replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1000000)


def current_step():
    return int(time.time() // TOTP_STEP_SECONDS)


class Totp:
    """TOTP codes for the tests' users. identity accepts the step before and after the current one but never a
    step twice, so each code is taken from a later step than the last one used for that secret: the current
    step, else the next; when both are used, wait for the clock (at most one step)."""
    used = {}  # secret -> the last step a code was taken from

    @classmethod
    def next_code(cls, secret):
        last = cls.used.get(secret, -1)
        while True:
            now = current_step()
            for step in (now, now + 1):  # never now - 1: it may leave the window before identity checks it
                if step > last:
                    cls.used[secret] = step
                    return totp_code(secret, step)
            time.sleep(max(0.05, last * TOTP_STEP_SECONDS - time.time() + 0.05))

    @classmethod
    def new_secret(cls):
        return base64.b32encode(os.urandom(20)).decode("ascii")


def random_address():
    """A client address of its own (the stack trusts one X-Forwarded-For hop): throttles per address never
    mix one test's requests with another's."""
    n = uuid.uuid4().int
    return "10.%d.%d.%d" % (n % 250 + 1, (n >> 8) % 250 + 1, (n >> 16) % 250 + 1)


class Client:
    """A client of the gateway: anonymous, or signed in (`token`); its own client address."""

    def __init__(self, stack, token=None, address=None):
        self.stack = stack
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.address = address or random_address()
        self.session.headers["X-Forwarded-For"] = self.address
        self.token = None
        self.refresh_token = None
        self.signed_in = None  # the body of mfa/verify when signed in for real
        if token:
            self.use_token(token)

    def use_token(self, token):
        self.token = token
        self.session.headers["Authorization"] = "Bearer %s" % token

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.stack.url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def succeeded(response, *statuses):
    """The JSON body of a 2xx answer (or one of `statuses`), else an AssertionError showing the answer."""
    assert (response.status_code in statuses) if statuses else (200 <= response.status_code < 300), (
        response.request.method, response.request.path_url, response.status_code, response.text[:1000])
    return response.json() if response.content else None


_CODE = re.compile(r"(?<![\w-])(\d{6})(?![\w-])")
_URL = re.compile(r"https?://[^\s<>\"']+")


def code_in(message):
    """The 6-digit code in a mail (subject or body)."""
    found = _CODE.findall(message["subject"] + "\n" + message["body"])
    assert found, "no 6-digit code in the mail %r" % message
    return found[0]


def link_token_in(message):
    """The secret of the link in a mail: its `token` query parameter (set-up and password-reset links) or its
    `invitation` (an approved access request's registration link)."""
    for url in _URL.findall(message["body"]):
        query = parse_qs(urlparse(url.rstrip(".,;)")).query)
        for name in ("token", "invitation"):
            if query.get(name):
                return query[name][0]
    raise AssertionError("no link with a token in the mail %r" % message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    root = ROOT
    # helpers for the tests (conftest is not importable from test modules under --import-mode=importlib)
    Client = Client
    Totp = Totp
    totp_code = staticmethod(totp_code)
    code_in = staticmethod(code_in)
    link_token_in = staticmethod(link_token_in)
    succeeded = staticmethod(succeeded)
    random_address = staticmethod(random_address)

    def __init__(self, tmp_dir):
        self.vhost = "e2e-%s" % uuid.uuid4().hex[:8]
        self.port = free_port()
        self.url = "http://127.0.0.1:%s" % self.port
        self.var_dir = str(tmp_dir)
        self.database_urls = {service: fresh_database("e2e_" + service) for service in SERVICES}
        self.amqp_uri = "amqp://guest:guest@127.0.0.1:5672/%s" % self.vhost
        self.env = dict(os.environ, VAR_DIR=self.var_dir, PORT=str(self.port), AMQP_URI=self.amqp_uri,
                        MAIL_DIR=os.path.join(self.var_dir, "mail"), HEALTH_TIMEOUT_SECONDS="2", TRUSTED_PROXY_HOPS="1",
                        EVENT_RETRY_BASE_SECONDS="0.2", OUTBOX_POLL_SECONDS="0.5",
                        BUSINESS_DATE_FILE=os.path.join(self.var_dir, "business-date"))
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

    def set_business_date(self, day):
        """Move every service of the stack to business date `day` (None: back to the real date)."""
        from servicekit import clock

        clock.write_date_file(self.env["BUSINESS_DATE_FILE"], day)

    def pid(self, name):
        with open(os.path.join(self.var_dir, "run", name + ".pid")) as handle:
            return int(handle.read())

    def token(self, user_id, grants=(), carrier=False):
        """A token as identity will issue it, signed with this stack's development key."""
        from servicekit.auth import TokenSigner

        with open(os.path.join(self.var_dir, "keys", "token_private.pem")) as handle:
            return TokenSigner(handle.read(), ttl_seconds=3600).issue(user_id, grants=list(grants), carrier=carrier)

    # --- signing in for real ------------------------------------------------------------------------------

    def service_env(self):
        """The environment `portalctl up` gives the services (field keys, token key files) for a CLI."""
        env = dict(self.env)
        keys = os.path.join(self.var_dir, "keys")
        with open(os.path.join(keys, "field-keys.env")) as handle:
            for line in handle:
                name, _, value = line.strip().partition("=")
                if name:
                    env.setdefault(name, value)
        env.setdefault("TOKEN_PUBLIC_KEY_FILE", os.path.join(keys, "token_public.pem"))
        env.setdefault("TOKEN_PRIVATE_KEY_FILE", os.path.join(keys, "token_private.pem"))
        return env

    def bootstrap_user(self, username, password, kind="group", email=None, first="Test", last="User",
                       group=None, role=None, subgroups=None, actions=None, totp_secret=None):
        """An active user seeded with identity's operator CLI (python -m identity.bootstrap user ...):
        its JSON answer {user_id, username, totp_secret} plus the password and e-mail given."""
        email = email or "%s@e2e.example" % username.replace("@", ".")
        argv = [sys.executable, "-m", "identity.bootstrap", "user", "--config", "services/identity/config.yaml",
                "--username", username, "--email", email, "--first", first, "--last", last, "--kind", kind,
                "--password", password]
        if group:
            argv += ["--group", group, "--role", role]
            if subgroups:
                argv += ["--subgroups", ",".join(subgroups)]
            if actions:
                argv += ["--actions", ",".join(actions)]
        if totp_secret:
            argv += ["--totp-secret", totp_secret]
        result = subprocess.run(argv, cwd=ROOT, env=self.service_env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, "identity.bootstrap failed (%s):\n%s%s" % (
            result.returncode, result.stdout, result.stderr)
        seeded = json.loads(result.stdout.strip().splitlines()[-1])
        seeded.update(password=password, email=email, totp_secret=seeded.get("totp_secret") or totp_secret)
        return seeded

    def client(self, token=None, address=None):
        return Client(self, token, address)

    def login(self, username, password, client=None):
        """POST /auth/login: the raw answer."""
        client = client or Client(self)
        return client.post("/api/v1/auth/login", json={"username": username, "password": password})

    def sign_in(self, username, password, totp_secret=None, email=None, address=None):
        """login -> second factor (a TOTP code from `totp_secret`, or the e-mail code sent to `email`) -> a
        Client holding the access token (and `.refresh_token`, `.signed_in`)."""
        client = Client(self, address=address)
        challenge = succeeded(self.login(username, password, client))
        assert challenge["mfa_required"] is True and challenge["mfa_token"], challenge
        if "totp" in challenge["methods"]:
            assert totp_secret, "%s signs in with TOTP: pass totp_secret" % username
            code = Totp.next_code(totp_secret)
        else:
            assert email, "%s signs in with an e-mail code: pass email" % username
            before = len(self.mail(to=email))
            succeeded(client.post("/api/v1/auth/mfa/email-code", json={"mfa_token": challenge["mfa_token"]}))
            code = code_in(self.wait_mail(email, after=before))
        body = succeeded(client.post("/api/v1/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"],
                                                                      "code": code}))
        assert body["access_token"] and body["refresh_token"], body
        client.use_token(body["access_token"])
        client.refresh_token = body["refresh_token"]
        client.signed_in = body
        return client

    # --- the mail sink ----------------------------------------------------------------------------------------

    def mail(self, to=None):
        """Messages in the stack's mail sink (VAR_DIR/mail), oldest first; `to` filters by recipient."""
        messages = read_maildir(os.path.join(self.var_dir, "mail"))
        if to is not None:
            messages = [m for m in messages
                        if to.lower() in {address.lower() for _name, address in getaddresses([m["to"] or ""])}]
        return messages

    def wait_mail(self, to, after=0, timeout=15):
        """The first message to `to` after the `after` messages it had already received."""
        found = wait_for(lambda: self.mail(to=to)[after:], timeout=timeout, interval=0.1,
                         message="a mail to %s" % to)
        return found[0]

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


@pytest.fixture
def business_date(stack):
    """`business_date(day)` moves every service of the stack to that business date for this test; the real
    date comes back after it."""
    yield stack.set_business_date
    stack.set_business_date(None)
