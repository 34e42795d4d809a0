"""``continue-task-name``: the task and every ``do`` naming it are renamed."""

from __future__ import annotations

import pytest

from packhorse.migrate.transforms import continue_task

BEFORE = """\
version: 1.0
tasks:
  a:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: continue   # go on
      - do: [b, continue]
      - do: "continue"
      - do: b, continue
  continue:
    action: core.noop
  b:
    action: core.echo message="continue"
"""
AFTER = """\
version: 1.0
tasks:
  a:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: continue_   # go on
      - do: [b, continue_]
      - do: "continue_"
      - do: b, continue_
  continue_:
    action: core.noop
  b:
    action: core.echo message="continue"
"""
TAKEN = "version: 1.0\ntasks:\n  continue:\n    action: a\n  continue_:\n    action: b\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (BEFORE, AFTER),
        (TAKEN, TAKEN.replace("  continue:", "  continue_2:")),
        # not orquesta, or no such task: unchanged
        ("version: '2.0'\nwf:\n  tasks:\n    continue: {}\n",) * 2,
        ("version: 1.0\ntasks:\n  a:\n    next:\n      - do: continue\n",) * 2,
    ],
)
def test_apply(before: str, after: str) -> None:
    once = continue_task.apply("w.yaml", before)
    assert once == after
    assert continue_task.apply("w.yaml", once) == once


def test_detect() -> None:
    [finding] = continue_task.detect({"actions/workflows/w.yaml": BEFORE, "pack.yaml": "a: 1\n"})
    assert (finding.path, finding.line, finding.col) == ("actions/workflows/w.yaml", 11, 3)
    assert finding.fixable
    assert continue_task.detect({"w.yaml": AFTER}) == []
