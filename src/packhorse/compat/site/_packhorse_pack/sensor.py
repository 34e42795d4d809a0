"""The sensor wrapper: one sensor class in the pack's interpreter, in a process of its own.

The engine starts ``python -u -m _packhorse_pack.sensor --control-fd C --datastore-fd D``. The
request (pack, class, entry point, config, poll interval, triggers, log level) arrives as one
JSON document on stdin, never in argv. Datastore calls travel over the socket ``D``, exactly as
an action's (:mod:`_packhorse_pack.channel`). The socket ``C`` is the control channel: one JSON
line per message, ``{"op": ..., "args": {...}}``, in both directions, never answered:

* engine to sensor: ``add_trigger``, ``update_trigger``, ``remove_trigger`` (``{"trigger":
  {id, uid, ref, name, pack, type, parameters}}``) and ``stop``;
* sensor to engine: ``ready`` (set up, first triggers added), ``dispatch`` (``{"trigger",
  "payload", "trace_tag"}``), ``log`` (``{"level", "logger", "message"}``: every log record of
  the process) and ``failed`` (``{"error"}``: why it is about to exit 1).

Lifecycle, as StackStorm's ``sensor_wrapper.py``: load the class named in the metadata from the
entry point, construct it with a ``sensor_service`` and the pack config (and ``poll_interval``
for a polling sensor), ``setup()``, ``add_trigger()`` for each trigger of the request, then
``run()`` in the main thread while a reader thread delivers trigger changes. A ``stop``
message, SIGTERM, the engine closing the channel or dying (PR_SET_PDEATHSIG) makes the main
thread leave ``run()``; ``cleanup()`` is called, then the process exits 0. It exits 1 when
loading the class, ``setup()`` or ``run()`` raised, and 0 when ``run()`` returned.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import traceback
import types
from collections.abc import Iterator, Sequence
from typing import Any

from _packhorse_pack import channel
from _packhorse_pack.action import (
    arrange_path,
    drop_start_directory,
    exit_code_of,
    json_default,
    load_module,
    read_stdin,
)
from _packhorse_pack.base import level_number
from _packhorse_pack.datastore import SensorDatastoreService
from _packhorse_pack.host import die_with_parent
from _packhorse_pack.service import DatastoreMethods

__all__ = ["SensorService", "SensorWrapper", "main"]

SENSOR_METHODS = ("setup", "run", "cleanup", "add_trigger", "update_trigger", "remove_trigger")
TRIGGER_OPS = ("add_trigger", "update_trigger", "remove_trigger")
FAILURE_EXIT_CODE = 1


class Stop(BaseException):
    """Raised in the main thread (from the SIGTERM handler) to leave ``run()``.

    A BaseException, so that a sensor's ``except Exception`` does not swallow it."""


class Control:
    """The sensor's end of the control channel: thread-safe writes, one reader."""

    def __init__(self, fd: int) -> None:
        self._socket = socket.socket(fileno=fd)
        self._socket.setblocking(True)
        self._lock = threading.Lock()
        self.broken = False

    def send(self, op: str, **args: Any) -> bool:
        """Write one message; False when the engine is gone (nothing is raised)."""
        line = json.dumps({"op": op, "args": args}, default=lenient_json).encode() + b"\n"
        with self._lock:
            if self.broken:
                return False
            try:
                self._socket.sendall(line)
            except OSError:
                self.broken = True
                return False
        return True

    def messages(self) -> Iterator[dict[str, Any]]:
        """Messages from the engine until it closes its end."""
        try:
            for line in self._socket.makefile("rb"):
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    yield message
        except OSError:
            return


def lenient_json(value: Any) -> Any:
    """What StackStorm's encoder writes natively, else the value's ``str()``."""
    try:
        return json_default(value)
    except TypeError:
        return str(value)


class ChannelHandler(logging.Handler):
    """Sends every log record of the process to the engine, which logs it under the sensor's
    ref (stderr when the channel is gone)."""

    def __init__(self, control: Control) -> None:
        super().__init__()
        self._control = control
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if not self._control.send("log", level=record.levelno, logger=record.name, message=message):
            # When the engine is gone, nobody reads the log any more.
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"{record.levelname} {record.name}: {message}\n")


