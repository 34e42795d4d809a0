"""``packhorse pack install``: fetch, check, resolve dependencies, stage, validate, build
virtualenvs, swap in and register, all or nothing.

Steps, each of which can fail without changing the instance until the swap:

1. **Fetch** every spec into a staging folder under ``<home>/.install/<id>/packs/``: a local
   folder is copied (a git work tree gives its committed tree, as StackStorm installs only
   committed content), a git URL is cloned and the ref (``=X``, tried as given and as ``vX``)
   checked out, a ``.tar.gz`` is unpacked safely, a name is looked up in the pack index.
2. **Check** ``stackstorm_version`` and ``python_versions`` (``force`` turns refusals into
   warnings) and read ``dependencies``: fetched too, recursively, with StackStorm's conflict
   rules (:mod:`packhorse.packs.dependencies`).
3. **Validate** the staged packs in the instance's context (a dry run of registration, configs
   included): any error and nothing changes.
4. **Virtualenvs** built (or reused) from the staged requirements; the previous ones are kept
   until the end.
5. **Swap**: each pack folder replaces ``packs/<ref>`` by rename, the old one kept in staging;
   a journal records the moves. Then **register** in one transaction. If registration fails,
   or anything raises, the old folders and virtualenvs are put back.

A crash during 5 leaves the journal: :func:`recover` (run before every install) puts the old
folders back unless the registry already holds the new versions, in which case it finishes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from packhorse.errors import PackhorseError
from packhorse.packs.content_lock import content_lock
from packhorse.packs.dependencies import (
    DependencyConflict,
    Need,
    PackSpec,
    SourceKind,
    check_need,
    git_ref_candidates,
    parse_spec,
    python_versions_problem,
    stackstorm_version_problem,
)
from packhorse.packs.sources_record import (
    record_sources,
)

SYSTEM_PACKS = frozenset({"core"})
"""Packs that ship with Packhorse (StackStorm's system packs): never installed, removed or
given a virtualenv; their python actions run on Packhorse's own interpreter."""

MAX_DEPTH = 10
"""Dependencies nested deeper than this are not followed (StackStorm's limit)."""

STAGING = ".install"
JOURNAL = "journal.json"

Say = Callable[[str], None]


class InstallError(PackhorseError):
    """An install that changed nothing; the message says why, the hint what to do."""


@dataclass(frozen=True, slots=True)
class FetchedPack:
    ref: str
    version: str
    path: Path
    """The staged pack folder."""
    spec: PackSpec
    chain: tuple[str, ...]
    source: str
    """Where it came from, as shown: a path, or a URL with the commit."""
    dependencies: tuple[str, ...]


@dataclass
class InstallOutcome:
    installed: list[FetchedPack] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    venvs: list[dict[str, object]] = field(default_factory=list)
    replaced: dict[str, str] = field(default_factory=dict)
    """ref -> the version it replaced."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "installed": [
                {
                    "ref": p.ref,
                    "version": p.version,
                    "source": p.source,
                    "replaced": self.replaced.get(p.ref),
                    "asked_by": list(p.chain),
                }
                for p in self.installed
            ],
            "warnings": self.warnings,
            "venvs": self.venvs,
        }


@dataclass(frozen=True, slots=True)
class Environment:
    """What installing needs from the instance, passed in by the composition root."""

    home: Path
    packs_dir: Path
    installed_versions: Callable[[], dict[str, str]]
    """Version of every registered pack, by ref."""
    validate: Callable[[Path, Sequence[str]], list[str]]
    """Dry-run registration of the packs ``refs`` found first in a staging folder: the
    errors, formatted (empty: they would register)."""
    register: Callable[[Sequence[str]], list[str]]
    """Register ``refs`` from ``packs/`` for real: the errors (empty: registered)."""
    venvs: Any | None = None
    """A :class:`packhorse.packs.venvs.VenvBuilder`, or None to build no virtualenvs."""
    index: str = ""
    """Pack index: a path or URL of a StackStorm-format ``index.json`` (comma-separated:
    merged left to right)."""
    system_packs: frozenset[str] = SYSTEM_PACKS


def install(
    specs: Sequence[str],
    env: Environment,
    *,
    force: bool = False,
    skip_dependencies: bool = False,
    say: Say | None = None,
) -> InstallOutcome:
    """Install the packs ``specs`` name, and their dependencies; see the module docstring."""
    with content_lock(env.home, what="a pack install"):
        return _install(specs, env, force=force, skip_dependencies=skip_dependencies, say=say)


def _install(
    specs: Sequence[str],
    env: Environment,
    *,
    force: bool,
    skip_dependencies: bool,
    say: Say | None,
) -> InstallOutcome:
    tell = say or (lambda _line: None)
    recover(env)
    staging = env.home / STAGING / uuid.uuid4().hex[:12]
    (staging / "packs").mkdir(parents=True)
    outcome = InstallOutcome()
    try:
        fetched = _fetch_all(specs, env, staging, outcome, force, skip_dependencies, tell)
        refs = [p.ref for p in fetched]
        for ref in refs:
            if ref in env.system_packs:
                raise InstallError(f"{ref} is a system pack that ships with Packhorse")
        tell(f"validating {', '.join(refs)}")
        errors = [
            _shown(error, fetched, staging / "packs")
            for error in env.validate(staging / "packs", refs)
        ]
        if errors:
            raise InstallError(
                "nothing installed: the packs do not validate:\n  " + "\n  ".join(errors),
                hint="fix the pack (packhorse pack validate DIR shows every problem)",
            )
        _swap_in(fetched, env, staging, outcome, tell)
        record_sources(env.home, fetched)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    outcome.installed = fetched
    return outcome


def _shown(error: str, fetched: list[FetchedPack], staged: Path) -> str:
    """A diagnostic about a staged file, with the path the user gave instead."""
    for pack in fetched:
        if pack.spec.kind is SourceKind.DIRECTORY:
            error = error.replace(str(staged / pack.ref), pack.spec.source.rstrip("/"))
        else:
            error = error.replace(str(staged / pack.ref), f"{pack.spec.text}:")
    return error


# -- fetching ----------------------------------------------------------------------------------


def _fetch_all(  # noqa: PLR0917 - the steps' shared state, in one place
    specs: Sequence[str],
    env: Environment,
    staging: Path,
    outcome: InstallOutcome,
    force: bool,
    skip_dependencies: bool,
    tell: Say,
) -> list[FetchedPack]:
    installed = env.installed_versions()
    planned: dict[str, Need] = {}
    queue: list[tuple[PackSpec, tuple[str, ...], int]] = [
        (_spec(text), ("command line",), 0) for text in specs
    ]
    fetched: list[FetchedPack] = []
    # Packs named on the command line are (re)installed whatever is installed now; a
    # dependency is met by an installed pack unless it pins another version.
    others = dict(installed)
    while queue:
        spec, chain, depth = queue.pop(0)
        try:
            # Before fetching, a dependency is known by the name its spec suggests (as
            # StackStorm knows it); after, by its ref.
            if depth and not check_need(
                Need(spec.name, spec.version, chain), installed=others, planned=planned
            ):
                continue
            tell(f"fetching {spec.text}")
            pack = _fetch(spec, env, staging / "packs", chain)
            need = Need(pack.ref, spec.version, chain)
            if depth == 0:
                others.pop(pack.ref, None)
            if not check_need(need, installed=others, planned=planned):
                shutil.rmtree(pack.path)
                continue
        except DependencyConflict as conflict:
            raise InstallError(
                f"nothing installed: {conflict}",
                hint="pin one version of the pack in every pack.yaml that depends on it",
            ) from None
        pack = _placed(pack, staging / "packs" / pack.ref)
        planned[pack.ref] = planned[spec.name] = need
        _check_versions(pack, force, outcome)
        fetched.append(pack)
        if skip_dependencies or depth + 1 > MAX_DEPTH:
            continue
        for text in pack.dependencies:
            dependency = _spec(text, where=f"{pack.ref}/pack.yaml dependencies")
            queue.append((dependency, (*chain, pack.ref), depth + 1))
    # Dependencies first: they register before the packs that use them.
    return list(reversed(fetched))


def _placed(pack: FetchedPack, target: Path) -> FetchedPack:
    os.rename(pack.path, target)
    return replace(pack, path=target)


def _spec(text: str, *, where: str = "") -> PackSpec:
    """A spec from the command line or ``dependencies``; local folders are looked at here."""
    if os.path.isdir(os.path.expanduser(text)):
        return PackSpec(text=text, source=text, version=None, kind=SourceKind.DIRECTORY)
    head, _sep, _tail = text.rpartition("=")
    try:
        return parse_spec(text, is_directory=bool(head) and os.path.isdir(os.path.expanduser(head)))
    except ValueError as error:
        prefix = f"{where}: " if where else ""
        raise InstallError(f"{prefix}{error}") from None


def _fetch(spec: PackSpec, env: Environment, into: Path, chain: tuple[str, ...]) -> FetchedPack:
    with tempfile.TemporaryDirectory(dir=into.parent) as scratch:
        work = Path(scratch) / "pack"
        if spec.kind is SourceKind.DIRECTORY:
            source = _from_directory(spec, work)
        elif spec.kind is SourceKind.ARCHIVE:
            source = _from_archive(spec, work)
        elif spec.kind is SourceKind.GIT:
            source = _from_git(spec.source, spec.version, work)
        else:
            url, version = from_index(spec, env.index)
            source = _from_git(url, version, work)
        metadata = _metadata(work, spec)
        ref = str(metadata.get("ref") or metadata.get("name") or "")
        if not ref:
            raise InstallError(f"{spec.text}: pack.yaml has neither ref nor name")
        target = into / f".fetched-{uuid.uuid4().hex[:12]}"
        os.rename(work, target)
    dependencies = metadata.get("dependencies") or []
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise InstallError(f"{spec.text}: pack.yaml dependencies must be a list of strings")
    return FetchedPack(
        ref=ref,
        version=str(metadata.get("version", "")),
        path=target,
        spec=spec,
        chain=chain,
        source=source,
        dependencies=tuple(dependencies),
    )


def _metadata(folder: Path, spec: PackSpec) -> dict[str, Any]:
    manifest = folder / "pack.yaml"
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstallError(f"{spec.text}: no pack.yaml at the top of what was fetched") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InstallError(f"{spec.text}: pack.yaml cannot be read: {error}") from None
    if not isinstance(data, dict):
        raise InstallError(f"{spec.text}: pack.yaml is not a mapping")
    return data


_SKIPPED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc")


def _from_directory(spec: PackSpec, work: Path) -> str:
    folder = Path(os.path.expanduser(spec.source)).resolve()
    if not (folder / "pack.yaml").is_file():
        raise InstallError(f"{spec.text}: {folder} holds no pack.yaml")
    if (folder / ".git").exists():
        # A git work tree installs its committed content only, as StackStorm does.
        return _from_git(str(folder), spec.version, work)
    if spec.version:
        raise InstallError(f"{spec.text}: a version can only be asked of a git repository")
    shutil.copytree(folder, work, ignore=_SKIPPED, symlinks=True)
    return str(folder)


def _git(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError:
        raise InstallError("git is not installed", hint="install git to install packs") from None
    if done.returncode != 0:
        raise InstallError(f"git {args[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _from_git(url: str, version: str | None, work: Path) -> str:
    clone = work.with_name("clone")
    _git("clone", "--quiet", "--no-checkout", url, str(clone))
    commit = ""
    if version:
        for candidate in git_ref_candidates(version):
            for name in (candidate, f"origin/{candidate}", f"refs/tags/{candidate}"):
                with contextlib.suppress(InstallError):
                    commit = _git(
                        "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=clone
                    )
                    break
            if commit:
                break
        if not commit:
            tags = _git("tag", "--list", cwd=clone).split()
            shown = ", ".join(tags[-10:]) or "none"
            raise InstallError(
                f"{url}: no commit, tag or branch {version!r} (nor v{version.removeprefix('v')})",
                hint=f"tags there: {shown}",
            )
    else:
        commit = _git("rev-parse", "--verify", "HEAD^{commit}", cwd=clone)
    # The committed tree only: no .git, nothing uncommitted.
    work.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=clone, capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise InstallError(f"{url}: git archive failed: {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout), mode="r:") as tar:
        tar.extractall(work, filter="data")
    shutil.rmtree(clone, ignore_errors=True)
    return f"{url}@{commit[:12]}"


def _from_archive(spec: PackSpec, work: Path) -> str:
    archive = Path(os.path.expanduser(spec.source.removeprefix("file://"))).resolve()
    unpacked = work.with_name("unpacked")
    unpacked.mkdir()
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            tar.extractall(unpacked, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise InstallError(f"{spec.text}: cannot unpack: {error}") from None
    root = unpacked
    entries = [e for e in unpacked.iterdir() if e.name not in {"pax_global_header"}]
    if not (unpacked / "pack.yaml").is_file() and len(entries) == 1 and entries[0].is_dir():
        root = entries[0]  # name-1.2.3/pack.yaml, as release tarballs are laid out
    if not (root / "pack.yaml").is_file():
        raise InstallError(f"{spec.text}: no pack.yaml at the top of the archive")
    os.rename(root, work)
    return str(archive)


def from_index(spec: PackSpec, index: str) -> tuple[str, str | None]:
    if not index:
        raise InstallError(
            f"{spec.text}: no pack index is set, so a bare name cannot be looked up",
            hint="give a folder, a git URL or a .tar.gz, or set [packs] index in packhorse.toml",
        )
    packs: dict[str, Any] = {}
    for location in (part.strip() for part in index.split(",") if part.strip()):
        packs |= _read_index(location).get("packs", {})
    entry = packs.get(spec.name)
    if not isinstance(entry, dict) or not entry.get("repo_url"):
        raise InstallError(f"{spec.text}: pack {spec.name!r} is not in the pack index {index}")
    version = spec.version or (str(entry["version"]) if entry.get("version") else None)
    return str(entry["repo_url"]), version


def _read_index(location: str) -> dict[str, Any]:
    try:
        if location.startswith(("http://", "https://")):
            data = _download_json(location)
        else:
            path = location.removeprefix("file://")
            data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InstallError(f"cannot read the pack index {location}: {error}") from None
    if not isinstance(data, dict):
        raise InstallError(f"the pack index {location} is not a JSON object")
    return data


def _download_json(url: str) -> Any:
    import httpx

    try:
        response = httpx.get(url, timeout=30, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise OSError(str(error)) from None
    return response.json()


def _check_versions(pack: FetchedPack, force: bool, outcome: InstallOutcome) -> None:
    metadata = _metadata(pack.path, pack.spec)
    problems = []
    if metadata.get("stackstorm_version"):
        problems.append(stackstorm_version_problem(str(metadata["stackstorm_version"])))
    problems.append(python_versions_problem(metadata.get("python_versions")))
    for problem in filter(None, problems):
        if not force:
            raise InstallError(
                f"nothing installed: pack {pack.ref} {pack.version} cannot run here: {problem}",
                hint="--force installs it anyway",
            )
        outcome.warnings.append(f"pack {pack.ref}: {problem} (installed anyway: --force)")


# -- swapping in -------------------------------------------------------------------------------


def _swap_in(
    fetched: list[FetchedPack],
    env: Environment,
    staging: Path,
    outcome: InstallOutcome,
    tell: Say,
) -> None:
    built: dict[str, str | None] = {}
    """ref -> the venv folder a new build replaced (None: the pack had none)."""
    moved: list[str] = []
    old_dir = staging / "old"
    old_dir.mkdir()
    before = env.installed_versions()
    try:
        if env.venvs is not None:
            for pack in fetched:
                tell(f"virtualenv of {pack.ref}")
                result = env.venvs.ensure(pack.ref, pack.path, progress=tell, keep_previous=True)
                if result.status != "reused":
                    built[pack.ref] = result.previous
                outcome.venvs.append(result.to_dict())
        _write_journal(staging, "swapping", fetched, before)
        env.packs_dir.mkdir(parents=True, exist_ok=True)
        for pack in fetched:
            live = env.packs_dir / pack.ref
            if live.exists() or live.is_symlink():
                os.rename(live, old_dir / pack.ref)
            moved.append(pack.ref)
            os.rename(pack.path, live)
        tell("registering")
        errors = env.register([p.ref for p in fetched])
        if errors:
            raise InstallError(
                "nothing installed: registration failed:\n  " + "\n  ".join(errors),
                hint="fix the pack (packhorse pack validate DIR shows every problem)",
            )
        _write_journal(staging, "committed", fetched, before)
    except BaseException:
        for ref in reversed(moved):
            _put_back(env.packs_dir / ref, old_dir / ref)
        if env.venvs is not None:
            for ref, previous in built.items():
                env.venvs.restore(ref, previous)
        raise
    outcome.replaced = {p.ref: before[p.ref] for p in fetched if p.ref in before}
    if env.venvs is not None:
        for previous in built.values():
            if previous:
                env.venvs.discard(previous)


def _put_back(live: Path, old: Path) -> None:
    if live.exists():
        shutil.rmtree(live)
    if old.exists():
        os.rename(old, live)


def _write_journal(
    staging: Path, state: str, fetched: list[FetchedPack], before: dict[str, str]
) -> None:
    journal = {
        "state": state,
        "packs": [{"ref": p.ref, "version": p.version, "was": before.get(p.ref)} for p in fetched],
    }
    temporary = staging / f"{JOURNAL}.tmp"
    temporary.write_text(json.dumps(journal), encoding="utf-8")
    os.replace(temporary, staging / JOURNAL)


def recover(env: Environment) -> list[str]:
    """Finish or undo installs a crash interrupted; what was done, as lines.

    An install interrupted while swapping is finished when the registry already holds every
    new version it was installing (registration committed); otherwise the previous folders
    are put back and those packs registered again, so that disk and registry agree."""
    done: list[str] = []
    root = env.home / STAGING
    if not root.is_dir():
        return done
    for staging in sorted(root.iterdir()):
        try:
            journal = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            journal = None
        if journal and journal.get("state") == "swapping":
            entries = journal.get("packs", [])
            versions = env.installed_versions()
            committed = all(
                versions.get(e["ref"]) == e["version"] and e["was"] != e["version"] for e in entries
            )
            if not committed:
                for entry in entries:
                    ref = entry["ref"]
                    _put_back(env.packs_dir / ref, staging / "old" / ref)
                    done.append(
                        f"put back {ref} {entry['was'] or '(none)'}: an install of "
                        f"{entry['version']} was interrupted"
                    )
                again = [e["ref"] for e in entries if e["was"] is not None]
                if again:
                    env.register(again)
        shutil.rmtree(staging, ignore_errors=True)
    return done
