"""Business errors that cross RPC and become problem+json at the gateway.

nameko sends a remote exception as its type name and `str(exc)`. A `BusinessError`
renders as a JSON object (code, status, title, detail, errors), so the gateway can build an
RFC 9457 answer without importing any service's package. Services subclass these and list
`BusinessError` in `expected_exceptions`.
"""
import json


class BusinessError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail=None, errors=None, code=None):
        self.detail = detail or self.title
        self.errors = errors or {}
        if code:
            self.code = code
        super().__init__(self.detail)

    def to_problem(self):
        problem = {"code": self.code, "status": self.status, "title": self.title, "detail": self.detail}
        if self.errors:
            problem["errors"] = self.errors
        return problem

    def __str__(self):
        return json.dumps(self.to_problem(), sort_keys=True, default=str)


def problem_from_remote(value):
    """The problem dict carried by a remote BusinessError's value, or None for any other error."""
    try:
        problem = json.loads(value)
    except (TypeError, ValueError):
        return None
    if isinstance(problem, dict) and "code" in problem and isinstance(problem.get("status"), int):
        return problem
    return None


class ValidationFailed(BusinessError):
    """Input that does not load into its schema; `errors` maps field -> messages."""
    status = 422
    code = "validation_failed"
    title = "The request has invalid fields"


class NotAuthenticated(BusinessError):
    status = 401
    code = "not_authenticated"
    title = "Sign-in required"


class Forbidden(BusinessError):
    status = 403
    code = "forbidden"
    title = "Not allowed for your role"


class NotFound(BusinessError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(BusinessError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class IdempotencyKeyReused(BusinessError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was already used with a different request"


class RequestInFlight(BusinessError):
    status = 409
    code = "request_in_flight"
    title = "A request with this Idempotency-Key is still being processed"


class IdempotencyKeyMissing(BusinessError):
    status = 400
    code = "idempotency_key_missing"
    title = "A state-changing call needs an idempotency key"


class TooManyRequests(BusinessError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests; try again later"


def load_input(schema, data):
    """Load RPC input with a marshmallow schema; field errors become a 422 ValidationFailed."""
    from marshmallow import ValidationError

    try:
        return schema.load(data if data is not None else {})
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(errors=errors)
