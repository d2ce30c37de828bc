"""The OpenAPI document is generated from the routes and their schemas; /api/docs renders it offline."""
import re

import pytest

from gateway.app import create_app
from gateway.testing import FakeRpc

ROSTER_ROUTES = {  # issue 3, with each operation's tag
    "/api/v1/admin/plans": {"post": "admin", "get": "admin"},
    "/api/v1/admin/groups": {"post": "admin"},
    "/api/v1/admin/groups/{group}/subgroups": {"post": "admin"},
    "/api/v1/admin/groups/{group}/subgroups/{subgroup}/plans": {"put": "admin"},
    "/api/v1/admin/providers": {"post": "admin"},
    "/api/v1/admin/groups/{group}/census": {"post": "admin"},
    "/api/v1/admin/transactions": {"get": "admin"},
    "/api/v1/admin/transactions/{confirmation}/approve": {"post": "admin"},
    "/api/v1/admin/transactions/{confirmation}/reject": {"post": "admin"},
    "/api/v1/admin/jobs/complete-due-transactions": {"post": "admin"},
    "/api/v1/groups/{group}": {"get": "group"},
    "/api/v1/groups/{group}/contact": {"patch": "group"},
    "/api/v1/groups/{group}/subgroups": {"get": "group"},
    "/api/v1/groups/{group}/subgroups/{subgroup}": {"get": "group"},
    "/api/v1/groups/{group}/subgroups/{subgroup}/contact": {"patch": "group"},
    "/api/v1/groups/{group}/plans": {"get": "group"},
    "/api/v1/groups/{group}/members": {"get": "roster"},
    "/api/v1/groups/{group}/roster": {"get": "roster"},
    "/api/v1/groups/{group}/subscribers/{member}": {"get": "roster"},
    "/api/v1/groups/{group}/subscribers": {"post": "enrollment"},
    "/api/v1/groups/{group}/subscribers/preview": {"post": "enrollment"},
    "/api/v1/groups/{group}/transactions": {"get": "transactions"},
    "/api/v1/groups/{group}/transactions/{confirmation}": {"get": "transactions", "patch": "transactions"},
    "/api/v1/groups/{group}/transactions/{confirmation}/cancel": {"post": "transactions"},
    "/api/v1/dashboard": {"get": "dashboard"},
}
IDENTITY_ROUTES = {  # issue 4, with each operation's tag
    "/api/v1/auth/login": {"post": "sign-in"},
    "/api/v1/auth/mfa/email-code": {"post": "sign-in"},
    "/api/v1/auth/mfa/verify": {"post": "sign-in"},
    "/api/v1/auth/refresh": {"post": "sign-in"},
    "/api/v1/auth/logout": {"post": "sign-in"},
    "/api/v1/auth/register": {"post": "registration"},
    "/api/v1/auth/register/verify": {"post": "registration"},
    "/api/v1/auth/register/existing": {"post": "registration"},
    "/api/v1/auth/register/existing/confirm": {"post": "registration"},
    "/api/v1/auth/setup": {"post": "registration"},
    "/api/v1/auth/access-requests": {"post": "registration"},
    "/api/v1/auth/recover-username": {"post": "recovery"},
    "/api/v1/auth/password-reset": {"post": "recovery"},
    "/api/v1/auth/password-reset/confirm": {"post": "recovery"},
    "/api/v1/me": {"get": "profile", "patch": "profile"},
    "/api/v1/me/email/confirm": {"post": "profile"},
    "/api/v1/me/password": {"post": "profile"},
    "/api/v1/me/mfa/totp": {"post": "profile"},
    "/api/v1/me/mfa/totp/confirm": {"post": "profile"},
    "/api/v1/me/groups": {"get": "profile"},
    "/api/v1/groups/{group}/users": {"get": "users", "post": "users"},
    "/api/v1/groups/{group}/users/{user}": {"get": "users", "patch": "users"},
    "/api/v1/groups/{group}/users/{user}/deactivate": {"post": "users"},
    "/api/v1/groups/{group}/users/{user}/reactivate": {"post": "users"},
    "/api/v1/groups/{group}/users/{user}/reset-password": {"post": "users"},
    "/api/v1/groups/{group}/users/{user}/resend-welcome": {"post": "users"},
    "/api/v1/groups/{group}/access-requests": {"get": "access"},
    "/api/v1/groups/{group}/access-requests/{id}/approve": {"post": "access"},
    "/api/v1/groups/{group}/access-requests/{id}/deny": {"post": "access"},
    "/api/v1/groups/{group}/delegates": {"get": "delegates", "post": "delegates"},
    "/api/v1/groups/{group}/delegates/{id}": {"delete": "delegates"},
    "/api/v1/admin/users": {"post": "admin"},
    "/api/v1/admin/groups/{group}/registration-codes": {"post": "admin"},
    "/api/v1/admin/legacy-users": {"post": "admin"},
    "/api/v1/audit": {"get": "audit"},
}
LIFECYCLE_ROUTES = {  # issue 5 (docs/lifecycle-contract.md), with each operation's tag
    "/api/v1/groups/{group}/subscribers/{member}/address": {"patch": "lifecycle"},
    "/api/v1/groups/{group}/members/{member}/demographics": {"patch": "lifecycle"},
    "/api/v1/groups/{group}/members/{member}/coverage/terminate": {"post": "lifecycle"},
    "/api/v1/groups/{group}/members/{member}/coverage/reinstate": {"post": "lifecycle"},
    "/api/v1/groups/{group}/subscribers/{member}/terminate": {"post": "lifecycle"},
    "/api/v1/groups/{group}/subscribers/{member}/reinstate": {"post": "lifecycle"},
    "/api/v1/groups/{group}/subscribers/{member}/transfer": {"post": "lifecycle"},
    "/api/v1/life-events": {"get": "life events"},
    "/api/v1/groups/{group}/subscribers/{member}/dependents": {"post": "life events"},
    "/api/v1/groups/{group}/subscribers/{member}/dependents/{dependent}/remove": {"post": "life events"},
    "/api/v1/admin/jobs/dependent-age-off": {"post": "admin"},
    "/api/v1/providers": {"get": "care"},
    "/api/v1/groups/{group}/members/{member}/pcp": {"get": "care", "put": "care"},
    "/api/v1/groups/{group}/members/{member}/id-cards": {"get": "care"},
    "/api/v1/groups/{group}/members/{member}/id-cards/{card}.pdf": {"get": "care"},
    "/api/v1/groups/{group}/members/{member}/id-card-requests": {"post": "care"},
    "/api/v1/groups/{group}/subscribers/{member}/cobra": {"get": "continuation", "post": "continuation"},
    "/api/v1/groups/{group}/subscribers/{member}/cobra/extend": {"post": "continuation"},
    "/api/v1/admin/groups/{group}/plan-years": {"post": "admin"},
    "/api/v1/admin/jobs/renewals": {"post": "admin"},
    "/api/v1/groups/{group}/open-enrollment": {"get": "open enrollment"},
    "/api/v1/groups/{group}/subscribers/{member}/open-enrollment": {"get": "open enrollment",
                                                                    "post": "open enrollment"},
}
BILLING_ROUTES = {  # issue 6 (docs/billing-contract.md), with each operation's tag
    "/api/v1/admin/groups/{group}/billing-policy": {"put": "admin"},
    "/api/v1/admin/groups/{group}/rates": {"put": "admin"},
    "/api/v1/groups/{group}/rates": {"get": "billing"},
    "/api/v1/groups/{group}/billing": {"get": "billing"},
    "/api/v1/admin/jobs/statement-run": {"post": "admin"},
    "/api/v1/groups/{group}/invoices": {"get": "billing"},
    "/api/v1/groups/{group}/invoices/consolidated": {"get": "billing"},
    "/api/v1/groups/{group}/invoices/{number}": {"get": "billing"},
    "/api/v1/groups/{group}/invoices/{number}.pdf": {"get": "billing"},
    "/api/v1/groups/{group}/invoices/{number}/adjustments": {"post": "billing"},
    "/api/v1/groups/{group}/rebill-requests": {"get": "billing", "post": "billing"},
    "/api/v1/admin/rebill-requests/{request_number}/decide": {"post": "admin"},
    "/api/v1/groups/{group}/payment-methods": {"get": "payments", "post": "payments"},
    "/api/v1/groups/{group}/payment-methods/{method_id}": {"delete": "payments"},
    "/api/v1/groups/{group}/payments": {"get": "payments", "post": "payments"},
    "/api/v1/admin/groups/{group}/payments": {"post": "admin"},
    "/api/v1/admin/jobs/payment-settlement": {"post": "admin"},
    "/api/v1/admin/ach-returns": {"post": "admin"},
    "/api/v1/groups/{group}/refund-requests": {"get": "payments", "post": "payments"},
    "/api/v1/admin/refund-requests/{request_number}/decide": {"post": "admin"},
    "/api/v1/groups/{group}/billing-accounts/{account}/autopay": {"get": "billing", "put": "billing",
                                                                  "delete": "billing"},
    "/api/v1/admin/jobs/autopay": {"post": "admin"},
    "/api/v1/admin/jobs/delinquency": {"post": "admin"},
}
ROUTES = {
    "/health": {"get"},
    "/metrics": {"get"},
    "/api/v1/openapi.json": {"get"},
    "/api/docs": {"get"},
    "/api/v1/roles": {"get"},
    "/api/v1/support/issues": {"post"},
    **{path: set(operations) for path, operations in ROSTER_ROUTES.items()},
    **{path: set(operations) for path, operations in IDENTITY_ROUTES.items()},
    **{path: set(operations) for path, operations in LIFECYCLE_ROUTES.items()},
    **{path: set(operations) for path, operations in BILLING_ROUTES.items()},
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


# --- roster and enrollment (issue 3) -----------------------------------------------------------------------

def roster_operations(document):
    """Issue 3's and issue 5's roster operations."""
    for path, operations in {**ROSTER_ROUTES, **LIFECYCLE_ROUTES, **BILLING_ROUTES}.items():
        for method, tag in operations.items():
            yield path, method, tag, document["paths"][path][method]


def content_schema(document, operation, status="200", media_type="application/json"):
    schema = operation["responses"][status]["content"][media_type]["schema"]
    return resolve(document, schema) if "$ref" in schema else schema


def test_the_document_builds_without_apispec_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. two schemas resolving to one component name
        client = create_app({"TOKEN_PUBLIC_KEY_FILE": None}, rpc=FakeRpc()).test_client()
        assert client.get("/api/v1/openapi.json").status_code == 200


def test_every_roster_operation_is_tagged_summarised_and_needs_sign_in(document):
    for path, method, tag, operation in roster_operations(document):
        assert operation["tags"] == [tag], (path, method)
        assert operation["summary"] and operation["operationId"]
        assert operation["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
        assert {"401", "403", "500", "503", "504"} <= set(operation["responses"]), (path, method)
        if method != "get":
            assert operation["parameters"][0]["name"] == "Idempotency-Key"
            assert "400" in operation["responses"], (path, method)
        if method in ("post", "put", "patch"):  # a body to refuse
            assert {"413", "415", "422"} <= set(operation["responses"]), (path, method)
        success = [status for status in operation["responses"] if status.startswith("2")]
        assert len(success) == 1 and operation["responses"][success[0]]["content"], (path, method)


def test_path_parameters_carry_their_patterns(document):
    parameters = {p["name"]: p["schema"]["pattern"]
                  for path in ROSTER_ROUTES for p in document["paths"][path].get("parameters", [])}
    assert parameters == {"group": "^[0-9A-Za-z-]{1,20}$", "subgroup": "^[0-9A-Za-z-]{1,20}$",
                          "member": "^[A-Za-z0-9]{1,12}$", "confirmation": "^[A-Za-z0-9-]{1,24}$"}


def test_request_bodies_are_the_roster_contracts(document):
    paths = document["paths"]
    expected = {
        ("/api/v1/admin/groups", "post"): "GroupInput",
        ("/api/v1/admin/groups/{group}/subgroups", "post"): "SubgroupInput",
        ("/api/v1/admin/groups/{group}/subgroups/{subgroup}/plans", "put"): "OfferingInput",
        ("/api/v1/admin/transactions/{confirmation}/approve", "post"): "ApproveInput",
        ("/api/v1/admin/transactions/{confirmation}/reject", "post"): "RejectInput",
        ("/api/v1/admin/jobs/complete-due-transactions", "post"): "CompleteDueInput",
        ("/api/v1/groups/{group}/contact", "patch"): "ContactUpdate",
        ("/api/v1/groups/{group}/subgroups/{subgroup}/contact", "patch"): "SubgroupContactUpdate",
        ("/api/v1/groups/{group}/subscribers", "post"): "EnrollmentInput",
        ("/api/v1/groups/{group}/subscribers/preview", "post"): "EnrollmentInput",
        ("/api/v1/groups/{group}/transactions/{confirmation}", "patch"): "TransactionEdit",
        ("/api/v1/groups/{group}/transactions/{confirmation}/cancel", "post"): "CancelInput",
    }
    for (path, method), name in expected.items():
        schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/%s" % name}, (path, method)
    for path, item in (("/api/v1/admin/plans", "PlanInput"), ("/api/v1/admin/providers", "ProviderInput")):
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"type": "array", "items": {"$ref": "#/components/schemas/%s" % item}}

    enrollment = document["components"]["schemas"]["EnrollmentInput"]
    assert set(enrollment["required"]) == {"subgroup_number", "plan_code", "subscriber"}
    subscriber = document["components"]["schemas"]["SubscriberInput"]
    assert {"ssn", "date_of_birth", "hire_date"} <= set(subscriber["required"])
    assert subscriber["properties"]["date_of_birth"]["format"] == "date"
    # the approval's note and the job's date may be left out: so may the body
    assert paths["/api/v1/admin/transactions/{confirmation}/approve"]["post"]["requestBody"]["required"] is False


def test_query_parameters_come_from_the_contract_filters(document):
    def query(path):
        return {p["name"]: p for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    search = query("/api/v1/groups/{group}/members")
    assert set(search) == {"q", "member_id", "last_name", "first_name", "date_of_birth", "ssn_last4", "subgroup",
                           "status", "page", "limit"}
    assert search["date_of_birth"]["schema"]["format"] == "date"
    assert search["limit"]["schema"]["maximum"] == 200
    assert "prospective" in search["status"]["schema"]["enum"]
    assert set(query("/api/v1/groups/{group}/transactions")) == {
        "date_from", "date_to", "type", "status", "member_id", "requested_by", "page", "limit"}
    assert set(query("/api/v1/groups/{group}/plans")) == {"plan_year_start"}
    assert {"page", "limit"} <= set(query("/api/v1/admin/transactions"))
    export = query("/api/v1/groups/{group}/roster")
    assert set(export) == {"subgroup", "status", "prospective", "format"}
    assert export["format"]["schema"]["enum"] == ["csv", "xlsx"] and export["format"]["schema"]["default"] == "csv"


def test_the_roster_export_answers_csv_or_xlsx_as_an_attachment(document):
    answer = document["paths"]["/api/v1/groups/{group}/roster"]["get"]["responses"]["200"]
    assert answer["content"] == {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}},
    }
    assert "Content-Disposition" in answer["headers"]


