"""The admin interface of a running front: HTTP on a unix socket next to the state file
(``<state>.sock``, mode 0600: only the user the front runs as can flip it).

* ``GET /state``: the state, as the state file holds it.
* ``POST /flip`` with ``{"to": URL, "force": false, "by": "who"}``: checks ``URL/ready``
  (unless ``force``), writes the state file, then switches new requests to ``URL``. Answers
  the new state and ``flip_ms`` (persist + switch) and ``ready_ms`` (the readiness check);
  409 with a ``faultstring`` when the target is not ready, 400 when the request is wrong.
* ``POST /rollback`` with ``{"force": false, "by": "who"}``: the same, to the previous
  target (read under the flip lock); 409 when there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from packhorse.errors import ConfigurationError
from packhorse.front.proxy import Proxy, Receive, Scope, Send
from packhorse.front.state import flipped, save_state, target_url


def target_verify(ca_file: str = "") -> ssl.SSLContext | bool:
    """How https targets are verified: against ``ca_file`` (PEM CA certificates, e.g. the
    self-signed certificate of ``packhorse up --tls-cert``) when given, else the system's
    trusted authorities."""
    if not ca_file:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"target CA file {ca_file} cannot be used: {error}") from None


def admin_socket(state_file: Path) -> Path:
    """Where the admin interface of the front with this state file listens."""
    return state_file.with_name(state_file.name + ".sock")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def ready_problem(client: httpx.AsyncClient, url: str) -> str | None:
    """None when ``url/ready`` answers 200, else why not (in a sentence's words)."""
    try:
        response = await client.get(f"{url}/ready", timeout=5)
    except httpx.TransportError as error:
        return f"{url} cannot be reached ({error or type(error).__name__})"
    if response.status_code != 200:
        reason = ""
        with contextlib.suppress(ValueError, AttributeError):
            reason = str(response.json().get("reason", ""))
        return f"{url}/ready answered {response.status_code}" + (f": {reason}" if reason else "")
    return None


class Admin:
    """The admin ASGI app; flips ``proxy`` and persists to ``state_file``."""

    def __init__(
        self,
        proxy: Proxy,
        state_file: Path,
        clock: Callable[[], str] = utc_now,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.proxy = proxy
        self.state_file = state_file
        self.clock = clock
        self.lock = asyncio.Lock()
        # One client for every readiness check: making one costs tens of milliseconds (its
        # TLS context), more than the rest of a flip.
        self.client = httpx.AsyncClient(verify=verify)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        status, answer = await self.handle(scope["method"], scope["path"], body)
        encoded = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": encoded})

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if (method, path) == ("GET", "/state"):
            return 200, self.proxy.state.to_dict()
        if method != "POST" or path not in ("/flip", "/rollback"):
            return 404, {"faultstring": f"no admin endpoint {method} {path}"}
        try:
            request = json.loads(body or b"{}")
            to = target_url(str(request["to"])) if path == "/flip" else ""
        except (ValueError, KeyError, TypeError):
            return 400, {"faultstring": 'give {"to": "http://host:port"}'}
        except ConfigurationError as error:
            return 400, {"faultstring": error.message}
        async with self.lock:
            started = time.perf_counter()
            if path == "/rollback":
                # Read under the lock: two rollbacks at once cannot both go "back".
                to = self.proxy.state.previous
                if not to:
                    return 409, {
                        "faultstring": "nothing to roll back to: the front has no previous target"
                    }
            if not request.get("force"):
                problem = await ready_problem(self.client, to)
                if problem is not None:
                    return 409, {"faultstring": f"not flipped: {problem}"}
            checked = time.perf_counter()
            state = flipped(
                self.proxy.state, to, by=str(request.get("by", "")), at=self.clock(), via="front"
            )
            # Persisted before it is acted on; in a thread, so forwarding goes on meanwhile.
            await asyncio.to_thread(save_state, self.state_file, state)
            self.proxy.state = state
            done = time.perf_counter()
        print(
            f"{state.flipped_at} flipped to {state.active} (was {state.previous or 'none'}) "
            f"by {state.flipped_by or 'unknown'} in {(done - checked) * 1000:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
        return 200, state.to_dict() | {
            "ready_ms": round((checked - started) * 1000, 3),
            "flip_ms": round((done - checked) * 1000, 3),
        }
