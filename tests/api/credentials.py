"""Credentials for API tests: a token for a user of the instance (created with its role if
it does not exist yet)."""

from __future__ import annotations

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.engine.passwords import hash_password
from packhorse.settings import Settings


def token_for(settings: Settings, user: str = "admin", role: str = "admin") -> str:
    auth = bootstrap.auth_service(settings)
    if user not in {name for name, _, _ in auth.users.list_users()}:
        auth.users.add_user(user, hash_password("unused-password"), role, now=iso_now())
    return auth.issue_token(user, 3600).token


def headers_for(settings: Settings, user: str = "admin", role: str = "admin") -> dict[str, str]:
    return {"X-Auth-Token": token_for(settings, user, role)}