def test_the_census_takes_a_csv_body_or_a_form_file(document):
    operation = document["paths"]["/api/v1/admin/groups/{group}/census"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"text/csv", "multipart/form-data"}
    assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "subgroup_number" in content["text/csv"]["schema"]["description"]  # the contract's columns
    assert "10 MB" in operation["responses"]["413"]["description"]
    assert "rows" in content_schema(document, operation)["properties"]


def test_answers_are_documented_with_the_contracts_output_schemas(document):
    paths = document["paths"]
    enrolled = content_schema(document, paths["/api/v1/groups/{group}/subscribers"]["post"], "201")
    assert {"confirmation_number", "status", "effective_date", "subscriber", "transaction", "flags"} \
        <= set(enrolled["properties"])
    assert "tier" in content_schema(document, paths["/api/v1/groups/{group}/subscribers/preview"]["post"])["properties"]
    page = content_schema(document, paths["/api/v1/groups/{group}/members"]["get"])
    assert {"items", "total", "page", "limit"} == set(page["properties"])
    plans = content_schema(document, paths["/api/v1/admin/plans"]["get"])
    assert plans["type"] == "array" and plans["items"] == {"$ref": "#/components/schemas/Plan"}
    overview = content_schema(document, paths["/api/v1/groups/{group}"]["get"])
    assert {"group", "subgroups", "counts", "renewal_date"} <= set(overview["properties"])
    assert "subgroups" not in resolve(document, overview["properties"]["group"])["properties"]
    dashboard = content_schema(document, paths["/api/v1/dashboard"]["get"])
    assert dashboard["properties"]["groups"]["items"] == {"$ref": "#/components/schemas/DashboardGroup"}
    assert content_schema(document, paths["/api/v1/admin/groups"]["post"], "201")["properties"]["group_number"]
    cancelled = paths["/api/v1/groups/{group}/transactions/{confirmation}/cancel"]["post"]
    assert {"404", "409"} <= set(cancelled["responses"])
    assert "confirmation_number" in content_schema(document, cancelled)["properties"]


