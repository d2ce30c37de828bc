"""Authentication hand-off: the gateway checks the access token's signature and expiry (so a bad token
is a 401 before any RPC) and passes the raw token on; the services verify it again and decide grants
and revocation (ARCHITECTURE.md, pattern 8). The gateway never decides what a caller may do.

Two ways to present a token:
- `Authorization: Bearer <token>` (scripts, API clients);
- the web portal's HttpOnly cookie `portal_session`. A browser sends cookies on cross-site requests
  too, so a state-changing request authenticated by the cookie must also prove it came from our
  page: header `X-CSRF-Token` equal to the (script-readable) cookie `portal_csrf` (double submit).
"""
import hmac

from servicekit.auth import TokenVerifier, load_public_key
from servicekit.errors import NotAuthenticated

SESSION_COOKIE = "portal_session"
REFRESH_COOKIE = "portal_refresh"  # sent to /api/v1/auth only (refresh, logout): see session_cookies.py
CSRF_COOKIE = "portal_csrf"
CSRF_HEADER = "X-CSRF-Token"
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def make_token_verifier(config):
    """The kit's verifier for the configured public key; None when no key is configured."""
    if not (config.get("TOKEN_PUBLIC_KEY") or config.get("TOKEN_PUBLIC_KEY_FILE")):
        return None
    return TokenVerifier(load_public_key(config))


class CredentialRejected(Exception):
    def __init__(self, status, code, title, detail, challenge=None):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.challenge = challenge  # the WWW-Authenticate value for a 401


def _presented_token(request):
    """(token, source) from the Authorization header or the session cookie; (None, None) when neither."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CredentialRejected(401, "not_authenticated", "Sign-in required",
                                     "Send the access token as 'Authorization: Bearer <token>'.",
                                     challenge='Bearer error="invalid_request"')
        return token, "bearer"
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return token, "cookie"
    return None, None


def check_csrf(request):
    """The double submit: X-CSRF-Token equals the portal_csrf cookie (both present). Raises CredentialRejected."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    offered = request.headers.get(CSRF_HEADER, "")
    if not expected or not offered or not hmac.compare_digest(expected.encode(), offered.encode()):
        raise CredentialRejected(403, "csrf_failed", "Missing or wrong CSRF token",
                                 "A change made with the session cookie needs the %s header set to the "
                                 "value of the %s cookie." % (CSRF_HEADER, CSRF_COOKIE))


def authenticate(request, verifier):
    """The verified raw token, or None when the request carries none. Raises CredentialRejected.

    Only the raw token is forwarded: each service reads the claims from it after verifying it again.
    """
    token, source = _presented_token(request)
    if token is None:
        return None
    if source == "cookie" and request.method in STATE_CHANGING_METHODS:
        check_csrf(request)
    if verifier is None:
        raise CredentialRejected(503, "sign_in_unavailable", "Sign-in is not available",
                                 "The gateway has no token public key configured (TOKEN_PUBLIC_KEY_FILE).")
    try:
        verifier.verify(token)
    except NotAuthenticated as exc:
        raise CredentialRejected(401, "not_authenticated", "Sign-in required", exc.detail,
                                 challenge='Bearer error="invalid_token"') from None
    return token
