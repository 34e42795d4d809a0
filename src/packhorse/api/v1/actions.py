"""Actions and runner types: ``/api/v1/actions`` (list, get, the parameters and overview
views) and ``/api/v1/runnertypes`` (which ``st2 run`` reads), in StackStorm's shapes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from packhorse import bootstrap
from packhorse.api.deps import settings
from packhorse.api.errors import fault
from packhorse.api.v1.listing import (
    BadRequest,
    Viewer,
    bad_request,
    listed,
    names,
    paging,
    route,
)
from packhorse.engine.shapes import action_document, object_id, plain, project, runner_document
from packhorse.model.content import Kind, Resource
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.params import schema_for_action

router = APIRouter(prefix="/api/v1", tags=["actions"])


def find_action(request: Request, ref_or_id: str) -> Resource | None:
    """A registered action by ref (``pack.name``) or by its id."""
    registry = bootstrap.cached_registry(settings(request))
    action = registry.get_resource(Kind.ACTION, ref_or_id)
    if action is not None:
        return action
    return next(
        (
            candidate
            for candidate in registry.list_resources(Kind.ACTION)
            if object_id(Kind.ACTION.value, candidate.ref) == ref_or_id
        ),
        None,
    )


def _not_found(ref_or_id: str) -> JSONResponse:
    return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')


@route(router, "GET", "/actions/views/overview", summary="Actions (overview view)")
@route(router, "GET", "/actions")
def list_actions(
    request: Request,
    *,
    pack: str | None = None,
    name: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
    include_attributes: str | None = None,
    exclude_attributes: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """Registered actions sorted by ref; filters ``pack`` and ``name``; ``X-Total-Count``.
    The overview view (``/actions/views/overview``) answers the same documents."""
    try:
        size, skip = paging(limit, offset, default=100)
    except BadRequest as error:
        return bad_request(error)
    actions = bootstrap.cached_registry(settings(request)).list_resources(Kind.ACTION, pack or None)
    if name:
        actions = [action for action in actions if action.name == name]
    include, exclude = names(include_attributes), names(exclude_attributes)
    documents = [
        project(action_document(action), include=include, exclude=exclude)
        for action in actions[skip : skip + size]
    ]
    return listed(documents, len(actions))


@route(router, "GET", "/actions/views/parameters/{ref_or_id}")
def get_action_parameters(request: Request, *, ref_or_id: str, principal: Viewer) -> JSONResponse:
    """``{"parameters": ...}``: the action's parameters over its runner's (what a run takes)."""
    action = find_action(request, ref_or_id)
    if action is None:
        return _not_found(ref_or_id)
    schema, _ = schema_for_action(action.body)
    return JSONResponse({"parameters": plain(schema)})


@route(router, "GET", "/actions/views/overview/{ref_or_id}", summary="One action (overview view)")
@route(router, "GET", "/actions/{ref_or_id}")
def get_action(request: Request, *, ref_or_id: str, principal: Viewer) -> JSONResponse:
    """One action by ref or id."""
    action = find_action(request, ref_or_id)
    if action is None:
        return _not_found(ref_or_id)
    return JSONResponse(action_document(action))


@route(router, "GET", "/runnertypes")
def list_runner_types(
    *,
    name: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """Runner types (``st2 run`` looks its action's up with ``?name=``)."""
    try:
        size, skip = paging(limit, offset, default=100)
    except BadRequest as error:
        return bad_request(error)
    found = sorted(RUNNER_TYPES) if not name else [n for n in RUNNER_TYPES if n == name]
    return listed([runner_document(n) for n in found[skip : skip + size]], len(found))


@route(router, "GET", "/runnertypes/{name_or_id}")
def get_runner_type(name_or_id: str, principal: Viewer) -> JSONResponse:
    """One runner type by name or id."""
    for runner in RUNNER_TYPES:
        if name_or_id in (runner, object_id("runner_type", runner)):
            return JSONResponse(runner_document(runner))
    return _not_found(name_or_id)
