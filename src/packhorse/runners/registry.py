"""The runner registry: runner types by name, loaded from the ``packhorse.runners`` entry points.

Built-in runners register the same way as third-party ones, in ``pyproject.toml``::

    [project.entry-points."packhorse.runners"]
    local-shell-cmd = "packhorse.runners.local:LocalShellCommandRunner"

Each entry point names a runner class; the registry makes one instance of it (no arguments)
the first time the runner type is asked for. The composition root may pass ready instances
instead (runners that need settings). A runner type StackStorm has but no plugin provides
(``winrm-*``, ``announcement``...) resolves to an :class:`UnavailableRunner`, which fails each
run with a message saying so; a name StackStorm never had is :class:`~packhorse.errors.NotFound`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points

from packhorse.errors import NotFound
from packhorse.model.runner_types import REMOVED_RUNNER_TYPES, RUNNER_TYPES
from packhorse.runners.base import RunEvents, Runner, RunnerResult, RunRequest, RunStatus

ENTRY_POINT_GROUP = "packhorse.runners"


class UnavailableRunner:
    """A StackStorm runner type Packhorse cannot run: every run fails, saying why."""

    def __init__(self, name: str, reason: str = "") -> None:
        self.name = name
        self.message = reason or (
            f"runner type {name!r} is not available in Packhorse yet; see docs/compatibility.md"
        )

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        return RunnerResult(
            status=RunStatus.FAILED, result={"error": self.message}, error=self.message
        )


class RunnerRegistry:
    """Runner types by name: plugins first, then the StackStorm catalogue's unavailable ones."""

    def __init__(
        self,
        factories: Mapping[str, Callable[[], Runner]] | None = None,
        runners: Mapping[str, Runner] | None = None,
    ) -> None:
        """``factories`` make a runner on first use; ``runners`` are used as given (and win)."""
        self._factories = dict(factories or {})
        self._runners: dict[str, Runner] = dict(runners or {})

    @classmethod
    def from_entry_points(
        cls,
        runners: Mapping[str, Runner] | None = None,
        group: str = ENTRY_POINT_GROUP,
    ) -> RunnerRegistry:
        """Every runner installed in the ``group`` entry points, plus ``runners`` (which win)."""
        factories = {point.name: _loader(point) for point in entry_points(group=group)}
        return cls(factories, runners)

    def get(self, name: str) -> Runner:
        """The runner for ``name``; an :class:`UnavailableRunner` for a known type no plugin runs.

        Raises :class:`NotFound` for a name StackStorm does not have (with the replacement for
        a removed runner type in the hint).
        """
        runner = self._runners.get(name)
        if runner is not None:
            return runner
        factory = self._factories.get(name)
        if factory is not None:
            runner = factory()
        elif name in RUNNER_TYPES:
            runner = UnavailableRunner(name)
        else:
            error = NotFound("runner type", name)
            replacement = REMOVED_RUNNER_TYPES.get(name)
            if replacement:
                error.hint = f"StackStorm removed it; use {replacement}"
            raise error
        self._runners[name] = runner
        return runner

    def names(self) -> list[str]:
        """Every name :meth:`get` resolves, sorted."""
        return sorted({*self._factories, *self._runners, *RUNNER_TYPES})

    def available(self) -> list[str]:
        """The names a plugin actually runs, sorted."""
        return sorted(
            name for name in self.names() if not isinstance(self.get(name), UnavailableRunner)
        )


def _loader(point: EntryPoint) -> Callable[[], Runner]:
    def load() -> Runner:
        try:
            runner_class = point.load()
            runner: Runner = runner_class()
        except Exception as error:  # noqa: BLE001 - a broken plugin must not stop the engine
            return UnavailableRunner(
                point.name,
                f"runner type {point.name!r} failed to load from {point.value}: "
                f"{type(error).__name__}: {error}",
            )
        return runner

    return load
