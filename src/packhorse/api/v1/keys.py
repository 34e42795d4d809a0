"""``/api/v1/keys``: the datastore (st2kv) as StackStorm's ``KeyValuePairAPI``.

Who may do what (StackStorm's rules with RBAC on, mapped to our three roles):

* Read system-scoped keys: ``viewer``. Their secrets in clear (``decrypt=true``): ``admin``.
* Read, write and delete one's own user-scoped keys (``scope=user``), secrets included:
  ``viewer`` reads, ``operator`` writes.
* System-scoped writes, and anything about another user's keys (``user=NAME``): ``admin``.

Secret values are masked (``********``, ``encrypted: true``) unless ``decrypt=true``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.openapi import BOOLEAN, STRING
from packhorse.api.security import Principal
from packhorse.api.v1.listing import RuntimeDep, Viewer, error_fault, json_object, page
from packhorse.engine.datastore import key_record
from packhorse.engine.shapes import object_id
from packhorse.errors import PackhorseError
from packhorse.model.datastore import KeyValue, Scope

#: The fields of StackStorm's KeyValuePairAPI a PUT may carry (``id`` and ``uid`` are ignored).
_PUT_FIELDS = frozenset(
    {
        "id",
        "uid",
        "name",
        "description",
        "value",
        "secret",
        "encrypted",
        "scope",
        "user",
        "expire_timestamp",
        "ttl",
    }
)


def api_record(pair: KeyValue) -> dict[str, Any]:
    """:func:`key_record` plus StackStorm's ``id`` and ``uid``."""
    reference = f"{pair.user}:{pair.name}" if pair.scope is Scope.USER else pair.name
    uid = f"key_value_pair:{pair.scope.full}:{reference}"
    return {"id": object_id("key_value_pair", uid), "uid": uid, **key_record(pair)}


def _scope(text: str | None, user: str | None, *, allow_all: bool = False) -> Scope | None:
    """StackStorm's scope rules: default system, a ``user`` implies the user scope; None for
    ``all``. Raises ValueError for an unknown scope."""
    if user:
        return Scope.USER
    if not text:
        return Scope.SYSTEM
    if text == "all":
        if allow_all:
            return None
        return Scope.SYSTEM
    return Scope.parse(text)


