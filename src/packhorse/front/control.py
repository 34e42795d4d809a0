"""Flipping the front from outside it: through a running front's admin socket, else by
writing its state file, or with the site's hook. This is what ``packhorse front flip`` and
``rollback`` run, and what cutover calls; ``packhorse.cli`` never imports httpx itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from packhorse.errors import FlipRefused, PackhorseError
from packhorse.front.admin import admin_socket, ready_problem, target_verify, utc_now
from packhorse.front.hook import HookResult, run_hook
from packhorse.front.state import FrontState, flipped, load_state, save_state, target_url


@dataclass(frozen=True, slots=True)
class FlipOutcome:
    """What a flip did."""

    state: FrontState
    """The state after the flip."""
    ready_ms: float | None = None
    """How long the new target's readiness check took (None: skipped, ``force``)."""
    flip_ms: float | None = None
    """How long the running front took to persist and switch (None: no front was running)."""
    hook: HookResult | None = None
    """What the hook did, in hook mode."""


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


def target_problem(url: str, ca_file: str = "") -> str | None:
    """None when ``url/ready`` answers 200, else why not (``ca_file``: see
    :func:`~packhorse.front.admin.target_verify`)."""

    async def check() -> str | None:
        async with httpx.AsyncClient(verify=target_verify(ca_file)) as client:
            return await ready_problem(client, url)

    return asyncio.run(check())


def serving_instance(url: str, ca_file: str = "") -> str:
    """The instance id ``url/ready`` names (through a front: the active instance's). Raises
    :class:`~packhorse.errors.PackhorseError` saying why when it does not answer ready."""

    async def ask() -> str:
        async with httpx.AsyncClient(verify=target_verify(ca_file)) as client:
            try:
                response = await client.get(f"{url}/ready", timeout=5)
            except httpx.TransportError as error:
                raise PackhorseError(f"{url} cannot be reached ({error!r})") from error
        if response.status_code != 200:
            raise PackhorseError(f"{url}/ready answered {response.status_code}")
        try:
            return str(response.json()["instance"])
        except (ValueError, KeyError, TypeError) as error:
            raise PackhorseError(f"{url}/ready did not name its instance") from error

    return asyncio.run(ask())


def current_state(state_file: Path) -> tuple[FrontState, bool]:
    """The state (the running front's if one runs, else the file's) and whether a front
    runs with this state file."""
    answered = admin_call(state_file, "GET", "/state")
    if answered is not None and answered[0] == 200:
        fields = {name: str(answered[1].get(name, "")) for name in FrontState.__dataclass_fields__}
        return FrontState(**fields), True
    return load_state(state_file), False


def _check_ready(to: str, ca_file: str) -> None:
    problem = target_problem(to, ca_file)
    if problem is not None:
        raise FlipRefused(f"not flipped: {problem}", hint="--force flips anyway")


def flip_front(
    state_file: Path,
    to: str,
    *,
    by: str,
    force: bool = False,
    hook: str | None = None,
    ca_file: str = "",
) -> FlipOutcome:
    """Make ``to`` the active target, after its ``/ready`` (unless ``force``).

    With ``hook`` (a command with ``{address}``), run it instead of switching a front; the
    state file records the flip only when it exits 0. Raises :class:`FlipRefused`, the state
    unchanged, when the target is not ready or the hook fails. ``ca_file`` verifies an https
    target when this process checks it (a running front checks with its own)."""
    to = target_url(to)
    if hook is not None:
        if not force:
            _check_ready(to, ca_file)
        result = run_hook(hook, to)
        if result.exit_status != 0:
            raise FlipRefused(
                f"flip failed: the hook exited with status {result.exit_status}; state "
                f"unchanged (active: {load_state(state_file).active or 'none'})",
                hook=result,
            )
        state = flipped(load_state(state_file), to, by=by, at=utc_now(), via="hook")
        save_state(state_file, state)
        return FlipOutcome(state, hook=result)
    answered = admin_call(state_file, "POST", "/flip", {"to": to, "force": force, "by": by})
    if answered is not None:
        return _outcome(answered, force)
    # No front runs with this state file: record the flip; the front reads it at start.
    if not force:
        _check_ready(to, ca_file)
    state = flipped(load_state(state_file), to, by=by, at=utc_now(), via="file")
    save_state(state_file, state)
    return FlipOutcome(state)


def rollback_front(
    state_file: Path,
    *,
    by: str,
    force: bool = False,
    hook: str | None = None,
    ca_file: str = "",
) -> FlipOutcome:
    """Flip back to the previous target (one call to a running front, which reads its
    previous target under its flip lock)."""
    if hook is None:
        answered = admin_call(state_file, "POST", "/rollback", {"force": force, "by": by})
        if answered is not None:
            return _outcome(answered, force)
    state, _ = current_state(state_file)
    if not state.previous:
        raise FlipRefused("nothing to roll back to: the front has no previous target")
    return flip_front(state_file, state.previous, by=by, force=force, hook=hook, ca_file=ca_file)


def _outcome(answered: tuple[int, Any], force: bool) -> FlipOutcome:
    status, answer = answered
    if status != 200:
        hint = "--force flips anyway" if status == 409 and "not flipped" in str(answer) else None
        raise FlipRefused(str(answer.get("faultstring", answer)), hint=hint)
    fields = {name: str(answer.get(name, "")) for name in FrontState.__dataclass_fields__}
    ready_ms = None if force else float(answer["ready_ms"])
    return FlipOutcome(FrontState(**fields), ready_ms=ready_ms, flip_ms=answer["flip_ms"])
