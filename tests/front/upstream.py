"""Small real upstream servers for the front's tests, and the front as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import uvicorn

from tests.api.serving import free_port


@dataclass
class Upstream:
    """An ASGI app that says who it is.

    ``/ready`` answers 200 (503 when ``ready`` is false); ``/slow?seconds=S`` answers after S
    seconds; ``/events`` sends one server-sent event, then waits for :attr:`release` before
    a last one; anything else echoes the request as JSON."""

    name: str
    ready: bool = True
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        if path == "/events":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            first = f"event: hello\ndata: {self.name}\n\n".encode()
            await send({"type": "http.response.body", "body": first, "more_body": True})
            while not self.release.is_set():
                await asyncio.sleep(0.01)
            last = b"event: bye\ndata: done\n\n"
            await send({"type": "http.response.body", "body": last})
            return
        status = 200
        if path == "/ready" and not self.ready:
            status = 503
        if path == "/slow":
            await asyncio.sleep(float(query.get("seconds", ["0.2"])[0]))
        answer = json.dumps(
            {
                "name": self.name,
                "method": scope["method"],
                "path": path,
                "query": scope["query_string"].decode(),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body.decode(),
                "reason": "" if status == 200 else "not yet",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"x-upstream", self.name.encode()),
                    (b"connection", b"keep-alive"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


@contextlib.contextmanager
def upstream(
    name: str, tls: tuple[Path, Path] | None = None, **options: Any
) -> Iterator[tuple[Upstream, str]]:
    """An :class:`Upstream` on loopback until the block ends; it and its base URL. With
    ``tls`` (certificate, key) it serves HTTPS."""
    app = Upstream(name, **options)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "upstream did not start"
        time.sleep(0.01)
    try:
        yield app, f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        app.release.set()
        server.should_exit = True
        thread.join(timeout=15)


def packhorse(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``packhorse ARGS`` through its real entry point."""
    done = subprocess.run(
        [sys.executable, "-m", "packhorse", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


@contextlib.contextmanager
def running_front(state: Path, *extra: str, scheme: str = "http") -> Iterator[str]:
    """``packhorse front`` as a real process until the block ends; its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "packhorse",
            "front",
            "--listen",
            f"127.0.0.1:{port}",
            "--state",
            str(state),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"{scheme}://127.0.0.1:{port}"
    socket_path = state.with_name(state.name + ".sock")
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline, "the front did not start"
            time.sleep(0.02)
        while True:
            try:
                httpx.get(base, verify=False, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the front does not answer"
                time.sleep(0.02)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()
