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


def serve(settings: Settings, *, listen: str, log_level: str = "info", workers: int = 4) -> None:
    import uvicorn

    host, port = parse_listen(listen)
    problem = bootstrap.readiness_problem(settings)
    if problem is not None:
        raise InstanceError(
            f"cannot start: {problem}",
            hint="run 'packhorse db upgrade' if the schema is behind",
        )
    app = bootstrap.create_app(settings, workers=workers)
    print(f"Packhorse {settings.instance_id} serving on http://{host}:{port}", file=sys.stderr)
    print(f"  try: curl http://{host}:{port}/health", file=sys.stderr)
    print(f"       packhorse --home {settings.home} action list", file=sys.stderr)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # handler that was installed before it; a no-op there makes a clean stop exit 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    from packhorse.api.stream import Server

    Server(config).run()  # uvicorn's, ending open event streams when it stops
    print("Packhorse stopped.", file=sys.stderr)
