"""Who is calling: the principal of a request and the roles routes require.

Roles, least to most: ``viewer`` (read), ``operator`` (also run, cancel, respond), ``admin``
(everything). Routes declare what they need with ``Depends(require("operator"))``.

This first version lets every request through as the system's admin; the authentication
issue replaces :func:`current_principal` (tokens, API keys, users) without touching routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Principal:
    user: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def current_principal(request: Request) -> Principal:
    """The caller (placeholder: everyone is ``admin``)."""
    return Principal(user="admin", role="admin")


def require(role: str) -> Callable[[Request], Principal]:
    """A dependency that gives the caller, refusing (403) those below ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> Principal:
        return current_principal(request)

    return dependency
