"""Fixtures for the gateway's tests: the app with a fake RPC client, a Flask test client, tokens."""
import pytest
from marshmallow import fields, validate
from servicekit.testing.tokens import TEST_PUBLIC_KEY_PEM, grant, mint_token

from gateway.app import create_app
from gateway.calls import call_service
from gateway.routing import Routes
from gateway.schemas import RequestBody
from gateway.testing import FakeRpc


# Routes that exist only in the tests: the milestone's real routes are all public, and the auth,
# idempotency and error paths need protected and state-changing ones.
test_routes = Routes()


class ThingSchema(RequestBody):
    name = fields.String(required=True, validate=validate.Length(min=1, max=20))
    count = fields.Integer(required=True, validate=validate.Range(min=1))
    tags = fields.List(fields.String(validate=validate.Length(max=5)), load_default=list)


@test_routes.get("/api/v1/test/me", tag="test", summary="A protected read")
def whoami():
    return call_service("identity", "whoami")


@test_routes.post("/api/v1/test/things", body=ThingSchema, status=201, tag="test", summary="A protected change")
def create_thing(body):
    return call_service("roster", "create_thing", body)


@test_routes.delete("/api/v1/test/things/<thing>", tag="test", summary="A protected delete")
def delete_thing(thing):
    return call_service("roster", "delete_thing", thing)


@test_routes.post("/api/v1/test/payments", body=ThingSchema, idempotency="required", status=201, tag="test",
                  summary="A change that needs an Idempotency-Key")
def pay(body):
    return call_service("billing", "pay", body)


@test_routes.get("/api/v1/test/boom", public=True, tag="test", summary="A bug in the gateway")
def boom():
    raise RuntimeError("secret internals: password=hunter2")


TEST_CONFIG = {
    "TOKEN_PUBLIC_KEY": TEST_PUBLIC_KEY_PEM,
    "TOKEN_PUBLIC_KEY_FILE": None,
    "HEALTH_TIMEOUT_SECONDS": 0.3,
    "RPC_TIMEOUT_SECONDS": 0.5,
    "MAX_BODY_BYTES": 64 * 1024,
}


@pytest.fixture
def rpc():
    return FakeRpc()


@pytest.fixture
def make_app(rpc):
    """make_app(**config): the gateway with the test routes, TEST_CONFIG + config, and the fake RPC client."""
    def make(**config):
        app = create_app(dict(TEST_CONFIG, **config), rpc=rpc)
        test_routes.register(app)
        return app
    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token():
    return mint_token("u-100", [grant("G100", "group_admin")])


@pytest.fixture
def auth(token):
    return {"Authorization": "Bearer " + token}
