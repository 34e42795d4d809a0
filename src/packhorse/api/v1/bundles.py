"""``POST /api/v1/packhorse/bundle/export`` and ``/bundle/import``: ``packhorse bundle export
--from URL`` and ``bundle import --to URL`` (admin only; not StackStorm's).

* ``export``, a JSON body ``{"recipient": "phr1:..."|null, "no_secrets", "with_executions",
  "events_days"}``: the bundle file (``application/gzip``), written by the same
  :func:`~packhorse.migrate.export.export_bundle` as the CLI into a private temporary folder
  that is removed before the answer is streamed (the open file is read after). Secrets are
  sealed for ``recipient`` (the importing instance's key) or left out (``no_secrets``):
  exactly one of the two; a passphrase is never accepted over the API.
* ``import?dry_run=&prune=&replace_users=``, the bundle's bytes as the body (at most
  :data:`MAX_IMPORT_BYTES`, else 413): streamed to a temporary file, the secrets opened with
  this instance's recipient private key, imported all or nothing under the content lock (one
  import at a time per instance), answered with the report (the plan, whether applied). A
  bundle sealed under a passphrase is refused (400). The slow work runs in a thread.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.v1.listing import Admin, SettingsDep, error_fault, json_object
from packhorse.errors import PackhorseError
from packhorse.settings import Settings

MAX_IMPORT_BYTES = 2 << 30
"""The largest bundle ``import`` takes (2 GiB); larger is refused with 413."""
CHUNK = 1 << 20
GZIP = "application/gzip"
RECIPIENT_ROUTE = "GET /api/v1/packhorse/recipient-key"
NO_PASSPHRASE = (
    "a passphrase is never accepted over the API: seal the secrets for the importing "
    f"instance's recipient key ('recipient', from its {RECIPIENT_ROUTE} or 'packhorse bundle "
    "recipient-key') or leave them out ('no_secrets': true)"
)

_BINARY = {"type": "string", "format": "binary"}
_EXPORT_BODY = openapi.body(
    {
        "recipient": {
            "type": ["string", "null"],
            "description": "The importing instance's recipient key (phr1:...) secrets are "
            "sealed for.",
        },
        "no_secrets": {**openapi.BOOLEAN, "description": "Leave secret values out."},
        "with_executions": openapi.BOOLEAN,
        "events_days": {"type": "integer", "minimum": 0, "default": 7},
    }
)
_IMPORT_BODY = {"requestBody": {"required": True, "content": {GZIP: {"schema": _BINARY}}}}

#: Instances (homes) a bundle import runs on in this process: the content lock is re-entrant
#: within a process, so two requests at once are kept apart here.
_importing: set[Path] = set()
_importing_guard = threading.Lock()


def _export_options(body: dict[str, Any]) -> dict[str, Any] | str:
    """The export options a request body asks for, or what is wrong with it."""
    from packhorse.crypto.transport import parse_recipient

    if "passphrase" in body or "passphrase_file" in body:
        return NO_PASSPHRASE
    unknown = sorted(set(body) - {"recipient", "no_secrets", "with_executions", "events_days"})
    if unknown:
        return f"unknown fields: {', '.join(unknown)}"
    recipient, no_secrets = body.get("recipient"), body.get("no_secrets", False)
    with_executions, events_days = body.get("with_executions", False), body.get("events_days", 7)
    if not isinstance(no_secrets, bool) or not isinstance(with_executions, bool):
        return "'no_secrets' and 'with_executions' must be true or false"
    if isinstance(events_days, bool) or not isinstance(events_days, int) or events_days < 0:
        return "'events_days' must be an integer, 0 or more"
    if not isinstance(recipient, str | None):
        return "'recipient' must be a recipient key (phr1:...) or null"
    if (recipient is None) == (not no_secrets):
        return "give exactly one of 'recipient' and 'no_secrets'; " + NO_PASSPHRASE
    key = None
    if recipient is not None:
        try:
            key = parse_recipient(recipient)
        except ValueError as error:
            return f"'recipient' is not a recipient key: {error}"
    return {
        "recipient": key,
        "no_secrets": no_secrets,
        "with_executions": with_executions,
        "events_days": events_days,
    }


def _export(settings: Settings, folder: Path, options: dict[str, Any]) -> tuple[BinaryIO, int]:
    """Export into ``folder``; the bundle file opened for reading, and its size."""
    import platform
    import secrets

    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate.export import ExportOptions, export_bundle

    report = export_bundle(
        settings,
        folder / "bundle.tar.gz",
        ExportOptions(**options),
        instance_keys=Keyring(settings.keys_dir).keys().readers,
        now=utc_now(),
        random_bytes=secrets.token_bytes,
        python_version=platform.python_version(),
        on_secret=bootstrap.redactor().add,
    )
    return report.path.open("rb"), report.size


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()


def _import(settings: Settings, path: Path, query: dict[str, bool]) -> dict[str, Any]:
    from packhorse import bootstrap
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate.importing import ImportOptions, import_bundle, wire
    from packhorse.migrate.recipient import load_private_key

    report = import_bundle(
        wire(settings),
        path,
        ImportOptions(
            dry_run=query["dry_run"], prune=query["prune"], replace_users=query["replace_users"]
        ),
        instance_keys=Keyring(settings.keys_dir).keys().readers,
        recipient_private=load_private_key(settings.keys_dir),
        on_secret=bootstrap.redactor().add,
    )
    return report.to_dict()


@contextlib.contextmanager
def _only_import(home: Path) -> Iterator[bool]:
    """Whether this request may import into ``home`` now (no other import of this process)."""
    with _importing_guard:
        busy = home in _importing
        _importing.add(home)
    try:
        yield not busy
    finally:
        if not busy:
            with _importing_guard:
                _importing.discard(home)


async def _receive(request: Request, target: Path) -> JSONResponse | None:
    """Write the request's body to ``target``; a 413 above :data:`MAX_IMPORT_BYTES`."""
    too_large = fault(
        413, f"the bundle is larger than {MAX_IMPORT_BYTES} bytes; import it with the CLI there"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        return too_large
    received = 0
    with target.open("wb") as file:
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_IMPORT_BYTES:
                return too_large
            await run_in_threadpool(file.write, chunk)
    if received == 0:
        return fault(400, "the body must be the bundle file (application/gzip)")
    return None


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1/packhorse/bundle", tags=["packhorse"])

    @routes.post(
        "/export",
        response_model=None,
        openapi_extra=_EXPORT_BODY,
        responses={200: {"description": "The bundle file", "content": {GZIP: {"schema": _BINARY}}}},
    )
    async def export_bundle(
        *, request: Request, _principal: Admin, config: SettingsDep
    ) -> Response:
        """Export this instance into a bundle file, secrets sealed for the importing
        instance's recipient key (or left out); streamed as the answer."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        options = _export_options(body)
        if isinstance(options, str):
            return fault(400, options)
        folder = Path(tempfile.mkdtemp(prefix="packhorse-export-"))
        try:
            file, size = await run_in_threadpool(_export, config, folder, options)
        except PackhorseError as error:
            return error_fault(error)
        finally:
            # Removed before the first byte goes: the open file is streamed all the same.
            shutil.rmtree(folder, ignore_errors=True)
        name = f"packhorse-{config.instance_id}.tar.gz"
        return StreamingResponse(
            _chunks(file),
            media_type=GZIP,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(size),
            },
        )

    @routes.post("/import", response_model=None, openapi_extra=_IMPORT_BODY)
    async def import_bundle(
        request: Request,
        _principal: Admin,
        config: SettingsDep,
        dry_run: bool = False,
        prune: bool = False,
        replace_users: bool = False,
    ) -> JSONResponse:
        """Import a bundle sealed for this instance's recipient key (or without secrets):
        verified, planned, applied all or nothing; answers the plan and whether applied."""
        from packhorse.migrate.importing import PassphraseRequired

        query = {"dry_run": dry_run, "prune": prune, "replace_users": replace_users}
        folder = Path(tempfile.mkdtemp(prefix="packhorse-import-"))
        try:
            path = folder / "bundle.tar.gz"
            refused = await _receive(request, path)
            if refused is not None:
                return refused
            with _only_import(config.home.resolve()) as free:
                if not free:
                    return fault(409, "a bundle import is already running on this instance")
                try:
                    report = await run_in_threadpool(_import, config, path, query)
                except PassphraseRequired:
                    return fault(
                        400,
                        "this bundle's secrets are sealed under a passphrase, which the API "
                        "never takes: seal it for this instance's recipient key: "
                        f"{RECIPIENT_ROUTE} (or export it with --no-secrets)",
                    )
                except PackhorseError as error:
                    error.message = error.message.replace(str(path), "the bundle")
                    return error_fault(error)
            return JSONResponse(report)
        finally:
            await run_in_threadpool(shutil.rmtree, folder, True)

    return routes
