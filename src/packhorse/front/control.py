"""What the CLI uses to reach a running front (its admin socket) and to check a target,
kept here so that ``packhorse.cli`` never imports httpx itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from packhorse.front.admin import admin_socket, ready_problem


def admin_call(
    state_file: Path, method: str, path: str, body: Any = None
) -> tuple[int, Any] | None:
    """The running front's status and JSON answer, or None when no front runs with this
    state file."""
    sock = admin_socket(state_file.resolve())
    if not sock.exists():
        return None
    # Plain HTTP on a unix socket: there is no TLS to verify, and the default verifying
    # context costs tens of milliseconds to build, more than the flip itself.
    transport = httpx.HTTPTransport(uds=str(sock), verify=False)
    try:
        with httpx.Client(transport=transport, base_url="http://front", timeout=30) as client:
            response = client.request(method, path, json=body)
    except httpx.TransportError:
        return None
    return response.status_code, response.json()


def target_problem(url: str) -> str | None:
    """None when ``url/ready`` answers 200, else why not."""

    async def check() -> str | None:
        async with httpx.AsyncClient() as client:
            return await ready_problem(client, url)

    return asyncio.run(check())
