"""A remote instance's bundle export and import (``/api/v1/packhorse/bundle/...``, admin
only): ``packhorse bundle export --from URL`` and ``bundle import --to URL``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from packhorse.client.http import ApiClient
from packhorse.errors import RemoteError

PATH = "/api/v1/packhorse/bundle"
GZIP = "application/gzip"


def export_bundle(
    api: ApiClient,
    output_path: Path,
    *,
    recipient: str | None,
    no_secrets: bool,
    with_executions: bool = False,
    events_days: int = 7,
) -> int:
    """Write the remote instance's bundle to ``output_path`` (mode 0600, through a temporary
    file and a rename: a failure leaves no half bundle under the name); its size in bytes.
    Secrets are sealed for ``recipient`` (``phr1:...``) or left out."""
    body = {
        "recipient": recipient,
        "no_secrets": no_secrets,
        "with_executions": with_executions,
        "events_days": events_days,
    }
    temporary = output_path.with_name(f".{output_path.name}.partial")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            size = api.download(f"{PATH}/export", body, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, output_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return size


def import_bundle(
    api: ApiClient,
    path: Path,
    *,
    dry_run: bool = False,
    prune: bool = False,
    replace_users: bool = False,
) -> dict[str, Any]:
    """Import the bundle file at ``path`` into the remote instance; its report (``bundle``,
    ``applied``, ``plan``, ``warnings``), as ``bundle import --json`` prints it."""
    params = {"dry_run": dry_run, "prune": prune, "replace_users": replace_users}
    with path.open("rb") as file:
        answer = api.upload(
            f"{PATH}/import",
            file,
            size=os.fstat(file.fileno()).st_size,
            content_type=GZIP,
            params=params,
        )
    if not isinstance(answer, dict):
        raise RemoteError(f"{api.url}: not an import report", status=None, url=api.url)
    return answer
