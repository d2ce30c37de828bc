"""The portal's HTTP gateway: routes, top-down, then the app factory.

The gateway owns no data. Each route authenticates (routing.py), validates the body with its schema
(schemas.py), and calls one service over RPC with this request's context (calls.py); every error is
answered as problem+json (problems.py). The OpenAPI document is generated from these declarations.
"""
import logging
import time

from flask import Flask, Response, current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from servicekit.logs import clear_request_id, set_request_id

from gateway import metrics, openapi
from gateway.auth import make_token_verifier
from gateway.calls import call_service, request_context
from gateway.config import load_config
from gateway.health import HealthCheck
from gateway.problems import Problem, install_error_handlers
from gateway.request_ids import HEADER as REQUEST_ID_HEADER
from gateway.request_ids import assign_request_id
from gateway.routes_identity import identity_routes
from gateway.routes_billing_autopay import billing_autopay_routes
from gateway.routes_billing_invoice import billing_invoice_routes
from gateway.routes_billing_payment import billing_payment_routes
from gateway.routes_billing_setup import billing_setup_routes
from gateway.routes_billing_statement import billing_statement_routes
from gateway.routes_care import care_routes
from gateway.routes_continuation import continuation_routes
from gateway.routes_life_event import life_event_routes
from gateway.routes_lifecycle import lifecycle_routes
from gateway.routes_renewal import renewal_routes
from gateway.routes_roster import roster_routes
from gateway.routing import Routes
from gateway.rpc import RpcClient
from gateway.schemas import HealthProblemSchema, HealthSchema, IssueReceiptSchema, IssueReportSchema, RoleSchema

_log = logging.getLogger(__name__)

routes = Routes()


# --- operations -----------------------------------------------------------------------------------

@routes.get("/health", public=True, response=HealthSchema, calls_services=False, tag="operations",
            summary="Each service's health; 503 naming the services that do not answer",
            problems={503: ("Some services did not answer within the health timeout", HealthProblemSchema)})
def health():
    healthy, services = current_app.extensions["gateway.health"].check(request_context())
    if healthy:
        return {"status": "ok", "services": services}
    down = sorted(name for name, state in services.items() if state["status"] != "ok")
    raise Problem(503, "services_unavailable", "Some services are not answering",
                  "Not answering: %s." % ", ".join(down), services=services)


@routes.get("/metrics", public=True, media_type="text/plain", calls_services=False, tag="operations",
            summary="Prometheus metrics of every gateway worker")
def prometheus_metrics():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


@routes.get("/api/v1/openapi.json", public=True, calls_services=False, tag="operations",
            summary="This API's OpenAPI 3.1 document")
def openapi_document():
    # Built once per app: the routes are fixed once the app is created.
    if "gateway.openapi" not in current_app.extensions:
        current_app.extensions["gateway.openapi"] = openapi.build_spec(current_app.extensions["gateway.routes"])
    return current_app.extensions["gateway.openapi"]


@routes.get("/api/docs", public=True, media_type="text/html", calls_services=False, tag="operations",
            summary="A page to read the OpenAPI document")
def api_docs():
    return Response(openapi.DOCS_PAGE, mimetype="text/html")


# --- roles (public help text) ---------------------------------------------------------------------------

@routes.get("/api/v1/roles", public=True, response=RoleSchema(many=True), tag="roles",
            summary="The roles, what each may do, and the old portal's role names")
def list_roles():
    """Public: the registration pages explain the roles before anyone signs in."""
    return call_service("identity", "list_roles")


# --- support ------------------------------------------------------------------------------------------

@routes.post("/api/v1/support/issues", public=True, body=IssueReportSchema, response=IssueReceiptSchema,
             status=201, tag="support", summary="Report an issue before signing in",
             problems={429: ("Too many reports from this address; try again later", "Problem")})
def report_issue(body):
    """The pre-sign-in "Report an Issue" form: trouble registering, recovering a username, resetting a
    password or signing in. Answers a reference number; a confirmation is e-mailed. Throttled per sender."""
    # messaging throttles per sender; it never stores the address itself, only a keyed hash of it.
    report = dict(body, remote_addr=request.remote_addr or "unknown")
    return call_service("messaging", "report_issue", report)


# --- identity and access (issue 4): gateway/routes_identity.py --------------------------------------------
#   sign-in (login, second factor, refresh, logout; cookie mode for browsers), registration, access requests,
#   recovery (all public); my profile, password, TOTP, groups; a group's users, access requests and broker/TPA
#   delegates; carrier staff users, registration codes, the old portal's users, the audit log
#                                                                       -> registered in create_app below

# --- roster and enrollment (issue 3): gateway/routes_roster.py ---------------------------------------------
#   admin: plans, groups, subgroups, offerings, providers, census, held transactions, the transactions job
#   group, subgroups, plans offered; members search, roster export, subscriber; new enrollment (and its
#   preview); transactions; dashboard                                  -> registered in create_app below

ROUTE_GROUPS = [routes, identity_routes, roster_routes, lifecycle_routes, life_event_routes, care_routes,
                continuation_routes, renewal_routes, billing_setup_routes, billing_statement_routes,
                billing_invoice_routes, billing_payment_routes, billing_autopay_routes]  # every route group, in the order create_app registers them


# --- the app ---------------------------------------------------------------------------------------------

def create_app(config=None, rpc=None):
    """The WSGI app. `config` overrides the environment (config.py); `rpc` replaces the RpcClient (tests)."""
    config = load_config(**(config or {}))
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config["MAX_BODY_BYTES"]  # werkzeug answers 413 past it
    app.config["BULK_RPC_TIMEOUT_SECONDS"] = config["BULK_RPC_TIMEOUT_SECONDS"]

    rpc = rpc or RpcClient(config["AMQP_URI"], timeout=config["RPC_TIMEOUT_SECONDS"])
    app.extensions["gateway.rpc"] = rpc
    app.extensions["gateway.health"] = HealthCheck(rpc, timeout=config["HEALTH_TIMEOUT_SECONDS"])
    app.extensions["gateway.verifier"] = make_token_verifier(config)
    if app.extensions["gateway.verifier"] is None:
        _log.warning("no TOKEN_PUBLIC_KEY / TOKEN_PUBLIC_KEY_FILE: routes that need sign-in answer 503")

    install_request_hooks(app)
    install_error_handlers(app)
    for route_group in ROUTE_GROUPS:
        route_group.register(app)
    if config["TRUSTED_PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["TRUSTED_PROXY_HOPS"])
    return app


def install_request_hooks(app):
    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        set_request_id(assign_request_id(), service="gateway")  # this thread's log lines carry it

    @app.after_request
    def finish_response(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or assign_request_id()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")  # answers may hold personal data
        rule = request.url_rule.rule if request.url_rule is not None else None
        metrics.observe_request(request.method, rule, response.status_code,
                                time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.teardown_request
    def forget_request_id(exc=None):
        clear_request_id()
