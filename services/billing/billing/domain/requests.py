"""Rebill and refund requests share one life (DOMAIN.md: "tracked with status"): requested, then completed
(approved and carried out) or denied, by carrier staff, once."""
from servicekit.errors import Conflict

REQUESTED, COMPLETED, DENIED = "requested", "completed", "denied"
KIND_NAMES = {"rebill": "Rebill", "refund": "Refund"}


def require_undecided(request):
    """409 `<kind>_already_decided` unless the request still waits for a decision."""
    if request.status != REQUESTED:
        raise Conflict("%s request %s was already decided (%s)."
                       % (KIND_NAMES.get(request.kind, "The"), request.request_number, request.status),
                       code="%s_already_decided" % request.kind)


def decide(request, approved, decided_by, decided_at, note):
    """Record the decision on the request (the caller has carried out an approval already)."""
    request.status = COMPLETED if approved else DENIED
    request.decided_by, request.decided_at, request.decision_note = decided_by, decided_at, note
