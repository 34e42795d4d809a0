"""The ``noop`` runner (``core.noop``): does nothing and succeeds."""

from __future__ import annotations

from packhorse.runners.base import RunEvents, RunnerResult, RunRequest, RunStatus


class NoopRunner:
    """Succeeds at once with StackStorm's noop result ``{failed, succeeded, return_code}``."""

    name = "noop"
    settles_at_once = True
    """Nothing happens outside: the engine writes its start and its end in one transaction."""

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        return RunnerResult(
            status=RunStatus.SUCCEEDED,
            result={"failed": False, "succeeded": True, "return_code": 0},
        )
