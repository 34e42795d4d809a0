"""``pack install`` against real git repositories (made here, with tags), archives and an
index file: versions, dependency chains, conflicts, version checks, and installs that fail
leaving the instance as it was."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from packhorse import bootstrap
from packhorse.packs.install import STAGING, InstallError, install, recover
from packhorse.settings import load_settings, settings_to_toml
from tests.conftest import CliResult
from tests.packs.test_venvs import make_wheel

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, env=GIT_ENV, check=True, capture_output=True)


def write_pack(
    folder: Path,
    ref: str,
    version: str,
    *,
    says: str = "",
    dependencies: list[str] | None = None,
    **manifest: object,
) -> None:
    (folder / "actions").mkdir(parents=True, exist_ok=True)
    metadata = {
        "ref": ref,
        "name": ref,
        "description": f"test pack {ref}",
        "version": version,
        "author": "tests",
        "email": "tests@example.com",
        **manifest,
    }
    if dependencies:
        metadata["dependencies"] = dependencies
    (folder / "pack.yaml").write_text(yaml.safe_dump(metadata))
    action = {
        "name": "say",
        "runner_type": "local-shell-cmd",
        "description": "print what this version says",
        "parameters": {
            "cmd": {"default": f"echo {says or ref + '-' + version}", "immutable": True}
        },
    }
    (folder / "actions" / "say.yaml").write_text(yaml.safe_dump(action))


def pack_repo(root: Path, ref: str, versions: list[str], **options: object) -> Path:
    """A git repository of pack ``ref``: one commit per version, tagged ``v<version>``."""
    folder = root / f"stackstorm-{ref}"
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    for version in versions:
        write_pack(folder, ref, version, **options)  # type: ignore[arg-type]
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "-m", version)
        git(folder, "tag", f"v{version}")
    return folder


@pytest.fixture
def env_for(instance_home: Path) -> Callable[..., object]:
    def make(**options: object) -> object:
        options.setdefault("venvs", False)
        return bootstrap.pack_install_environment(load_settings(instance_home), **options)  # type: ignore[arg-type]

    return make


def registered(home: Path) -> dict[str, str]:
    return {p.ref: p.version for p in bootstrap.content_registry(load_settings(home)).list_packs()}


def says(cli: Callable[..., CliResult], home: Path, ref: str) -> str:
    bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
    ran = cli("--home", home, "run", f"{ref}.say", "--json")
    assert ran.code == 0, ran.err
    return str(json.loads(ran.out)["result"]["stdout"]).strip()


def test_a_tag_then_the_latest_commit_from_a_git_repository(
    tmp_path: Path,
    instance_home: Path,
    env_for: Callable[..., object],
    cli: Callable[..., CliResult],
) -> None:
    repo = pack_repo(tmp_path / "repos", "hello", ["1.0.0", "1.1.0"])
    (repo / "actions" / "uncommitted.yaml").write_text("not: committed\n")

    first = install([f"file://{repo}=1.0.0"], env_for())  # type: ignore[arg-type]
    assert [(p.ref, p.version) for p in first.installed] == [("hello", "1.0.0")]
    assert first.installed[0].source.startswith(f"file://{repo}@")
    assert registered(instance_home)["hello"] == "1.0.0"
    assert says(cli, instance_home, "hello") == "hello-1.0.0"

    latest = install([str(repo)], env_for())  # type: ignore[arg-type]
    assert latest.replaced == {"hello": "1.0.0"}
    assert says(cli, instance_home, "hello") == "hello-1.1.0"
    installed = instance_home / "packs" / "hello"
    assert not (installed / "actions" / "uncommitted.yaml").exists()
    assert not (installed / ".git").exists()
    assert not (instance_home / STAGING).exists() or not any((instance_home / STAGING).iterdir())


def test_an_unknown_version_names_the_tags_and_changes_nothing(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    repo = pack_repo(tmp_path / "repos", "hello", ["1.0.0"])
    before = registered(instance_home)
    with pytest.raises(InstallError) as refused:
        install([f"file://{repo}=2.0.0"], env_for())  # type: ignore[arg-type]
    assert "2.0.0" in refused.value.message and "v1.0.0" in (refused.value.hint or "")
    assert registered(instance_home) == before
    assert not (instance_home / "packs" / "hello").exists()


def test_a_dependency_chain_installs_dependencies_first(
    tmp_path: Path,
    instance_home: Path,
    env_for: Callable[..., object],
    cli: Callable[..., CliResult],
) -> None:
    repos = tmp_path / "repos"
    base = pack_repo(repos, "base", ["0.1.0", "0.2.0"])
    middle = pack_repo(repos, "middle", ["1.0.0"], dependencies=[f"file://{base}=0.1.0"])
    top = pack_repo(repos, "top", ["3.0.0"], dependencies=[f"file://{middle}"])

    outcome = install([f"file://{top}"], env_for())  # type: ignore[arg-type]

    assert [p.ref for p in outcome.installed] == ["base", "middle", "top"]
    by_ref = {p.ref: p for p in outcome.installed}
    assert by_ref["base"].chain == ("command line", "top", "middle")
    versions = registered(instance_home)
    assert (versions["base"], versions["middle"], versions["top"]) == ("0.1.0", "1.0.0", "3.0.0")
    assert says(cli, instance_home, "base") == "base-0.1.0"


def test_conflicting_pins_name_both_chains_and_install_nothing(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    repos = tmp_path / "repos"
    shared = pack_repo(repos, "shared", ["1.0.0", "2.0.0"])
    left = pack_repo(repos, "left", ["1.0.0"], dependencies=[f"file://{shared}=1.0.0"])
    right = pack_repo(repos, "right", ["1.0.0"], dependencies=[f"file://{shared}=2.0.0"])
    before = registered(instance_home)

    with pytest.raises(InstallError) as refused:
        install([f"file://{left}", f"file://{right}"], env_for())  # type: ignore[arg-type]

    message = refused.value.message
    assert "shared=1.0.0, asked by command line -> left" in message
    assert "shared=2.0.0, asked by command line -> right" in message
    assert registered(instance_home) == before
    assert not any((instance_home / "packs" / ref).exists() for ref in ("left", "right", "shared"))


def test_a_pin_that_differs_from_the_installed_version_conflicts(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    repos = tmp_path / "repos"
    shared = pack_repo(repos, "shared", ["1.0.0", "2.0.0"])
    install([f"file://{shared}=1.0.0"], env_for())  # type: ignore[arg-type]
    user = pack_repo(repos, "user", ["1.0.0"], dependencies=[f"file://{shared}=2.0.0"])
    with pytest.raises(InstallError, match=r"shared 1\.0\.0 is installed, but shared=2\.0\.0"):
        install([f"file://{user}"], env_for())  # type: ignore[arg-type]
    unpinned = pack_repo(repos, "relaxed", ["1.0.0"], dependencies=[f"file://{shared}"])
    outcome = install([f"file://{unpinned}"], env_for())  # type: ignore[arg-type]
    assert [p.ref for p in outcome.installed] == ["relaxed"]  # the installed one does


def test_version_checks_refuse_unless_forced(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    old = tmp_path / "old"
    write_pack(old, "oldpack", "1.0.0", stackstorm_version=">=2.0.0, <3.0.0")
    with pytest.raises(InstallError) as refused:
        install([str(old)], env_for())  # type: ignore[arg-type]
    assert "needs StackStorm >=2.0.0, <3.0.0" in refused.value.message
    assert refused.value.hint == "--force installs it anyway"
    forced = install([str(old)], env_for(), force=True)  # type: ignore[arg-type]
    assert forced.warnings and "--force" in forced.warnings[0]
    assert registered(instance_home)["oldpack"] == "1.0.0"

    python2 = tmp_path / "py2"
    write_pack(python2, "py2pack", "1.0.0", python_versions=["2"])
    with pytest.raises(InstallError, match="not Python 3"):
        install([str(python2)], env_for())  # type: ignore[arg-type]


def test_a_new_version_that_does_not_validate_leaves_the_old_one(
    tmp_path: Path,
    instance_home: Path,
    env_for: Callable[..., object],
    cli: Callable[..., CliResult],
) -> None:
    folder = tmp_path / "hello"
    write_pack(folder, "hello", "1.0.0")
    install([str(folder)], env_for())  # type: ignore[arg-type]
    write_pack(folder, "hello", "1.1.0")
    (folder / "actions" / "broken.yaml").write_text("name: broken\nrunner_type: no-such-runner\n")

    with pytest.raises(InstallError) as refused:
        install([str(folder)], env_for())  # type: ignore[arg-type]

    assert "broken.yaml" in refused.value.message
    assert registered(instance_home)["hello"] == "1.0.0"
    assert says(cli, instance_home, "hello") == "hello-1.0.0"
    assert not (instance_home / "packs" / "hello" / "actions" / "broken.yaml").exists()


def installed_offline(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> tuple[Path, Path, str]:
    """No baseline and a wheelhouse of phtinylib 1.0 and 2.0; pack hello 1.0.0 (requiring
    phtinylib 1.0) installed with its venv. (wheelhouse, the pack's source, its venv)"""
    wheelhouse = tmp_path / "wheels"
    make_wheel(wheelhouse, "phtinylib", "1.0")
    make_wheel(wheelhouse, "phtinylib", "2.0")
    settings = load_settings(instance_home).with_overrides(pack_baseline=())
    (instance_home / "packhorse.toml").write_text(settings_to_toml(settings))
    folder = tmp_path / "hello"
    write_pack(folder, "hello", "1.0.0")
    (folder / "requirements.txt").write_text("phtinylib==1.0\n")
    install([str(folder)], env_for(venvs=True, wheelhouse=wheelhouse))  # type: ignore[arg-type]
    return wheelhouse, folder, os.path.realpath(instance_home / "venvs" / "hello")


def test_an_unresolvable_requirement_rolls_back_pack_and_venv(
    tmp_path: Path,
    instance_home: Path,
    env_for: Callable[..., object],
    cli: Callable[..., CliResult],
) -> None:
    """Offline: the wheelhouse has no phnotthere."""
    wheelhouse, folder, venv_before = installed_offline(tmp_path, instance_home, env_for)

    write_pack(folder, "hello", "1.1.0")
    (folder / "requirements.txt").write_text("phtinylib==1.0\nphnotthere==3.0\n")
    with pytest.raises(Exception, match="phnotthere"):
        install([str(folder)], env_for(venvs=True, wheelhouse=wheelhouse))  # type: ignore[arg-type]

    assert registered(instance_home)["hello"] == "1.0.0"
    assert says(cli, instance_home, "hello") == "hello-1.0.0"
    assert os.path.realpath(instance_home / "venvs" / "hello") == venv_before
    assert "phnotthere" not in (instance_home / "packs" / "hello" / "requirements.txt").read_text()


def test_a_failed_registration_puts_back_folders_and_venvs(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    wheelhouse, folder, venv_before = installed_offline(tmp_path, instance_home, env_for)
    write_pack(folder, "hello", "2.0.0")
    (folder / "requirements.txt").write_text("phtinylib==2.0\n")

    env = env_for(venvs=True, wheelhouse=wheelhouse)

    def refuse(refs: object) -> list[str]:
        return ["registration refused (a test)"]

    object.__setattr__(env, "register", refuse)
    with pytest.raises(InstallError, match="registration refused"):
        install([str(folder)], env)  # type: ignore[arg-type]

    assert (
        yaml.safe_load((instance_home / "packs" / "hello" / "pack.yaml").read_text())["version"]
        == "1.0.0"
    )
    assert os.path.realpath(instance_home / "venvs" / "hello") == venv_before
    assert Path(venv_before).is_dir()
    leftovers = [p.name for p in (instance_home / "venvs").iterdir() if p.name.startswith("env-")]
    assert leftovers == [Path(venv_before).name]  # the 2.0 build is gone


def test_an_interrupted_swap_is_put_back_at_the_next_install(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    folder = tmp_path / "hello"
    write_pack(folder, "hello", "1.0.0")
    install([str(folder)], env_for())  # type: ignore[arg-type]
    # What a crash between the folder swap and registration leaves behind:
    staging = instance_home / STAGING / "crashed"
    (staging / "old").mkdir(parents=True)
    live = instance_home / "packs" / "hello"
    os.rename(live, staging / "old" / "hello")
    write_pack(live, "hello", "1.1.0")
    (staging / "journal.json").write_text(
        json.dumps(
            {"state": "swapping", "packs": [{"ref": "hello", "version": "1.1.0", "was": "1.0.0"}]}
        )
    )

    done = recover(env_for())  # type: ignore[arg-type]

    assert done and "put back hello 1.0.0" in done[0]
    assert yaml.safe_load((live / "pack.yaml").read_text())["version"] == "1.0.0"
    assert registered(instance_home)["hello"] == "1.0.0"
    assert not staging.exists()


def test_archives_and_index_names(
    tmp_path: Path, instance_home: Path, env_for: Callable[..., object]
) -> None:
    folder = tmp_path / "src" / "packed-1.0.0"
    write_pack(folder, "packed", "1.0.0")
    archive = tmp_path / "packed-1.0.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="packed-1.0.0")
    outcome = install([str(archive)], env_for())  # type: ignore[arg-type]
    assert [(p.ref, p.version) for p in outcome.installed] == [("packed", "1.0.0")]

    repo = pack_repo(tmp_path / "repos", "listed", ["0.1.0", "0.2.0"])
    index = tmp_path / "index.json"
    index.write_text(
        json.dumps({"packs": {"listed": {"repo_url": f"file://{repo}", "version": "0.1.0"}}})
    )
    settings = load_settings(instance_home).with_overrides(pack_index=str(index))
    (instance_home / "packhorse.toml").write_text(settings_to_toml(settings))
    by_name = install(["listed"], env_for())  # type: ignore[arg-type]
    assert [(p.ref, p.version) for p in by_name.installed] == [("listed", "0.1.0")]
    pinned = install(["listed=0.2.0"], env_for())  # type: ignore[arg-type]
    assert pinned.replaced == {"listed": "0.1.0"} and pinned.installed[0].version == "0.2.0"
    with pytest.raises(InstallError, match="not in the pack index"):
        install(["unlisted"], env_for())  # type: ignore[arg-type]


def test_cli_install_and_remove(
    tmp_path: Path, instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    repos = tmp_path / "repos"
    base = pack_repo(repos, "base", ["0.1.0"])
    user = pack_repo(repos, "user", ["1.0.0"], dependencies=[f"file://{base}"])
    done = cli("--home", instance_home, "pack", "install", f"file://{user}", "--no-venv", "--json")
    assert done.code == 0, done.err
    assert [p["ref"] for p in json.loads(done.out)["installed"]] == ["base", "user"]

    refused = cli("--home", instance_home, "pack", "remove", "base")
    assert refused.code != 0 and "base is needed by user" in refused.err

    removed = cli("--home", instance_home, "pack", "remove", "user", "base")
    assert removed.code == 0, removed.err
    assert "user" not in registered(instance_home) and "base" not in registered(instance_home)
    assert not (instance_home / "packs" / "user").exists()
    gone = cli("--home", instance_home, "run", "user.say")
    assert gone.code != 0

    core = cli("--home", instance_home, "pack", "remove", "core")
    assert core.code != 0 and "system pack" in core.err


COMPAT_DEMO = Path(__file__).parents[1] / "compat" / "packs" / "compat_demo"


@pytest.mark.slow
def test_pack_test_runs_the_packs_tests_in_a_test_venv(
    tmp_path: Path, instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    """pytest and mock come from the package index (CI has one)."""
    installed = cli("--home", instance_home, "pack", "install", str(COMPAT_DEMO))
    assert installed.code == 0, installed.err

    passed = cli("--home", instance_home, "pack", "test", "compat_demo", "-q")
    assert passed.code == 0, passed.err
    test_venv = instance_home / "venvs" / "compat_demo.tests"
    assert (test_venv / "bin" / "pytest").exists()
    assert not (instance_home / "venvs" / "compat_demo" / "bin" / "pytest").exists()

    failing = tmp_path / "failing"
    write_pack(failing, "failing", "1.0.0")
    (failing / "tests").mkdir()
    (failing / "tests" / "test_it.py").write_text("def test_fails():\n    assert 1 == 2\n")
    assert cli("--home", instance_home, "pack", "install", str(failing)).code == 0
    failed = cli("--home", instance_home, "pack", "test", "failing")
    assert failed.code == 1


def test_outdated_and_upgrade_follow_release_tags(
    tmp_path: Path, instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    repo = pack_repo(tmp_path / "repos", "hello", ["1.0.0", "1.1.0"])
    home = str(instance_home)
    # upgrade builds a venv: with no baseline it needs no package index.
    settings = load_settings(instance_home).with_overrides(pack_baseline=())
    (instance_home / "packhorse.toml").write_text(settings_to_toml(settings))
    assert cli("--home", home, "pack", "install", f"file://{repo}=1.0.0", "--no-venv").code == 0

    stale = cli("--home", home, "pack", "outdated", "--json")
    assert stale.code == 1
    assert [
        (a["ref"], a["installed"], a["latest"], a["outdated"]) for a in json.loads(stale.out)
    ] == [("hello", "1.0.0", "1.1.0", True)]

    upgraded = cli("--home", home, "pack", "upgrade", "hello", "--json")
    assert upgraded.code == 0, upgraded.err
    assert json.loads(upgraded.out)["installed"][0]["replaced"] == "1.0.0"
    assert says(cli, instance_home, "hello") == "hello-1.1.0"

    fresh = cli("--home", home, "pack", "outdated")
    assert fresh.code == 0 and "1.1.0" in fresh.out
    assert "up to date" in cli("--home", home, "pack", "upgrade", "--all").out

    unknown = cli("--home", home, "pack", "upgrade", "examples")
    assert unknown.code != 0 and "was not installed with 'pack install'" in unknown.err
