"""The console's routes: sign in and out, executions (list, detail, the fragments the live
pages fetch), actions (list and the run form), and the static files.

Pages read the engine's services as the API routes do (``app.state.runtime``, the cached
registry), and show what the API shows: executions as ``execution_document`` gives them,
secret parameters masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from packhorse import __version__, bootstrap
from packhorse.api.deps import runtime, settings
from packhorse.api.security import auth_service
from packhorse.engine.executions import ActionUnavailable
from packhorse.engine.shapes import execution_document
from packhorse.errors import NotFound, PackhorseError, ParameterError
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import Status
from packhorse.params import schema_for_action
from packhorse.storage.executions import ExecutionFilter
from packhorse.web import forms, views
from packhorse.web.session import (
    CSRF_FIELD,
    SIGN_IN_COOKIE,
    Forbidden,
    Session,
    SignInRequired,
    auth_enabled,
    check_csrf,
    clear_session_cookie,
    csrf_token,
    current_session,
    keep_anonymous_session,
    require_session,
    safe_next,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in_key,
)

PREFIX = "/ui"
PAGE_SIZE = 25
_MAX_CHILDREN = 1000
_MAX_FORM_BYTES = 1_000_000
_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _static_versions() -> dict[str, str]:
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


def _render(
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


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what the console's forms send)."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise Forbidden("The form is too large.")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise Forbidden("The form is not valid UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _registry(request: Request) -> Any:
    return bootstrap.cached_registry(settings(request))


def _statuses() -> list[str]:
    return [status.value for status in Status]


def _execution_filter(
    action: str, status: str, pack: str, page: int
) -> tuple[ExecutionFilter, str | None]:
    problem = None
    statuses: tuple[Status, ...] = ()
    if status:
        try:
            statuses = (Status(status),)
        except ValueError:
            problem = f"Unknown status {status!r}."
    query = ExecutionFilter(
        action_ref=action or None,
        pack=pack or None,
        statuses=statuses,
        top_level=True,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return query, problem


def _document(request: Request, execution_id: str) -> tuple[Any, dict[str, Any]] | None:
    rt = runtime(request)
    try:
        execution = rt.executions.get(execution_id)
    except NotFound:
        return None
    action = _registry(request).get_resource(Kind.ACTION, execution.action_ref)
    children = rt.executions.list(
        ExecutionFilter(parent_id=execution.id, limit=_MAX_CHILDREN, oldest_first=True)
    )
    document = execution_document(
        execution, action=action, children=[child.id for child in children]
    )
    return execution, {"document": document, "children": children}


def _action_form(action: Resource) -> list[forms.Field]:
    schema, runner_names = schema_for_action(action.body)
    return forms.fields(schema, runner_names)


def _sign_in_form(
    request: Request,
    *,
    next: str,
    error: str | None = None,
    user: str = "",
    status_code: int = 200,
) -> Response:
    key, new = sign_in_key(request)
    response = _render(
        request,
        "sign_in.html",
        session=None,
        next=next,
        error=error,
        user=user,
        sign_in_token=csrf_token(key),
        status_code=status_code,
    )
    if new:
        set_sign_in_cookie(request, response, key)
    return response


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/executions", status_code=303)

    @routes.get(PREFIX)
    @routes.get(f"{PREFIX}/")
    def home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/executions", status_code=303)

    # Sign in and out

    @routes.get(f"{PREFIX}/sign-in")
    def sign_in_page(request: Request, next: str | None = None) -> Response:
        session = current_session(request)
        if not auth_enabled(request) or session is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return _sign_in_form(request, next=safe_next(next))

    @routes.post(f"{PREFIX}/sign-in")
    async def sign_in(request: Request) -> Response:
        if not auth_enabled(request):
            return RedirectResponse(f"{PREFIX}/executions", status_code=303)
        form = await _form(request)
        user, password = form.get("user", "").strip(), form.get("password", "")
        target = safe_next(form.get("next"))
        key = request.cookies.get(SIGN_IN_COOKIE)
        submitted = form.get(CSRF_FIELD) or ""
        if not key or not hmac.compare_digest(submitted, csrf_token(key)):
            return _sign_in_form(
                request,
                next=target,
                error="The form has expired or did not come from this console: try again.",
                user=user,
                status_code=403,
            )
        auth = auth_service(request)
        # scrypt and the database: off the event loop.
        if not user or not await run_in_threadpool(auth.check_password, user, password):
            return _sign_in_form(
                request,
                next=target,
                error="Unknown user or wrong password.",
                user=user,
                status_code=401,
            )
        ttl = settings(request).auth_token_ttl
        issued = await run_in_threadpool(auth.issue_token, user, ttl)
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(request, response, issued.token, max_age=ttl)
        return response

    @routes.post(f"{PREFIX}/sign-out")
    async def sign_out(request: Request) -> Response:
        session = require_session(request)
        check_csrf(session, (await _form(request)).get(CSRF_FIELD))
        if auth_enabled(request):
            auth = auth_service(request)
            await run_in_threadpool(auth.revoke_token, session.key)
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        clear_session_cookie(request, response)
        return response

    # Executions

    @routes.get(f"{PREFIX}/executions")
    def executions_page(
        request: Request,
        action: str = "",
        status: str = "",
        pack: str = "",
        page: str = "1",
    ) -> Response:
        session = require_session(request)
        number = int(page) if page.isdigit() and int(page) > 0 else 1
        query, problem = _execution_filter(action.strip(), status, pack.strip(), number)
        rt = runtime(request)
        found = [] if problem else rt.executions.list(query)
        total = 0 if problem else rt.executions.count(query)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        filters = {"action": action.strip(), "status": status, "pack": pack.strip()}

        def page_url(to: int) -> str:
            return f"{PREFIX}/executions?" + urlencode({**filters, "page": to})

        now = _now()
        return _render(
            request,
            "executions.html",
            session=session,
            title="Executions",
            rows=[views.execution_row(execution, now) for execution in found],
            filters=filters,
            filtered=any(filters.values()),
            statuses=_statuses(),
            packs=[pack.ref for pack in _registry(request).list_packs()],
            problem=problem,
            page=number,
            pages=pages,
            total=total,
            previous_url=page_url(number - 1) if number > 1 else None,
            next_url=page_url(number + 1) if number < pages else None,
        )

    @routes.get(f"{PREFIX}/executions/{{execution_id}}/row")
    def execution_row(request: Request, execution_id: str) -> Response:
        """One row of the executions table (the live list fetches it on each event)."""
        session = require_session(request)
        try:
            execution = runtime(request).executions.get(execution_id)
        except NotFound:
            return HTMLResponse("", status_code=404)
        return _render(
            request,
            "_execution_row.html",
            session=session,
            row=views.execution_row(execution, _now()),
        )

    def _detail(request: Request, execution_id: str, template: str) -> Response:
        session = require_session(request)
        found = _document(request, execution_id)
        if found is None:
            return _render(
                request,
                "error.html",
                session=session,
                title="Execution not found",
                message=f"There is no execution {execution_id}.",
                status_code=404,
            )
        execution, parts = found
        document = parts["document"]
        now = _now()
        output = "".join(data for _, _, data in runtime(request).store.output_since(execution.id))
        return _render(
            request,
            template,
            session=session,
            title=f"Execution {execution.action_ref}",
            row=views.execution_row(execution, now),
            execution=execution,
            parameters=views.pretty_json(document.get("parameters") or {}),
            has_parameters=bool(document.get("parameters")),
            result=views.pretty_json(document.get("result")),
            has_result=document.get("result") is not None,
            output=output,
            children=[views.execution_row(child, now) for child in parts["children"]],
            workflow=bool(parts["children"])
            or "workflow" in execution.runner_type
            or execution.runner_type in ("orquesta", "action-chain"),
        )

    @routes.get(f"{PREFIX}/executions/{{execution_id}}")
    def execution_page(request: Request, execution_id: str) -> Response:
        return _detail(request, execution_id, "execution.html")

    @routes.get(f"{PREFIX}/executions/{{execution_id}}/panel")
    def execution_panel(request: Request, execution_id: str) -> Response:
        """The changing part of the detail page (refetched while it runs)."""
        return _detail(request, execution_id, "_execution_panel.html")

    # Actions

    @routes.get(f"{PREFIX}/actions")
    def actions_page(request: Request, pack: str = "", q: str = "") -> Response:
        session = require_session(request)
        registry = _registry(request)
        actions = registry.list_resources(Kind.ACTION, pack.strip() or None)
        needle = q.strip().lower()
        if needle:
            actions = [
                action
                for action in actions
                if needle in action.ref.lower()
                or needle in str(action.body.get("description") or "").lower()
            ]
        by_pack: dict[str, list[Resource]] = {}
        for action in actions:
            by_pack.setdefault(action.pack, []).append(action)
        return _render(
            request,
            "actions.html",
            session=session,
            title="Actions",
            by_pack=by_pack,
            packs=[found.ref for found in registry.list_packs()],
            pack=pack.strip(),
            q=q.strip(),
            may_run=session.principal.may("operator"),
        )

    def _action(request: Request, ref: str) -> Resource | None:
        found = _registry(request).get_resource(Kind.ACTION, ref)
        return found if isinstance(found, Resource) else None

    def _run_form(
        request: Request,
        session: Session,
        action: Resource,
        *,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        problem: str | None = None,
        status_code: int = 200,
    ) -> Response:
        fields = _action_form(action)
        return _render(
            request,
            "action.html",
            session=session,
            title=f"Run {action.ref}",
            action=action,
            description=str(action.body.get("description") or ""),
            runner_type=str(action.body.get("runner_type") or ""),
            main_fields=[f for f in fields if f.required or not f.runner],
            more_fields=[f for f in fields if not f.required and f.runner],
            values={k: v for k, v in (values or {}).items() if not _is_secret(fields, k)},
            errors=dict(errors or {}),
            problem=problem,
            may_run=session.principal.may("operator"),
            status_code=status_code,
        )

    @routes.get(f"{PREFIX}/actions/{{ref}}")
    def action_page(request: Request, ref: str) -> Response:
        session = require_session(request)
        action = _action(request, ref)
        if action is None:
            return _render(
                request,
                "error.html",
                session=session,
                title="Action not found",
                message=f"There is no action {ref}.",
                status_code=404,
            )
        return _run_form(request, session, action)

    @routes.post(f"{PREFIX}/actions/{{ref}}")
    async def run_action(request: Request, ref: str) -> Response:
        session = require_session(request)
        form = await _form(request)
        check_csrf(session, form.get(CSRF_FIELD))
        if not session.principal.may("operator"):
            raise Forbidden(f'User "{session.principal.user}" may not run actions (viewer).')
        action = _action(request, ref)
        if action is None:
            return _render(
                request,
                "error.html",
                session=session,
                title="Action not found",
                message=f"There is no action {ref}.",
                status_code=404,
            )
        submission = forms.read(_action_form(action), form)
        if submission.errors:
            return _run_form(
                request,
                session,
                action,
                values=form,
                errors=submission.errors,
                problem="Some parameters need fixing.",
                status_code=400,
            )
        rt = runtime(request)
        try:
            execution = await run_in_threadpool(
                rt.executions.request,
                action.ref,
                submission.parameters,
                user=session.principal.user,
                context={"source": "web console"},
            )
        except ParameterError as error:
            named = error.parameters or ((error.parameter,) if error.parameter else ())
            return _run_form(
                request,
                session,
                action,
                values=form,
                errors={name: error.message for name in named},
                problem=error.message,
                status_code=400,
            )
        except (ActionUnavailable, PackhorseError) as error:
            return _run_form(
                request, session, action, values=form, problem=error.message, status_code=400
            )
        return RedirectResponse(f"{PREFIX}/executions/{execution.id}", status_code=303)

    return routes


def _is_secret(fields: list[forms.Field], name: str) -> bool:
    """Secret values are never sent back into a page (a refused form asks for them again)."""
    return name == CSRF_FIELD or any(
        f.name == name and f.widget is forms.Widget.PASSWORD for f in fields
    )


def install(app: FastAPI) -> None:
    """Add the console to ``app``: its routes, static files and the answers to a missing
    session (a redirect to sign in) and to a refused form (an error page, 403)."""
    app.state.web_static = _static_versions()
    app.include_router(router())
    app.mount(f"{PREFIX}/static", CachedStatic(directory=STATIC_DIR), name="web-static")

    async def sign_in_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        target = f"{PREFIX}/sign-in?" + urlencode({"next": error.next_path})
        if request.headers.get("HX-Request") or request.url.path.endswith(("/row", "/panel")):
            # A fragment fetched by a page: the page itself must go and sign in.
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    async def forbidden(request: Request, error: Exception) -> Response:
        assert isinstance(error, Forbidden)
        return _render(
            request,
            "error.html",
            session=current_session(request),
            title="Refused",
            message=error.message,
            status_code=403,
        )

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(Forbidden, forbidden)
