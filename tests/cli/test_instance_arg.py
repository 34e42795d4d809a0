"""Instances given to upgrade commands: folders or URLs."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from packhorse.cli.instance_arg import (
    LocalInstance,
    RemoteInstance,
    local_only,
    open_instance,
)
from packhorse.cli.main import CliContext
from packhorse.engine.instance import init_instance


def test_a_folder_opens_as_a_local_instance(tmp_path: Path) -> None:
    init_instance(tmp_path / "old")
    cli = CliContext(home=tmp_path, environ={})
    instance = open_instance(cli, str(tmp_path / "old"), option="--from")
    assert isinstance(instance, LocalInstance)
    assert instance.settings.home == (tmp_path / "old").resolve()
    assert local_only(instance, option="--from", why="x") is instance.settings


def test_a_url_opens_as_a_remote_instance_with_the_api_key(tmp_path: Path) -> None:
    cli = CliContext(home=tmp_path, environ={"XDG_CONFIG_HOME": str(tmp_path)}, api_key="k1")
    instance = open_instance(cli, "http://127.0.0.1:9/", option="--to")
    assert isinstance(instance, RemoteInstance)
    assert instance.name == "http://127.0.0.1:9"
    assert instance.api.credentials.api_key == "k1"
    with pytest.raises(click.BadParameter, match="is a URL, and archives are local"):
        local_only(instance, option="--to", why="archives are local")
    instance.api.close()


def test_a_missing_folder_names_the_option(tmp_path: Path) -> None:
    cli = CliContext(home=tmp_path, environ={})
    with pytest.raises(click.BadParameter, match="neither an instance folder") as error:
        open_instance(cli, str(tmp_path / "nope"), option="--baseline")
    assert error.value.param_hint == "--baseline"
