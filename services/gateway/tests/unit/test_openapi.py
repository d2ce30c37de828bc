"""The OpenAPI document is generated from the routes and their schemas; /api/docs renders it offline."""
import re

import pytest

from gateway.app import create_app
from gateway.testing import FakeRpc

ROUTES = {
    "/health": {"get"},
    "/metrics": {"get"},
    "/api/v1/openapi.json": {"get"},
    "/api/docs": {"get"},
    "/api/v1/roles": {"get"},
    "/api/v1/support/issues": {"post"},
}


@pytest.fixture
def document():
    client = create_app({"TOKEN_PUBLIC_KEY_FILE": None}, rpc=FakeRpc()).test_client()
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def resolve(document, schema):
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def test_it_is_an_openapi_3_document_listing_every_route(document):
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    assert {path: set(item) - {"parameters"} for path, item in document["paths"].items()} == ROUTES
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                assert operation["summary"] and operation["responses"] and operation["operationId"]


def test_every_ref_points_at_a_component(document):
    text = str(document)
    for ref in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert ref in document["components"]["schemas"], ref


def test_the_issue_form_documents_its_body_answer_and_problems(document):
    operation = document["paths"]["/api/v1/support/issues"]["post"]

    body = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"name", "email", "category", "description"}
    assert body["properties"]["email"]["format"] == "email"
    assert body["properties"]["name"]["maxLength"] == 100
    assert body["properties"]["category"]["enum"] == ["registration", "username_recovery", "password_reset",
                                                      "sign_in", "other"]
    assert body["properties"]["description"]["minLength"] == 10

    receipt = resolve(document, operation["responses"]["201"]["content"]["application/json"]["schema"])
    assert {"reference", "status"} <= set(receipt["properties"])

    for status in ("400", "413", "415", "422", "429", "500", "503", "504"):
        problem = operation["responses"][status]["content"]["application/problem+json"]["schema"]
        assert resolve(document, problem)["properties"]["code"]["type"] == "string"
    assert "security" not in operation  # no sign-in
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key"]


def test_roles_answer_a_list_and_health_documents_its_503(document):
    roles = document["paths"]["/api/v1/roles"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert roles["type"] == "array"
    assert "legacy_roles" in resolve(document, roles["items"])["properties"]

    health = document["paths"]["/health"]["get"]["responses"]["503"]["content"]["application/problem+json"]
    assert "services" in resolve(document, health["schema"])["properties"]


def test_protected_routes_name_the_security_schemes(make_app):
    document = make_app().test_client().get("/api/v1/openapi.json").get_json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["in"] == "cookie" and schemes["sessionCookie"]["name"] == "portal_session"
    payment = document["paths"]["/api/v1/test/payments"]["post"]
    assert payment["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    assert {"401", "403"} <= set(payment["responses"])
    assert payment["parameters"][0] == {**payment["parameters"][0], "name": "Idempotency-Key", "required": True}
    delete = document["paths"]["/api/v1/test/things/{thing}"]
    assert delete["parameters"] == [{"name": "thing", "in": "path", "required": True, "schema": {"type": "string"}}]


def test_the_docs_page_is_self_contained_and_reads_the_document():
    client = create_app({"TOKEN_PUBLIC_KEY_FILE": None}, rpc=FakeRpc()).test_client()

    response = client.get("/api/docs")

    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'fetch("/api/v1/openapi.json")' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing loaded from another host
