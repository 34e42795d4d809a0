"""``packhorse upgrade run PLAN.yaml``: the whole runbook (export, init, import, check,
verify, cutover, archive) as one command, each step journaled before and after it runs
(:mod:`packhorse.migrate.upgrade_journal`), so that a run stopped anywhere resumes where it
stopped: steps completed are not run again, a step that started and did not finish is.

The steps are :mod:`packhorse.migrate.upgrade_steps`; this module runs them in order, writes
the journal, and builds the final report with the commands that undo the upgrade.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from packhorse.errors import PackhorseError
from packhorse.migrate.upgrade_journal import Journal, JournalState
from packhorse.migrate.upgrade_plan import UpgradePlan
from packhorse.migrate.upgrade_steps import Services, Step, StepContext

Say = Callable[[str], None]
KILL_ENV = "PACKHORSE_UPGRADE_KILL_AT"
"""Tests only: ``STEP:before`` or ``STEP:after`` kills the run (SIGKILL) right after the
step's ``started`` event, or right before its ``done`` event."""


class StepStatus(StrEnum):
    RAN = "ran"
    ALREADY_DONE = "already done"
    SKIPPED = "skipped"
    FAILED = "failed"
    NOT_RUN = "not run"
    WOULD_RUN = "would run"
    """``--dry-run``."""


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    status: StepStatus
    description: str
    seconds: float = 0.0
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "step": self.name,
            "status": self.status.value,
            "description": self.description,
            "seconds": round(self.seconds, 3),
            "outputs": dict(self.outputs),
        }
        if self.error:
            document |= {"error": self.error, "hint": self.hint}
        return document


@dataclass(frozen=True, slots=True)
class RunReport:
    plan: UpgradePlan
    journal: Path
    steps: tuple[StepResult, ...]
    resumed: bool
    dry_run: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return all(s.status is not StepStatus.FAILED for s in self.steps)

    def rollback(self) -> list[str]:
        """The commands that take the upgrade back, for what has been done."""
        commands = []
        ran = {s.name: s for s in self.steps}
        cutover = self.plan.cutover
        front_state = cutover.options.get("front_state")
        if not cutover.skip and front_state:
            commands.append(f"packhorse rollback --front-state {front_state}")
        output = self.plan.archive_output
        if output is not None and not self.plan.archive.skip:
            done = ran.get("archive")
            if done is None or done.status is not StepStatus.FAILED:
                commands.append(
                    f"{_passphrase_prefix(self.plan)}packhorse restore {output} "
                    f"--to {self.plan.source}{_passphrase_option(self.plan)}"
                    "   # when the old folder is gone"
                )
        return commands

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": str(self.plan.file),
            "journal": str(self.journal),
            "ok": self.ok,
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
            "steps": [s.to_dict() for s in self.steps],
            "rollback": self.rollback(),
        }


def _passphrase_prefix(plan: UpgradePlan) -> str:
    if plan.passphrase_env:
        return f'PACKHORSE_ARCHIVE_PASSPHRASE="${plan.passphrase_env}" '
    return ""


def _passphrase_option(plan: UpgradePlan) -> str:
    return f" --passphrase-file {plan.passphrase_file}" if plan.passphrase_file else ""


def show_in_consoles(plan: UpgradePlan, journal_path: Path) -> None:
    """Point the new instance's web console (its upgrade page) at this run: ``[web]
    upgrade_journal`` (and ``front_state`` when the plan cuts over through a front) in its
    ``packhorse.toml``, unless it names other files already. The old instance's folder is
    left as it is."""
    from packhorse.errors import PackhorseError
    from packhorse.settings import load_settings, write_settings

    wanted = {"upgrade_journal": str(journal_path)}
    if "front_state" in plan.cutover.options:
        wanted["front_state"] = str(plan.cutover.options["front_state"])
    if not (plan.target / "packhorse.toml").is_file():
        return
    try:
        settings = load_settings(plan.target)
        web = dict(settings.extra.get("web") or {})
        if all(web.get(key) for key in wanted):
            return
        web = {**wanted, **{k: v for k, v in web.items() if v}}
        write_settings(dataclasses.replace(settings, extra={**settings.extra, "web": web}))
    except (PackhorseError, OSError):
        return  # the console's page is a convenience: never what fails an upgrade


def default_journal(plan_file: Path) -> Path:
    """``PLAN.journal.jsonl`` beside the plan."""
    return plan_file.with_name(plan_file.stem + ".journal.jsonl")


