"""Action aliases: ``/api/v1/actionalias`` (list, get, match) and ``/api/v1/aliasexecution``
(execute, match and execute), in StackStorm's shapes.

Aliases come from packs, so they are read-only here. Listing and matching need ``viewer``;
executing needs ``operator``. A body StackStorm's schema refuses gets its 400 faultstring; a
command that matches no alias format, or several, is a 400 as in StackStorm.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from packhorse import bootstrap
from packhorse.aliases.matching import AliasMatch, AliasRefused, CommandNotMatched, help_strings
from packhorse.api.deps import runtime, settings
from packhorse.api.errors import fault
from packhorse.api.v1.listing import (
    BadRequest,
    Operator,
    Viewer,
    bad_request,
    error_fault,
    json_body,
    listed,
    paging,
    route,
    select_attributes,
)
from packhorse.engine.aliases import (
    AliasNotFound,
    AliasRun,
    AliasService,
    ack_message,
    alias_document,
    alias_id,
)
from packhorse.engine.shapes import execution_document
from packhorse.errors import PackhorseError
from packhorse.model.content import Kind

router = APIRouter(prefix="/api/v1", tags=["aliases"])

#: StackStorm's request schemas: field -> (type, required).
_MATCH = {"command": ("string", True)}
_EXECUTE = {
    "name": ("string", True),
    "format": ("string", True),
    "command": ("string", True),
    "user": ("string", False),
    "source_channel": ("string", True),
    "source_context": ("object", False),
    "notification_channel": ("string", False),
    "notification_route": ("string", False),
}
_MATCH_AND_EXECUTE = {
    "command": ("string", True),
    "user": ("string", False),
    "source_channel": ("string", True),
    "notification_channel": ("string", False),
    "notification_route": ("string", False),
}
_TYPES = {"string": str, "object": dict}


def _service(request: Request) -> AliasService:
    rt = runtime(request)
    return AliasService(
        bootstrap.cached_registry(settings(request)),
        rt.executions,
        lookup=rt.datastore.lookup,
        decrypt=rt.datastore.decrypt,
    )


async def _body(request: Request, fields: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    """The JSON body checked as StackStorm's schema does (jsonschema's messages); a null
    optional field counts as absent."""
    body = await json_body(request)
    for name in body:
        if name not in fields:
            raise BadRequest(f"Additional properties are not allowed ({name!r} was unexpected)")
    for name, (type_name, required) in fields.items():
        value = body.get(name)
        if value is None:
            if required:
                raise BadRequest(f"'{name}' is a required property")
            continue
        if not isinstance(value, _TYPES[type_name]):
            raise BadRequest(f"{value!r} is not of type '{type_name}'")
    return body


@route(router, "GET", "/actionalias")
def list_aliases(
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
    """Registered aliases sorted by ref (StackStorm sorts by pack, then name: the same
    order); filters ``pack`` and ``name``; ``X-Total-Count``."""
    try:
        size, skip = paging(limit, offset, default=100)
    except BadRequest as error:
        return bad_request(error)
    aliases = bootstrap.cached_registry(settings(request)).list_resources(Kind.ALIAS, pack or None)
    if name:
        aliases = [alias for alias in aliases if alias.name == name]
    documents = [
        select_attributes(alias_document(alias), include_attributes, exclude_attributes)
        for alias in aliases[skip : skip + size]
    ]
    return listed(documents, len(aliases))


@route(router, "POST", "/actionalias/match")
async def match_alias(request: Request, *, principal: Viewer) -> JSONResponse:
    """``{"command": TEXT}`` -> ``{actionalias, display, representation}`` of the one alias
    format that matches; 400 when none or several do."""
    try:
        body = await _body(request, _MATCH)
    except BadRequest as error:
        return bad_request(error)
    service = _service(request)
    try:
        matched = await run_in_threadpool(service.match, body["command"])
    except PackhorseError as error:
        return _fault(error)
    return JSONResponse(_match_document(matched))


@route(router, "GET", "/actionalias/help")
def alias_help(
    request: Request,
    *,
    search: Annotated[str | None, Query(alias="filter")] = None,
    pack: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """``{"available": N, "helpstrings": [{pack, display, description}]}``: the displays of
    the enabled aliases' formats (what chat's ``!help`` lists); ``filter`` is a regular
    expression (case-insensitive), ``limit`` (default 100) and ``offset`` page them."""
    try:
        size, skip = paging(limit, offset, default=100)
        available, strings = help_strings(
            bootstrap.cached_registry(settings(request)).list_resources(Kind.ALIAS),
            search=search or "",
            pack=pack or None,
            limit=size,
            offset=skip,
        )
    except BadRequest as error:
        return bad_request(error)
    except AliasRefused as error:
        return fault(400, error.message)
    return JSONResponse({"available": available, "helpstrings": strings})


@route(router, "GET", "/actionalias/{ref_or_id}")
def get_alias(request: Request, *, ref_or_id: str, principal: Viewer) -> JSONResponse:
    """One alias by ref or id."""
    alias = _service(request).find(ref_or_id)
    if alias is None or ref_or_id not in (alias.ref, alias_id(alias.ref)):
        return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')
    return JSONResponse(alias_document(alias))


@route(router, "POST", "/aliasexecution", status_code=201)
async def execute_alias(request: Request, *, principal: Operator) -> JSONResponse:
    """``{name, format, command, source_channel, user?, source_context?,
    notification_route?}`` -> 201 ``{execution, actionalias, message?, extra?}``: runs the
    alias's action with the parameters the command gives through ``format``."""
    try:
        body = await _body(request, _EXECUTE)
    except BadRequest as error:
        return bad_request(error)
    service = _service(request)
    try:
        runs = await run_in_threadpool(
            lambda: service.execute(
                body["name"],
                body["format"],
                body["command"],
                user=principal.user,
                api_user=body.get("user"),
                source_channel=body["source_channel"],
                source_context=body.get("source_context"),
                notification_route=body.get("notification_route")
                or body.get("notification_channel"),
            )
        )
    except PackhorseError as error:
        return _fault(error)
    return JSONResponse(_run_document(request, runs[0]), status_code=201)


