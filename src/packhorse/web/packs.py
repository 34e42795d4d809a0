"""The console's packs: the list (ref, version, where it came from, description) and a page
for each with its actions, rules and sensors and its config: the values (secrets masked) and,
for admins, a form generated from ``config.schema.yaml``. Saving does what ``packhorse pack
config`` does (:mod:`packhorse.engine.pack_config`): the values are checked against the
schema, a secret moves into the datastore encrypted, ``configs/<pack>.yaml`` is replaced and
the pack registered again. A secret is never sent back into a page: its field is empty, and
left empty it keeps its value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse import bootstrap
from packhorse.api.deps import settings
from packhorse.engine import pack_config
from packhorse.errors import NotFound
from packhorse.model.content import Kind, RegisteredPack
from packhorse.packs.install import InstallError
from packhorse.packs.sources_record import read_sources
from packhorse.params.config import mask_config
from packhorse.web import forms, views
from packhorse.web.rendering import PREFIX, not_found, posted_form, render
from packhorse.web.session import CSRF_FIELD, Session, require_session


def _sources(request: Request) -> dict[str, dict[str, Any]]:
    try:
        return read_sources(settings(request).home)
    except InstallError:
        return {}


def source_text(ref: str, sources: Mapping[str, Mapping[str, Any]]) -> str:
    found = sources.get(ref)
    if not found:
        return "bundled or placed by hand"
    return f"{found.get('kind', '')} {found.get('source', '')}".strip()


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def guarded(
    fields: list[forms.Field], current: Mapping[str, Any], schema: Mapping[str, Any]
) -> set[str]:
    """Fields never filled in from the current config, and kept when left empty: the secret
    ones, and any (an object, an array) whose current value holds a secret somewhere inside."""
    names = {f.name for f in fields if f.widget is forms.Widget.PASSWORD}
    for name, value in current.items():
        if mask_config({name: value}, schema) != {name: value}:
            names.add(name)
    return names


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(f"{PREFIX}/packs")
    def packs_page(request: Request) -> Response:
        session = require_session(request)
        sources = _sources(request)
        packs = bootstrap.content_registry(settings(request)).list_packs()
        return render(
            request,
            "packs.html",
            session=session,
            title="Packs",
            rows=[(pack, source_text(pack.ref, sources)) for pack in packs],
        )

    def _page(
        request: Request,
        session: Session,
        pack: RegisteredPack,
        *,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        problem: str | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Response:
        config = settings(request)
        registry = bootstrap.content_registry(config)
        schema, _ = pack_config.config_schema(config, pack.ref)
        current = pack_config.current_config(config, pack.ref)
        fields = forms.fields(schema)
        secret = guarded(fields, current, schema)
        shown = (
            {k: v for k, v in values.items() if k not in secret and k != CSRF_FIELD}
            if values is not None
            else {k: _shown(v) for k, v in current.items() if k not in secret}
        )
        return render(
            request,
            "pack.html",
            session=session,
            title=f"Pack {pack.ref}",
            pack=pack,
            source=source_text(pack.ref, _sources(request)),
            description=str(pack.metadata.get("description") or ""),
            actions=registry.list_resources(Kind.ACTION, pack.ref),
            rules=registry.list_resources(Kind.RULE, pack.ref),
            sensors=registry.list_resources(Kind.SENSOR, pack.ref),
            has_schema=bool(schema),
            config_values=views.pretty_json(mask_config(current, schema)),
            has_config=bool(current),
            fields=fields,
            secret_set={name for name in secret if current.get(name) not in (None, "")},
            values=shown,
            errors=dict(errors or {}),
            problem=problem,
            saved=saved,
            may_configure=session.principal.may("admin"),
            status_code=status_code,
        )

    def _pack(request: Request, ref: str) -> RegisteredPack | None:
        return bootstrap.content_registry(settings(request)).get_pack(ref)

    @routes.get(f"{PREFIX}/packs/{{ref}}")
    def pack_page(request: Request, ref: str, saved: str = "") -> Response:
        session = require_session(request)
        pack = _pack(request, ref)
        if pack is None:
            return not_found(request, session, "Pack not found", f"There is no pack {ref}.")
        return _page(request, session, pack, saved=saved == "1")

    @routes.post(f"{PREFIX}/packs/{{ref}}/config")
    async def save(request: Request, ref: str) -> Response:
        session, form = await posted_form(request, needs="admin", doing="change pack configs")
        pack = _pack(request, ref)
        if pack is None:
            return not_found(request, session, "Pack not found", f"There is no pack {ref}.")
        config = settings(request)
        try:
            schema, folder = pack_config.config_schema(config, pack.ref)
        except NotFound:
            return not_found(request, session, "Pack not found", f"There is no pack {ref}.")
        fields = forms.fields(schema)
        submission = forms.read(fields, form)
        if submission.errors:
            return _page(
                request,
                session,
                pack,
                values=form,
                errors=submission.errors,
                problem="Some values need fixing.",
                status_code=400,
            )
        values = pack_config.current_config(config, pack.ref)
        kept = guarded(fields, values, schema)
        for field in fields:
            if field.name in submission.parameters:
                values[field.name] = submission.parameters[field.name]
            elif field.name not in kept:
                values.pop(field.name, None)  # empty: the schema's default applies
        diagnostics = pack_config.check_config(config, pack.ref, values, schema)
        failing = [d for d in diagnostics if d.is_error]
        if failing:
            by_field = {
                d.field.split(".")[0]: d.message for d in failing if d.field.split(".")[0] in schema
            }
            return _page(
                request,
                session,
                pack,
                values=form,
                errors=by_field,
                problem="Nothing saved: " + "; ".join(d.message for d in failing),
                status_code=400,
            )
        saved = await run_in_threadpool(
            pack_config.save_config, config, pack.ref, values, schema, folder
        )
        if not saved.registered:
            problems = "; ".join(d.message for d in saved.diagnostics if d.is_error)
            return _page(
                request,
                session,
                pack,
                problem=f"The config is written, but the pack did not register: {problems}",
                status_code=400,
            )
        return RedirectResponse(f"{PREFIX}/packs/{pack.ref}?saved=1", status_code=303)

    return routes