def run_upgrade(
    plan: UpgradePlan,
    steps: Sequence[Step],
    journal_path: Path,
    *,
    passphrase: str,
    services: Services,
    now: Callable[[], dt.datetime],
    say: Say = lambda _line: None,
    dry_run: bool = False,
    kill_at: str = "",
) -> RunReport:
    """Run (or, with ``dry_run``, describe) the steps of ``plan``, resuming what the journal
    at ``journal_path`` says was begun."""
    started = time.monotonic()
    journal = Journal.read(journal_path)
    if not dry_run:
        journal.sign(passphrase)  # checks what is there before trusting any of it
    state = journal.state
    resumed = bool(state.events)
    results: list[StepResult] = []

    def at() -> str:
        return now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    if not dry_run:
        previous = [e for e in state.events if e["event"] == "run"]
        changed = bool(previous) and previous[-1].get("plan_sha256") != plan.sha256
        if changed:
            say("the plan changed since the journal began: the steps check their own work")
        journal.append(
            {
                "at": at(),
                "event": "run",
                "plan": str(plan.file),
                "plan_sha256": plan.sha256,
                "resumed": resumed,
                "plan_changed": changed,
            }
        )
    failed = False
    for step in steps:
        description = step.describe(plan)
        if failed:
            results.append(StepResult(step.name, StepStatus.NOT_RUN, description))
            continue
        reason = step.skipped(plan)
        if reason is not None:
            if not dry_run:
                journal.append(
                    {"at": at(), "event": "skipped", "step": step.name, "reason": reason}
                )
            say(f"{step.name}: skipped ({reason})")
            results.append(StepResult(step.name, StepStatus.SKIPPED, description))
            continue
        if step.done(state, plan):
            outputs = state.done(step.name) or {}
            if not dry_run:
                journal.append(
                    {"at": at(), "event": "skipped", "step": step.name, "reason": "already done"}
                )
            say(f"{step.name}: already done")
            results.append(StepResult(step.name, StepStatus.ALREADY_DONE, description, 0, outputs))
            continue
        if dry_run:
            again = " (again: it was interrupted)" if state.interrupted(step.name) else ""
            say(f"{step.name}: would run{again}: {description}")
            results.append(StepResult(step.name, StepStatus.WOULD_RUN, description))
            continue
        result = _run_step(step, plan, journal, state, passphrase, services, say, at, kill_at)
        results.append(result)
        failed = result.status is StepStatus.FAILED
    if not dry_run:
        show_in_consoles(plan, journal_path)
    if not dry_run and not failed:
        journal.append({"at": at(), "event": "finished", "seconds": time.monotonic() - started})
    return RunReport(
        plan, journal_path, tuple(results), resumed, dry_run, time.monotonic() - started
    )


def _run_step(  # noqa: PLR0917 - the run's shared state
    step: Step,
    plan: UpgradePlan,
    journal: Journal,
    state: JournalState,
    passphrase: str,
    services: Services,
    say: Say,
    at: Callable[[], str],
    kill_at: str,
) -> StepResult:
    description = step.describe(plan)
    again = " again (it was interrupted)" if state.interrupted(step.name) else ""
    say(f"{step.name}: running{again}: {description}")
    journal.append(
        {
            "at": at(),
            "event": "started",
            "step": step.name,
            "attempt": state.attempts(step.name) + 1,
            "intent": step.intent(plan),
        }
    )
    _maybe_die(kill_at, f"{step.name}:before")
    clock = time.monotonic()
    context = StepContext(
        plan, state, passphrase, lambda line: say(f"{step.name}: {line}"), services
    )
    try:
        outputs = step.run(context)
    except PackhorseError as error:
        seconds = time.monotonic() - clock
        journal.append(
            {
                "at": at(),
                "event": "failed",
                "step": step.name,
                "seconds": seconds,
                "error": error.message,
            }
        )
        say(f"{step.name}: failed: {error.message}")
        return StepResult(
            step.name, StepStatus.FAILED, description, seconds, {}, error.message, error.hint or ""
        )
    seconds = time.monotonic() - clock
    _maybe_die(kill_at, f"{step.name}:after")
    journal.append(
        {"at": at(), "event": "done", "step": step.name, "seconds": seconds, "outputs": outputs}
    )
    say(f"{step.name}: done in {seconds:.1f} s")
    return StepResult(step.name, StepStatus.RAN, description, seconds, outputs)


def _maybe_die(kill_at: str, point: str) -> None:
    if kill_at == point:
        os.kill(os.getpid(), signal.SIGKILL)
