"""Who is using the console, and the proof that a form was sent by one of its pages.

The session is an API access token (issued by the same :class:`AuthService` as
``/auth/v1/tokens``, for the same users) kept in an HttpOnly, SameSite=Strict cookie, Secure
when ``packhorse up`` serves TLS. With ``[auth] enabled = false`` no one signs in and the
console acts as ``admin``, as the API does; the session is then a random value in the same
cookie, there only to bind the CSRF token to one browser.

Every POST carries a CSRF token in a hidden field: a keyed hash of the session (never the
session itself, and not the token's stored hash either), checked in constant time. SameSite
already keeps other sites' forms from sending the cookie; the token is the second lock. The
sign-in form, which comes before any session, is bound the same way to a random cookie of its
own (:data:`SIGN_IN_COOKIE`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from packhorse.api.security import SESSION_COOKIE, Principal, auth_service
from packhorse.errors import Unauthenticated

CSRF_FIELD = "csrf_token"
SIGN_IN_COOKIE = "packhorse-sign-in"
"""A random value set with the sign-in form, which its CSRF token is bound to (there is no
session yet): another site cannot sign a browser in to an account of its choosing."""
_CSRF_KEY = b"packhorse web console csrf v1"


@dataclass(frozen=True, slots=True)
class Session:
    """The signed-in principal and the value of their session cookie."""

    principal: Principal
    key: str
    fresh: bool = False
    """A new anonymous session (no auth): its cookie goes with the answer."""

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.key)


class SignInRequired(Exception):
    """No valid session: the console answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """The session is valid but the request is refused (a missing CSRF token, a role too
    low); ``message`` is shown on the error page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def csrf_token(session_key: str) -> str:
    return hmac.new(_CSRF_KEY, session_key.encode(), hashlib.sha256).hexdigest()


def check_csrf(session: Session, submitted: str | None) -> None:
    """Refuse a POST whose form lacks this session's CSRF token."""
    if not submitted or not hmac.compare_digest(submitted, session.csrf_token):
        raise Forbidden("The form has expired or did not come from this console: reload the page.")


def auth_enabled(request: Request) -> bool:
    return bool(request.app.state.auth_enabled)


def current_session(request: Request) -> Session | None:
    """The session of the request's cookie, or None (no cookie, expired, signed out)."""
    key = request.cookies.get(SESSION_COOKIE)
    if not auth_enabled(request):
        if key:
            return Session(Principal(user="admin", role="admin"), key)
        return Session(Principal(user="admin", role="admin"), new_anonymous_key(), fresh=True)
    if not key:
        return None
    try:
        caller = auth_service(request).authenticate(token=key)
    except Unauthenticated:
        return None
    return Session(Principal(user=caller.user, role=caller.role), key)


def require_session(request: Request) -> Session:
    """The session, or :class:`SignInRequired` (answered with a redirect)."""
    session = current_session(request)
    if session is None:
        path = request.url.path
        if request.url.query:
            path = f"{path}?{request.url.query}"
        raise SignInRequired(path)
    return session


def secure_cookies(request: Request) -> bool:
    settings = request.app.state.settings
    return bool(settings.tls_cert) or request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, key: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        key,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def sign_in_key(request: Request) -> tuple[str, bool]:
    """The browser's sign-in cookie, or a new one (True: set it with the answer)."""
    key = request.cookies.get(SIGN_IN_COOKIE)
    return (key, False) if key else (new_anonymous_key(), True)


def set_sign_in_cookie(request: Request, response: Response, key: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE,
        key,
        max_age=3600,
        path="/ui/sign-in",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def keep_anonymous_session(request: Request, response: Response, session: Session) -> None:
    """Without auth: give the browser its random session (what its CSRF tokens are bound to)."""
    if session.fresh:
        set_session_cookie(request, response, session.key, max_age=365 * 24 * 3600)


def new_anonymous_key() -> str:
    return secrets.token_hex(16)


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookies(request)
    )


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path of this console only (no open redirect)."""
    if path and path.startswith("/ui/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/ui/executions"
