"""What ``bundle import`` would change, the pure half: the bundle's contents read from its
members, the target's state (read by :mod:`packhorse.migrate.importing`), and the plan, a diff
of the two that ``--dry-run`` prints and the import applies.

Merge rules (``docs/bundle-format.md``, "Import"):

- packs: added, updated (the files differ) or unchanged; a pack of the target that the bundle
  does not hold is kept, or removed with ``prune``;
- configs: added, updated or unchanged; the target's other configs are kept;
- datastore items: added, updated (value, secret flag, description or expiry differ; secrets
  compared in clear, never shown) or unchanged; a secret the bundle left out is skipped;
- rules: their enabled state set as in the bundle;
- users and API keys: added when the target lacks them; one the target holds with other
  contents is a conflict, kept as the target has it unless ``replace_users``;
- trigger instances, rule enforcements and executions: added when the target lacks their id,
  never overwritten; a trigger instance still pending and an execution not finished on the
  source are skipped (imported, they would be processed or run a second time here).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from packhorse.errors import BundleError
from packhorse.migrate import bundle_format as fmt
from packhorse.model.events import TriggerInstanceStatus
from packhorse.model.execution import COMPLETED

KeyId = tuple[str, str, str]
"""A datastore item: (scope, user, name)."""


class Kind(StrEnum):
    PACK = "pack"
    CONFIG = "config"
    KEY = "key"
    RULE = "rule"
    USER = "user"
    API_KEY = "api_key"
    TRIGGER_INSTANCE = "trigger_instance"
    RULE_ENFORCEMENT = "rule_enforcement"
    EXECUTION = "execution"


class Action(StrEnum):
    ADD = "add"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    KEEP = "keep"
    """In the target only: left as it is."""
    REMOVE = "remove"
    CONFLICT = "conflict"
    """The target holds another version; kept as it is."""
    SKIP = "skip"
    """Not in the bundle's data (a secret exported with ``--no-secrets``)."""


WRITES = frozenset({Action.ADD, Action.UPDATE, Action.REMOVE})


@dataclass(frozen=True, slots=True)
class KeyState:
    """What the plan compares of a datastore item (a secret in clear: never shown)."""

    secret: bool
    value: str
    description: str
    expires_at: str | None


@dataclass(frozen=True, slots=True)
class BundlePack:
    version: str
    digest: str
    files: Mapping[str, tuple[bytes, int]] = field(repr=False)
    """Path inside the pack folder -> (bytes, mode)."""


@dataclass(frozen=True, slots=True)
class BundleContents:
    """A verified bundle's members, parsed; secrets opened (clear values in ``keys``)."""

    packs: Mapping[str, BundlePack]
    configs: Mapping[str, bytes]
    keys: Mapping[KeyId, tuple[KeyState | None, Mapping[str, Any]]]
    """Item -> (its state, None when its secret value was left out; the exported item)."""
    rules: Mapping[str, bool]
    users: Mapping[str, Mapping[str, Any]]
    api_keys: Mapping[str, Mapping[str, Any]]
    trigger_instances: Mapping[str, Mapping[str, Any]]
    rule_enforcements: Mapping[str, Mapping[str, Any]]
    executions: Mapping[str, Mapping[str, Any]]
    pack_sources: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TargetState:
    """What the target instance holds now."""

    packs: Mapping[str, tuple[str, str]]
    """ref -> (version, digest of its exported files); system packs left out."""
    configs: Mapping[str, bytes]
    keys: Mapping[KeyId, KeyState]
    rules: Mapping[str, bool]
    users: Mapping[str, Mapping[str, Any]]
    api_keys: Mapping[str, Mapping[str, Any]]
    trigger_instances: frozenset[str]
    rule_enforcements: frozenset[str]
    executions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    name: str
    action: Action
    detail: str = ""
    """For people: versions, what conflicts (never a value)."""


@dataclass(frozen=True, slots=True)
class ImportPlan:
    changes: tuple[Change, ...]

    @property
    def writes(self) -> bool:
        """Whether applying the plan changes anything."""
        return any(change.action in WRITES for change in self.changes)

    def names(self, kind: Kind, *actions: Action) -> list[str]:
        return [c.name for c in self.changes if c.kind is kind and c.action in actions]

    def counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for change in self.changes:
            by_action = counts.setdefault(change.kind.value, {})
            by_action[change.action.value] = by_action.get(change.action.value, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "writes": self.writes,
            "counts": self.counts(),
            "changes": [
                {"kind": c.kind.value, "name": c.name, "action": c.action.value, "detail": c.detail}
                for c in self.changes
                if c.kind not in _EVENT_KINDS or c.action is not Action.UNCHANGED
            ],
        }


_EVENT_KINDS = frozenset({Kind.TRIGGER_INSTANCE, Kind.RULE_ENFORCEMENT, Kind.EXECUTION})


# -- the bundle's contents ---------------------------------------------------------------------


