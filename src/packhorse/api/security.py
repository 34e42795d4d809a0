"""Who is calling: the principal of a request and the roles routes require.

Roles, least to most: ``viewer`` (read), ``operator`` (also run, cancel, respond), ``admin``
(everything). Routes declare what they need with ``Depends(require("operator"))``.

Credentials are read where StackStorm's router reads them: an access token from the
``X-Auth-Token`` header, the ``x-auth-token`` query parameter or the ``auth-token`` cookie; an
API key from the ``St2-Api-Key`` header or the ``st2-api-key`` query parameter. Missing,
unknown, expired or disabled credentials give 401, a role too low 403, both with StackStorm's
``{"faultstring": ...}``. With ``[auth] enabled = false`` every caller is ``admin``.

The web console's session cookie (:data:`SESSION_COOKIE`, HttpOnly, SameSite=Strict) holds an
access token too, but only the routes that ask for it with ``require(role, session=True)``
accept it: the event streams, which are read-only GETs a browser's ``EventSource`` opens
without a way to set a header. The rest of the API never reads it, so a page of another site
cannot make a browser spend it there.

The app must carry ``app.state.auth`` (an :class:`~packhorse.engine.auth.AuthService`) and
``app.state.auth_enabled``, and have :func:`install` called on it (``bootstrap`` does both).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from packhorse.api.errors import fault
from packhorse.errors import Unauthenticated
from packhorse.model.auth import ROLES

if TYPE_CHECKING:
    from packhorse.engine.auth import AuthService

TOKEN_HEADER, TOKEN_QUERY, TOKEN_COOKIE = "X-Auth-Token", "x-auth-token", "auth-token"
API_KEY_HEADER, API_KEY_QUERY = "St2-Api-Key", "st2-api-key"
SESSION_COOKIE = "packhorse-session"
"""The web console's cookie: an access token, read by the console and the event streams."""


@dataclass(frozen=True)
class Principal:
    user: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class Refused(Exception):
    """The API refuses the request: answered as StackStorm's fault with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_QUERY_CREDENTIAL = re.compile(r"((?:x-auth-token|st2-api-key)=)[^&\s\"]*", re.IGNORECASE)


class QueryCredentialFilter(logging.Filter):
    """Masks tokens and API keys sent as query parameters in access-log lines (uvicorn logs
    the full path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _QUERY_CREDENTIAL.sub(r"\1********", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _QUERY_CREDENTIAL.sub(r"\1********", record.msg)
        return True


def install(app: FastAPI) -> None:
    """Answer :class:`Refused` with StackStorm's fault body, and keep credentials sent in
    query parameters out of the access log."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryCredentialFilter) for f in access.filters):
        access.addFilter(QueryCredentialFilter())

    async def refused(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Refused)
        return fault(error.status, error.message)

    app.add_exception_handler(Refused, refused)


def auth_service(request: Request) -> AuthService:
    return cast("AuthService", request.app.state.auth)


def current_principal(request: Request) -> Principal:
    """The caller, from its token or API key; raises :class:`Refused` (401) without one."""
    return _principal(request, session=False)


def session_principal(request: Request) -> Principal:
    """The caller, from its token, API key or the console's session cookie."""
    return _principal(request, session=True)


def _principal(request: Request, *, session: bool) -> Principal:
    # Not a dependency itself: FastAPI would read ``session`` from the query.
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    if not request.app.state.auth_enabled:
        principal = Principal(user="admin", role="admin")
    else:
        token = (
            request.headers.get(TOKEN_HEADER)
            or request.query_params.get(TOKEN_QUERY)
            or request.cookies.get(TOKEN_COOKIE)
            or (request.cookies.get(SESSION_COOKIE) if session else None)
        )
        api_key = request.headers.get(API_KEY_HEADER) or request.query_params.get(API_KEY_QUERY)
        try:
            caller = auth_service(request).authenticate(token=token, api_key=api_key)
        except Unauthenticated as error:
            raise Refused(401, f"Unauthorized - {error.message}") from None
        principal = Principal(user=caller.user, role=caller.role)
    request.state.principal = principal
    return principal


def require(role: str, *, session: bool = False) -> Callable[[Request], Principal]:
    """A dependency that gives the caller, refusing (403) those below ``role``; ``session``:
    the console's cookie is accepted too (read-only routes only)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> Principal:
        principal = session_principal(request) if session else current_principal(request)
        if not principal.may(role):
            raise Refused(403, f'User "{principal.user}" doesn\'t have required role "{role}"')
        return principal

    return dependency