@route(router, "POST", "/aliasexecution/match_and_execute", status_code=201)
async def match_and_execute(request: Request, *, principal: Operator) -> JSONResponse:
    """``{command, source_channel, user?, notification_route?}`` -> 201 ``{"results": [...]}``,
    one entry per execution (several for a ``match_multiple`` format)."""
    try:
        body = await _body(request, _MATCH_AND_EXECUTE)
    except BadRequest as error:
        return bad_request(error)
    service = _service(request)
    try:
        _, runs = await run_in_threadpool(
            lambda: service.match_and_execute(
                body["command"],
                user=principal.user,
                api_user=body.get("user"),
                source_channel=body["source_channel"],
                notification_route=body.get("notification_route")
                or body.get("notification_channel"),
            )
        )
    except PackhorseError as error:
        return _fault(error)
    results = [_run_document(request, run) for run in runs]
    return JSONResponse({"results": results}, status_code=201)


def _fault(error: PackhorseError) -> JSONResponse:
    """StackStorm's faultstring: its own message for alias errors (without our hint)."""
    if isinstance(error, AliasNotFound):
        return fault(404, error.message)
    if isinstance(error, AliasRefused | CommandNotMatched):
        return fault(400, error.message)
    return error_fault(error)


def _match_document(matched: AliasMatch) -> dict[str, Any]:
    return {
        "actionalias": alias_document(matched.alias),
        "display": matched.display,
        "representation": matched.format,
    }


def _run_document(request: Request, run: AliasRun) -> dict[str, Any]:
    action = bootstrap.cached_registry(settings(request)).get_resource(
        Kind.ACTION, run.execution.action_ref
    )
    result: dict[str, Any] = {
        "execution": execution_document(run.execution, action=action),
        "actionalias": alias_document(run.alias),
    }
    result.update(ack_message(run.alias, result))
    return result