def pack_digest(files: Iterable[tuple[str, str, int]]) -> str:
    """What says two pack folders hold the same: their exported files (path inside the
    pack, hex SHA-256 of the content, executable or not), in path order."""
    return fmt.sha256(
        fmt.canonical_json(
            sorted([path, digest, mode == fmt.EXECUTABLE_MODE] for path, digest, mode in files)
        )
    )


class PackFiles(Mapping[str, tuple[bytes, int]]):
    """A pack's files in a bundle, path inside the pack -> (bytes, mode), read from the
    bundle's members only when asked for: an import copies them from the spool instead
    (:meth:`member` names the member of a file)."""

    def __init__(self, members: Mapping[str, bytes], ref: str, modes: Mapping[str, int]) -> None:
        self.members = members
        self._prefix = f"{fmt.PACKS_DIR}/{ref}/"
        self._modes = modes
        self._names = [p.removeprefix(self._prefix) for p in members if p.startswith(self._prefix)]

    def member(self, relative: str) -> str:
        return self._prefix + relative

    def mode(self, relative: str) -> int:
        return self._modes.get(self.member(relative), fmt.FILE_MODE)

    def __getitem__(self, relative: str) -> tuple[bytes, int]:
        if relative not in self._names:
            raise KeyError(relative)
        return self.members[self.member(relative)], self.mode(relative)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def read_contents(
    members: Mapping[str, bytes],
    modes: Mapping[str, int],
    open_secret: Callable[[Mapping[str, Any]], str] | None,
) -> BundleContents:
    """Parse a verified bundle's members. ``open_secret`` gives a sealed item's clear value
    (None: the bundle's secrets were left out)."""
    refs: set[str] = set()
    configs: dict[str, bytes] = {}
    for path in members:
        parts = path.split("/")
        if parts[0] == fmt.PACKS_DIR and len(parts) >= 3:
            refs.add(parts[1])
        elif parts[0] == fmt.CONFIGS_DIR and len(parts) == 2:
            configs[parts[1]] = members[path]
    packs = {}
    for ref in sorted(refs):
        files = PackFiles(members, ref, modes)
        packs[ref] = BundlePack(
            _pack_version(ref, files),
            pack_digest(
                (p, _digest_of(members, files.member(p)), files.mode(p)) for p in sorted(files)
            ),
            files,
        )
    keys: dict[KeyId, tuple[KeyState | None, Mapping[str, Any]]] = {}
    for item in _json(members, fmt.DATASTORE, {"items": []})["items"]:
        identity = (str(item["scope"]), str(item["user"]), str(item["name"]))
        value = item.get("value")
        state = None
        if item.get("secret") and value is not None:
            if open_secret is None:
                raise BundleError("the bundle's secrets cannot be opened here")
            value = open_secret(item)
        if value is not None:
            state = KeyState(
                bool(item.get("secret")),
                str(value),
                str(item.get("description") or ""),
                item.get("expires_at"),
            )
        keys[identity] = (state, item)
    return BundleContents(
        packs=packs,
        configs=configs,
        keys=keys,
        rules={str(k): bool(v) for k, v in _json(members, fmt.RULES, {}).items()},
        users={str(u["name"]): u for u in _json(members, fmt.USERS, [])},
        api_keys={str(k["id"]): k for k in _json(members, fmt.API_KEYS, [])},
        trigger_instances=_by_id(members, fmt.TRIGGER_INSTANCES),
        rule_enforcements=_by_id(members, fmt.RULE_ENFORCEMENTS),
        executions=_by_id(members, fmt.EXECUTIONS),
        pack_sources=_json(members, fmt.PACK_SOURCES, {}),
    )


def _digest_of(members: Mapping[str, bytes], path: str) -> str:
    found = fmt.member_digest(members, path)
    assert found is not None  # listed by the members themselves
    return found[1]


def _pack_version(ref: str, files: Mapping[str, tuple[bytes, int]]) -> str:
    metadata = files.get("pack.yaml")
    if metadata is None:
        raise BundleError(f"pack {ref} in the bundle has no pack.yaml")
    try:
        document = yaml.safe_load(metadata[0])
    except yaml.YAMLError as error:
        raise BundleError(f"packs/{ref}/pack.yaml: not YAML: {error}") from None
    if not isinstance(document, dict):
        raise BundleError(f"packs/{ref}/pack.yaml is not a mapping")
    named = str(document.get("ref") or document.get("name") or "")
    if named != ref:
        raise BundleError(f"packs/{ref}/pack.yaml names another pack ({named!r})")
    return str(document.get("version", ""))


def _json(members: Mapping[str, bytes], path: str, default: Any) -> Any:
    data = members.get(path)
    if data is None:
        return default
    try:
        document = json.loads(data)
    except ValueError as error:
        raise BundleError(f"{path}: not JSON: {error}") from None
    if type(document) is not type(default):
        raise BundleError(f"{path}: not a JSON {type(default).__name__}")
    return document