def _refusal(principal: Principal, *, owner: str | None, write: bool) -> JSONResponse | None:
    """403 unless ``principal`` may touch keys of ``owner`` (None: system scope)."""
    if owner is None:
        needed = "admin" if write else "viewer"
    elif owner != principal.user:
        needed = "admin"
    else:
        needed = "operator" if write else "viewer"
    if principal.may(needed):
        return None
    whose = "system-scoped keys" if owner is None else f"the keys of user {owner!r}"
    action = "change" if write else "read"
    return fault(403, f'user "{principal.user}" may not {action} {whose} (needs {needed})')


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1/keys", tags=["keys"])

    @routes.get("", response_model=None)
    @routes.get("/", include_in_schema=False, response_model=None)
    def list_keys(
        *,
        response: Response,
        prefix: str | None = None,
        name: str | None = Query(None, description="Only the key with exactly this name."),
        scope: str | None = Query(None, description="system (default), user or all."),
        user: str | None = Query(None, description="Whose user-scoped keys (admin only)."),
        decrypt: bool = False,
        limit: int | None = None,
        offset: int = 0,
        principal: Viewer,
        rt: RuntimeDep,
    ) -> list[dict[str, Any]] | JSONResponse:
        """Keys of a scope, by name; ``scope=all`` gives the system keys and the caller's (or
        ``user``'s) own."""
        try:
            parsed = _scope(scope, user, allow_all=True)
        except ValueError as error:
            return fault(400, str(error))
        owner = user or principal.user
        if user and (refused := _refusal(principal, owner=user, write=False)):
            return refused
        if decrypt and parsed is not Scope.USER and not principal.may("admin"):
            return fault(403, "decrypt=true on system-scoped keys is for admins only")
        pairs: list[KeyValue] = []
        service = rt.datastore
        if parsed in (None, Scope.SYSTEM):
            pairs += service.list_values(scope=Scope.SYSTEM, prefix=prefix, decrypt=decrypt)
        if parsed in (None, Scope.USER):
            pairs += service.list_values(
                scope=Scope.USER, user=owner, prefix=prefix, decrypt=decrypt
            )
        if name is not None:
            pairs = [pair for pair in pairs if pair.name == name]
        return [api_record(pair) for pair in page(pairs, response, limit, offset)]

    @routes.get("/{name}", response_model=None)
    def get_key(
        *,
        name: str,
        scope: str | None = None,
        user: str | None = None,
        decrypt: bool = False,
        principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        """One key; a secret in clear with ``decrypt=true``."""
        try:
            parsed = _scope(scope, user) or Scope.SYSTEM
        except ValueError as error:
            return fault(400, str(error))
        owner = (user or principal.user) if parsed is Scope.USER else None
        if refused := _refusal(principal, owner=owner, write=False):
            return refused
        if decrypt and owner is None and not principal.may("admin"):
            return fault(403, "decrypt=true on system-scoped keys is for admins only")
        try:
            pair = rt.datastore.get_value(name, scope=parsed, user=owner or "", decrypt=decrypt)
        except PackhorseError as error:
            return error_fault(error)
        return api_record(pair)

    @routes.put(
        "/{name}",
        response_model=None,
        openapi_extra=openapi.body(
            {
                "name": STRING,
                "value": STRING,
                "secret": BOOLEAN,
                "ttl": {"type": "integer"},
                "expire_timestamp": STRING,
                "scope": STRING,
                "user": STRING,
                "description": STRING,
            },
            required=["value"],
        ),
    )
    async def put_key(
        *,
        name: str,
        request: Request,
        scope: str | None = None,
        principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        """Create or replace a key (StackStorm's KeyValuePairAPI: ``value`` required;
        ``secret``, ``ttl`` seconds or ``expire_timestamp``, ``scope``, ``user``)."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        problem = _put_problem(body, name)
        if problem:
            return fault(400, problem)
        user = body.get("user") or None
        try:
            parsed = _scope(scope or body.get("scope"), user) or Scope.SYSTEM
        except ValueError as error:
            return fault(400, str(error))
        owner = (user or principal.user) if parsed is Scope.USER else None
        if refused := _refusal(principal, owner=owner, write=True):
            return refused
        ttl = body.get("ttl")
        if ttl is None and body.get("expire_timestamp"):
            ttl_or_problem = _ttl_until(str(body["expire_timestamp"]))
            if isinstance(ttl_or_problem, str):
                return fault(400, ttl_or_problem)
            ttl = ttl_or_problem
        try:
            pair = rt.datastore.set_value(
                name,
                body["value"],
                scope=parsed,
                user=owner or "",
                secret=bool(body.get("secret", False)),
                ttl=ttl,
                description=str(body.get("description") or ""),
            )
        except PackhorseError as error:
            return error_fault(error)
        return api_record(pair)

    @routes.delete("/{name}", status_code=204, response_model=None)
    def delete_key(
        *,
        name: str,
        scope: str | None = None,
        user: str | None = None,
        principal: Viewer,
        rt: RuntimeDep,
    ) -> Response:
        """Delete one key (204; 404 when there is none)."""
        try:
            parsed = _scope(scope, user) or Scope.SYSTEM
        except ValueError as error:
            return fault(400, str(error))
        owner = (user or principal.user) if parsed is Scope.USER else None
        if refused := _refusal(principal, owner=owner, write=True):
            return refused
        try:
            rt.datastore.delete_value(name, scope=parsed, user=owner or "")
        except PackhorseError as error:
            return error_fault(error)
        return Response(status_code=204)

    return routes


def _put_problem(body: dict[str, Any], name: str) -> str | None:
    unknown = sorted(set(body) - _PUT_FIELDS)
    if unknown:
        return f"Additional properties are not allowed ({', '.join(map(repr, unknown))})"
    if body.get("name") not in (None, name):
        return f"the body's name {body['name']!r} differs from the key in the path {name!r}"
    if not isinstance(body.get("value"), str):
        return "'value' is required and must be a string"
    for flag in ("secret", "encrypted"):
        if flag in body and not isinstance(body[flag], bool):
            return f"'{flag}' must be true or false"
    if body.get("encrypted"):
        return (
            "values encrypted elsewhere are not accepted over the API: send the clear value "
            "with secret=true, or use 'packhorse key load --st2-key-file'"
        )
    ttl = body.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0):
        return "'ttl' must be a positive integer number of seconds"
    for text in ("scope", "user", "description", "expire_timestamp"):
        if body.get(text) is not None and not isinstance(body[text], str):
            return f"'{text}' must be a string"
    return None


def _ttl_until(text: str) -> int | str:
    """Seconds from now to an ISO-8601 ``expire_timestamp``, or what is wrong with it."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return f"expire_timestamp {text!r} is not an ISO-8601 time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    seconds = int((moment - dt.datetime.now(dt.UTC)).total_seconds())
    if seconds <= 0:
        return f"expire_timestamp {text!r} is in the past"
    return seconds
