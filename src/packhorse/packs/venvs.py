"""Per-pack virtualenvs, built with uv (a plain ``venv`` + pip when uv is missing) and reused
while nothing they were built from changed.

A venv is keyed by a hash of what went into it: the pack's ``requirements.txt``, the baseline
libraries every pack venv gets (what StackStorm's own environment leaked into pack venvs and
packs came to rely on), and the interpreter (its real path and full version). An unchanged key
reuses the venv as it is; a changed one rebuilds it; a new interpreter rebuilds them all, which
is what StackStorm's upgrades needed by hand (``--register-recreate-virtualenvs``).

Layout under ``venvs/``: a venv is a folder named by its key, ``env-<key16>``, and ``<ref>`` is
a symlink to the one the pack uses, switched atomically once a new build is complete. Packs
whose keys are equal (the same requirements, or none) share one venv: a hundred packs without
requirements build one. A venv no pack links to any more is deleted. A failed build leaves the
previous venv in place and in use. Builds and link switches are serialised across processes by
a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from packhorse.errors import PackhorseError

BASELINE_REQUIREMENTS = ("requests", "six", "PyYAML", "python-dateutil", "Jinja2")
"""Installed into every pack venv before the pack's own requirements (see
docs/compatibility.md: StackStorm's environment gave packs these without their asking)."""

MARKER = "packhorse-venv.json"
"""What a venv was built from, written last into a completed build."""

REQUIREMENTS_FILE = "requirements.txt"

Progress = Callable[[str], None]


class VenvError(PackhorseError):
    """A pack virtualenv could not be built; the previous one (if any) is still in use."""


class VenvStatus(StrEnum):
    REUSED = "reused"
    """The pack's venv was already what it needs."""
    BUILT = "built"
    REBUILT = "rebuilt"
    SHARED = "shared"
    """The pack now uses a venv built before for the same key (another pack's)."""


@dataclass(frozen=True, slots=True)
class Interpreter:
    """A Python that pack venvs are built on, as far as their key is concerned."""

    path: str
    """The real path of its executable."""
    version: str
    """``sys.version`` and the implementation: a rebuilt Python of the same version differs."""


