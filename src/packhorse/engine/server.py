"""Running the process: ``packhorse up``.

Today it serves the HTTP API; later issues add the scheduler, workers, timers and sensors
here, started and stopped with the server's lifespan.
"""

from __future__ import annotations

import signal
import sys

from packhorse import bootstrap
from packhorse.errors import ConfigurationError, InstanceError
from packhorse.settings import Settings


def parse_listen(listen: str) -> tuple[str, int]:
    host, separator, port = listen.rpartition(":")
    if not separator or not port.isdigit() or not host:
        raise ConfigurationError(f"listen address {listen!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def check_tls(cert: str, key: str) -> None:
    """Raise :class:`ConfigurationError` saying what is wrong unless ``cert`` and ``key`` are
    readable PEM files of one pair: checked before the server starts, not at the first
    connection."""
    import ssl

    if bool(cert) != bool(key):
        missing = "--tls-key" if cert else "--tls-cert"
        raise ConfigurationError(f"TLS needs a certificate and its key: {missing} is missing")
    for role, path in (("certificate", cert), ("key", key)):
        try:
            with open(path, "rb") as file:
                file.read(1)
        except FileNotFoundError:
            raise ConfigurationError(f"TLS {role} file {path} does not exist") from None
        except OSError as error:
            raise ConfigurationError(
                f"TLS {role} file {path} cannot be read: {error.strerror or error}"
            ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        if "KEY_VALUES_MISMATCH" in str(error) or "key values mismatch" in str(error):
            raise ConfigurationError(
                f"TLS key {key} does not match the certificate {cert}"
            ) from None
        raise ConfigurationError(
            f"TLS certificate {cert} or key {key} is not valid PEM: {error.reason or error}",
            hint="give a PEM certificate (chain) and its unencrypted PEM private key",
        ) from None


def serve(
    settings: Settings,
    *,
    listen: str,
    log_level: str = "info",
    workers: int = 4,
    roles: frozenset[str] = frozenset({"all"}),
) -> None:
    """Serve until SIGTERM or SIGINT; HTTPS when the settings name a TLS certificate.
    ``roles`` says which engine loops this process runs (see ``bootstrap.ROLES``)."""
    import uvicorn

    host, port = parse_listen(listen)
    tls = bool(settings.tls_cert or settings.tls_key)
    if tls:
        check_tls(settings.tls_cert, settings.tls_key)
    scheme = "https" if tls else "http"
    problem = bootstrap.readiness_problem(settings)
    if problem is not None:
        raise InstanceError(
            f"cannot start: {problem}",
            hint="run 'packhorse db upgrade' if the schema is behind",
        )
    app = bootstrap.create_app(settings, workers=workers, roles=roles)
    print(f"Packhorse {settings.instance_id} serving on {scheme}://{host}:{port}", file=sys.stderr)
    if "all" not in roles:
        print(f"  roles: {', '.join(sorted(roles))}", file=sys.stderr)
    print(f"  try: curl {scheme}://{host}:{port}/health", file=sys.stderr)
    print(f"       packhorse --home {settings.home} action list", file=sys.stderr)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # handler that was installed before it; a no-op there makes a clean stop exit 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    from packhorse.api.stream import Server

    Server(config).run()  # uvicorn's, ending open event streams when it stops
    print("Packhorse stopped.", file=sys.stderr)
