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
"""

from __future__ import annotations

import json
import os
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


@dataclass
class Journal:
    """The journal file; :meth:`append` writes one event durably."""

    path: Path
    state: JournalState = field(default_factory=JournalState)

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