def configure_logging(control: Control, log_level: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(ChannelHandler(control))
    root.setLevel(level_number(log_level))


def trace_tag_of(trace_context: Any) -> str | None:
    """The tag of a StackStorm ``TraceContext`` (an object or a dict), if any."""
    if trace_context is None:
        return None
    if isinstance(trace_context, dict):
        tag = trace_context.get("trace_tag")
    else:
        tag = getattr(trace_context, "trace_tag", None)
    return None if tag is None else str(tag)


class SensorService(DatastoreMethods):
    """``self.sensor_service`` of a sensor: dispatch, loggers, the datastore."""

    def __init__(self, sensor_wrapper: SensorWrapper) -> None:
        self._sensor_wrapper = sensor_wrapper
        self._logger = sensor_wrapper._logger
        self._datastore_service = SensorDatastoreService(
            logger=self._logger,
            pack_name=sensor_wrapper._pack,
            class_name=sensor_wrapper._class_name,
            api_username="sensor_service",
            user_info=sensor_wrapper._user_info,
        )

    @property
    def datastore_service(self) -> SensorDatastoreService:
        return self._datastore_service

    def get_logger(self, name: str) -> logging.Logger:
        """A logger under the wrapper's (``SensorWrapper.<pack>.<Class>.<name>``)."""
        logger = logging.getLogger(f"{self._logger.name}.{name}")
        logger.propagate = True
        return logger

    def dispatch(self, trigger: Any, payload: Any = None, trace_tag: str | None = None) -> None:
        """Emit ``trigger`` (a ref or a trigger dict) with ``payload``. The engine checks the
        payload against the trigger type's schema and drops it, with a warning in its log,
        when it does not match (StackStorm's default); nothing is raised here."""
        self._sensor_wrapper.dispatch(trigger, payload, trace_tag)

    def dispatch_with_context(
        self, trigger: Any, payload: Any = None, trace_context: Any = None
    ) -> None:
        self._sensor_wrapper.dispatch(trigger, payload, trace_tag_of(trace_context))


class SensorWrapper:
    """Runs one sensor instance; see the module docstring for the lifecycle."""

    def __init__(self, request: dict[str, Any], control: Control) -> None:
        self._pack = str(request["pack"])
        self._class_name = str(request["class_name"])
        self._file_path = str(request["entry_point"])
        self._poll_interval = request.get("poll_interval")
        self._config = request.get("config") or {}
        self._user_info = request.get("user_info")
        self._control = control
        self._logger = logging.getLogger(f"SensorWrapper.{self._pack}.{self._class_name}")
        self._sensor: Any = None
        self._triggers: dict[str, dict[str, Any]] = {}
        self._triggers_lock = threading.Lock()
        self._stopping = threading.Event()

    def dispatch(self, trigger: Any, payload: Any, trace_tag: str | None) -> None:
        if not isinstance(trigger, (str, dict)):
            trigger = str(trigger)
        self._control.send("dispatch", trigger=trigger, payload=payload, trace_tag=trace_tag)

    def serve(self, triggers: Sequence[dict[str, Any]]) -> int:
        """Run the sensor until it stops; returns the exit code."""
        signal.signal(signal.SIGTERM, self._on_terminate)
        relay_signals()
        try:
            try:
                return self._run(triggers)
            finally:
                self._stopping.set()  # from here on SIGTERM is ignored: cleanup must finish
                self._cleanup()
        except Stop:  # a stop that came while the failure above was being reported
            return 0

    def _run(self, triggers: Sequence[dict[str, Any]]) -> int:
        stage = "failed to load"
        try:
            self._sensor = self._instantiate()
            stage = "setup method raised an exception"
            self._logger.info("Running sensor initialization code")
            self._sensor.setup()
            for trigger in triggers:
                self._deliver("add_trigger", trigger)
            threading.Thread(target=self._read, name="sensor-control", daemon=True).start()
            self._control.send("ready")
            mode = (
                f"active mode (poll interval={self._poll_interval}s)"
                if self._poll_interval
                else "passive mode"
            )
            self._logger.info("Running sensor in %s", mode)
            stage = "run method raised an exception"
            self._sensor.run()
        except Stop:
            return 0
        except SystemExit as exit_:
            code = exit_code_of(exit_)
            if code:
                self._report(f'Sensor "{self._class_name}" exited with code {code}.')
            return code
        except BaseException as error:
            self._report(
                f'Sensor "{self._class_name}" {stage}: {error}\n\n{traceback.format_exc()}'
            )
            return FAILURE_EXIT_CODE
        self._logger.info('Sensor "%s" run() returned', self._class_name)
        return 0

    def _report(self, error: str) -> None:
        if not self._control.send("failed", error=error):
            sys.stderr.write(error + "\n")

    def _cleanup(self) -> None:
        if self._sensor is None:
            return
        self._logger.info("Invoking cleanup on sensor")
        try:
            self._sensor.cleanup()
        except Exception:
            self._logger.exception('Sensor "%s" cleanup() raised', self._class_name)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _on_terminate(self, signum: int, frame: types.FrameType | None) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        raise Stop

    def _request_stop(self) -> None:
        interrupt_main_thread()

    def _read(self) -> None:
        for message in self._control.messages():
            op = message.get("op")
            args = message.get("args") or {}
            if op == "stop":
                break
            trigger = args.get("trigger") if isinstance(args, dict) else None
            if op in TRIGGER_OPS and isinstance(trigger, dict):
                self._deliver(str(op), trigger)
            else:
                self._logger.warning("Ignoring an unknown control message: %r", op)
        self._request_stop()

    def _deliver(self, op: str, trigger: dict[str, Any]) -> None:
        """Call the sensor's callback for ``op``; a callback that raises is logged, as
        StackStorm's trigger watcher does, and the sensor keeps running."""
        key = str(trigger.get("id") or trigger.get("ref"))
        with self._triggers_lock:
            if op == "remove_trigger":
                if self._triggers.pop(key, None) is None:
                    return
            else:
                self._triggers[key] = trigger
        self._logger.debug('Calling sensor "%s" method (trigger.type=%s)', op, trigger.get("type"))
        try:
            getattr(self._sensor, op)(trigger=dict(trigger))
        except Exception:
            self._logger.exception('Sensor "%s" %s() raised', self._class_name, op)

    def _instantiate(self) -> Any:
        sensor_class = load_sensor_class(self._file_path, self._class_name)
        kwargs: dict[str, Any] = {"sensor_service": SensorService(self), "config": self._config}
        if self._poll_interval and is_polling_sensor(sensor_class):
            kwargs["poll_interval"] = self._poll_interval
        try:
            return sensor_class(**kwargs)
        except Exception as error:
            raise RuntimeError(
                f'Failed to instantiate "{self._class_name}" sensor class: {error}'
            ) from error


def interrupt_main_thread() -> None:
    """SIGTERM to the main thread itself: its handler raises :class:`Stop` there, and a
    blocking call (``Event.wait()``, ``sleep()``) is interrupted, which a SIGTERM that the
    kernel gave another thread would not do."""
    ident = threading.main_thread().ident
    if ident is not None:
        signal.pthread_kill(ident, signal.SIGTERM)


def relay_signals() -> None:
    """Make a SIGTERM from outside (the engine, PR_SET_PDEATHSIG, ``kill``) interrupt the main
    thread whichever thread the kernel delivered it to: Python notes the signal in the wakeup
    pipe, and a relay thread sends it on to the main thread once. Call from the main thread."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def relay() -> None:
        while True:
            try:
                noted = os.read(read_end, 64)
            except OSError:
                return
            if not noted:
                return
            if int(signal.SIGTERM) in noted:
                interrupt_main_thread()
                return  # once: the main thread ignores later ones while it stops

    threading.Thread(target=relay, name="sensor-signals", daemon=True).start()


def is_polling_sensor(sensor_class: type[Any]) -> bool:
    """By name, so that a sensor built on a real ``st2reactor`` in the venv counts too."""
    return any(base.__name__ == "PollingSensor" for base in sensor_class.__mro__)


def load_sensor_class(file_path: str, class_name: str) -> type[Any]:
    """The class ``class_name`` of the file, which must implement every sensor method."""
    try:
        module = load_module(file_path)
        sensor_class = getattr(module, class_name, None)
        if not isinstance(sensor_class, type):
            raise Exception(f'Plugin file "{file_path}" doesn\'t expose class named "{class_name}"')
        for name in SENSOR_METHODS:
            method = getattr(sensor_class, name, None)
            if not isinstance(method, types.FunctionType) or getattr(
                method, "__isabstractmethod__", False
            ):
                raise Exception(
                    f'Class "{class_name}" doesn\'t implement required "{name}" method from '
                    "the base class"
                )
        return sensor_class
    except Exception as error:
        message = (
            f'Failed to load sensor class from file "{file_path}" (sensor file most likely '
            f"doesn't exist or contains invalid syntax): {error}"
        )
        raise RuntimeError(message) from error


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a sensor process."""
    drop_start_directory()
    args = list(sys.argv[1:] if argv is None else argv)
    options = dict(zip(args[::2], args[1::2]))
    control_fd, datastore_fd = int(options["--control-fd"]), int(options["--datastore-fd"])
    die_with_parent(signal.SIGTERM)
    for fd in (control_fd, datastore_fd):
        os.set_inheritable(fd, False)  # the sensor's own subprocesses must not hold them
    request = json.loads(read_stdin())
    channel.install(channel.DatastoreConnection(datastore_fd))
    control = Control(control_fd)
    configure_logging(control, str(request.get("log_level") or "INFO"))
    arrange_path(
        str(request["pack_path"]),
        str(request["entry_point"]),
        bool(request.get("common_libs", False)),
        libraries=(),
    )
    return SensorWrapper(request, control).serve(list(request.get("triggers") or []))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit(): threads a sensor left behind must not keep a stopped sensor alive.
    os._exit(code)
