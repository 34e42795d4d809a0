"""Pack virtualenvs: built with uv from a wheelhouse made here (no package index), reused while
nothing changed, rebuilt when requirements or the interpreter change, left as they were when a
build fails; python actions run in them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.packs.venvs import (
    BASELINE_REQUIREMENTS,
    MARKER,
    VenvBuilder,
    VenvError,
    VenvStatus,
    venv_path,
)
from packhorse.settings import DEFAULT_PACK_BASELINE, load_settings, settings_to_toml
from tests.conftest import CliResult

VENVPACK = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "venvpack"


def make_wheel(wheelhouse: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of one module ``name`` whose ``VERSION`` is ``version``."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: packhorse-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    wheel = wheelhouse / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    make_wheel(folder, "phtinylib", "1.0")
    make_wheel(folder, "phtinylib", "2.0")
    return folder


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "packs" / "venvpack"
    shutil.copytree(VENVPACK, folder)
    return folder


def imports(venv: Path, module: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}; print({module}.VERSION)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_built_once_then_reused_then_rebuilt_when_requirements_change(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse)
    progress: list[str] = []

    first = builder.ensure("venvpack", pack_dir, progress=progress.append)
    assert (first.status, first.reason) == (VenvStatus.BUILT, "new")
    assert imports(venvs / "venvpack", "phtinylib") == "1.0"
    assert progress and "venvpack" in progress[0]
    built_in = os.path.realpath(venvs / "venvpack")
    assert venv_path(venvs, "venvpack") == built_in

    again = builder.ensure("venvpack", pack_dir)
    assert (again.status, again.key) == (VenvStatus.REUSED, first.key)
    assert os.path.realpath(venvs / "venvpack") == built_in

    (pack_dir / "requirements.txt").write_text("phtinylib==2.0\n")
    changed = builder.ensure("venvpack", pack_dir)
    assert (changed.status, changed.reason) == (VenvStatus.REBUILT, "requirements changed")
    assert imports(venvs / "venvpack", "phtinylib") == "2.0"
    assert not Path(built_in).exists(), "the replaced venv is deleted"
    assert sorted(p.name for p in venvs.iterdir() if not p.name.startswith(".")) == [
        f"env-{changed.key[:16]}",
        "venvpack",
    ]


def test_a_venv_from_another_interpreter_is_rebuilt(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse)
    builder.ensure("venvpack", pack_dir)
    marker = venvs / "venvpack" / MARKER
    built = json.loads(marker.read_text())
    built["python"] = ["/usr/bin/python3.8", "CPython 3.8.18"]  # as an older install left it
    built["key"] = "0" * 64
    marker.write_text(json.dumps(built))
    rebuilt = builder.ensure("venvpack", pack_dir)
    assert (rebuilt.status, rebuilt.reason) == (VenvStatus.REBUILT, "interpreter changed")
    assert json.loads(marker.read_text())["python"][0] == os.path.realpath(builder.python)


def test_a_failed_build_leaves_the_previous_venv_in_use(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse)
    builder.ensure("venvpack", pack_dir)
    before = os.path.realpath(venvs / "venvpack")
    (pack_dir / "requirements.txt").write_text("phtinylib==9.9\n")  # not in the wheelhouse

    with pytest.raises(VenvError) as failed:
        builder.ensure("venvpack", pack_dir)

    assert "venvpack" in failed.value.message and "phtinylib" in failed.value.message
    assert failed.value.hint and "wheelhouse" in failed.value.hint
    assert os.path.realpath(venvs / "venvpack") == before
    assert imports(venvs / "venvpack", "phtinylib") == "1.0"
    assert not [p for p in venvs.iterdir() if p.name.endswith(".building")]


def test_a_pack_without_venv_runs_on_packhorses_interpreter(tmp_path: Path) -> None:
    assert venv_path(tmp_path / "venvs", "nothing") == ""


def test_remove_deletes_the_venv_and_its_link(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse)
    builder.ensure("venvpack", pack_dir)
    real = os.path.realpath(venvs / "venvpack")
    assert builder.remove("venvpack")
    assert not (venvs / "venvpack").is_symlink() and not Path(real).exists()
    assert not builder.remove("venvpack")


@pytest.mark.slow
def test_the_pip_fallback_builds_the_same_venv(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse, use_uv=False)
    assert builder.tool == "venv+pip"
    built = builder.ensure("venvpack", pack_dir)
    assert built.status == VenvStatus.BUILT
    assert imports(venvs / "venvpack", "phtinylib") == "1.0"
    assert json.loads((venvs / "venvpack" / MARKER).read_text())["tool"] == "venv+pip"


def test_settings_carry_the_pack_venv_options(instance_home: Path) -> None:
    settings = load_settings(instance_home)
    assert settings.pack_baseline == DEFAULT_PACK_BASELINE == BASELINE_REQUIREMENTS
    changed = settings.with_overrides(
        pack_python="/usr/bin/python3", pack_baseline=("six",), pack_wheelhouse="/srv/wheels"
    )
    (instance_home / "packhorse.toml").write_text(settings_to_toml(changed))
    reread = load_settings(instance_home)
    assert (reread.pack_python, reread.pack_baseline, reread.pack_wheelhouse) == (
        "/usr/bin/python3",
        ("six",),
        "/srv/wheels",
    )


def _use_wheelhouse(home: Path, wheelhouse: Path, baseline: tuple[str, ...] = ()) -> None:
    settings = load_settings(home).with_overrides(
        pack_baseline=baseline, pack_wheelhouse=str(wheelhouse)
    )
    (home / "packhorse.toml").write_text(settings_to_toml(settings))


def test_python_actions_run_in_their_packs_venv(
    instance_home: Path, wheelhouse: Path, cli: Callable[..., CliResult]
) -> None:
    shutil.copytree(VENVPACK, instance_home / "packs" / "venvpack")
    _use_wheelhouse(instance_home, wheelhouse)
    assert cli("--home", instance_home, "pack", "register", "venvpack").code == 0

    before = cli("--home", instance_home, "run", "venvpack.where", "--json")
    assert before.code == 0, before.err
    assert json.loads(before.out)["result"]["result"]["phtinylib"] is None

    built = cli("--home", instance_home, "pack", "venv", "venvpack", "--json")
    assert built.code == 0, built.err
    assert [o["status"] for o in json.loads(built.out)] == ["built"]

    after = cli("--home", instance_home, "run", "venvpack.where", "--json")
    assert after.code == 0, after.err
    result = json.loads(after.out)["result"]["result"]
    assert result["phtinylib"] == "1.0"
    venvs = load_settings(instance_home).venvs_dir
    assert os.path.realpath(result["prefix"]) == os.path.realpath(venvs / "venvpack")

    reused = cli("--home", instance_home, "pack", "venv", "--all")
    assert reused.code == 0 and "reused" in reused.out and "core" not in reused.out


def test_pack_venv_refuses_system_and_unknown_packs(
    instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    system = cli("--home", instance_home, "pack", "venv", "core")
    assert system.code != 0 and "system pack" in system.err
    unknown = cli("--home", instance_home, "pack", "venv", "nosuchpack")
    assert unknown.code != 0 and "nosuchpack" in unknown.err


@pytest.mark.slow
def test_the_baseline_libraries_import_in_a_pack_venv(
    instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    """From the package index (CI has one): what StackStorm's environment gave packs."""
    shutil.copytree(VENVPACK, instance_home / "packs" / "venvpack")
    (instance_home / "packs" / "venvpack" / "requirements.txt").write_text("")
    assert cli("--home", instance_home, "pack", "register", "venvpack").code == 0
    built = cli("--home", instance_home, "pack", "venv", "venvpack")
    assert built.code == 0, built.err
    modules = json.dumps(["requests", "six", "yaml", "dateutil", "jinja2"])
    ran = cli("--home", instance_home, "run", "venvpack.where", f"modules={modules}", "--json")
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)["result"]["result"]
    assert result["imported"] == ["requests", "six", "yaml", "dateutil", "jinja2"]
    assert "venvs" in result["prefix"]


