"""What the pages say about an execution: who started it, how long it took."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from packhorse.model.execution import Execution, Status
from packhorse.web.views import duration_text, execution_row, triggered_by

NOW = dt.datetime(2026, 11, 28, 12, 0, 30, tzinfo=dt.UTC)


def execution(status: Status = Status.SUCCEEDED, **fields: Any) -> Execution:
    values: dict[str, Any] = {
        "id": "e1",
        "action_ref": "core.local",
        "runner_type": "local-shell-cmd",
        "status": status,
        "parameters": {},
        "context": {"user": "otto"},
        "created_at": "2026-11-28T12:00:00.000000Z",
        "start_timestamp": "2026-11-28T12:00:00.000000Z",
        **fields,
    }
    return Execution(**values)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({}, "user otto"),
        ({"context": {"user": "stanley", "rule": {"ref": "p.on_alert"}}}, "rule p.on_alert"),
        ({"parent_id": "w", "context": {"orquesta": {"task_name": "t1"}}}, "workflow task t1"),
        ({"parent_id": "w", "context": {"workflow_key": {"node": "greet"}}}, "workflow task greet"),
        ({"parent_id": "w", "context": {}}, "workflow task"),
        ({"context": {}}, "unknown"),
    ],
)
def test_who_or_what_triggered_it(fields: dict[str, Any], said: str) -> None:
    assert triggered_by(execution(**fields)) == said


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4242, "0.42 s"), (12.34, "12.3 s"), (245, "4 min 05 s"), (7380, "2 h 03 min")],
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_a_row_gives_the_status_word_its_tone_and_the_time_so_far() -> None:
    done = execution_row(execution(end_timestamp="2026-11-28T12:00:01.500000Z"), NOW)
    assert (done.status, done.tone, done.duration, done.completed) == (
        "succeeded",
        "good",
        "1.50 s",
        True,
    )
    assert done.started == "2026-11-28 12:00:00"
    running = execution_row(execution(Status.RUNNING), NOW)
    assert (running.tone, running.duration, running.completed) == ("busy", "30.0 s so far", False)
    failed = execution_row(execution(Status.FAILED, end_timestamp=None), NOW)
    assert failed.tone == "bad" and failed.duration == ""


def test_every_trigger_instance_status_has_a_tone() -> None:
    """A held or handed-over instance (one of an instance being cut over) broke the list with
    a KeyError: every status, present and future, must have its colour."""
    from packhorse.model.events import TriggerInstanceStatus
    from packhorse.web.trigger_instances import TONES

    assert set(TONES) == set(TriggerInstanceStatus)
