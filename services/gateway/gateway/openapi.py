"""The OpenAPI 3.1 document, generated from the registered routes (routing.Route) and their marshmallow
schemas, so it cannot drift from what the gateway enforces."""
import inspect
import re
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow import resolver as default_schema_name

from gateway.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from gateway.routing import IDEMPOTENCY_HEADER
from gateway.schemas import ProblemSchema

DOCS_PAGE = (Path(__file__).parent / "docs.html").read_text(encoding="utf-8")

PROBLEM_MEDIA_TYPE = "application/problem+json"
SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}]

DESCRIPTION = """The employer group benefits portal's HTTP API.

* JSON in and out; money as strings with two decimals; dates `YYYY-MM-DD`; times UTC ISO-8601.
* Every error is RFC 9457 `application/problem+json` with a stable `code` and the `request_id`;
  validation errors list messages per field in `errors`.
* Send `X-Request-ID` (up to 64 of `A-Z a-z 0-9 - _ .`) to choose the request id; it is echoed in the
  `X-Request-ID` response header either way.
* Sign in with `POST /api/v1/auth/login`, then `POST /api/v1/auth/mfa/verify`; send the access token as
  `Authorization: Bearer <token>` and renew it with `POST /api/v1/auth/refresh`. A browser sends
  `X-Session-Mode: cookie` instead and gets HttpOnly cookies (`portal_session`, `portal_refresh`) plus
  `portal_csrf`, whose value goes back as `X-CSRF-Token` on every POST, PUT, PATCH and DELETE.
* State-changing requests take an `Idempotency-Key` header (required where the operation says so);
  a retry with the same key and body is answered without being carried out twice.
"""

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # werkzeug's <group> or <int:id> -> {group}


def build_spec(routes):
    spec = APISpec(title="Employer benefits portal API", version="1.0.0", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin(schema_name_resolver=SchemaNames())], info={"description": DESCRIPTION})
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer", "bearerFormat": "Ed25519-signed access token",
        "description": "The access token from sign-in, as 'Authorization: Bearer <token>'."})
    spec.components.security_scheme("sessionCookie", {
        "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
        "description": "The web portal's HttpOnly session cookie. POST, PUT, PATCH and DELETE made with it also "
                       "need the %s header equal to the %s cookie." % (CSRF_HEADER, CSRF_COOKIE)})

    by_path, patterns = {}, {}
    for route in routes:
        path = openapi_path(route.rule)
        by_path.setdefault(path, {})[route.method.lower()] = _operation(route)
        patterns.setdefault(path, {}).update(route.path_patterns)
    for path, operations in sorted(by_path.items()):
        spec.path(path=path, operations=operations, parameters=_path_parameters(path, patterns[path]))
    return spec.to_dict()


class SchemaNames:
    """The schema name resolver of one document: schema_name(), except that a class whose name another class
    (of another contract module) took first is qualified by its module, e.g. identity_admin's ApproveInput is
    IdentityAdminApproveInput when roster_members' ApproveInput came first (paths are added in sorted order, so
    the names do not change from one build to the next)."""

    def __init__(self):
        self.owners = {}

    def __call__(self, schema):
        cls = schema if isinstance(schema, type) else type(schema)
        base = default_schema_name(cls)
        if self.owners.setdefault(base, cls) is not cls:
            base = "".join(_camel(part) for part in cls.__module__.rsplit(".", 1)[-1].split("_")) + base
            self.owners.setdefault(base, cls)
        return schema_name(schema, base)


