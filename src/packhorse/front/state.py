"""The front's state: the active target, the one before it, and when and by whom it flipped.

Plain, versioned data; :func:`flipped` is pure (the time and the person come in), and
:func:`save_state` writes the file atomically (a temporary file renamed over it), so a crash
leaves either the old state or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packhorse.errors import ConfigurationError

STATE_FORMAT = 1
"""Bumped when the file's shape changes incompatibly; older formats are still read."""


@dataclass(frozen=True, slots=True)
class FrontState:
    """What the front forwards to."""

    active: str = ""
    """Base URL of the instance new requests go to (empty: none yet, requests get 502)."""
    previous: str = ""
    """The active target before the last flip: where ``rollback`` goes."""
    flipped_at: str = ""
    """When the last flip happened (ISO 8601, UTC)."""
    flipped_by: str = ""
    """Who flipped (``user@host``, or what ``--by`` said)."""
    via: str = ""
    """How the last flip was applied: ``front`` (the running front switched), ``file`` (the
    front was not running; it reads this at start) or ``hook`` (the site's command)."""

    def to_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, **asdict(self)}


def target_url(url: str) -> str:
    """``url`` as a target: ``http(s)://host[:port][/prefix]`` without a trailing slash.
    Raises :class:`ConfigurationError` naming what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"target {url!r} is not an http:// or https:// URL with a host",
            hint="give the base URL of an instance, e.g. http://127.0.0.1:9102",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"target {url!r} has a query or fragment; give a base URL")
    return url.strip().rstrip("/")


def flipped(state: FrontState, to: str, *, by: str, at: str, via: str) -> FrontState:
    """The state after a flip to ``to``: the active target becomes the previous one."""
    return FrontState(active=to, previous=state.active, flipped_at=at, flipped_by=by, via=via)


def load_state(path: Path) -> FrontState:
    """The state in ``path``; the empty state when the file does not exist yet."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return FrontState()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot read the front's state: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("format"), int):
        raise ConfigurationError(f"{path}: not a front state file (no 'format')")
    if raw["format"] > STATE_FORMAT:
        raise ConfigurationError(
            f"{path}: state format {raw['format']} is newer than this Packhorse reads "
            f"({STATE_FORMAT})",
            hint="run the front of the Packhorse version that wrote it",
        )
    fields = {name: raw.get(name, "") for name in FrontState.__dataclass_fields__}
    wrong = sorted(name for name, value in fields.items() if not isinstance(value, str))
    if wrong:
        raise ConfigurationError(f"{path}: {', '.join(wrong)} must be strings")
    return FrontState(**fields)


def save_state(path: Path, state: FrontState) -> None:
    """Write ``state`` to ``path`` atomically and durably (temporary file, fsync, rename)."""
    save_json(path, state.to_dict())


def save_json(path: Path, document: Any) -> None:
    """Write ``document`` as JSON to ``path`` atomically and durably (the state file, and
    the cutover record beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
