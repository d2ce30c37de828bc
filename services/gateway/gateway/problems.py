"""RFC 9457 problem details: every error the gateway answers is `application/problem+json`.

A body has `type`, `title`, `status`, `detail`, a stable `code` clients can switch on, the
`request_id` to quote to support, and for validation `errors` ({field: [messages]}).
`type` is a tag URI per code: stable and unique, and (as RFC 9457 allows) not meant to be fetched.
"""
import json
import logging

from flask import current_app, request
from werkzeug.exceptions import HTTPException

from gateway.request_ids import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:benefits-portal,2026:problem/"

_log = logging.getLogger(__name__)

# werkzeug's HTTP errors (routing, body size, ...) -> our codes.
HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with this problem."""

    def __init__(self, status, code, title, detail=None, errors=None, headers=None, **extra):
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title
        self.errors = errors or None
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self):
        body = {
            "type": TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "request_id": current_request_id(),
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def problem_response(problem):
    response = current_app.response_class(
        json.dumps(problem.to_dict(), default=str), status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def from_business_problem(problem):
    """A service's BusinessError problem dict (servicekit.errors) -> Problem with the same status and code. A
    throttled call's `retry_after` (whole seconds) is kept and sent as the Retry-After header too."""
    retry_after = problem.get("retry_after")
    extra, headers = {}, {}
    if isinstance(retry_after, int) and not isinstance(retry_after, bool) and retry_after >= 0:
        extra["retry_after"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return Problem(problem["status"], problem["code"], problem.get("title") or problem["code"],
                   detail=problem.get("detail"), errors=problem.get("errors"), headers=headers, **extra)


def install_error_handlers(app):
    @app.errorhandler(Problem)
    def answer_problem(problem):
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def answer_http_error(exc):
        if exc.code is None or exc.code < 400:
            return exc
        headers = {}
        detail = exc.description
        if exc.code == 404:
            detail = "There is no %s %s." % (request.method, request.path)
        elif exc.code == 405:
            allowed = sorted(exc.valid_methods or [])
            headers["Allow"] = ", ".join(allowed)
            detail = "%s is not allowed on %s; use %s." % (request.method, request.path, " or ".join(allowed))
        elif exc.code == 413:
            # the route's own limit where it set one (routing.Route.max_body_bytes), else the app's
            detail = "The request body is larger than %d bytes." % request.max_content_length
        code = HTTP_CODES.get(exc.code, "http_%d" % exc.code)
        return problem_response(Problem(exc.code, code, exc.name, detail=detail, headers=headers))

    @app.errorhandler(Exception)
    def answer_unexpected(exc):
        # The detail goes to the log with the request id; the client gets the id only, never a traceback.
        _log.exception("unhandled error on %s %s (request %s)", request.method, request.path, current_request_id())
        return problem_response(Problem(
            500, "internal_error", "Internal error",
            detail="Something went wrong on our side. If it keeps happening, contact support and quote the "
                   "request id."))
