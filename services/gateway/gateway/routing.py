"""Declaring routes: one decorator says everything the gateway enforces and the OpenAPI document shows.

    @routes.post("/api/v1/support/issues", public=True, body=IssueReportSchema, response=IssueReceiptSchema,
                 status=201, summary="Report an issue before signing in", tag="support")
    def report_issue(body): ...

Before the view runs, the route's handler
1. authenticates: a protected route (the default) needs a valid token (401) and, with the session cookie,
   the CSRF header on state-changing methods (403); a public route goes on anonymously when the
   credentials are missing or fail (a stale session must not block the pre-sign-in forms);
2. takes the idempotency key of a state-changing request: the client's `Idempotency-Key`, else the
   request id; `idempotency="required"` makes the header mandatory (400 idempotency_key_required);
3. loads the JSON body with the route's schema: 415 not JSON, 400 malformed, 422 invalid fields;
4. loads the query string with the route's `query` schema (422 naming the parameter);
and then answers the view's return value as JSON with the route's status (a Response passes through).

Path parameters are checked by werkzeug converters a `Routes` declares (`path_patterns`): a value that does
not match its pattern finds no route (404) and never reaches a service. `validate_only=True` hands the view
the body and query as sent (after validation) instead of the loaded values: for the wire-contract schemas
that the owning service loads again itself (loaded dates are not JSON, and a schema's `data_key`s would not
survive a second load). A route whose body is not JSON (a file upload) reads it in its view and documents
it with `upload` ({media type: OpenAPI schema}); `max_body_bytes` overrides the app's body limit for it.
"""
import json
import re
from dataclasses import dataclass, field

from flask import Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError, fields
from werkzeug.routing import BaseConverter

from gateway.auth import STATE_CHANGING_METHODS, CredentialRejected, authenticate
from gateway.problems import Problem
from gateway.request_ids import current_request_id

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")  # printable ASCII, 1-255 characters
_RULE_ARGUMENT = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")  # werkzeug's <name> or <converter:name>


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    view: object
    summary: str
    tag: str
    public: bool = False
    body: Schema = None          # request body schema (instance)
    query: Schema = None         # query string schema (instance)
    response: Schema = None      # success body schema (instance; many=True for a list)
    status: int = 200
    media_type: object = "application/json"  # or a tuple of media types (e.g. an export's formats)
    validate_only: bool = False  # the view gets the body and query as sent, once they validate
    body_optional: bool = False  # an empty body counts as {} (then loaded with `body`)
    response_headers: dict = None  # documented headers of the success answer {name: OpenAPI header}
    upload: dict = None          # a non-JSON body the view reads itself: {media type: OpenAPI schema}
    max_body_bytes: int = None   # this route's body limit, instead of the app's MAX_CONTENT_LENGTH
    path_patterns: dict = field(default_factory=dict)  # {path parameter: regex its converter enforces}
    idempotency: str = "accepted"  # state-changing routes: "accepted" or "required"
    calls_services: bool = True    # may answer 503 / 504
    problems: dict = field(default_factory=dict)  # extra documented problems {status: (description, schema)}

    @property
    def endpoint(self):
        return self.view.__name__

    @property
    def state_changing(self):
        return self.method in STATE_CHANGING_METHODS


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


class Routes:
    """A group of routes. `path_patterns` ({converter name: regex}) declares converters its rules use as
    `<converter:name>`: a path whose parameter does not match is a 404 before anything else happens."""

    def __init__(self, path_patterns=None):
        self.routes = []
        self.path_patterns = dict(path_patterns or {})

    def route(self, method, rule, *, summary, tag, body=None, query=None, response=None, **options):
        patterns = {name: self.path_patterns[converter] for converter, name in _RULE_ARGUMENT.findall(rule)
                    if converter in self.path_patterns}

        def decorator(view):
            self.routes.append(Route(method=method, rule=rule, view=view, summary=summary, tag=tag,
                                     body=_instance(body), query=_instance(query), response=_instance(response),
                                     path_patterns=patterns, **options))
            return view
        return decorator

    def get(self, rule, **options):
        return self.route("GET", rule, **options)

    def post(self, rule, **options):
        return self.route("POST", rule, **options)

    def put(self, rule, **options):
        return self.route("PUT", rule, **options)

    def patch(self, rule, **options):
        return self.route("PATCH", rule, **options)

    def delete(self, rule, **options):
        return self.route("DELETE", rule, **options)

    def register(self, app):
        for name, regex in self.path_patterns.items():
            existing = app.url_map.converters.get(name)
            if existing is not None and getattr(existing, "regex", None) != regex:
                raise ValueError("path converter %r is already registered with another pattern" % name)
            app.url_map.converters[name] = type("%sConverter" % name.title(), (BaseConverter,), {"regex": regex})
        for route in self.routes:
            app.add_url_rule(route.rule, endpoint=route.endpoint, view_func=_handler(route), methods=[route.method])
        app.extensions.setdefault("gateway.routes", []).extend(self.routes)


