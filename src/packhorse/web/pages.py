"""The console's routes: sign in and out, and executions (list, detail, the fragments the
live pages fetch); :func:`install` adds them, the actions' routes and the static files.

Pages read the engine's services as the API routes do (``app.state.runtime``, the cached
registry), and show what the API shows: executions as ``execution_document`` gives them,
secret parameters masked.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse import bootstrap
from packhorse.api.deps import runtime, settings
from packhorse.api.security import auth_service
from packhorse.engine.shapes import execution_document
from packhorse.errors import NotFound
from packhorse.model.content import Kind
from packhorse.model.execution import Status
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.storage.executions import ExecutionFilter
from packhorse.web import (
    actions,
    datastore,
    execution_controls,
    graph,
    inquiries,
    packs,
    rules,
    trigger_instances,
    upgrade,
    views,
)
from packhorse.web.rendering import (
    PREFIX,
    STATIC_DIR,
    CachedStatic,
    not_found,
    read_form,
    render,
    static_versions,
)
from packhorse.web.session import (
    CSRF_FIELD,
    SIGN_IN_COOKIE,
    Forbidden,
    SignInRequired,
    auth_enabled,
    check_csrf,
    clear_session_cookie,
    csrf_token,
    current_session,
    require_session,
    safe_next,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in_key,
)

_MAX_CHILDREN = 1000


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
        limit=views.PAGE_SIZE,
        offset=(page - 1) * views.PAGE_SIZE,
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


def _workflow_graph(
    request: Request, execution_id: str, children: list[Any]
) -> graph.GraphLayout | None:
    """The workflow's graph with each task's status, once it has started (its definition is
    stored then); None for one not started or a definition that cannot be drawn."""
    stored = runtime(request).workflows.store.definition(execution_id)
    if stored is None:
        return None
    spec = graph.graph_of(*stored)
    if spec is None:
        return None
    now = _now()
    states = graph.task_states(
        [
            (views.task_name(child.context), row.status, row.tone, row.completed)
            for child in children
            for row in (views.execution_row(child, now),)
        ]
    )
    return graph.layout(spec, states)


def _sign_in_form(
    request: Request,
    *,
    next: str,
    error: str | None = None,
    user: str = "",
    status_code: int = 200,
) -> Response:
    key, new = sign_in_key(request)
    response = render(
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
        form = await read_form(request)
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
        check_csrf(session, (await read_form(request)).get(CSRF_FIELD))
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
        number = views.page_number(page)
        query, problem = _execution_filter(action.strip(), status, pack.strip(), number)
        rt = runtime(request)
        found = [] if problem else rt.executions.list(query)
        total = 0 if problem else rt.executions.count(query)
        filters = {"action": action.strip(), "status": status, "pack": pack.strip()}

        now = _now()
        return render(
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
            **views.paging(f"{PREFIX}/executions", filters, number, total),
        )

    @routes.get(f"{PREFIX}/executions/{{execution_id}}/row")
    def execution_row(request: Request, execution_id: str) -> Response:
        """One row of the executions table (the live list fetches it on each event)."""
        session = require_session(request)
        try:
            execution = runtime(request).executions.get(execution_id)
        except NotFound:
            return HTMLResponse("", status_code=404)
        return render(
            request,
            "_execution_row.html",
            session=session,
            row=views.execution_row(execution, _now()),
        )

    def _detail(request: Request, execution_id: str, *, whole: bool) -> Response:
        """The detail page, or (not ``whole``) the panel of it that changes while it runs."""
        session = require_session(request)
        found = _document(request, execution_id)
        if found is None:
            message = f"There is no execution {execution_id}."
            return not_found(request, session, "Execution not found", message)
        execution, parts = found
        document = parts["document"]
        now = _now()
        output = (
            "".join(data for _, _, data in runtime(request).store.output_since(execution.id))
            if whole
            else ""
        )
        runner = RUNNER_TYPES.get(execution.runner_type)
        is_workflow = bool(parts["children"]) or (runner is not None and runner.workflow)
        return render(
            request,
            "execution.html" if whole else "_execution_panel.html",
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
            workflow=is_workflow,
            may_operate=session.principal.may("operator"),
            cancelable=execution_controls.cancelable(execution),
            graph=_workflow_graph(request, execution.id, parts["children"])
            if is_workflow
            else None,
        )

    @routes.get(f"{PREFIX}/executions/{{execution_id}}")
    def execution_page(request: Request, execution_id: str) -> Response:
        return _detail(request, execution_id, whole=True)

    @routes.get(f"{PREFIX}/executions/{{execution_id}}/panel")
    def execution_panel(request: Request, execution_id: str) -> Response:
        """The changing part of the detail page (refetched while it runs)."""
        return _detail(request, execution_id, whole=False)

    return routes


def install(app: FastAPI) -> None:
    """Add the console to ``app``: its routes, static files and the answers to a missing
    session (a redirect to sign in) and to a refused form (an error page, 403)."""
    app.state.web_static = static_versions()
    app.include_router(router())
    app.include_router(actions.router())
    app.include_router(execution_controls.router())
    app.include_router(inquiries.router())
    app.include_router(rules.router())
    app.include_router(trigger_instances.router())
    app.include_router(packs.router())
    app.include_router(datastore.router())
    app.include_router(upgrade.router())
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
        return render(
            request,
            "error.html",
            session=current_session(request),
            title="Refused",
            message=error.message,
            status_code=403,
        )

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(Forbidden, forbidden)
