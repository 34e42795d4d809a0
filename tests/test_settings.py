"""Settings: the packhorse.toml round trip, home resolution and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from packhorse.errors import ConfigurationError, InstanceError
from packhorse.rules.timers import MissedFires
from packhorse.settings import (
    TIMERS_MISSED,
    Settings,
    load_settings,
    resolve_home,
    settings_to_toml,
)


def test_home_resolution_order(tmp_path: Path) -> None:
    assert resolve_home(tmp_path / "a", {"PACKHORSE_HOME": str(tmp_path / "b")}) == tmp_path / "a"
    assert resolve_home(None, {"PACKHORSE_HOME": str(tmp_path / "b")}) == tmp_path / "b"
    assert resolve_home(None, {}) == Path.home() / ".packhorse"
    assert resolve_home("relative", {}).is_absolute()


def test_round_trip_keeps_every_field_and_unknown_sections(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        instance_id="abc",
        created_by="0.1.0",
        listen="0.0.0.0:9999",
        database_url='postgresql://u@h/db?x="y"',
        pack_paths=(tmp_path / "more", Path("/opt/shared/packs")),
        system_user="svc",
        ssh_known_hosts="/etc/ssh/ssh_known_hosts",
        ssh_key_file="/home/svc/.ssh/id_ed25519",
        retention_executions_days=90,
        retention_trigger_instances_days=3,
        sensor_max_failures=4,
        timers_missed="once",
        timers_timezone="Europe/Paris",
        auth_enabled=False,
        auth_token_ttl=600,
        auth_token_max_ttl=7200,
        tls_cert=str(tmp_path / "tls" / "server.crt"),
        tls_key="/etc/packhorse/server.key",
        metrics_auth=False,
        extra={"future": {"flag": True, "count": 3, "names": ["a", "b"]}},
    )
    (tmp_path / "packhorse.toml").write_text(settings_to_toml(settings))
    assert load_settings(tmp_path) == settings


def test_defaults_fill_a_minimal_file(tmp_path: Path) -> None:
    (tmp_path / "packhorse.toml").write_text('[instance]\nid = "x"\n')
    settings = load_settings(tmp_path)
    assert settings.listen == "127.0.0.1:9101"
    assert settings.database == f"sqlite:///{tmp_path / 'state.db'}"
    assert settings.pack_search_paths == (tmp_path / "packs",)


def test_missing_file_says_how_to_initialise(tmp_path: Path) -> None:
    with pytest.raises(InstanceError) as caught:
        load_settings(tmp_path)
    assert "not a Packhorse instance" in caught.value.message
    assert caught.value.hint is not None and "init" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[instance\n", "cannot read settings"),
        ("[instance]\n", "id is required"),
        ('[instance]\nid = "x"\n[server]\nlisten = 5\n', "listen must be a string"),
        ('[instance]\nid = "x"\n[packs]\npaths = "p"\n', "paths must be a list"),
        ("instance = 3\n", "[instance] must be a table"),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "packhorse.toml").write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path)
    assert str(tmp_path / "packhorse.toml") in caught.value.message
    assert message in caught.value.message


def test_retention_days_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "packhorse.toml").write_text(
        '[instance]\nid = "x"\n[retention]\nexecutions_days = 0\n'
    )
    with pytest.raises(ConfigurationError, match=r"\[retention\] executions_days"):
        load_settings(tmp_path)


def test_timers_default_to_skipping_missed_fires_in_utc(tmp_path: Path) -> None:
    (tmp_path / "packhorse.toml").write_text('[instance]\nid = "x"\n')
    settings = load_settings(tmp_path)
    assert (settings.timers_missed, settings.timers_timezone) == ("skip", "UTC")
    assert tuple(m.value for m in MissedFires) == TIMERS_MISSED  # spelt out in both places


@pytest.mark.parametrize(
    ("timers", "message"),
    [
        ('missed = "all"', "[timers] missed must be 'skip' or 'once'"),
        ('timezone = "Mars/Base"', "[timers] timezone 'Mars/Base' is not a known time zone"),
    ],
)
def test_bad_timer_settings_say_what_is_allowed(tmp_path: Path, timers: str, message: str) -> None:
    (tmp_path / "packhorse.toml").write_text(f'[instance]\nid = "x"\n[timers]\n{timers}\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path)
    assert message in caught.value.message


def test_auth_is_on_by_default_with_a_day_long_token(tmp_path: Path) -> None:
    (tmp_path / "packhorse.toml").write_text('[instance]\nid = "x"\n')
    settings = load_settings(tmp_path)
    assert settings.auth_enabled is True
    assert (settings.auth_token_ttl, settings.auth_token_max_ttl) == (86400, 86400)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('enabled = "no"', r"\[auth\] enabled must be true or false"),
        ("token_ttl = 0", r"\[auth\] token_ttl must be a positive integer"),
        ("token_ttl = 90\ntoken_max_ttl = 60", r"token_ttl \(90\) is longer than token_max_ttl"),
    ],
)
def test_bad_auth_settings_are_refused(tmp_path: Path, section: str, message: str) -> None:
    (tmp_path / "packhorse.toml").write_text(f'[instance]\nid = "x"\n[auth]\n{section}\n')
    with pytest.raises(ConfigurationError, match=message):
        load_settings(tmp_path)


def test_server_tls_paths_are_relative_to_the_instance_and_metrics_are_guarded(
    tmp_path: Path,
) -> None:
    (tmp_path / "packhorse.toml").write_text('[instance]\nid = "x"\n')
    plain = load_settings(tmp_path)
    assert (plain.tls_cert, plain.tls_key, plain.metrics_auth) == ("", "", True)
    (tmp_path / "packhorse.toml").write_text(
        '[instance]\nid = "x"\n[server]\ntls_cert = "tls/a.crt"\ntls_key = "/abs/a.key"\n'
    )
    served = load_settings(tmp_path)
    assert served.tls_cert == str(tmp_path / "tls" / "a.crt")
    assert served.tls_key == "/abs/a.key"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('tls_cert = "a.crt"', "tls_cert and tls_key go together"),
        ('tls_key = "a.key"', "tls_cert and tls_key go together"),
        ("metrics_auth = 1", "metrics_auth must be true or false"),
    ],
)
def test_bad_server_settings_are_refused(tmp_path: Path, section: str, message: str) -> None:
    (tmp_path / "packhorse.toml").write_text(f'[instance]\nid = "x"\n[server]\n{section}\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path)
    assert message in caught.value.message