@dataclass(frozen=True, slots=True)
class VenvOutcome:
    pack: str
    path: str
    """Where the venv is (the stable ``venvs/<ref>`` path)."""
    status: VenvStatus
    key: str
    reason: str
    """Why it was built: ``new``, ``requirements changed``, ``interpreter changed``..."""
    seconds: float
    previous: str | None = None
    """With ``keep_previous``: the folder of the venv a build replaced, kept for
    :meth:`VenvBuilder.restore` (None: there was none)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "pack": self.pack,
            "path": self.path,
            "status": self.status.value,
            "key": self.key,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


def default_python() -> str:
    """The interpreter Packhorse itself runs on (its base, when Packhorse runs in a venv)."""
    return str(getattr(sys, "_base_executable", "") or sys.executable)


@functools.cache
def interpreter(python: str) -> Interpreter:
    """Ask ``python`` who it is (once per process)."""
    probe = (
        "import json, platform, sys; "
        "print(json.dumps([sys.version, platform.python_implementation()]))"
    )
    try:
        done = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        )
        version, implementation = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise VenvError(
            f"cannot run the pack interpreter {python}: {error}",
            hint="set [packs] python in packhorse.toml to a working Python 3 interpreter",
        ) from None
    return Interpreter(path=os.path.realpath(python), version=f"{implementation} {version}")


def venv_key(requirements: str, python: Interpreter, baseline: Sequence[str]) -> str:
    """The hash a venv is keyed by."""
    material = json.dumps(
        {
            "requirements": requirements,
            "baseline": list(baseline),
            "python": [python.path, python.version],
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def venv_path(venvs_dir: Path, pack: str) -> str:
    """The venv python actions and sensors of ``pack`` run in: the folder its stable link
    points to now (so that a rebuilt venv gets new warm hosts), or ``""`` when the pack has
    none (Packhorse's own interpreter)."""
    link = venvs_dir / pack
    if not (link / MARKER).is_file():
        return ""
    return os.path.realpath(link)


class VenvBuilder:
    """Builds, reuses and removes the venvs of packs under ``venvs_dir``."""

    def __init__(
        self,
        venvs_dir: Path,
        *,
        python: str = "",
        baseline: Sequence[str] = BASELINE_REQUIREMENTS,
        wheelhouse: Path | None = None,
        use_uv: bool = True,
    ) -> None:
        self.venvs_dir = venvs_dir
        self.python = python or default_python()
        self.baseline = tuple(baseline)
        self.wheelhouse = wheelhouse
        self._uv = _uv_binary() if use_uv else None

    @property
    def tool(self) -> str:
        return "uv" if self._uv else "venv+pip"

    def built_from(self, pack: str) -> dict[str, object] | None:
        """The marker of ``pack``'s current venv (what it was built from), if it has one."""
        try:
            data = json.loads((self.venvs_dir / pack / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def ensure(
        self,
        pack: str,
        pack_dir: Path,
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
        keep_previous: bool = False,
        extra: Sequence[str] = (),
        name: str = "",
    ) -> VenvOutcome:
        """The venv of ``pack`` as ``pack_dir`` needs it: reused when its key is unchanged
        (and ``rebuild`` is not asked); else an existing venv of the same key is shared, or
        one is built beside the old one, and the pack's link is switched to it. With
        ``keep_previous`` the venv the pack used before is kept (see :meth:`restore` and
        :meth:`discard`). ``extra`` requirements are installed too (and are part of the key);
        ``name`` is the link's name when it is not the pack's (the test venv)."""
        started = time.perf_counter()
        requirements = _read_requirements(pack_dir)
        python = interpreter(self.python)
        baseline = (*self.baseline, *extra)
        material = requirements
        if _refers_to_files(requirements):
            # "-r other.txt", "./lib"...: the same text means other content in another pack.
            material += f"\n# pack folder: {pack_dir.resolve()}"
        key = venv_key(material, python, baseline)
        pack_name, pack = pack, name or pack
        self.venvs_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            link = self.venvs_dir / pack
            before = self.built_from(pack)
            reason = (
                "rebuild asked"
                if rebuild
                else _why_build(before, key, requirements, python, baseline)
            )
            if reason is None:
                seconds = time.perf_counter() - started
                return VenvOutcome(pack, str(link), VenvStatus.REUSED, key, "unchanged", seconds)
            previous = os.path.realpath(link) if link.is_symlink() else None
            target = self.venvs_dir / f"env-{key[:16]}"
            status = VenvStatus.BUILT if before is None else VenvStatus.REBUILT
            if not rebuild and _marker_key(target) == key:
                status = VenvStatus.SHARED
                reason += ": the same as other packs' venv"
            else:
                if progress:
                    progress(f"{pack}: building its virtualenv ({reason})")
                previous = self._build_into(
                    target,
                    pack_dir,
                    requirements,
                    baseline,
                    python,
                    pack_name,
                    key,
                    previous,
                    progress=progress,
                )
            _replace_link(link, target.name)
            if previous == str(target):
                previous = None
            if previous and not keep_previous:
                self._collect(previous)
                previous = None
            seconds = time.perf_counter() - started
            return VenvOutcome(pack, str(link), status, key, reason, seconds, previous)

    def _build_into(  # noqa: PLR0917 - what a build is made of
        self,
        target: Path,
        pack_dir: Path,
        requirements: str,
        baseline: Sequence[str],
        python: Interpreter,
        pack: str,
        key: str,
        previous: str | None,
        *,
        progress: Progress | None,
    ) -> str | None:
        """Build into a staging folder, then put it at ``target``; what the pack's link
        pointed to before (a forced rebuild moves the live ``target`` aside first)."""
        staging = target.with_name(f".{target.name}.building")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            self._build(staging, pack_dir, requirements, baseline, progress=progress, pack=pack)
            _write_marker(staging, key, requirements, python, baseline, self.tool)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if target.exists():
            aside = target.with_name(f".{target.name}.old-{time.time_ns()}")
            os.rename(target, aside)
            if previous == str(target):
                previous = str(aside)
            else:
                shutil.rmtree(aside, ignore_errors=True)  # a stale build nobody pointed to
        os.rename(staging, target)
        return previous

    def restore(self, pack: str, previous: str | None) -> None:
        """Undo a switch made with ``keep_previous``: the link back to ``previous`` (or no
        venv at all when None); the venv it pointed to is deleted if no pack uses it."""
        link = self.venvs_dir / pack
        with self._locked():
            current = os.path.realpath(link) if link.is_symlink() else None
            if previous:
                if Path(previous).name.startswith("."):  # moved aside by a forced rebuild
                    live = Path(previous).with_name(Path(previous).name.split(".")[1])
                    shutil.rmtree(live, ignore_errors=True)
                    os.rename(previous, live)
                    previous = str(live)
                _replace_link(link, Path(previous).name)
            elif link.is_symlink():
                link.unlink()
            if current and current != previous:
                self._collect(current)

    def discard(self, previous: str) -> None:
        """Delete a venv kept with ``keep_previous`` once no pack uses it."""
        with self._locked():
            self._collect(previous)

    def remove(self, pack: str) -> bool:
        """Delete ``pack``'s link, and its venv if no other pack uses it; whether it had one."""
        link = self.venvs_dir / pack
        if not link.is_symlink() and not link.exists():
            return False
        with self._locked():
            real = os.path.realpath(link)
            if link.is_symlink():
                link.unlink()
            else:
                shutil.rmtree(link, ignore_errors=True)
            self._collect(real)
        return True

    def _collect(self, folder: str) -> None:
        """Delete ``folder`` (a venv under ``venvs/``) unless a pack's link points to it."""
        name = Path(folder).name
        if (
            Path(folder).parent != self.venvs_dir.resolve()
            and Path(folder).parent != self.venvs_dir
        ):
            return
        for entry in self.venvs_dir.iterdir():
            if entry.is_symlink() and os.readlink(entry) == name:
                return
        shutil.rmtree(folder, ignore_errors=True)

    # -- building ------------------------------------------------------------------------------

    def _build(
        self,
        folder: Path,
        pack_dir: Path,
        requirements: str,
        baseline: Sequence[str],
        *,
        progress: Progress | None,
        pack: str,
    ) -> None:
        index = ["--no-index", "--find-links", str(self.wheelhouse)] if self.wheelhouse else []
        wanted = [*baseline]
        if requirements.strip():
            wanted += ["-r", str(pack_dir / REQUIREMENTS_FILE)]
        if self._uv:
            self._run([self._uv, "venv", "--quiet", "--python", self.python, str(folder)], pack)
            if wanted:
                if progress:
                    progress(f"{pack}: installing {_describe(baseline, requirements)}")
                self._run(
                    [
                        self._uv,
                        "pip",
                        "install",
                        "--quiet",
                        "--python",
                        str(folder / "bin" / "python"),
                        *index,
                        *wanted,
                    ],
                    pack,
                    cwd=pack_dir,
                )
            return
        self._run([self.python, "-m", "venv", str(folder)], pack)
        if wanted:
            if progress:
                progress(f"{pack}: installing {_describe(baseline, requirements)}")
            pip = [
                str(folder / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ]
            self._run([*pip, *index, *wanted], pack, cwd=pack_dir)

    def _run(self, command: list[str], pack: str, *, cwd: Path | None = None) -> None:
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
        except OSError as error:
            raise VenvError(
                f"the virtualenv of pack {pack!r} could not be built: {error}"
            ) from None
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()
            last = "\n".join(output.splitlines()[-15:])
            raise VenvError(
                f"the virtualenv of pack {pack!r} could not be built: {last}",
                hint=(
                    f"check {REQUIREMENTS_FILE} of the pack"
                    + (
                        f" and that the wheelhouse {self.wheelhouse} has every wheel it needs"
                        if self.wheelhouse
                        else " and that the package index is reachable (or use --wheelhouse DIR)"
                    )
                ),
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Builds and link switches of one instance, one at a time across processes."""
        with open(self.venvs_dir / ".lock", "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _uv_binary() -> str | None:
    try:
        from uv import find_uv_bin
    except ImportError:
        return shutil.which("uv")
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return shutil.which("uv")


def _read_requirements(pack_dir: Path) -> str:
    try:
        return (pack_dir / REQUIREMENTS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as error:
        raise VenvError(f"{pack_dir / REQUIREMENTS_FILE}: cannot read: {error}") from None


def _why_build(
    before: dict[str, object] | None,
    key: str,
    requirements: str,
    python: Interpreter,
    baseline: Sequence[str],
) -> str | None:
    if before is None:
        return "new"
    if before.get("key") == key:
        return None
    if before.get("python") != [python.path, python.version]:
        return "interpreter changed"
    if before.get("requirements") != requirements:
        return "requirements changed"
    if before.get("baseline") != list(baseline):
        return "baseline changed"
    return "key changed"


def _marker_key(folder: Path) -> str | None:
    """The key of the complete venv at ``folder``, if there is one."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(data.get("key")) if isinstance(data, dict) else None


_FILE_REFERENCE = re.compile(r"^\s*(-r|-c|-e|--requirement|--constraint|--editable|\.|/|file:)")


def _refers_to_files(requirements: str) -> bool:
    """Whether a line names a file or folder (so the text alone does not say what is in it)."""
    return any(_FILE_REFERENCE.match(line) for line in requirements.splitlines())


def _write_marker(  # noqa: PLR0917 - every part of the key, written down
    folder: Path,
    key: str,
    requirements: str,
    python: Interpreter,
    baseline: Sequence[str],
    tool: str,
) -> None:
    marker = {
        "key": key,
        "requirements": requirements,
        "baseline": list(baseline),
        "python": [python.path, python.version],
        "tool": tool,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _replace_link(link: Path, target_name: str) -> None:
    """Point ``link`` at ``target_name`` (a sibling) atomically."""
    temporary = link.with_name(f".{link.name}.link")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.symlink(target_name, temporary)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a venv from before links (or made by hand)
    os.replace(temporary, link)


def _describe(baseline: Sequence[str], requirements: str) -> str:
    lines = [
        line.strip()
        for line in requirements.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = []
    if baseline:
        parts.append(f"{len(baseline)} baseline libraries")
    if lines:
        parts.append(f"{len(lines)} requirement(s)")
    return " and ".join(parts) or "nothing"
