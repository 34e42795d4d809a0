"""What the upgrade page says of an ``upgrade run`` journal (pure): each step's last outcome,
how many attempts, how long, and the verify step's report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A step's state after its events, and the tone the style sheet colours it with.
STEP_TONES: Mapping[str, str] = {
    "done": "good",
    "failed": "bad",
    "skipped": "muted",
    "interrupted": "waiting",
}


@dataclass(frozen=True, slots=True)
class StepRow:
    step: str
    state: str
    """``done``, ``failed``, ``skipped`` or ``interrupted`` (started, never ended)."""
    tone: str
    attempts: int
    seconds: str
    """The last attempt's duration, ``1.23 s``; empty when unknown."""
    note: str
    """The error of a failed step, the reason of a skipped one."""
    outputs: Mapping[str, Any]
    at: str
    """When its last event happened (``YYYY-MM-DD HH:MM:SS`` UTC)."""


@dataclass(frozen=True, slots=True)
class JournalSummary:
    plan: str
    started: str
    runs: int
    """How many times ``upgrade run`` began on this journal (resumes included)."""
    finished: bool
    seconds: str
    steps: tuple[StepRow, ...]
    verify: Mapping[str, Any] | None
    """The verify step's outputs (summary, replayed, differences, drift) once it is done."""


def _stamp(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def _seconds(value: Any) -> str:
    return f"{float(value):.2f} s" if isinstance(value, int | float) else ""


def summarize(events: Sequence[Mapping[str, Any]]) -> JournalSummary | None:
    """The journal's story, or None for an empty journal."""
    if not events:
        return None
    runs = [e for e in events if e.get("event") == "run"]
    order: list[str] = []
    last: dict[str, Mapping[str, Any]] = {}
    attempts: dict[str, int] = {}
    for event in events:
        step = event.get("step")
        if not isinstance(step, str) or event.get("event") not in (
            "started",
            "done",
            "failed",
            "skipped",
        ):
            continue
        if step not in order:
            order.append(step)
        last[step] = event
        if event.get("event") == "started":
            attempts[step] = attempts.get(step, 0) + 1
    rows = []
    for step in order:
        event = last[step]
        kind = str(event.get("event"))
        state = "interrupted" if kind == "started" else kind
        outputs = event.get("outputs") if kind == "done" else None
        note = event.get("error") if kind == "failed" else event.get("reason")
        rows.append(
            StepRow(
                step=step,
                state=state,
                tone=STEP_TONES[state],
                attempts=attempts.get(step, 0),
                seconds=_seconds(event.get("seconds")),
                note=str(note or ""),
                outputs=outputs if isinstance(outputs, Mapping) else {},
                at=_stamp(event.get("at")),
            )
        )
    finished = [e for e in events if e.get("event") == "finished"]
    verify = next(
        (row.outputs for row in rows if row.step == "verify" and row.state == "done"), None
    )
    return JournalSummary(
        plan=str(runs[-1].get("plan") or "") if runs else "",
        started=_stamp(runs[0].get("at")) if runs else _stamp(events[0].get("at")),
        runs=len(runs),
        finished=bool(finished) and events[-1].get("event") == "finished",
        seconds=_seconds(finished[-1].get("seconds")) if finished else "",
        steps=tuple(rows),
        verify=verify,
    )
