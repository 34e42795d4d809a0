"""StackStorm's authentication endpoints: ``/auth/v1/tokens`` (sign in with HTTP Basic, get a
token), ``/auth/v1/tokens/validate`` and ``/api/v1/apikeys``.

Secrets cross this module once: a new token or API key is in the answer that creates it, and
nowhere else (not in logs, listings or error messages).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from packhorse.api import openapi
from packhorse.api.openapi import STRING
from packhorse.api.security import Principal, Refused, auth_service, require
from packhorse.engine.auth import AuthService, IssuedApiKey
from packhorse.errors import Conflict, NotFound, Unauthenticated
from packhorse.model.auth import ApiKeyRecord
from packhorse.settings import Settings

AnyUser = Annotated[Principal, Depends(require("viewer"))]
"""Any signed-in caller; what they may do with which key is decided per route."""
MASKED = "********"
BAD_CREDENTIALS = "Invalid or missing credentials"


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ttl: int | None = Field(default=None, ge=1)


class ApiKeyBody(BaseModel):
    """StackStorm's ``ApiKeyAPI``; ``key_hash`` imports a key made elsewhere (StackStorm)."""

    model_config = ConfigDict(extra="ignore")
    user: str | None = None
    key_hash: str | None = None
    metadata: dict[str, Any] | None = None
    enabled: bool = True


