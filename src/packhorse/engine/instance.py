"""Creating and upgrading instance folders.

``init`` writes ``packhorse.toml`` last: a folder without it is not an instance, so a crash
half-way leaves nothing that later commands mistake for one, and a failed ``init`` removes
what it created.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from packhorse import __version__, bootstrap
from packhorse.crypto import generate_key, render_key_file
from packhorse.engine.clock import iso_now
from packhorse.engine.passwords import generate_password, hash_password
from packhorse.engine.registration import RegistrationOutcome
from packhorse.errors import InstanceError, ValidationFailed
from packhorse.settings import SETTINGS_FILE, Settings, write_settings
from packhorse.storage import migrate

#: Packs copied into a new instance's packs/ folder (core is served from the package).
STARTER_PACKS = ("examples",)
INSTANCE_FOLDERS = ("packs", "configs", "keys", "venvs", "archive", "logs")


@dataclass(frozen=True, slots=True)
class InitResult:
    settings: Settings
    admin_user: str
    admin_password: str
    """Shown once to the person who ran init; only its hash is stored."""
    registration: RegistrationOutcome


def write_datastore_key(path: Path) -> None:
    """A new random AES-256 key, created 0600 (never readable by others, even briefly)."""
    text = render_key_file(generate_key(secrets.token_bytes))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


STANDBY_REASON = "standby: waits for 'packhorse cutover --to' this instance"


def init_instance(
    home: Path, *, listen: str | None = None, admin_user: str = "admin", standby: bool = False
) -> InitResult:
    """Create an instance folder at ``home``: settings, database, key, packs, admin user.
    ``standby``: its intake starts closed (no sensors, timers or webhooks run until a cutover
    opens it), for the new instance of an upgrade."""
    if (home / SETTINGS_FILE).exists():
        raise InstanceError(
            f"{home} is already a Packhorse instance",
            hint="use it as it is ('packhorse up'), or pick another folder with --home",
        )
    if home.exists() and any(home.iterdir()):
        raise InstanceError(
            f"{home} exists and is not empty",
            hint="init needs a new or empty folder; remove it or pick another with --home",
        )
    created = not home.exists()
    try:
        return _init(home, listen=listen, admin_user=admin_user, standby=standby)
    except BaseException:
        if created:
            shutil.rmtree(home, ignore_errors=True)
        else:
            for entry in home.iterdir():
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        raise


def _init(home: Path, *, listen: str | None, admin_user: str, standby: bool) -> InitResult:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, instance_id=uuid.uuid4().hex, created_by=__version__)
    if listen:
        settings = settings.with_overrides(listen=listen)
    for folder in INSTANCE_FOLDERS:
        (home / folder).mkdir(exist_ok=True)
    settings.keys_dir.chmod(0o700)
    write_datastore_key(settings.key_file)

    engine = bootstrap.database_engine(settings)
    migrate.upgrade(engine)
    if standby:
        from packhorse.model.intake import IntakeStatus
        from packhorse.storage.intake import SqlIntakeStore

        SqlIntakeStore(engine).change(
            IntakeStatus.CLOSED, successor=None, reason=STANDBY_REASON, now=iso_now()
        )

    for name in STARTER_PACKS:
        shutil.copytree(
            bootstrap.bundled_pack_dir(name),
            settings.packs_dir / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    registration = bootstrap.register_instance_packs(settings, all_packs=True)
    if not registration.ok:
        raise ValidationFailed("the bundled packs did not validate", registration.diagnostics)

    password = generate_password()
    bootstrap.user_store(settings).add_user(
        admin_user, hash_password(password), "admin", now=iso_now()
    )
    engine.dispose()
    # Last: the settings file is what makes the folder an instance.
    write_settings(settings)
    return InitResult(settings, admin_user, password, registration)


def upgrade_database(settings: Settings) -> migrate.MigrationStatus:
    """Apply pending schema migrations; returns the status before."""
    return migrate.upgrade(bootstrap.database_engine(settings))
