"""The journal of ``packhorse upgrade run``: one JSON document a line, appended and fsynced
before and after each step, so that a run killed anywhere resumes where it stopped.

Events (every one has ``at``, ISO-8601 UTC, and ``event``):

- ``run``: a run began (``plan``, ``plan_sha256``, ``resumed``: a journal already existed);
- ``started``: a step began (``step``, ``attempt``, and what the step noted of the state it
  found, ``intent``);
- ``done``: it finished (``step``, ``seconds``, ``outputs``: checksums, paths, counts);
- ``failed``: it raised (``step``, ``seconds``, ``error``);
- ``skipped``: the plan skips it, or it found its work already done (``step``, ``reason``);
- ``finished``: every step is done or skipped (``seconds``).

A ``started`` without a ``done`` or ``failed`` after it is a step that was interrupted: the
next run runs it again. A last line cut short by a crash is ignored.

The journal is signed: every line carries ``mac``, an HMAC-SHA256 of the line (without its
``mac``) chained to the previous line's, under a key derived from the plan's passphrase
(scrypt, with the random ``mac_salt`` of the first line). A run reads it back only when the
whole chain checks: a line changed, removed, inserted or moved, or another passphrase, and
it refuses to go on, naming the first line that does not check, rather than trusting steps
it did not record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packhorse.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class JournalState:
    """What a journal says, as read at the start of a run."""

    events: tuple[dict[str, Any], ...] = ()

    def for_step(self, step: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("step") == step]

    def done(self, step: str) -> Mapping[str, Any] | None:
        """The outputs of the step's last completion, if its last attempt completed."""
        ends = [e for e in self.for_step(step) if e["event"] in ("started", "done", "failed")]
        if ends and ends[-1]["event"] == "done":
            outputs = ends[-1].get("outputs")
            return outputs if isinstance(outputs, dict) else {}
        return None

    def attempts(self, step: str) -> int:
        return sum(1 for e in self.for_step(step) if e["event"] == "started")

    def interrupted(self, step: str) -> bool:
        """The step's last attempt started and never ended (a crash, a kill)."""
        ends = [e for e in self.for_step(step) if e["event"] in ("started", "done", "failed")]
        return bool(ends) and ends[-1]["event"] == "started"

    def first_intent(self, step: str) -> Mapping[str, Any]:
        """What the step's first attempt found (the state before this plan touched it)."""
        for event in self.for_step(step):
            if event["event"] == "started":
                intent = event.get("intent")
                return intent if isinstance(intent, dict) else {}
        return {}


SALT_FIELD = "mac_salt"
MAC_FIELD = "mac"


def journal_key(passphrase: str, salt: bytes) -> bytes:
    """The HMAC key of a journal: scrypt of the plan's passphrase with the journal's salt."""
    from packhorse.crypto.transport import ScryptParameters, derive_key

    return derive_key(passphrase, salt, ScryptParameters()).cipher_key


def _mac(key: bytes, previous: str, event: Mapping[str, Any]) -> str:
    unsigned = {name: value for name, value in event.items() if name != MAC_FIELD}
    line = json.dumps(unsigned, sort_keys=True, default=str).encode("utf-8")
    return hmac.new(key, previous.encode("ascii") + b"\n" + line, hashlib.sha256).hexdigest()


@dataclass
class Journal:
    """The journal file; :meth:`append` writes one event durably (signed once :meth:`sign`
    was called)."""

    path: Path
    state: JournalState = field(default_factory=JournalState)
    _key: bytes | None = field(default=None, repr=False)
    _last_mac: str = ""
    _new_salt: bytes | None = field(default=None, repr=False)

    def sign(self, passphrase: str) -> None:
        """Check every line read against ``passphrase`` (:class:`ConfigurationError` naming
        the first line that does not check), and sign the lines appended from now on."""
        events = self.state.events
        if not events:
            self._new_salt = secrets.token_bytes(16)
            self._key = journal_key(passphrase, self._new_salt)
            return
        hint = (
            "a journal is written by 'upgrade run' only: restore it, give the passphrase the "
            "run began with, or start over with another --journal"
        )
        salt = events[0].get(SALT_FIELD)
        if not isinstance(salt, str):
            raise ConfigurationError(
                f"{self.path}: the journal is not signed (begun by an older Packhorse?)",
                hint=hint,
            )
        key = journal_key(passphrase, bytes.fromhex(salt))
        previous = ""
        for number, event in enumerate(events, 1):
            expected = _mac(key, previous, event)
            if not hmac.compare_digest(str(event.get(MAC_FIELD, "")), expected):
                raise ConfigurationError(
                    f"{self.path}: event {number} does not check: the journal was altered from "
                    "there, or the passphrase is not the one the run began with",
                    hint=hint,
                )
            previous = expected
        self._key, self._last_mac = key, previous

    @classmethod
    def read(cls, path: Path) -> Journal:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as error:
            raise ConfigurationError(f"{path}: cannot read the journal: {error}") from error
        events = []
        lines = text.split("\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                if number >= len(lines) - 1:  # the last line, cut short by a crash
                    break
                raise ConfigurationError(
                    f"{path}:{number}: the journal is damaged (not JSON)",
                    hint="it is written by 'upgrade run' only; restore it or start over with "
                    "another --journal",
                ) from None
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                events.append(event)
        return cls(path, JournalState(tuple(events)))

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def append(self, event: Mapping[str, Any]) -> None:
        """Write ``event`` as one line and fsync it (and the folder, the first time)."""
        if self._key is not None:
            event = dict(event)
            if self._new_salt is not None:
                event[SALT_FIELD] = self._new_salt.hex()
                self._new_salt = None
            event[MAC_FIELD] = self._last_mac = _mac(self._key, self._last_mac, event)
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as file:
            file.seek(0, os.SEEK_END)
            if file.tell():
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":  # a line cut short by a crash: start afresh
                    file.write(b"\n")
            file.write(json.dumps(event, sort_keys=True, default=str).encode("utf-8") + b"\n")
            file.flush()
            os.fsync(file.fileno())
        if created:
            descriptor = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