def _basic_credentials(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Refused(401, BAD_CREDENTIALS)
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Refused(401, BAD_CREDENTIALS) from None
    user, colon, password = decoded.partition(":")
    if not colon or not user:
        raise Refused(401, BAD_CREDENTIALS)
    return user, password


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(400, "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refused(400, "Request body must be a JSON object.")
    return body


def _api_key(record: ApiKeyRecord, *, show_secrets: bool) -> dict[str, Any]:
    key_hash = record.key_hash if show_secrets else MASKED
    return {
        "id": record.id,
        "uid": f"api_key:{key_hash}",
        "user": record.user,
        "key_hash": key_hash,
        "metadata": dict(record.metadata),
        "created_at": record.created_at,
        "enabled": record.enabled,
    }


def _created_api_key(issued: IssuedApiKey) -> dict[str, Any]:
    shown = _api_key(issued.record, show_secrets=False)
    del shown["key_hash"]  # as StackStorm: the create answer gives the key, not its hash
    return {**shown, "key": issued.key}


def _find(auth: AuthService, key_or_id: str, principal: Principal) -> ApiKeyRecord:
    try:
        record = auth.find_api_key(key_or_id)
    except NotFound:
        raise Refused(404, f"ApiKey matching {key_or_id} for reference and id not found.") from None
    if record.user != principal.user and not principal.may("admin"):
        # Someone else's key is as good as absent to a non-admin.
        raise Refused(404, f"ApiKey matching {key_or_id} for reference and id not found.")
    return record


def router(settings: Settings) -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/auth/v1/tokens",
        status_code=201,
        tags=["auth"],
        openapi_extra=openapi.body({"ttl": {"type": "integer"}}, optional=True),
    )
    async def create_token(request: Request) -> dict[str, Any]:
        """Sign in with HTTP Basic (as ``st2 login``); body may hold ``{"ttl": seconds}``."""
        user, password = _basic_credentials(request)
        try:
            ttl = TokenRequest.model_validate(await _json_body(request)).ttl
        except ValidationError:
            raise Refused(400, "ttl must be a positive integer.") from None
        ttl = ttl or settings.auth_token_ttl
        if ttl > settings.auth_token_max_ttl:
            raise Refused(
                400,
                f"TTL specified {ttl} is greater than max allowed {settings.auth_token_max_ttl}.",
            )
        auth = auth_service(request)
        # scrypt and the database: off the event loop.
        if not await run_in_threadpool(auth.check_password, user, password):
            raise Refused(401, BAD_CREDENTIALS)
        issued = await run_in_threadpool(auth.issue_token, user, ttl)
        return {
            "id": issued.record.id,
            "user": issued.record.user,
            "token": issued.token,
            "expiry": issued.record.expiry,
            "metadata": {},
        }

    @routes.post(
        "/auth/v1/tokens/validate",
        tags=["auth"],
        openapi_extra=openapi.body({"token": STRING}, required=["token"]),
    )
    async def validate_token(request: Request) -> dict[str, bool]:
        token = (await _json_body(request)).get("token")
        if not token or not isinstance(token, str):
            raise Refused(400, "Token is not provided.")
        auth = auth_service(request)
        try:
            await run_in_threadpool(auth.validate_token, token)
        except Unauthenticated:  # unknown and expired alike
            return {"valid": False}
        return {"valid": True}

    @routes.get("/api/v1/apikeys", tags=["apikeys"])
    def list_api_keys(
        request: Request,
        response: Response,
        principal: AnyUser,
        show_secrets: bool = False,
    ) -> list[dict[str, Any]]:
        """Every key for an admin; a user's own keys otherwise. ``show_secrets``: admin only."""
        show = show_secrets and principal.may("admin")
        records = auth_service(request).store.list_api_keys()
        if not principal.may("admin"):
            records = [r for r in records if r.user == principal.user]
        response.headers["X-Total-Count"] = str(len(records))
        return [_api_key(r, show_secrets=show) for r in records]

    @routes.post("/api/v1/apikeys", status_code=201, tags=["apikeys"])
    def create_api_key(request: Request, body: ApiKeyBody, principal: AnyUser) -> dict[str, Any]:
        """A new key, shown in clear in this answer only. Keys for others: admin only."""
        user = body.user or principal.user
        if user != principal.user and not principal.may("admin"):
            raise Refused(403, f'User "{principal.user}" may not create API keys for "{user}"')
        auth = auth_service(request)
        try:
            if body.key_hash:
                record = auth.import_api_key(
                    user, body.key_hash, metadata=body.metadata, enabled=body.enabled
                )
                return {**_api_key(record, show_secrets=False), "key": None}
            issued = auth.create_api_key(user, metadata=body.metadata, enabled=body.enabled)
        except NotFound as error:
            raise Refused(400, error.message) from None
        except Conflict as error:
            raise Refused(409, error.message) from None
        return _created_api_key(issued)

    @routes.get("/api/v1/apikeys/{key_or_id}", tags=["apikeys"])
    def get_api_key(
        request: Request,
        key_or_id: str,
        principal: AnyUser,
        show_secrets: bool = False,
    ) -> dict[str, Any]:
        record = _find(auth_service(request), key_or_id, principal)
        return _api_key(record, show_secrets=show_secrets and principal.may("admin"))

    @routes.put("/api/v1/apikeys/{key_or_id}", tags=["apikeys"])
    def update_api_key(
        request: Request,
        key_or_id: str,
        body: ApiKeyBody,
        principal: AnyUser,
    ) -> dict[str, Any]:
        """Change ``enabled``, ``metadata`` (and, for an admin, ``user``); never the hash."""
        auth = auth_service(request)
        record = _find(auth, key_or_id, principal)
        if body.key_hash not in (None, "", MASKED, record.key_hash):
            raise Refused(400, "Update of key_hash is not allowed.")
        user = body.user or record.user
        if user != record.user and not principal.may("admin"):
            raise Refused(403, f'User "{principal.user}" may not give API keys to "{user}"')
        metadata = record.metadata if body.metadata is None else body.metadata
        try:
            updated = auth.update_api_key(
                record, user=user, enabled=body.enabled, metadata=metadata
            )
        except NotFound as error:
            raise Refused(400, error.message) from None
        return _api_key(updated, show_secrets=False)

    @routes.delete("/api/v1/apikeys/{key_or_id}", status_code=204, tags=["apikeys"])
    def delete_api_key(request: Request, key_or_id: str, principal: AnyUser) -> Response:
        auth = auth_service(request)
        record = _find(auth, key_or_id, principal)
        auth.store.delete_api_key(record.id)
        return Response(status_code=204)

    return routes