def schema_name(schema, base=None):
    """The component name: the class name without "Schema", plus what a modifier leaves out, so that e.g.
    Nested(Group, exclude=("subgroups",)) is GroupWithoutSubgroups and not a numbered copy of Group."""
    name = base or default_schema_name(schema)
    if not isinstance(schema, type):
        if getattr(schema, "only", None):
            name += "Only" + "".join(_camel(field) for field in sorted(schema.only))
        # what the instance leaves out beyond what its class's Meta already does
        excluded = set(getattr(schema, "exclude", None) or ()) - set(getattr(type(schema).Meta, "exclude", ()))
        if excluded:
            name += "Without" + "".join(_camel(field) for field in sorted(excluded))
        partial = getattr(schema, "partial", None)
        if partial is True:
            name += "Partial"
        elif partial:
            name += "WithOptional" + "".join(_camel(field) for field in sorted(partial))
    return name


def _camel(name):
    return "".join(part.title() for part in name.split("_"))


def openapi_path(rule):
    return _CONVERTER.sub(r"{\1}", rule)


def _path_parameters(path, patterns=None):
    parameters = []
    for name in re.findall(r"{([^}]+)}", path):
        schema = {"type": "string"}
        if patterns and name in patterns:
            schema["pattern"] = "^%s$" % patterns[name]
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _operation(route):
    operation = {
        "operationId": route.endpoint,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": {str(route.status): _success(route)},
    }
    if route.view.__doc__:
        operation["description"] = inspect.cleandoc(route.view.__doc__)
    if not route.public:
        operation["security"] = SECURITY
    parameters = []
    if route.state_changing:
        required = route.idempotency == "required"
        parameters.append({
            "name": IDEMPOTENCY_HEADER, "in": "header", "required": required,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": ("Required. " if required else "") + "A unique key per intended change, reused on retry; "
                           "without one the request id is used.",
        })
    if route.query is not None:
        parameters.append({"in": "query", "schema": route.query})  # apispec: one parameter per field
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": not route.body_optional,
                                    "content": {"application/json": {"schema": route.body}}}
    elif route.upload:
        operation["requestBody"] = {"required": True, "content": {
            media_type: {"schema": schema} for media_type, schema in route.upload.items()}}
    for status, (description, schema) in sorted(_problems(route).items()):
        operation["responses"][str(status)] = {
            "description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}
    return operation


def _success(route):
    response = {"description": route.summary}
    media_types = route.media_type if isinstance(route.media_type, (tuple, list)) else (route.media_type,)
    response["content"] = {}
    for media_type in media_types:
        if route.response is not None and media_type == "application/json":
            schema = route.response
        elif media_type == "application/json":
            schema = {"type": "object"}
        elif media_type.startswith("text/"):
            schema = {"type": "string"}
        else:
            schema = {"type": "string", "format": "binary"}
        response["content"][media_type] = {"schema": schema}
    if route.response_headers:
        response["headers"] = route.response_headers
    return response


def _problems(route):
    """Which problems the route can answer, from what it does; the route adds its own in `problems`."""
    problems = {500: ("Internal error (the request id is in the body)", "Problem")}
    if route.state_changing:
        problems[400] = ("Malformed JSON, or a bad or missing Idempotency-Key", "Problem")
    if route.body is not None:
        problems.setdefault(400, ("Malformed JSON", "Problem"))
        problems[413] = ("Body too large", "Problem")
        problems[415] = ("Body is not application/json", "Problem")
        problems[422] = ("Invalid fields; messages per field in errors", "Problem")
    elif route.upload:
        problems[413] = ("Body too large", "Problem")
        problems[415] = ("Body is not %s" % " or ".join(route.upload), "Problem")
        problems[422] = ("Invalid content; messages per field or row in errors", "Problem")
    if route.query is not None:
        problems.setdefault(422, ("Invalid query parameters; messages per parameter in errors", "Problem"))
    if not route.public:
        problems[401] = ("Missing, expired or invalid access token", "Problem")
        problems[403] = ("Not allowed, or the CSRF header is missing for a cookie session", "Problem")
    if route.calls_services:
        problems[503] = ("A service or the message broker is unavailable", "Problem")
        problems[504] = ("A service did not answer in time; the change may still happen", "Problem")
    problems.update(route.problems)
    return problems
