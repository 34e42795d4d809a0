"""Rules on the system timers and webhook: their parameters are always checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import diagnostics_of

RULE = (
    "---\nname: r\ntrigger:\n  type: {type}\n  parameters: {parameters}\naction:\n  ref: demo.a\n"
)
ACTION = "---\nname: a\nrunner_type: noop\n"


@pytest.mark.parametrize(
    ("trigger", "parameters", "problem"),
    [
        ("core.st2.webhook", "{url: hook}", None),
        ("core.st2.webhook", "{}", "'url' is a required property"),
        ("core.st2.webhook", "{url: hook, method: POST}", "Additional properties"),
        ("core.st2.IntervalTimer", "{unit: seconds, delta: 30}", None),
        ("core.st2.IntervalTimer", "{unit: seconds, delta: soon}", "'soon' is not of type"),
        ("core.st2.DateTimer", "{date: '2030-12-31 23:59:59', timezone: UTC}", None),
        ("core.st2.DateTimer", "{timezone: UTC}", "'date' is a required property"),
        ("core.st2.CronTimer", "{hour: 3, minute: '*/5', day_of_week: mon-fri}", None),
        ("core.st2.CronTimer", "{hour: 25}", "25"),
        ("core.st2.CronTimer", "{hours: 3}", "Additional properties"),
        # The schema passes these; the schedule cannot be built (PH314).
        ("core.st2.CronTimer", "{minute: '*/75'}", "PH314 core.st2.CronTimer: minute"),
        ("core.st2.DateTimer", "{date: 'next tuesday'}", "PH314 core.st2.DateTimer: date"),
    ],
)
def test_system_trigger_parameters(
    tmp_path: Path, trigger: str, parameters: str, problem: str | None
) -> None:
    files = {
        "actions/a.yaml": ACTION,
        "rules/r.yaml": RULE.format(type=trigger, parameters=parameters),
    }
    found = [(d.code, d.message) for d in diagnostics_of(tmp_path, files)]
    if problem is None:
        assert found == []
    elif problem.startswith("PH314 "):
        assert [code for code, _ in found] == ["PH314"]
        assert found[0][1].startswith(problem.removeprefix("PH314 "))
    else:
        assert [code for code, _ in found] == ["PH308"]  # the schema's finding, not twice
        assert problem in found[0][1]