# --- identity and access (issue 4) -------------------------------------------------------------------------

PUBLIC_IDENTITY_PATHS = {path for path in IDENTITY_ROUTES if path.startswith("/api/v1/auth/")}


def identity_operations(document):
    for path, operations in IDENTITY_ROUTES.items():
        for method, tag in operations.items():
            yield path, method, tag, document["paths"][path][method]


def test_every_identity_operation_is_tagged_and_only_the_pre_sign_in_ones_are_public(document):
    for path, method, tag, operation in identity_operations(document):
        assert operation["tags"] == [tag], (path, method)
        assert operation["summary"] and operation["operationId"]
        if path in PUBLIC_IDENTITY_PATHS:
            assert "security" not in operation, (path, method)
        else:
            assert operation["security"] == [{"bearerAuth": []}, {"sessionCookie": []}], (path, method)
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
        success = [status for status in operation["responses"] if status.startswith("2")]
        assert len(success) == 1, (path, method)


def test_identity_bodies_come_from_the_contract_without_the_callers_address(document):
    paths = document["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/mfa/verify", "/api/v1/auth/access-requests"):
        body = resolve(document, paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"])
        assert "remote_addr" not in body["properties"], path
    login = resolve(document, paths["/api/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert set(login["required"]) == {"username", "password"}
    new_user = resolve(document, paths["/api/v1/groups/{group}/users"]["post"]["requestBody"]["content"][
        "application/json"]["schema"])
    assert {"first_name", "last_name", "email", "role"} <= set(new_user["required"])
    assert "viewer" in new_user["properties"]["role"]["enum"]
    # refresh and logout take the token from the body or from the portal_refresh cookie: the body is optional
    for path in ("/api/v1/auth/refresh", "/api/v1/auth/logout"):
        request_body = paths[path]["post"]["requestBody"]
        assert request_body["required"] is False
        assert "required" not in resolve(document, request_body["content"]["application/json"]["schema"])
    assert paths["/api/v1/groups/{group}/access-requests/{id}/approve"]["post"]["requestBody"]["required"] is False
    assert {p["name"] for p in paths["/api/v1/audit"]["get"]["parameters"] if p["in"] == "query"} == {
        "user_id", "action", "group_number", "date_from", "date_to", "page", "limit"}
    assert {p["name"] for p in paths["/api/v1/groups/{group}/access-requests"]["get"]["parameters"]
            if p["in"] == "query"} == {"status"}
    legacy = paths["/api/v1/admin/legacy-users"]["post"]["requestBody"]["content"]
    assert set(legacy) == {"text/csv", "multipart/form-data"} and "old_username" in legacy["text/csv"]["schema"][
        "description"]


def test_identity_path_parameters_carry_their_patterns(document):
    parameters = {p["name"]: p["schema"]["pattern"]
                  for path in IDENTITY_ROUTES for p in document["paths"][path].get("parameters", [])}
    assert parameters == {"group": "^[0-9A-Za-z-]{1,20}$", "user": "^[A-Za-z0-9_-]{1,40}$", "id": "^[0-9]{1,18}$"}


def test_identity_answers_are_documented_with_the_contracts_output_schemas(document):
    paths = document["paths"]
    users = content_schema(document, paths["/api/v1/groups/{group}/users"]["get"])
    assert users["type"] == "array" and "role" in resolve(document, users["items"])["properties"]
    assert "code" in content_schema(document, paths["/api/v1/admin/groups/{group}/registration-codes"]["post"], "201")[
        "properties"]
    assert {"items", "total"} <= set(content_schema(document, paths["/api/v1/audit"]["get"])["properties"])
    tokens = content_schema(document, paths["/api/v1/auth/mfa/verify"]["post"])
    assert {"access_token", "refresh_token", "expires_in"} <= set(tokens["properties"])
    for path in ("/api/v1/auth/mfa/verify", "/api/v1/auth/refresh", "/api/v1/auth/logout"):
        assert "Set-Cookie" in paths[path]["post"]["responses"]["200"]["headers"], path
    assert "X-Session-Mode: cookie" in document["info"]["description"]
