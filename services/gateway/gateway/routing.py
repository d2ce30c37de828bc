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
and then answers the view's return value as JSON with the route's status (a Response passes through).
"""
import json
import re
from dataclasses import dataclass, field

from flask import Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError

from gateway.auth import STATE_CHANGING_METHODS, CredentialRejected, authenticate
from gateway.problems import Problem
from gateway.request_ids import current_request_id

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")  # printable ASCII, 1-255 characters


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    view: object
    summary: str
    tag: str
    public: bool = False
    body: Schema = None          # request body schema (instance)
    response: Schema = None      # success body schema (instance; many=True for a list)
    status: int = 200
    media_type: str = "application/json"
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
    def __init__(self):
        self.routes = []

    def route(self, method, rule, *, summary, tag, body=None, response=None, **options):
        def decorator(view):
            self.routes.append(Route(method=method, rule=rule, view=view, summary=summary, tag=tag,
                                     body=_instance(body), response=_instance(response), **options))
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
        for route in self.routes:
            app.add_url_rule(route.rule, endpoint=route.endpoint, view_func=_handler(route), methods=[route.method])
        app.extensions.setdefault("gateway.routes", []).extend(self.routes)


def _handler(route):
    def handle(**path_args):
        g.token = _caller_token(route)
        if route.state_changing:
            g.idempotency_key = _idempotency_key(route)
        if route.body is not None:
            path_args["body"] = load_json_body(route.body)
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
    try:
        token = authenticate(request, current_app.extensions["gateway.verifier"])
    except CredentialRejected as rejected:
        if route.public:
            return None
        headers = {"WWW-Authenticate": rejected.challenge} if rejected.challenge else None
        raise Problem(rejected.status, rejected.code, rejected.title, rejected.detail, headers=headers) from None
    if token is None and not route.public:
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


def load_json_body(schema):
    """The request body loaded with `schema`, or a Problem (415, 400, 413 via werkzeug, 422)."""
    if not request.mimetype or not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        raise Problem(415, "unsupported_media_type", "Unsupported Media Type",
                      "Send the body as JSON with 'Content-Type: application/json'.")
    raw = request.get_data(cache=True)  # werkzeug raises 413 past MAX_CONTENT_LENGTH
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Problem(400, "malformed_json", "Malformed JSON", "The body is not valid JSON: %s" % exc) from None
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Problem(422, "validation_failed", "The request has invalid fields",
                      "Correct the fields listed in errors.", errors=field_errors(exc.messages)) from None


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
