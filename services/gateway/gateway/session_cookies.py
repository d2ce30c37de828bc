"""Cookie mode: a browser's session lives in cookies, never in script-readable storage.

A request with `X-Session-Mode: cookie` (the web portal) that signs in (`POST /api/v1/auth/mfa/verify`) or
refreshes gets the same JSON as an API client minus `access_token` and `refresh_token`, and three cookies:

| cookie | value | flags |
| --- | --- | --- |
| `portal_session` | the access token | HttpOnly, SameSite=Strict, Path=/, Max-Age = `expires_in` |
| `portal_refresh` | the refresh token | HttpOnly, SameSite=Strict, Path=/api/v1/auth (refresh and logout only) |
| `portal_csrf` | random, for the double submit | readable by scripts, SameSite=Strict, Path=/ |

All three are Secure unless the request is plain http to a loopback address from a loopback peer (`make run`
at http://127.0.0.1:8080, which a browser would otherwise refuse to store them for). `portal_refresh` and
`portal_csrf` last as long as the service says the refresh token does (`refresh_expires_in`, when it says),
else for the browser session. A refresh keeps the CSRF value (a request another tab sent with it must not fail);
a new sign-in draws a new one. auth.py reads `portal_session` and checks the CSRF header on every change.
"""
import ipaddress
import secrets
from urllib.parse import urlsplit

from flask import jsonify

from gateway.auth import CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE

MODE_HEADER = "X-Session-Mode"
REFRESH_PATH = "/api/v1/auth"
TOKEN_FIELDS = ("access_token", "refresh_token")
_CSRF_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def requested(request):
    """The client asked for cookie mode (`X-Session-Mode: cookie`)."""
    return request.headers.get(MODE_HEADER, "").strip().lower() == "cookie"


def secure(request):
    """Whether the cookies carry Secure: always, but for plain http between loopback addresses."""
    if request.scheme != "http":
        return True
    return not (_is_loopback(urlsplit("//" + request.host).hostname) and _is_loopback(request.remote_addr))


def _is_loopback(host):
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_response(request, answer, status=200, new_sign_in=True):
    """The service's token answer as a cookie-mode response: the JSON without the tokens, and the cookies."""
    response = jsonify({key: value for key, value in answer.items() if key not in TOKEN_FIELDS})
    response.status_code = status
    set_cookies(response, request, answer, new_sign_in=new_sign_in)
    return response


def set_cookies(response, request, answer, new_sign_in=True):
    flags = {"secure": secure(request), "samesite": "Strict"}
    session_lifetime = _seconds(answer.get("refresh_expires_in"))
    response.set_cookie(SESSION_COOKIE, answer["access_token"], max_age=_seconds(answer.get("expires_in")),
                        path="/", httponly=True, **flags)
    response.set_cookie(REFRESH_COOKIE, answer["refresh_token"], max_age=session_lifetime, path=REFRESH_PATH,
                        httponly=True, **flags)
    csrf = None if new_sign_in else _current_csrf(request)
    response.set_cookie(CSRF_COOKIE, csrf or secrets.token_urlsafe(32), max_age=session_lifetime, path="/",
                        httponly=False, **flags)


def clear_cookies(response, request):
    """Expire the three cookies (same paths and flags, so the browser matches them)."""
    flags = {"secure": secure(request), "samesite": "Strict"}
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, **flags)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, **flags)
    response.delete_cookie(CSRF_COOKIE, path="/", **flags)
    return response


def _current_csrf(request):
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 32 <= len(value) <= 128 and set(value) <= _CSRF_CHARACTERS else None


def _seconds(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
