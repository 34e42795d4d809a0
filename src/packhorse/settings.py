"""Instance settings: the ``packhorse.toml`` of an instance folder, as one object passed in.

Nothing reads settings from globals; ``bootstrap.py`` loads them once and wires the rest.
Settings are a plain dataclass checked by hand rather than a pydantic model because every
CLI command loads them and ``packhorse pack list`` must start in under 300 ms.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packhorse.errors import ConfigurationError, InstanceError

SETTINGS_FILE = "packhorse.toml"
DEFAULT_LISTEN = "127.0.0.1:9101"
HOME_ENV = "PACKHORSE_HOME"
DEFAULT_PACK_BASELINE = ("requests", "six", "PyYAML", "python-dateutil", "Jinja2")
"""Kept equal to ``packhorse.packs.venvs.BASELINE_REQUIREMENTS`` (a test checks), spelt out
here so that loading settings imports nothing else."""
TIMERS_MISSED = ("skip", "once")
"""The values of :class:`packhorse.rules.timers.MissedFires`, spelt out here so that loading
settings does not import the timer schedules (every CLI command loads settings)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What an instance is and where its parts live."""

    home: Path
    """The instance folder (absolute)."""
    instance_id: str
    """Random id given at ``init``; names this instance in bundles, the front and logs."""
    created_by: str = ""
    """Packhorse version that initialised the instance."""
    listen: str = DEFAULT_LISTEN
    """``HOST:PORT`` that ``packhorse up`` serves on."""
    tls_cert: str = ""
    """PEM certificate (chain) ``packhorse up`` serves HTTPS with (absolute, or relative to
    the instance folder in ``packhorse.toml``); empty serves plain HTTP."""
    tls_key: str = ""
    """PEM private key of ``tls_cert`` (both or neither)."""
    metrics_auth: bool = True
    """Whether ``GET /metrics`` asks for a token or an API key like the API (any role); off,
    anyone who can reach the port reads the metrics (for loopback-only deployments)."""
    database_url: str = ""
    """SQLAlchemy URL; empty means the embedded SQLite file ``state.db``."""
    pack_paths: tuple[Path, ...] = ()
    """Extra folders searched for packs after ``packs/``, left to right."""
    pack_python: str = ""
    """The interpreter pack virtualenvs are built on; empty: the one Packhorse runs on."""
    pack_baseline: tuple[str, ...] = DEFAULT_PACK_BASELINE
    """Requirements installed into every pack virtualenv before the pack's own (what
    StackStorm's environment leaked into pack venvs and packs rely on)."""
    pack_wheelhouse: str = ""
    """A folder of wheels to build pack virtualenvs from, with no package index (offline)."""
    pack_index: str = ""
    """Where ``pack install NAME`` looks names up: paths or URLs of StackStorm-format
    ``index.json`` files, comma-separated (merged left to right); empty: names are refused."""
    system_user: str = "stanley"
    """The user rule-triggered executions run as (StackStorm's convention)."""
    workers: int = 4
    """Executions ``packhorse up`` runs at once."""
    ssh_known_hosts: str = ""
    """Known-hosts file remote actions check host keys against; empty accepts any key (as
    StackStorm's paramiko AutoAddPolicy)."""
    ssh_key_file: str = ""
    """Key remote actions use when they give neither password nor private_key (StackStorm's
    ``[system_user] ssh_key_file``); empty: the SSH agent and ``~/.ssh``."""
    run_as: str = ""
    """Operating-system user that local actions run as (through sudo), as StackStorm runs them
    as ``stanley``; empty runs them as the user Packhorse runs as."""
    retention_executions_days: int = 30
    """Completed executions older than this are deleted by ``packhorse gc`` (and by ``up``)."""
    retention_trigger_instances_days: int = 7
    """Trigger instances older than this are deleted (when trigger instances are stored)."""
    sensor_max_failures: int = 10
    """Failures in a row (each restarted with a growing delay) after which a sensor is left
    ``failed`` until the next reload; StackStorm gives up after three, silently."""
    timers_missed: str = "skip"
    """What timers do with due times missed while Packhorse was down: ``skip`` them (as
    StackStorm does) or fire ``once`` for the latest of them at start."""
    timers_timezone: str = "UTC"
    """Time zone of cron and date timers that name none (StackStorm's
    ``[timersengine] local_timezone``)."""
    auth_enabled: bool = True
    """Whether the API asks for a token or an API key; off, every caller is ``admin`` (for
    local development only)."""
    auth_token_ttl: int = 24 * 3600
    """Seconds a token from ``POST /auth/v1/tokens`` lives when the request names no ``ttl``."""
    auth_token_max_ttl: int = 24 * 3600
    """The longest ``ttl`` a token request may ask for (StackStorm's ``[auth] token_ttl``)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Sections this version does not know; kept so that a rewrite loses nothing."""

    @property
    def packs_dir(self) -> Path:
        return self.home / "packs"

    @property
    def configs_dir(self) -> Path:
        return self.home / "configs"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def key_file(self) -> Path:
        return self.keys_dir / "datastore.key"

    @property
    def venvs_dir(self) -> Path:
        return self.home / "venvs"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def state_db(self) -> Path:
        return self.home / "state.db"

    @property
    def database(self) -> str:
        """The effective database URL."""
        return self.database_url or f"sqlite:///{self.state_db}"

    @property
    def pack_search_paths(self) -> tuple[Path, ...]:
        return (self.packs_dir, *self.pack_paths)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def resolve_home(option: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """``--home``, else ``$PACKHORSE_HOME``, else ``~/.packhorse``; always absolute."""
    chosen = option or environ.get(HOME_ENV) or Path.home() / ".packhorse"
    return Path(chosen).expanduser().resolve()


def load_settings(home: Path) -> Settings:
    """Read ``<home>/packhorse.toml``. Raises InstanceError when the folder is no instance.
    ``home`` is made absolute: every path of the settings derives from it, and subprocesses
    (git, uv, pack tests) run in other working folders."""
    home = Path(home).expanduser().resolve()
    file = home / SETTINGS_FILE
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError(
            f"{home} is not a Packhorse instance (no {SETTINGS_FILE})",
            hint=f"run 'packhorse --home {home} init' first, or pass the right --home",
        ) from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{file}: cannot read settings: {error}") from error
    return settings_from_toml(home, raw, file)


def settings_from_toml(home: Path, raw: Mapping[str, Any], file: Path) -> Settings:
    instance = _table(raw, "instance", file)
    server = _table(raw, "server", file)
    database = _table(raw, "database", file)
    packs = _table(raw, "packs", file)
    execution = _table(raw, "execution", file)
    retention = _table(raw, "retention", file)
    ssh = _table(raw, "ssh", file)
    sensors = _table(raw, "sensors", file)
    timers = _table(raw, "timers", file)
    auth = _table(raw, "auth", file)
    known = {
        "auth",
        "instance",
        "server",
        "database",
        "packs",
        "execution",
        "ssh",
        "retention",
        "sensors",
        "timers",
    }
    instance_id = _string(instance, "id", file, "instance")
    if not instance_id:
        raise ConfigurationError(f"{file}: [instance] id is required")
    paths = packs.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigurationError(f"{file}: [packs] paths must be a list of folder paths")
    python = _string(packs, "python", file, "packs")
    wheelhouse = _string(packs, "wheelhouse", file, "packs")
    baseline = packs.get("baseline", list(DEFAULT_PACK_BASELINE))
    if not isinstance(baseline, list) or not all(isinstance(b, str) for b in baseline):
        raise ConfigurationError(f"{file}: [packs] baseline must be a list of requirements")
    return Settings(
        home=home,
        pack_python=python,
        pack_baseline=tuple(baseline),
        pack_wheelhouse=wheelhouse,
        pack_index=_string(packs, "index", file, "packs"),
        instance_id=instance_id,
        created_by=_string(instance, "created_by", file, "instance"),
        listen=_string(server, "listen", file, "server") or DEFAULT_LISTEN,
        **_server(server, file),
        database_url=_string(database, "url", file, "database"),
        pack_paths=tuple((home / p).resolve() for p in paths),
        system_user=_string(execution, "system_user", file, "execution") or "stanley",
        workers=_positive_int(execution, "workers", file, "execution", default=4),
        run_as=_string(execution, "run_as", file, "execution"),
        ssh_known_hosts=_string(ssh, "known_hosts", file, "ssh"),
        ssh_key_file=_string(ssh, "key_file", file, "ssh"),
        retention_executions_days=_positive_int(
            retention, "executions_days", file, "retention", default=30
        ),
        retention_trigger_instances_days=_positive_int(
            retention, "trigger_instances_days", file, "retention", default=7
        ),
        sensor_max_failures=_positive_int(sensors, "max_failures", file, "sensors", default=10),
        timers_missed=_missed(timers, file),
        timers_timezone=_timezone(timers, file),
        **_auth(auth, file),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def settings_to_toml(settings: Settings) -> str:
    """Render settings as TOML (only the value types settings use)."""
    home = settings.home
    pack_paths = [
        str(p.relative_to(home)) if p.is_relative_to(home) else str(p) for p in settings.pack_paths
    ]
    sections: dict[str, dict[str, Any]] = {
        "instance": {"id": settings.instance_id, "created_by": settings.created_by},
        "server": {
            "listen": settings.listen,
            "tls_cert": settings.tls_cert,
            "tls_key": settings.tls_key,
            "metrics_auth": settings.metrics_auth,
        },
        "database": {"url": settings.database_url},
        "packs": {
            "paths": pack_paths,
            "python": settings.pack_python,
            "baseline": list(settings.pack_baseline),
            "wheelhouse": settings.pack_wheelhouse,
            "index": settings.pack_index,
        },
        "execution": {
            "system_user": settings.system_user,
            "workers": settings.workers,
            "run_as": settings.run_as,
        },
        "ssh": {"known_hosts": settings.ssh_known_hosts, "key_file": settings.ssh_key_file},
        "retention": {
            "executions_days": settings.retention_executions_days,
            "trigger_instances_days": settings.retention_trigger_instances_days,
        },
        "sensors": {"max_failures": settings.sensor_max_failures},
        "timers": {
            "missed": settings.timers_missed,
            "timezone": settings.timers_timezone,
        },
        "auth": {
            "enabled": settings.auth_enabled,
            "token_ttl": settings.auth_token_ttl,
            "token_max_ttl": settings.auth_token_max_ttl,
        },
    }
    lines = ["# Packhorse instance settings. See docs/settings.md.", ""]
    for name, values in [*sections.items(), *settings.extra.items()]:
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def write_settings(settings: Settings) -> None:
    """Replace ``packhorse.toml`` of ``settings.home`` atomically (the file is what makes the
    folder an instance: it is never half-written)."""
    temporary = settings.home / f".{SETTINGS_FILE}.tmp"
    temporary.write_text(settings_to_toml(settings), encoding="utf-8")
    temporary.replace(settings.home / SETTINGS_FILE)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigurationError(f"cannot write setting value {value!r} as TOML")


def _table(raw: Mapping[str, Any], name: str, file: Path) -> Mapping[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{file}: [{name}] must be a table")
    return table


def _string(table: Mapping[str, Any], key: str, file: Path, section: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ConfigurationError(f"{file}: [{section}] {key} must be a string")
    return value


def _positive_int(
    table: Mapping[str, Any], key: str, file: Path, section: str, *, default: int
) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{file}: [{section}] {key} must be a positive integer")
    return value


def _missed(table: Mapping[str, Any], file: Path) -> str:
    value = table.get("missed", TIMERS_MISSED[0])
    if value not in TIMERS_MISSED:
        choices = " or ".join(repr(choice) for choice in TIMERS_MISSED)
        raise ConfigurationError(f"{file}: [timers] missed must be {choices}")
    return str(value)


def _timezone(table: Mapping[str, Any], file: Path) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _string(table, "timezone", file, "timers") or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{file}: [timers] timezone {name!r} is not a known time zone",
            hint="use an IANA name such as 'UTC' or 'Europe/Paris'",
        ) from None
    return name


def _auth(table: Mapping[str, Any], file: Path) -> dict[str, Any]:
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigurationError(f"{file}: [auth] enabled must be true or false")
    day = 24 * 3600
    ttl = _positive_int(table, "token_ttl", file, "auth", default=day)
    max_ttl = _positive_int(table, "token_max_ttl", file, "auth", default=max(ttl, day))
    if ttl > max_ttl:
        raise ConfigurationError(
            f"{file}: [auth] token_ttl ({ttl}) is longer than token_max_ttl ({max_ttl})"
        )
    return {"auth_enabled": enabled, "auth_token_ttl": ttl, "auth_token_max_ttl": max_ttl}


def _server(table: Mapping[str, Any], file: Path) -> dict[str, Any]:
    cert = _string(table, "tls_cert", file, "server")
    key = _string(table, "tls_key", file, "server")
    # Relative paths are relative to the instance folder (the file's own folder).
    cert, key = (str((file.parent / path).resolve()) if path else "" for path in (cert, key))
    if bool(cert) != bool(key):
        raise ConfigurationError(f"{file}: [server] tls_cert and tls_key go together")
    metrics_auth = table.get("metrics_auth", True)
    if not isinstance(metrics_auth, bool):
        raise ConfigurationError(f"{file}: [server] metrics_auth must be true or false")
    return {"tls_cert": cert, "tls_key": key, "metrics_auth": metrics_auth}
