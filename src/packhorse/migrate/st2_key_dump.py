"""Reading a StackStorm datastore dump: what ``st2 key list -j`` (or ``-j --decrypt``) prints.

Pure: text in, items and problems out. A dump is a JSON list of objects::

    {"name": "api_token", "value": "...", "scope": "st2kv.system", "user": "",
     "secret": true, "encrypted": true, "ttl": 3600,
     "expire_timestamp": "2026-01-01T00:00:00.000000Z", "description": "..."}

``scope`` is ``st2kv.system`` or ``st2kv.user`` (``system``/``user`` in older releases); a
user-scoped item names its user, and some releases print its name as ``user:name``. With
``--decrypt`` a secret's value is in clear (``encrypted`` false); without it, it is
StackStorm's ciphertext in hex (``encrypted`` true), which only its key file opens.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from packhorse.model.datastore import Scope

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How Packhorse writes times (``engine.datastore.ISO_FORMAT``)."""


@dataclass(frozen=True, slots=True)
class DumpItem:
    """One datastore item of a StackStorm dump."""

    scope: Scope
    user: str
    """The user of a user-scoped item; empty for a system one."""
    name: str
    value: str = field(repr=False)
    """Clear text, or StackStorm's ciphertext (hex) when ``encrypted``."""
    secret: bool
    encrypted: bool
    """The value is StackStorm's ciphertext (a dump made without ``--decrypt``)."""
    description: str = ""
    expires_at: str | None = None
    """When it expires (``expire_timestamp``, else now + ``ttl``), as Packhorse writes times."""

    @property
    def shown(self) -> str:
        """``system:name`` or ``user:alice:name``, for listings (never the value)."""
        if self.scope is Scope.USER:
            return f"{self.scope.value}:{self.user}:{self.name}"
        return f"{self.scope.value}:{self.name}"


def parse_key_dump(text: str, source: str, *, now: dt.datetime) -> tuple[list[DumpItem], list[str]]:
    """The items of a dump, and every problem found (``source: item N: ...``); ``now`` turns
    a ``ttl`` without an ``expire_timestamp`` into an expiry time."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [f"{source}: not JSON ({error.msg} at line {error.lineno})"]
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        document = document["items"]  # what 'packhorse key list --json' prints
    if not isinstance(document, list):
        return [], [f"{source}: not a JSON list (expected what 'st2 key list -j' prints)"]
    items: list[DumpItem] = []
    problems: list[str] = []
    for index, entry in enumerate(document, start=1):
        item = _item(entry, f"{source}: item {index}", now, problems)
        if item is not None:
            items.append(item)
    seen: set[tuple[Scope, str, str]] = set()
    for item in items:
        identity = (item.scope, item.user, item.name)
        if identity in seen:
            problems.append(f"{source}: {item.shown} appears twice")
        seen.add(identity)
    return items, problems


def _item(entry: Any, where: str, now: dt.datetime, problems: list[str]) -> DumpItem | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: not an object")
        return None
    name, value = entry.get("name"), entry.get("value")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: 'name' is missing or not a string")
        return None
    where = f"{where} ({name})"
    if name != name.strip() or any(ord(c) < 32 for c in name):
        problems.append(f"{where}: a name with surrounding spaces or control characters")
        return None
    try:
        scope = Scope.parse(str(entry.get("scope") or "system"))
    except ValueError as error:
        problems.append(f"{where}: {error}")
        return None
    user = str(entry.get("user") or "") if scope is Scope.USER else ""
    if scope is Scope.USER:
        prefix, colon, rest = name.partition(":")
        if colon and (not user or prefix == user):
            user, name = prefix, rest  # the internal ``user:name`` spelling
        if not user:
            problems.append(f"{where}: a user-scoped item without a user")
            return None
    if value is None:
        problems.append(f"{where}: 'value' is missing")
        return None
    if not isinstance(value, str):
        value = json.dumps(value)  # StackStorm values are strings; keep others as JSON text
    secret = bool(entry.get("secret"))
    expires_at = _expiry(entry, where, now, problems)
    return DumpItem(
        scope=scope,
        user=user,
        name=name,
        value=value,
        secret=secret,
        encrypted=secret and bool(entry.get("encrypted")),
        description=str(entry.get("description") or ""),
        expires_at=expires_at,
    )


def _expiry(entry: dict[str, Any], where: str, now: dt.datetime, problems: list[str]) -> str | None:
    stamp, ttl = entry.get("expire_timestamp"), entry.get("ttl")
    if isinstance(stamp, str) and stamp:
        try:
            moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{where}: expire_timestamp {stamp!r} is not an ISO 8601 time")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime(ISO_FORMAT)
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        problems.append(f"{where}: ttl {ttl!r} is not a positive number of seconds")
        return None
    return (now + dt.timedelta(seconds=ttl)).astimezone(dt.UTC).strftime(ISO_FORMAT)
