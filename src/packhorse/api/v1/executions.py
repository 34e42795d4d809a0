"""Executions: ``/api/v1/executions`` in StackStorm's ``ActionExecutionAPI`` shape.

Run (POST), list with StackStorm's filters and paging (``X-Total-Count``), get, output,
cancel (DELETE), pause and resume (PUT ``{"status": ...}``), re-run and children. The caller
is the execution's ``context.user``; an admin may run as another ``user``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse import bootstrap
from packhorse.api import openapi
from packhorse.api.deps import runtime, settings
from packhorse.api.errors import fault
from packhorse.api.openapi import OBJECT, STRING, STRINGS
from packhorse.api.security import Principal
from packhorse.api.v1.listing import (
    BadRequest,
    Operator,
    Viewer,
    bad_request,
    json_body,
    listed,
    names,
    paging,
    route,
)
from packhorse.engine.executions import ActionUnavailable
from packhorse.engine.runtime import Runtime
from packhorse.engine.shapes import execution_document, project
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.model.content import Kind
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.storage.executions import ExecutionFilter

router = APIRouter(prefix="/api/v1", tags=["executions"])

_MAX_CHILDREN = 10_000


def _drives_tasks(execution: Execution) -> bool:
    runner = RUNNER_TYPES.get(execution.runner_type)
    return runner is not None and runner.workflow


def _children(rt: Runtime, execution: Execution) -> list[Execution]:
    if not _drives_tasks(execution):
        return []
    found = rt.executions.list(
        ExecutionFilter(parent_id=execution.id, limit=_MAX_CHILDREN, oldest_first=True)
    )
    return found


def _documents(request: Request, rt: Runtime, executions: list[Execution]) -> list[dict[str, Any]]:
    """Executions as StackStorm's documents; the task ids of all the workflows among them
    come from one query."""
    registry = bootstrap.cached_registry(settings(request))
    children = rt.executions.child_ids([e.id for e in executions if _drives_tasks(e)])
    return [
        execution_document(
            execution,
            action=registry.get_resource(Kind.ACTION, execution.action_ref),
            children=children.get(execution.id, []),
        )
        for execution in executions
    ]


def _document(request: Request, rt: Runtime, execution: Execution) -> dict[str, Any]:
    return _documents(request, rt, [execution])[0]


def _missing(execution_id: str) -> JSONResponse:
    return fault(404, f"Execution with id {execution_id} not found.")


def _find(rt: Runtime, execution_id: str) -> Execution | None:
    try:
        return rt.executions.get(execution_id)
    except NotFound:
        return None


def _statuses(value: str | None) -> tuple[Status, ...]:
    wanted = []
    for name in names(value):
        try:
            wanted.append(Status(name))
        except ValueError:
            known = ", ".join(s.value for s in Status)
            raise BadRequest(f"unknown status {name!r}; one of: {known}") from None
    return tuple(wanted)


@route(router, "GET", "/executions")
def list_executions(
    request: Request,
    *,
    action: str | None = None,
    status: str | None = None,
    parent: str | None = None,
    user: str | None = None,
    timestamp_gt: str | None = None,
    timestamp_lt: str | None = None,
    sort_desc: str | None = None,
    sort_asc: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
    include_attributes: str | None = None,
    exclude_attributes: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """Executions newest first (``sort_asc`` or ``timestamp_gt``: oldest first). ``parent=null``
    leaves out workflow tasks; ``X-Total-Count`` gives the count without paging."""
    rt = runtime(request)
    try:
        size, skip = paging(limit, offset)
        query = ExecutionFilter(
            action_ref=action or None,
            statuses=_statuses(status),
            parent_id=parent if parent and parent != "null" else None,
            top_level=parent == "null",
            user=user or None,
            created_after=timestamp_gt or None,
            created_before=timestamp_lt or None,
            oldest_first=bool(sort_asc or timestamp_gt) and not sort_desc,
            limit=size,
            offset=skip,
        )
    except BadRequest as error:
        return bad_request(error)
    include, exclude = names(include_attributes), names(exclude_attributes)
    documents = [
        project(document, include=include, exclude=exclude)
        for document in _documents(request, rt, rt.executions.list(query))
    ]
    return listed(documents, rt.executions.count(query))


@route(
    router,
    "POST",
    "/executions",
    status_code=201,
    openapi_extra=openapi.body(
        {"action": STRING, "parameters": OBJECT, "user": STRING, "context": OBJECT},
        required=["action"],
    ),
)
async def create_execution(request: Request, *, principal: Operator) -> JSONResponse:
    """Run an action: ``{"action": REF, "parameters": {...}, "user"?, "context"?}`` -> 201
    with the execution (``scheduled``, or ``delayed`` under a concurrency policy)."""
    rt = runtime(request)
    try:
        body = await json_body(request)
        action_ref = body.get("action")
        if not isinstance(action_ref, str) or not action_ref:
            raise BadRequest("'action' is required: the ref of the action to run")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise BadRequest("'parameters' must be an object")
        context = body.get("context") or {}
        if not isinstance(context, dict):
            raise BadRequest("'context' must be an object")
        user = _user(principal, body.get("user"))
    except BadRequest as error:
        return bad_request(error)
    context = {k: v for k, v in context.items() if k != "user"}
    try:
        execution = await run_in_threadpool(
            rt.executions.request, action_ref, parameters, user=user, context=context
        )
    except ActionUnavailable as error:
        message = error.message
        if "not registered" in message:
            message = f'Action "{action_ref}" cannot be found.'
        return fault(400, message)
    except PackhorseError as error:
        return fault(400, error.message)
    return JSONResponse(_document(request, rt, execution), status_code=201)


def _user(principal: Principal, requested: Any) -> str:
    """Who the run is for: the caller, or (admins only) the ``user`` of the request."""
    if requested in (None, "", principal.user):
        return principal.user
    if not isinstance(requested, str):
        raise BadRequest("'user' must be a string")
    if not principal.may("admin"):
        raise BadRequest(f"only an admin may run as another user; {principal.user} is not")
    return requested


@route(router, "GET", "/executions/{execution_id}")
def get_execution(
    request: Request,
    *,
    execution_id: str,
    include_attributes: str | None = None,
    exclude_attributes: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """One execution (``children``: the ids of a workflow's task executions)."""
    rt = runtime(request)
    execution = _find(rt, execution_id)
    if execution is None:
        return _missing(execution_id)
    document = _document(request, rt, execution)
    include, exclude = names(include_attributes), names(exclude_attributes)
    return JSONResponse(project(document, include=include, exclude=exclude))


@route(router, "GET", "/executions/{execution_id}/output")
def get_output(
    request: Request,
    *,
    execution_id: str,
    output_type: str | None = None,
    principal: Viewer,
) -> Response:
    """The output stored so far as text; ``output_type=stdout|stderr`` keeps one stream."""
    rt = runtime(request)
    if _find(rt, execution_id) is None:
        return _missing(execution_id)
    if output_type not in (None, "", "stdout", "stderr", "all"):
        return fault(400, f"output_type must be stdout or stderr, not {output_type!r}")
    chunks = rt.store.output_since(execution_id)
    keep = output_type if output_type in ("stdout", "stderr") else None
    text = "".join(data for _, stream, data in chunks if keep is None or stream == keep)
    return PlainTextResponse(text)


@route(router, "DELETE", "/executions/{execution_id}")
def cancel_execution(request: Request, *, execution_id: str, principal: Operator) -> JSONResponse:
    """Cancel (StackStorm's answers: the execution; an already canceled one as it is; one
    that has ended otherwise, 200 with a ``faultstring``)."""
    rt = runtime(request)
    execution = _find(rt, execution_id)
    if execution is None:
        return _missing(execution_id)
    if execution.status is Status.CANCELED:
        return JSONResponse(_document(request, rt, execution))
    if execution.status in COMPLETED:
        return fault(200, f"Action cannot be canceled. State = {execution.status.value}.")
    try:
        canceled = rt.executions.cancel(execution_id)
    except Conflict as error:
        return fault(200, f"Action cannot be canceled. {error.message}")
    return JSONResponse(_document(request, rt, canceled))


_STATUS_CHANGES: dict[str, str] = {
    Status.PAUSING.value: "pause",
    Status.PAUSED.value: "pause",
    Status.RESUMING.value: "resume",
    Status.CANCELING.value: "cancel",
    Status.CANCELED.value: "cancel",
}


@route(
    router,
    "PUT",
    "/executions/{execution_id}",
    openapi_extra=openapi.body({"status": STRING}, required=["status"]),
)
async def update_execution(
    request: Request, *, execution_id: str, principal: Operator
) -> JSONResponse:
    """``{"status": "pausing"}`` pauses a workflow, ``"resuming"`` resumes it, ``"canceling"``
    cancels: what ``st2 execution pause|resume`` send."""
    rt = runtime(request)
    try:
        body = await json_body(request)
        wanted = body.get("status")
        change = _STATUS_CHANGES.get(wanted) if isinstance(wanted, str) else None
        if change is None:
            allowed = ", ".join(sorted(_STATUS_CHANGES))
            raise BadRequest(f"'status' must be one of {allowed}; got {wanted!r}")
    except BadRequest as error:
        return bad_request(error)
    execution = _find(rt, execution_id)
    if execution is None:
        return _missing(execution_id)
    if execution.completed:
        return fault(400, "Execution is already in completed state.")
    operations: dict[str, Callable[[str], Execution]] = {
        "pause": rt.executions.pause,
        "resume": rt.executions.resume,
        "cancel": rt.executions.cancel,
    }
    try:
        changed = await run_in_threadpool(operations[change], execution_id)
    except PackhorseError as error:
        return fault(400, f"Failed updating execution. {error.message}")
    return JSONResponse(_document(request, rt, changed))


@route(
    router,
    "POST",
    "/executions/{execution_id}/re_run",
    status_code=201,
    openapi_extra=openapi.body(
        {"parameters": OBJECT, "tasks": STRINGS, "reset": STRINGS, "user": STRING}
    ),
)
async def re_run_execution(
    request: Request, *, execution_id: str, principal: Operator
) -> JSONResponse:
    """Run an execution's action again: ``{"parameters": overrides}``, or for a workflow
    ``{"tasks": [...], "reset": [...]}`` to rerun from those tasks."""
    rt = runtime(request)
    try:
        body = await json_body(request)
        overrides = body.get("parameters") or {}
        tasks = body.get("tasks") or []
        reset = body.get("reset") or []
        if not isinstance(overrides, dict):
            raise BadRequest(f"The parameters needs to be a dictionary (was {type(overrides)}).")
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise BadRequest("The tasks needs to be a list of task names.")
        if not isinstance(reset, list) or not all(isinstance(t, str) for t in reset):
            raise BadRequest("The reset needs to be a list of task names.")
        if (tasks or reset) and overrides:
            raise BadRequest(
                "Parameters override is not supported when re-running task(s) for a workflow."
            )
        if set(reset) - set(tasks):
            raise BadRequest("List of tasks to reset does not match the tasks to rerun.")
        user = _user(principal, body.get("user"))
    except BadRequest as error:
        return bad_request(error)
    if _find(rt, execution_id) is None:
        return _missing(execution_id)
    try:
        fresh = await run_in_threadpool(
            lambda: rt.executions.re_run(
                execution_id,
                user=user,
                overrides=overrides,
                tasks=tasks,
                no_reset=[t for t in tasks if t not in set(reset)],
            )
        )
    except PackhorseError as error:
        return fault(400, error.message)
    return JSONResponse(_document(request, rt, fresh), status_code=201)


@route(router, "GET", "/executions/{execution_id}/children")
def get_children(
    request: Request,
    *,
    execution_id: str,
    depth: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """The executions a workflow started, oldest first; ``depth`` levels of nested workflows
    (-1, the default: all)."""
    rt = runtime(request)
    execution = _find(rt, execution_id)
    if execution is None:
        return _missing(execution_id)
    try:
        levels = -1 if depth in (None, "") else int(depth)
    except ValueError:
        return fault(400, f"depth must be an integer, not {depth!r}")
    documents: list[dict[str, Any]] = []

    def collect(parent: Execution, level: int) -> None:
        children = _children(rt, parent)
        for child, document in zip(children, _documents(request, rt, children), strict=True):
            documents.append(document)
            if levels < 0 or level < levels:
                collect(child, level + 1)

    collect(execution, 1)
    return JSONResponse(documents)
