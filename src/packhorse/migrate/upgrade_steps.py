"""The steps of ``packhorse upgrade run``, in order: export, init, import, check, verify,
cutover, archive. Each is idempotent: run again after it completed, it changes nothing, and
:meth:`Step.done` tells from the journal and the files that its work is there already.

``verify`` runs ``upgrade verify`` of the two folders and ``cutover`` runs ``packhorse
cutover`` between the two running instances (both through :class:`Services`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packhorse.errors import ConfigurationError, InstanceError, PackhorseError
from packhorse.migrate.upgrade_journal import JournalState
from packhorse.migrate.upgrade_plan import UpgradePlan

if TYPE_CHECKING:
    from packhorse.migrate.export import ExportReport
    from packhorse.migrate.importing import ImportReport
    from packhorse.migrate.instance_archive import ArchiveReport
    from packhorse.migrate.verify_diff import VerifyReport

Say = Callable[[str], None]
Outputs = dict[str, Any]


class Services(Protocol):
    """What the steps do to instances (the shell's side: files, databases, virtualenvs)."""

    def export(self, source: Path | str, bundle: Path, passphrase: str, say: Say) -> ExportReport:
        """``bundle export`` of the instance folder ``source``, or over the API at the URL
        ``source`` (with executions)."""

    def init(self, target: Path, listen: str | None) -> str:
        """``packhorse init [--listen]`` of ``target``; the new instance's id."""

    def import_bundle(self, target: Path, bundle: Path, passphrase: str, say: Say) -> ImportReport:
        """``bundle import --prune --replace-users`` into ``target``."""

    def check(self, target: Path, fix: bool, say: Say) -> dict[str, Any]:
        """``upgrade check [--fix]`` of every pack of ``target``; :class:`StepFailed` when
        problems that cannot be fixed remain."""

    def verify(
        self, baseline: Path | str, candidate: Path, options: Mapping[str, Any], say: Say
    ) -> VerifyReport:
        """``upgrade verify --baseline baseline --candidate candidate`` with the plan's
        ``verify`` options (``pack_tests``, ``replay_days``, ``limit``, ``expect``)."""

    def cut_over(
        self, source: Path | str, target: Path, options: Mapping[str, Any], say: Say
    ) -> dict[str, Any]:
        """``packhorse cutover --from source --to target`` with the plan's ``cutover``
        options; a cutover recorded already (the front flipped to ``target``) hands over
        what reached ``source`` since. :class:`StepFailed` saying why when it did not
        complete (the old instance is then active again)."""

    def archive(self, source: Path | str, output: Path, passphrase: str, say: Say) -> ArchiveReport:
        """``packhorse archive`` of ``source`` into ``output``."""


class StepFailed(PackhorseError):
    """The step ran and its outcome stops the upgrade (findings that cannot be fixed...)."""


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a step runs with."""

    plan: UpgradePlan
    journal: JournalState
    """The journal as it was when this run began."""
    passphrase: str = field(repr=False)
    say: Say
    services: Services


class Step(Protocol):
    """One step of the upgrade."""

    @property
    def name(self) -> str:
        """The step's name in the journal, the plan and the report."""

    def describe(self, plan: UpgradePlan) -> str:
        """What the step will do, with which paths (``--dry-run`` prints it)."""

    def skipped(self, plan: UpgradePlan) -> str | None:
        """Why the plan leaves this step out; None when it runs."""

    def intent(self, plan: UpgradePlan) -> Outputs:
        """What the step notes, in its ``started`` event, of the state it finds."""

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        """True when the step's work is there already (journal and files agree)."""

    def run(self, context: StepContext) -> Outputs:
        """Do the work; return the outputs the journal records."""


def _sha256(path: Path) -> str | None:
    from packhorse.migrate.instance_archive import file_sha256

    return file_sha256(path) if path.is_file() else None


def _refuse_foreign(path: Path, journal: JournalState, step: str, option: str) -> None:
    """A file this plan's journal never set out to write is not overwritten."""
    if path.exists() and not journal.attempts(step):
        raise ConfigurationError(
            f"{path} exists and this plan's journal did not write it",
            hint=f"remove it, or name another {option} in the plan",
        )


class _Base:
    name = ""

    def skipped(self, plan: UpgradePlan) -> str | None:
        return None

    def intent(self, plan: UpgradePlan) -> Outputs:
        return {}


class ExportStep(_Base):
    name = "export"

    def describe(self, plan: UpgradePlan) -> str:
        return f"bundle export {plan.source} -> {plan.bundle} (secrets sealed, with executions)"

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        outputs = journal.done(self.name)
        return outputs is not None and _sha256(plan.bundle) == outputs.get("sha256")

    def run(self, context: StepContext) -> Outputs:
        plan = context.plan
        _refuse_foreign(plan.bundle, context.journal, self.name, "bundle")
        report = context.services.export(plan.source, plan.bundle, context.passphrase, context.say)
        return {
            "bundle": str(plan.bundle),
            "sha256": _sha256(plan.bundle),
            "size": report.size,
            "content_checksum": report.manifest.content_checksum,
            "counts": report.manifest.counts,
        }


class InitStep(_Base):
    name = "init"

    def describe(self, plan: UpgradePlan) -> str:
        return f"packhorse init {plan.target} (kept as it is when it is an instance already)"

    def intent(self, plan: UpgradePlan) -> Outputs:
        return {"target_was": _folder_state(plan.target)}

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        outputs = journal.done(self.name)
        return outputs is not None and _instance_id(plan.target) == outputs.get("instance_id")

    def run(self, context: StepContext) -> Outputs:
        target = context.plan.target
        found = _folder_state(target)
        if found == "instance":
            context.say(f"{target} is an instance already: kept")
            return {"instance_id": _instance_id(target), "created": False}
        if found == "other":
            # Ours only when an earlier attempt of this plan found it absent or empty: a run
            # killed inside 'init' leaves a half-made folder (the settings file comes last).
            before = context.journal.first_intent(self.name).get("target_was")
            if before not in ("absent", "empty"):
                raise InstanceError(
                    f"{target} exists, is not empty and is not a Packhorse instance",
                    hint="give a new folder as 'to' in the plan",
                )
            context.say(f"{target}: removing what an interrupted init left")
            for entry in target.iterdir():
                shutil.rmtree(
                    entry
                ) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        context.say(f"creating {target}")
        instance_id = context.services.init(target, context.plan.listen)
        return {"instance_id": instance_id, "created": True}


def _folder_state(folder: Path) -> str:
    if not folder.exists():
        return "absent"
    if (folder / "packhorse.toml").is_file():
        return "instance"
    if folder.is_dir() and not any(folder.iterdir()):
        return "empty"
    return "other"


def _instance_id(folder: Path) -> str | None:
    from packhorse.settings import load_settings

    if not (folder / "packhorse.toml").is_file():
        return None
    try:
        return load_settings(folder).instance_id
    except PackhorseError:
        return None


class ImportStep(_Base):
    name = "import"

    def describe(self, plan: UpgradePlan) -> str:
        return (
            f"bundle import {plan.bundle} into {plan.target} (--prune --replace-users: the new "
            "instance holds what the old one holds; virtualenvs built here)"
        )

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        outputs = journal.done(self.name)
        exported = journal.done("export") or {}
        return outputs is not None and outputs.get("bundle_sha256") == exported.get("sha256")

    def run(self, context: StepContext) -> Outputs:
        plan = context.plan
        report = context.services.import_bundle(
            plan.target, plan.bundle, context.passphrase, context.say
        )
        return {
            "bundle_sha256": _sha256(plan.bundle),
            "content_checksum": report.manifest.content_checksum,
            "applied": report.applied,
            "plan": report.plan.to_dict()["counts"],
        }


class CheckStep(_Base):
    name = "check"

    def describe(self, plan: UpgradePlan) -> str:
        fix = " --fix (fixed packs registered again)" if plan.fix else ""
        return f"upgrade check{fix} of every pack in {plan.target / 'packs'}"

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        return journal.done(self.name) is not None

    def run(self, context: StepContext) -> Outputs:
        return dict(context.services.check(context.plan.target, context.plan.fix, context.say))


class VerifyStep(_Base):
    """``upgrade verify`` of the new instance against the old: the run stops on an
    unexpected difference (the plan's ``verify.expect`` lists accepted ones)."""

    name = "verify"

    def describe(self, plan: UpgradePlan) -> str:
        given = dict(plan.verify.options)
        tests = "pack tests, then " if given.get("pack_tests", True) else ""
        return (
            f"upgrade verify --baseline {plan.source} --candidate {plan.target}: {tests}shadow "
            "replay of the old instance's trigger instances against both"
        )

    def skipped(self, plan: UpgradePlan) -> str | None:
        return "verify: {skip: true} in the plan" if plan.verify.skip else None

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        return journal.done(self.name) is not None

    def run(self, context: StepContext) -> Outputs:
        plan = context.plan
        report = context.services.verify(plan.source, plan.target, plan.verify.options, context.say)
        context.say(report.summary())
        if report.unexpected:
            shown = [
                f"{d.rule} {d.field} ({d.kind.value}, trigger instance {d.trigger_instance})"
                for d in report.differences
                if d.unexpected
            ]
            raise StepFailed(
                f"{report.unexpected} unexpected difference{'s' * (report.unexpected != 1)}: "
                + "; ".join(shown[:5]),
                hint=f"'packhorse upgrade verify --baseline {plan.source} --candidate "
                f"{plan.target}' shows them all; fix the new instance, or list the accepted "
                "ones in a file named by verify.expect, then run the plan again",
            )
        return {
            "summary": report.summary(),
            "replayed": report.replayed,
            "differences": len(report.differences),
            "drift": report.drift,
        }


class CutoverStep(_Base):
    """``packhorse cutover`` from the old instance to the new one (both running)."""

    name = "cutover"

    def describe(self, plan: UpgradePlan) -> str:
        given = dict(plan.cutover.options)
        via = (
            f"--front-state {given['front_state']}"
            if "front_state" in given
            else f"--hook {given.get('hook')!r}"
        )
        start = "start the new instance if it is not up, then " if given.get("start") else ""
        gate = given.get("health_gate") or "/ready and its registry"
        return (
            f"{start}packhorse cutover --from {plan.source} --to {plan.target} {via}: drain, "
            f"finish what runs, flip, hand over; health gate: {gate}"
        )

    def skipped(self, plan: UpgradePlan) -> str | None:
        return "cutover: {skip: true} in the plan" if plan.cutover.skip else None

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        return journal.done(self.name) is not None

    def run(self, context: StepContext) -> Outputs:
        plan = context.plan
        return dict(
            context.services.cut_over(plan.source, plan.target, plan.cutover.options, context.say)
        )


class ArchiveStep(_Base):
    name = "archive"

    def describe(self, plan: UpgradePlan) -> str:
        return f"packhorse archive {plan.source} --output {plan.archive_output}"

    def skipped(self, plan: UpgradePlan) -> str | None:
        return "archive: {skip: true} in the plan" if plan.archive.skip else None

    def done(self, journal: JournalState, plan: UpgradePlan) -> bool:
        outputs = journal.done(self.name)
        output = plan.archive_output
        return (
            outputs is not None and output is not None and _sha256(output) == outputs.get("sha256")
        )

    def run(self, context: StepContext) -> Outputs:
        output = context.plan.archive_output
        assert output is not None
        _refuse_foreign(output, context.journal, self.name, "archive.output")
        report = context.services.archive(
            context.plan.source, output, context.passphrase, context.say
        )
        return {"archive": str(output), "sha256": report.sha256, "size": report.size}


def default_steps() -> list[Step]:
    """The steps of an upgrade, in order."""
    return [
        ExportStep(),
        InitStep(),
        ImportStep(),
        CheckStep(),
        VerifyStep(),
        CutoverStep(),
        ArchiveStep(),
    ]
