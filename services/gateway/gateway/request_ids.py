"""The request id: one per HTTP request, echoed in `X-Request-ID`, in every problem body, and sent to
the services as context data so their logs and events carry it (ARCHITECTURE.md, pattern 12)."""
import re
import uuid

from flask import g, has_request_context, request

HEADER = "X-Request-ID"
# A client's id is kept only when it cannot break a log line or a header: short and plain.
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def assign_request_id():
    """Take the client's X-Request-ID when sane, else a fresh uuid4 (before_request)."""
    offered = request.headers.get(HEADER, "")
    g.request_id = offered if _SANE.match(offered) else str(uuid.uuid4())
    return g.request_id


def current_request_id():
    """This request's id, assigning one if an error came before before_request ran; None outside a request."""
    if not has_request_context():
        return None
    return g.get("request_id") or assign_request_id()
