"""What the console's tests share: an instance with the console's test pack and one user per
role, and the app that ``packhorse up`` serves, on loopback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.api.serving import serving

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.engine.passwords import hash_password
from packhorse.settings import Settings, load_settings

CONSOLE_PACK = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "console"
PASSWORDS = {"vera": "viewer-pw", "otto": "operator-pw"}
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class Instance:
    settings: Settings
    admin_password: str


def prepare(home: Path) -> Instance:
    """``home`` with the console pack registered and a viewer (vera) and an operator (otto)."""
    shutil.copytree(CONSOLE_PACK, home / "packs" / "console")
    settings = load_settings(home)
    outcome = bootstrap.register_instance_packs(settings, refs=["console"])
    assert outcome.ok and outcome.applied, outcome.diagnostics
    users = bootstrap.user_store(settings)
    users.add_user("vera", hash_password(PASSWORDS["vera"]), "viewer", now=iso_now())
    users.add_user("otto", hash_password(PASSWORDS["otto"]), "operator", now=iso_now())
    return Instance(settings, (home / ".admin-password").read_text())


@pytest.fixture
def instance(instance_home: Path) -> Instance:
    return prepare(instance_home)


@pytest.fixture
def base_url(instance: Instance) -> Iterator[str]:
    """The app of ``packhorse up`` (API, stream, console, engine) over HTTP on loopback."""
    with serving(bootstrap.create_app(instance.settings, workers=2)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def sign_in(client: httpx.Client, user: str, password: str) -> httpx.Response:
    """Sign in through the console's form (fetched first, for its CSRF token); the session
    cookie lands in the client's jar."""
    form = client.get("/ui/sign-in")
    data = {"user": user, "password": password, "next": "/ui/executions"}
    return client.post("/ui/sign-in", data={**data, "csrf_token": csrf_of(form)})


def csrf_of(page: httpx.Response | str) -> str:
    text = page if isinstance(page, str) else page.text
    found = CSRF.search(text)
    assert found, text[:500]
    return found.group(1)
