"""What every page of the console shares: the templates, the answer's headers, the static
files (versioned, cached) and the forms' bodies."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from packhorse import __version__
from packhorse.web.session import (
    CSRF_FIELD,
    Forbidden,
    Session,
    auth_enabled,
    check_csrf,
    keep_anonymous_session,
    require_session,
)

PREFIX = "/ui"
MAX_FORM_BYTES = 1_000_000
_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def static_versions() -> dict[str, str]:
    """Each static file's URL with a hash of its content, so it may be cached for ever."""
    return {
        path.name: (
            f"{PREFIX}/static/{path.name}?v={hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
        )
        for path in STATIC_DIR.iterdir()
        if path.is_file()
    }


class CachedStatic(StaticFiles):
    """Static files with ``Cache-Control``: a year when asked by a versioned URL (the pages
    only link those), else revalidated (the ETag of StaticFiles answers 304)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def render(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    static: dict[str, str] = request.app.state.web_static
    html = _templates.get_template(template).render(
        static=static,
        session=session,
        csrf_field=CSRF_FIELD,
        auth_enabled=auth_enabled(request),
        version=__version__,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    # The pages are per user and change as executions run: never from a shared cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    if session is not None:
        keep_anonymous_session(request, response, session)
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what the console's forms send)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Forbidden("The form is too large.")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise Forbidden("The form is not valid UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


async def posted_form(
    request: Request, *, needs: str | None = None, doing: str = ""
) -> tuple[Session, dict[str, str]]:
    """The signed-in session and the form of a POST, its CSRF token checked; with ``needs``
    (a role), refused unless the user holds it, saying what they may not be ``doing``."""
    session = require_session(request)
    form = await read_form(request)
    check_csrf(session, form.get(CSRF_FIELD))
    principal = session.principal
    if needs is not None and not principal.may(needs):
        raise Forbidden(
            f'User "{principal.user}" may not {doing} ({principal.role}; it needs {needs}).'
        )
    return session, form


def not_found(request: Request, session: Session, title: str, message: str) -> HTMLResponse:
    return render(
        request, "error.html", session=session, title=title, message=message, status_code=404
    )