def _handler(route):
    def handle(**path_args):
        g.token = _caller_token(route)
        if route.state_changing:
            g.idempotency_key = _idempotency_key(route)
        if route.max_body_bytes is not None:
            request.max_content_length = route.max_body_bytes
            request.max_form_memory_size = route.max_body_bytes
        if route.body is not None:
            path_args["body"] = load_json_body(route.body, as_sent=route.validate_only, optional=route.body_optional)
        if route.query is not None:
            path_args["query"] = load_query(route.query, as_sent=route.validate_only)
        result = route.view(**path_args)
        if isinstance(result, Response):
            return result
        if route.status == 204:
            return Response(status=204)
        response = jsonify(result)
        response.status_code = route.status
        return response

    handle.__name__ = route.endpoint
    return handle


def _caller_token(route):
    if route.public:
        # Anonymous by definition (sign-in, registration, recovery, the role table): a token is never
        # passed on, so a revoked but unexpired one cannot turn a public answer into a 401.
        return None
    try:
        token = authenticate(request, current_app.extensions["gateway.verifier"])
    except CredentialRejected as rejected:
        headers = {"WWW-Authenticate": rejected.challenge} if rejected.challenge else None
        raise Problem(rejected.status, rejected.code, rejected.title, rejected.detail, headers=headers) from None
    if token is None:
        raise Problem(401, "not_authenticated", "Sign-in required",
                      "Sign in and send the access token as 'Authorization: Bearer <token>'.",
                      headers={"WWW-Authenticate": "Bearer"})
    return token


def _idempotency_key(route):
    offered = request.headers.get(IDEMPOTENCY_HEADER)
    if offered is None:
        if route.idempotency == "required":
            raise Problem(400, "idempotency_key_required", "Idempotency-Key header required",
                          "Send a unique Idempotency-Key header (e.g. a UUID) and reuse it when you retry, "
                          "so a retried request is not carried out twice.")
        return current_request_id()
    if not _IDEMPOTENCY_KEY.match(offered):
        raise Problem(400, "invalid_idempotency_key", "Invalid Idempotency-Key header",
                      "The Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return offered


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def load_json_body(schema, as_sent=False, optional=False):
    """The request body loaded with `schema` (or, `as_sent`, the JSON as sent once it loads), or a Problem
    (415, 400, 413 via werkzeug, 422). `optional`: no body at all counts as {}."""
    if optional and not request.get_data(cache=True).strip():
        data = {}
    else:
        data = _json_data()
    loaded = _validate(schema, data, "Correct the fields listed in errors.")
    return data if as_sent else loaded


def _json_data():
    if not request.mimetype or not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        raise Problem(415, "unsupported_media_type", "Unsupported Media Type",
                      "Send the body as JSON with 'Content-Type: application/json'.")
    raw = request.get_data(cache=True)  # werkzeug raises 413 past MAX_CONTENT_LENGTH
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Problem(400, "malformed_json", "Malformed JSON", "The body is not valid JSON: %s" % exc) from None


def load_query(schema, as_sent=False):
    """The query string loaded with `schema` (or, `as_sent`, the parameters as sent once they load), or a
    422 naming each bad parameter. Values are trimmed and a blank one counts as absent (a search form's
    empty fields); a parameter is a list only where the schema's field is a List."""
    by_name = {field_.data_key or name: field_ for name, field_ in schema.fields.items()}
    data = {}
    for name in request.args:
        field_ = by_name.get(name)
        values = [value.strip() for value in request.args.getlist(name)]
        values = [value for value in values if value != ""]
        if not values:
            continue
        data[name] = values if isinstance(field_, fields.List) else values[0]
    loaded = _validate(schema, data, "Correct the query parameters listed in errors.")
    return data if as_sent else loaded


def _validate(schema, data, detail):
    try:
        if schema.many and not isinstance(data, list):  # marshmallow would report each key of an object
            raise ValidationError({"_schema": ["Not a valid list."]})
        return schema.load(data)
    except ValidationError as exc:
        raise Problem(422, "validation_failed", "The request has invalid fields", detail,
                      errors=field_errors(exc.messages)) from None


def field_errors(messages, prefix=""):
    """marshmallow's nested messages -> {"field.sub.0": [messages]} (one flat level, as clients read it)."""
    if not isinstance(messages, dict):
        return {prefix or "_schema": [str(m) for m in (messages if isinstance(messages, list) else [messages])]}
    flat = {}
    for key, value in messages.items():
        path = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            flat.update(field_errors(value, path))
        else:
            flat[path] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return flat