def test_bootstrap_builder_takes_the_settings(instance_home: Path, wheelhouse: Path) -> None:
    _use_wheelhouse(instance_home, wheelhouse, baseline=("six",))
    builder = bootstrap.venv_builder(load_settings(instance_home))
    assert builder.baseline == ("six",) and builder.wheelhouse == wheelhouse


def test_packs_with_the_same_requirements_share_one_venv(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse)
    twin = tmp_path / "packs" / "twin"
    shutil.copytree(pack_dir, twin)
    first = builder.ensure("venvpack", pack_dir)
    second = builder.ensure("twin", twin)
    assert (first.status, second.status) == (VenvStatus.BUILT, VenvStatus.SHARED)
    assert os.path.realpath(venvs / "twin") == os.path.realpath(venvs / "venvpack")
    shared = Path(os.path.realpath(venvs / "twin"))

    (twin / "requirements.txt").write_text("phtinylib==2.0\n")
    moved = builder.ensure("twin", twin)
    assert moved.status == VenvStatus.REBUILT
    assert imports(venvs / "twin", "phtinylib") == "2.0"
    assert imports(venvs / "venvpack", "phtinylib") == "1.0"
    assert shared.is_dir(), "still used by venvpack"

    assert builder.remove("venvpack")
    assert not shared.exists(), "deleted with its last user"
    assert imports(venvs / "twin", "phtinylib") == "2.0"


def test_requirements_that_name_files_are_not_shared(
    tmp_path: Path, wheelhouse: Path, pack_dir: Path
) -> None:
    venvs = tmp_path / "venvs"
    builder = VenvBuilder(venvs, baseline=(), wheelhouse=wheelhouse)
    (pack_dir / "more.txt").write_text("phtinylib==1.0\n")
    (pack_dir / "requirements.txt").write_text("-r more.txt\n")
    twin = tmp_path / "packs" / "twin"
    shutil.copytree(pack_dir, twin)
    (twin / "more.txt").write_text("phtinylib==2.0\n")
    assert builder.ensure("venvpack", pack_dir).status == VenvStatus.BUILT
    assert builder.ensure("twin", twin).status == VenvStatus.BUILT
    assert imports(venvs / "venvpack", "phtinylib") == "1.0"
    assert imports(venvs / "twin", "phtinylib") == "2.0"
