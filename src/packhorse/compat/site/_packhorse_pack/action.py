"""The python-script action wrapper: runs one action in the pack's interpreter.

The engine starts ``python -u -m _packhorse_pack.action --result-fd R --datastore-fd D`` (or
the warm host forks a child that calls :func:`serve`). The request (pack, entry point,
parameters, config, log level) arrives as one JSON document on stdin, never in argv; stdin is
then replaced by ``/dev/null``. The result goes back as one JSON document on fd ``R`` (so
nothing the action prints can forge it) and datastore calls travel over the socket ``D``.

Exit codes: 0 when ``run()`` returned, 1 when it raised (traceback on stderr), 220 when it
returned a 2-tuple whose first item is not a bool (StackStorm's code).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
import sysconfig
import traceback
import types
from collections.abc import Sequence
from typing import Any

from _packhorse_pack import channel
from _packhorse_pack.base import Action, get_action_class_instance
from _packhorse_pack.service import ActionService, ActionWrapperInfo

__all__ = ["INVALID_STATUS_EXIT_CODE", "main", "serve"]

INVALID_STATUS_EXIT_CODE = 220
INVALID_STATUS_ERROR_MESSAGE = """
If this is an existing action which returns a tuple with two items, it needs to be updated to
either:

1. Return a list instead of a tuple
2. Return a tuple where a first items is a status flag - (True, ('item1', 'item2'))

For more information, please see: https://docs.stackstorm.com/upgrade_notes.html#st2-v1-6
""".strip()

SITE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACTION_LIBRARY = os.path.join("actions", "lib")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a cold action process."""
    drop_start_directory()
    # Two integers from the runner; argparse would add to every cold start.
    args = list(sys.argv[1:] if argv is None else argv)
    options = dict(zip(args[::2], args[1::2]))
    return serve(int(options["--result-fd"]), int(options["--datastore-fd"]))


def drop_start_directory() -> None:
    # ``-m`` puts the current directory first on sys.path; pack code must not import from it.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]


def serve(result_fd: int, datastore_fd: int) -> int:
    """Read the request from stdin, run the action, write the result; returns the exit code."""
    for fd in (result_fd, datastore_fd):
        os.set_inheritable(fd, False)  # the action's own subprocesses must not hold them
    request = json.loads(read_stdin())
    channel.install(channel.DatastoreConnection(datastore_fd))
    arrange_path(request["pack_path"], request["entry_point"], request.get("common_libs", False))
    try:
        action = instantiate(request)
        output = action.run(**request.get("parameters", {}))
    except SystemExit as stop:
        return exit_code_of(stop)
    except Exception:
        traceback.print_exc()
        return 1
    status, result = split_output(output)
    if status is not None and not isinstance(status, bool):
        sys.stderr.write(
            "Status returned from the action run() method must either be "
            f"True or False, got: {status}\n"
        )
        sys.stderr.write(INVALID_STATUS_ERROR_MESSAGE)
        return INVALID_STATUS_EXIT_CODE
    write_all(result_fd, encode_output(status, result))
    os.close(result_fd)
    return 0


def read_stdin() -> bytes:
    chunks = []
    while chunk := os.read(0, 1 << 16):
        chunks.append(chunk)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return b"".join(chunks)


def arrange_path(
    pack_path: str,
    entry_point: str,
    common_libs: bool,
    libraries: Sequence[str] = (ACTION_LIBRARY,),
) -> None:
    """sys.path: venv site-packages, [pack lib/], ``libraries`` (folders of the pack: an
    action's ``actions/lib``), the rest, the entry point's folder, the site folder."""
    front = list(install_paths())
    if common_libs:
        front.append(os.path.join(pack_path, "lib"))
    front.extend(os.path.join(pack_path, library) for library in libraries)
    action_dir = os.path.dirname(os.path.realpath(entry_point))
    rest = [entry for entry in sys.path if entry not in (SITE_DIR, "")]
    ordered = unique([*front, *rest])
    if action_dir not in ordered:
        ordered.append(action_dir)
    sys.path[:] = [*ordered, SITE_DIR]
    # Python subprocesses of the action see the same libraries (real packages before shims).
    os.environ["PYTHONPATH"] = os.pathsep.join(unique([*front, SITE_DIR]))


@functools.cache
def install_paths() -> tuple[str, str]:
    """The interpreter's site-packages folders. Cached: asking sysconfig costs 0.2 ms a call
    (0.7 ms in a freshly forked child), and a warm host asks once for all its children."""
    return sysconfig.get_path("purelib"), sysconfig.get_path("platlib")


def unique(entries: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(entries))


def instantiate(request: dict[str, Any]) -> Any:
    action_cls = load_action_class(request["entry_point"])
    wrapper = ActionWrapperInfo(
        pack=request["pack"],
        class_name=action_cls.__name__,
        log_level=request.get("log_level", "DEBUG"),
        user_info=request.get("user_info"),
    )
    service = ActionService(action_wrapper=wrapper)
    return get_action_class_instance(
        action_cls, config=request.get("config") or {}, action_service=service
    )


def load_action_class(file_path: str) -> type[Any]:
    """The first class (by name) defined in the file that implements ``Action.run``."""
    try:
        module = load_module(file_path)
        # Sorted by name, as StackStorm's inspect.getmembers() (not imported: it is slow to load).
        for _name, candidate in sorted(vars(module).items()):
            if (
                isinstance(candidate, type)
                and candidate.__module__ == module.__name__
                and implements_action(candidate)
            ):
                Action.register(candidate)
                return candidate
        raise Exception(f'Found no classes in plugin file "{file_path}" matching requirements.')
    except Exception as error:
        message = (
            f'Failed to load action class from file "{file_path}" (action file most likely '
            f"doesn't exist or contains invalid syntax): {error}\n\n{traceback.format_exc()}"
        )
        try:
            rewritten = type(error)(message)
        except Exception:
            rewritten = RuntimeError(message)
        raise rewritten from None


def load_module(file_path: str) -> Any:
    name = os.path.basename(file_path).removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, file_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def implements_action(candidate: type[Any]) -> bool:
    for name in Action.__abstractmethods__:
        method = getattr(candidate, name, None)
        if not isinstance(method, types.FunctionType) or getattr(
            method, "__isabstractmethod__", False
        ):
            return False
    return True


def split_output(output: Any) -> tuple[Any, Any]:
    if isinstance(output, tuple) and len(output) == 2:
        return output[0], output[1]
    return None, output


def encode_output(status: bool | None, result: Any) -> bytes:
    try:
        return json.dumps({"status": status, "result": result}, default=json_default).encode()
    except (TypeError, ValueError, RecursionError):
        # Like StackStorm: a result that is not JSON-serialisable is returned as its str().
        return json.dumps({"status": status, "result": str(result)}).encode()


def json_default(value: Any) -> Any:
    """Types StackStorm's JSON encoder (orjson) writes natively."""
    # Imported here: most results never need them, and every cold start would pay for them.
    import dataclasses
    import datetime
    import enum
    import uuid

    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def exit_code_of(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    sys.stderr.write(f"{stop.code}\n")
    return 1


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
