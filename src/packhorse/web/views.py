"""What the console's pages show of an execution: short texts computed from its record (pure:
the clock is passed in)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from packhorse.model.execution import COMPLETED, Execution, Status

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"

#: The families a status belongs to, which the style sheet colours (the label is always the
#: status's own word: colour is never the only sign).
TONES: Mapping[Status, str] = {
    Status.SUCCEEDED: "good",
    Status.FAILED: "bad",
    Status.TIMEOUT: "bad",
    Status.ABANDONED: "bad",
    Status.CANCELED: "muted",
    Status.CANCELING: "muted",
    Status.RUNNING: "busy",
    Status.PAUSING: "busy",
    Status.RESUMING: "busy",
    Status.PAUSED: "waiting",
    Status.PENDING: "waiting",
    Status.REQUESTED: "waiting",
    Status.SCHEDULED: "waiting",
    Status.DELAYED: "waiting",
}


def _parse(stamp: str | None) -> dt.datetime | None:
    if not stamp:
        return None
    try:
        return dt.datetime.strptime(stamp, _ISO).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def duration_text(seconds: float) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """One line of the executions table."""

    id: str
    action_ref: str
    status: str
    tone: str
    started: str
    """``YYYY-MM-DD HH:MM:SS`` UTC."""
    started_iso: str
    duration: str
    """Elapsed time; for one still running, the time so far followed by "so far"."""
    triggered_by: str
    completed: bool


def triggered_by(execution: Execution) -> str:
    """Who or what started it: a rule, a workflow (as its task), or a user."""
    context = execution.context
    rule = context.get("rule")
    if isinstance(rule, Mapping) and (rule.get("ref") or rule.get("name")):
        return f"rule {rule.get('ref') or rule.get('name')}"
    if execution.parent_id:
        task = task_name(context)
        return f"workflow task {task}" if task else "workflow task"
    user = context.get("user")
    return f"user {user}" if user else "unknown"


def task_name(context: Mapping[str, Any]) -> str | None:
    """The task of a workflow's child: Orquesta's ``task_name``, an action-chain's node."""
    orquesta = context.get("orquesta")
    if isinstance(orquesta, Mapping) and orquesta.get("task_name"):
        return str(orquesta["task_name"])
    key = context.get("workflow_key")
    if isinstance(key, Mapping) and key.get("node"):
        return str(key["node"])
    return None


def execution_row(execution: Execution, now: dt.datetime) -> ExecutionRow:
    started_stamp = execution.start_timestamp or execution.created_at
    started = _parse(started_stamp)
    ended = _parse(execution.end_timestamp)
    if started is not None and ended is not None:
        duration = duration_text(max((ended - started).total_seconds(), 0.0))
    elif started is not None and execution.status not in COMPLETED:
        duration = f"{duration_text(max((now - started).total_seconds(), 0.0))} so far"
    else:
        duration = ""
    return ExecutionRow(
        id=execution.id,
        action_ref=execution.action_ref,
        status=execution.status.value,
        tone=TONES.get(execution.status, "muted"),
        started=started.strftime("%Y-%m-%d %H:%M:%S") if started else "",
        started_iso=started_stamp or "",
        duration=duration,
        triggered_by=triggered_by(execution),
        completed=execution.status in COMPLETED,
    )


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


PAGE_SIZE = 25
"""Rows a page of a list shows."""


def page_number(text: str) -> int:
    """The ``page`` query parameter: a positive number, else the first page."""
    return int(text) if text.isdigit() and int(text) > 0 else 1


def paging(path: str, filters: Mapping[str, str], number: int, total: int) -> dict[str, Any]:
    """What a filtered list's pagination shows (``_pagination.html``): the page, the pages,
    the total and the links to the pages around it, which keep the filters."""
    pages = max(1, math.ceil(total / PAGE_SIZE))

    def url(to: int) -> str:
        return f"{path}?" + urlencode({**filters, "page": to})

    return {
        "page": number,
        "pages": pages,
        "total": total,
        "previous_url": url(number - 1) if number > 1 else None,
        "next_url": url(number + 1) if number < pages else None,
    }
