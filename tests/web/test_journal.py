"""What the upgrade page says of an ``upgrade run`` journal (pure)."""

from __future__ import annotations

from typing import Any

from packhorse.web.journal import summarize

RUN: list[dict[str, Any]] = [
    {"at": "2026-11-28T10:00:00.000000Z", "event": "run", "plan": "/srv/plan.yaml"},
    {"at": "2026-11-28T10:00:01.000000Z", "event": "started", "step": "export", "attempt": 1},
    {
        "at": "2026-11-28T10:00:03.000000Z",
        "event": "done",
        "step": "export",
        "seconds": 2.0,
        "outputs": {"bundle": "/srv/b.tar"},
    },
    {"at": "2026-11-28T10:00:04.000000Z", "event": "skipped", "step": "init", "reason": "exists"},
    {"at": "2026-11-28T10:00:05.000000Z", "event": "started", "step": "verify", "attempt": 1},
    {
        "at": "2026-11-28T10:00:09.000000Z",
        "event": "failed",
        "step": "verify",
        "seconds": 4.0,
        "error": "1 unexpected difference",
    },
]


def test_an_empty_journal_says_nothing() -> None:
    assert summarize([]) is None


def test_a_failed_run_shows_each_steps_last_outcome() -> None:
    summary = summarize(RUN)
    assert summary is not None
    assert (summary.plan, summary.runs, summary.finished) == ("/srv/plan.yaml", 1, False)
    assert summary.started == "2026-11-28 10:00:00"
    states = [(r.step, r.state, r.tone, r.attempts, r.seconds, r.note) for r in summary.steps]
    assert states == [
        ("export", "done", "good", 1, "2.00 s", ""),
        ("init", "skipped", "muted", 0, "", "exists"),
        ("verify", "failed", "bad", 1, "4.00 s", "1 unexpected difference"),
    ]
    assert summary.steps[0].outputs == {"bundle": "/srv/b.tar"}
    assert summary.verify is None


def test_a_resumed_run_that_finished_with_its_verify_report() -> None:
    verify = {"summary": "12 replayed, 0 differences", "replayed": 12, "differences": 0}
    resumed = [
        *RUN,
        {"at": "2026-11-28T11:00:00.000000Z", "event": "run", "plan": "/srv/plan.yaml"},
        {"at": "2026-11-28T11:00:01.000000Z", "event": "started", "step": "verify", "attempt": 2},
        {
            "at": "2026-11-28T11:00:02.000000Z",
            "event": "done",
            "step": "verify",
            "seconds": 1.5,
            "outputs": verify,
        },
        {"at": "2026-11-28T11:00:03.000000Z", "event": "started", "step": "cutover"},
        {"at": "2026-11-28T11:00:04.000000Z", "event": "finished", "seconds": 64.0},
    ]
    summary = summarize(resumed)
    assert summary is not None
    assert (summary.runs, summary.finished, summary.seconds) == (2, True, "64.00 s")
    by_step = {row.step: row for row in summary.steps}
    assert (by_step["verify"].state, by_step["verify"].attempts) == ("done", 2)
    assert by_step["cutover"].state == "interrupted"
    assert summary.verify == verify


def test_a_run_stopped_after_finishing_once_is_not_finished() -> None:
    events = [*RUN, {"at": "x", "event": "finished"}, {"at": "y", "event": "run", "plan": "p"}]
    summary = summarize(events)
    assert summary is not None and not summary.finished
