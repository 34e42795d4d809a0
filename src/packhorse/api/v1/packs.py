"""Packs: ``/api/v1/packs`` (list and get) in StackStorm's ``PackAPI`` shape."""

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
    paging,
    route,
)
from packhorse.engine.shapes import object_id, pack_document

router = APIRouter(prefix="/api/v1", tags=["packs"])


@route(router, "GET", "/packs")
def list_packs(
    request: Request,
    *,
    limit: str | None = None,
    offset: str | None = None,
    name: str | None = None,
    ref: str | None = None,
    principal: Viewer,
) -> JSONResponse:
    """Registered packs, sorted by ref (filters ``name``/``ref``; ``X-Total-Count``)."""
    try:
        size, skip = paging(limit, offset, default=100)
    except BadRequest as error:
        return bad_request(error)
    packs = bootstrap.registry_reader(settings(request)).list_packs()
    wanted = name or ref
    if wanted:
        packs = [pack for pack in packs if pack.ref == wanted]
    return listed([pack_document(pack) for pack in packs[skip : skip + size]], len(packs))


@route(router, "GET", "/packs/{ref_or_id}")
def get_pack(
    request: Request,
    *,
    ref_or_id: str,
    principal: Viewer,
) -> JSONResponse:
    """One pack by ref or id."""
    reader = bootstrap.registry_reader(settings(request))
    pack = reader.get_pack(ref_or_id)
    if pack is None:
        pack = next(
            (p for p in reader.list_packs() if object_id("pack", p.ref) == ref_or_id),
            None,
        )
    if pack is None:
        return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')
    return JSONResponse(pack_document(pack))
