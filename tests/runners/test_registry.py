"""The runner registry: entry points, unavailable StackStorm runner types, unknown names."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from packhorse.errors import NotFound
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.runners.base import NullEvents, RunnerResult, RunRequest, RunStatus
from packhorse.runners.http import HttpRequestRunner
from packhorse.runners.local import LocalShellCommandRunner, LocalShellScriptRunner
from packhorse.runners.noop import NoopRunner
from packhorse.runners.registry import ENTRY_POINT_GROUP, RunnerRegistry, UnavailableRunner
from packhorse.runners.remote import RemoteShellCommandRunner, RemoteShellScriptRunner
from tests.runners.helpers import make_request, run

BUILT_IN = {
    "local-shell-cmd": LocalShellCommandRunner,
    "local-shell-script": LocalShellScriptRunner,
    "noop": NoopRunner,
    "http-request": HttpRequestRunner,
    "remote-shell-cmd": RemoteShellCommandRunner,
    "remote-shell-script": RemoteShellScriptRunner,
}


def test_built_ins_are_installed_entry_points() -> None:
    installed = {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}
    for name, runner_class in BUILT_IN.items():
        assert installed[name] == f"{runner_class.__module__}:{runner_class.__name__}"


@pytest.mark.parametrize(("name", "runner_class"), BUILT_IN.items())
def test_get_built_in(name: str, runner_class: type) -> None:
    registry = RunnerRegistry.from_entry_points()
    runner = registry.get(name)
    assert isinstance(runner, runner_class)
    assert runner.name == name
    assert registry.get(name) is runner  # one instance per registry


@pytest.mark.parametrize("name", ["winrm-cmd", "winrm-ps-cmd", "winrm-ps-script", "announcement"])
def test_unimplemented_stackstorm_types_fail_at_run_time(name: str) -> None:
    runner = RunnerRegistry.from_entry_points().get(name)
    assert isinstance(runner, UnavailableRunner)
    result = run(runner.run(make_request(runner_type=name), NullEvents()))
    message = f"runner type '{name}' is not available in Packhorse yet; see docs/compatibility.md"
    assert result == RunnerResult(RunStatus.FAILED, {"error": message}, error=message)


def test_names_cover_the_stackstorm_catalogue() -> None:
    registry = RunnerRegistry.from_entry_points()
    assert set(RUNNER_TYPES) <= set(registry.names())
    assert set(BUILT_IN) <= set(registry.available())
    assert "winrm-cmd" not in registry.available()


def test_unknown_and_removed_names() -> None:
    registry = RunnerRegistry.from_entry_points()
    with pytest.raises(NotFound, match="runner type 'nope' not found"):
        registry.get("nope")
    with pytest.raises(NotFound) as caught:
        registry.get("run-local")
    assert caught.value.hint == "StackStorm removed it; use local-shell-cmd"


class _Echo:
    name = "winrm-cmd"

    async def run(self, request: RunRequest, events: object) -> RunnerResult:
        return RunnerResult(RunStatus.SUCCEEDED, {"echo": request.action_ref})


def test_given_runners_win_over_entry_points() -> None:
    registry = RunnerRegistry.from_entry_points(runners={"winrm-cmd": _Echo()})
    result = run(registry.get("winrm-cmd").run(make_request(), NullEvents()))
    assert result.result == {"echo": "demo.thing"}


def test_a_failing_factory_given_by_the_caller_propagates() -> None:
    def broken() -> NoopRunner:
        raise ImportError("no module named winrm")

    registry = RunnerRegistry(factories={"custom": broken})
    with pytest.raises(ImportError):
        registry.get("custom")


def test_a_broken_entry_point_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from packhorse.runners import registry as module

    point = EntryPoint(name="custom", value="packhorse.runners.nowhere:Runner", group="g")
    monkeypatch.setattr(module, "entry_points", lambda group: [point])
    runner = RunnerRegistry.from_entry_points(group="g").get("custom")
    assert isinstance(runner, UnavailableRunner)
    assert "failed to load from packhorse.runners.nowhere:Runner" in runner.message
    assert "ModuleNotFoundError" in runner.message


def test_noop_result() -> None:
    result = run(NoopRunner().run(make_request(runner_type="noop"), NullEvents()))
    assert result == RunnerResult(
        RunStatus.SUCCEEDED, {"failed": False, "succeeded": True, "return_code": 0}
    )