def _by_id(members: Mapping[str, bytes], path: str) -> dict[str, Mapping[str, Any]]:
    rows: dict[str, Mapping[str, Any]] = {}
    for number, line in enumerate(members.get(path, b"").splitlines(), start=1):
        try:
            row = json.loads(line)
            rows[str(row["id"])] = row
        except (ValueError, KeyError, TypeError) as error:
            raise BundleError(f"{path}:{number}: not a record: {error}") from None
    return rows


# -- the plan ----------------------------------------------------------------------------------


def plan_import(
    bundle: BundleContents,
    target: TargetState,
    *,
    prune: bool = False,
    replace_users: bool = False,
) -> ImportPlan:
    """The changes importing ``bundle`` makes to ``target``; see the module docstring."""
    changes: list[Change] = []
    for ref, pack in bundle.packs.items():
        current = target.packs.get(ref)
        if current is None:
            changes.append(Change(Kind.PACK, ref, Action.ADD, pack.version))
        elif current[1] != pack.digest:
            changes.append(Change(Kind.PACK, ref, Action.UPDATE, f"{current[0]} -> {pack.version}"))
        else:
            changes.append(Change(Kind.PACK, ref, Action.UNCHANGED, pack.version))
    for ref in sorted(set(target.packs) - set(bundle.packs)):
        version = target.packs[ref][0]
        changes.append(Change(Kind.PACK, ref, Action.REMOVE if prune else Action.KEEP, version))

    for name, data in sorted(bundle.configs.items()):
        changes.append(Change(Kind.CONFIG, name, _compare(target.configs.get(name), data)))
    for name in sorted(set(target.configs) - set(bundle.configs)):
        changes.append(Change(Kind.CONFIG, name, Action.KEEP))

    for identity, (state, _item) in sorted(bundle.keys.items()):
        shown = _key_name(identity)
        if state is None:
            changes.append(Change(Kind.KEY, shown, Action.SKIP, "secret left out of the bundle"))
        else:
            action = _compare(target.keys.get(identity), state)
            changes.append(Change(Kind.KEY, shown, action, "secret" if state.secret else ""))

    for ref, enabled in sorted(bundle.rules.items()):
        detail = "enabled" if enabled else "disabled"
        was = target.rules.get(ref)
        if was is None:
            action = Action.ADD  # its pack comes with the bundle: the state is set after
        else:
            action = Action.UNCHANGED if was is enabled else Action.UPDATE
        changes.append(Change(Kind.RULE, ref, action, detail))

    changes += _records(Kind.USER, bundle.users, target.users, replace_users, _user_fields)
    changes += _records(Kind.API_KEY, bundle.api_keys, target.api_keys, replace_users, _key_fields)
    for kind, rows, present in [
        (Kind.TRIGGER_INSTANCE, bundle.trigger_instances, target.trigger_instances),
        (Kind.RULE_ENFORCEMENT, bundle.rule_enforcements, target.rule_enforcements),
        (Kind.EXECUTION, bundle.executions, target.executions),
    ]:
        for row_id, row in rows.items():
            if row_id in present:
                changes.append(Change(kind, row_id, Action.UNCHANGED))
            elif (reason := _unfinished(kind, row)) is not None:
                changes.append(Change(kind, row_id, Action.SKIP, reason))
            else:
                changes.append(Change(kind, row_id, Action.ADD))
    return ImportPlan(tuple(changes))


def _unfinished(kind: Kind, row: Mapping[str, Any]) -> str | None:
    """Why a record is not imported: a trigger instance the source's rules had not seen yet,
    an execution not finished there. Imported, they would be picked up here and run a second
    time; history is kept, work is not moved."""
    status = row.get("status")
    if kind is Kind.TRIGGER_INSTANCE and status == TriggerInstanceStatus.PENDING:
        return "not processed on the source; it would fire again here"
    if kind is Kind.EXECUTION and status not in {s.value for s in COMPLETED}:
        return f"{status} on the source; it would run again here"
    return None


def _compare(current: object, new: object) -> Action:
    if current is None:
        return Action.ADD
    return Action.UNCHANGED if current == new else Action.UPDATE


def _key_name(identity: KeyId) -> str:
    scope, user, name = identity
    return f"{scope}:{user}:{name}" if user else f"{scope}:{name}"


def _user_fields(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row.get("password_hash"), row.get("role"))


def _key_fields(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row.get("user"), row.get("key_hash"), bool(row.get("enabled")), row.get("metadata"))


def _records(
    kind: Kind,
    bundle: Mapping[str, Mapping[str, Any]],
    target: Mapping[str, Mapping[str, Any]],
    replace: bool,
    fields: Callable[[Mapping[str, Any]], tuple[Any, ...]],
) -> list[Change]:
    changes = []
    for name, row in sorted(bundle.items()):
        current = target.get(name)
        if current is None:
            changes.append(Change(kind, name, Action.ADD))
        elif fields(current) == fields(row):
            changes.append(Change(kind, name, Action.UNCHANGED))
        elif replace:
            changes.append(Change(kind, name, Action.UPDATE, "replaced (--replace-users)"))
        else:
            changes.append(
                Change(kind, name, Action.CONFLICT, "differs in the target; kept as it is there")
            )
    return changes
