"""The tokens ``packhorse login`` keeps: one JSON file per user, readable by that user only.

The file is ``$XDG_CONFIG_HOME/packhorse/credentials.json`` (``~/.config/...`` by default),
mode 0600 in a 0700 folder, written whole and renamed into place. It maps each server URL to
the user signed in there, the token, its expiry and the CA file given at login::

    {"version": 1, "servers": {"https://ops.example:9101": {"user": "ana", "token": "...",
     "expiry": "2026-11-29T12:00:00.000000Z", "ca_file": null}}}
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packhorse.errors import ConfigurationError

VERSION = 1


def credentials_path(environ: Mapping[str, str]) -> Path:
    """Where the file is, from ``XDG_CONFIG_HOME`` (else ``$HOME/.config``)."""
    base = environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base else Path(environ.get("HOME") or Path.home()) / ".config"
    return root / "packhorse" / "credentials.json"


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token one server issued to one user."""

    user: str
    token: str
    expiry: str
    """When the server stops accepting it: ISO-8601 UTC, as the server sent it."""
    ca_file: str | None = None
    """The CA file given at login, used again for this server unless another is given."""

    def expired(self, now: dt.datetime) -> bool:
        try:
            moment = dt.datetime.fromisoformat(self.expiry.replace("Z", "+00:00"))
        except ValueError:
            return False  # the server decides; a 401 then says to sign in again
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment <= now


class CredentialStore:
    """The credentials file: tokens by server URL (normalised by the caller)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            mode = self.path.stat().st_mode
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": VERSION, "servers": {}}
        except OSError as error:
            raise ConfigurationError(f"cannot read {self.path}: {error}") from error
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"{self.path} holds API tokens but others may read it",
                hint=f"chmod 600 {self.path} (or delete it and run 'packhorse login' again)",
            )
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ConfigurationError(
                f"{self.path} is not valid JSON: {error}",
                hint="delete it and run 'packhorse login' again",
            ) from error
        if not isinstance(document, dict) or not isinstance(document.get("servers"), dict):
            raise ConfigurationError(
                f"{self.path} is not a Packhorse credentials file",
                hint="delete it and run 'packhorse login' again",
            )
        return document

    def _write(self, document: dict[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = folder / f".{self.path.name}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=2, sort_keys=True)
                file.write("\n")
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def get(self, url: str) -> StoredToken | None:
        entry = self._read()["servers"].get(url)
        if not isinstance(entry, dict):
            return None
        try:
            return StoredToken(
                user=str(entry["user"]),
                token=str(entry["token"]),
                expiry=str(entry.get("expiry") or ""),
                ca_file=entry.get("ca_file"),
            )
        except KeyError:
            return None

    def put(self, url: str, stored: StoredToken) -> None:
        document = self._read()
        document["version"] = VERSION
        document["servers"][url] = asdict(stored)
        self._write(document)

    def remove(self, url: str) -> StoredToken | None:
        """Forget the token for ``url``; the one forgotten, or None if there was none."""
        found = self.get(url)
        if found is not None:
            document = self._read()
            del document["servers"][url]
            self._write(document)
        return found
