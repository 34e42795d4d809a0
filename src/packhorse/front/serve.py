"""The process: ``packhorse front``. One event loop runs two uvicorn servers: the public
address (the :class:`~packhorse.front.proxy.Proxy`, HTTPS when given a certificate) and the
admin socket (:mod:`~packhorse.front.admin`, plain HTTP on a unix socket)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from packhorse.engine.server import check_tls, parse_listen
from packhorse.errors import ConfigurationError
from packhorse.front.admin import Admin, admin_socket, target_verify
from packhorse.front.proxy import Proxy
from packhorse.front.state import load_state


class _PublicServer(uvicorn.Server):
    """Ends the streamed responses in flight before waiting for them (else a client holding
    an event stream open would keep the front from stopping)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        if isinstance(app, Proxy):
            app.stopping.set()
        await super().shutdown(sockets)


class _AdminServer(uvicorn.Server):
    """Leaves the signals to the public server, which stops this one when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_admin(path: Path) -> socket.socket:
    """The admin unix socket, readable and writable by this user only."""
    if path.exists():
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # left by a front that did not stop cleanly
        else:
            raise ConfigurationError(
                f"a front is already running with admin socket {path}",
                hint="stop it, or give this one another --state file",
            )
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        listener.bind(str(path))
    except OSError as error:
        listener.close()
        raise ConfigurationError(
            f"cannot create the admin socket {path}: {error.strerror or error}",
            hint="unix socket paths are limited to about 100 characters: "
            "give a --state file with a shorter path",
        ) from None
    finally:
        os.umask(old_mask)
    listener.listen(64)
    listener.setblocking(False)
    return listener


def serve_front(
    *,
    listen: str,
    state_file: Path,
    tls_cert: str = "",
    tls_key: str = "",
    target_ca: str = "",
    log_level: str = "warning",
) -> None:
    """Serve until SIGTERM or SIGINT."""
    host, port = parse_listen(listen)
    if tls_cert or tls_key:
        check_tls(tls_cert, tls_key)
    state = load_state(state_file)
    verify = target_verify(target_ca)
    proxy = Proxy(state, verify=verify)
    public = _PublicServer(
        uvicorn.Config(
            proxy,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            ws="none",
            # The front is the edge: the client address is the peer's, not a header's.
            proxy_headers=False,
            server_header=False,
            date_header=False,
            ssl_certfile=tls_cert or None,
            ssl_keyfile=tls_key or None,
            timeout_keep_alive=30,
        )
    )
    socket_path = admin_socket(state_file)
    listener = bind_admin(socket_path)
    admin = _AdminServer(
        uvicorn.Config(
            Admin(proxy, state_file, verify=verify), log_level=log_level, lifespan="on", ws="none"
        )
    )
    scheme = "https" if tls_cert else "http"
    print(f"Packhorse front serving on {scheme}://{host}:{port}", file=sys.stderr)
    print(
        f"  forwarding to: {state.active or '(nothing yet: flip to an instance)'}", file=sys.stderr
    )
    print(f"  admin socket:  {socket_path}", file=sys.stderr)
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)

    async def both() -> None:
        admin_task = asyncio.create_task(admin.serve(sockets=[listener]))
        try:
            await public.serve()
        finally:
            admin.should_exit = True
            await admin_task

    try:
        asyncio.run(both())
    finally:
        socket_path.unlink(missing_ok=True)
    print("Packhorse front stopped.", file=sys.stderr)
