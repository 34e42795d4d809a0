"""``packhorse up`` under cProfile, counting the database statements and commits it makes:
``python bench/_profiled_up.py OUT.prof packhorse-arguments...`` (used by cpu_scale_out.py).

Profiling (CPU time, main thread only) and counting start on SIGUSR1; the statistics go to
OUT.prof and the counts to OUT.prof.json when the process exits."""

from __future__ import annotations

import atexit
import collections
import cProfile
import json
import signal
import sys
import threading
import time

import psycopg

out = sys.argv[1]
sys.argv = ["packhorse", *sys.argv[2:]]
counts: collections.Counter[str] = collections.Counter()
_execute, _executemany, _commit = psycopg.Cursor.execute, psycopg.Cursor.executemany, None


def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
    counts[" ".join(str(query).split())[:90]] += 1
    return _execute(self, query, params, **kwargs)


def executemany(self, query, params_seq, **kwargs):  # type: ignore[no-untyped-def]
    counts["many: " + " ".join(str(query).split())[:84]] += 1
    return _executemany(self, query, params_seq, **kwargs)


_commit = psycopg.Connection.commit


def commit(self):  # type: ignore[no-untyped-def]
    counts["COMMIT"] += 1
    return _commit(self)


psycopg.Cursor.execute = execute  # type: ignore[method-assign]
psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
psycopg.Connection.commit = commit  # type: ignore[method-assign]
profile = cProfile.Profile(time.thread_time)  # CPU, not wall, time (main thread)


def dump() -> None:
    profile.disable()
    profile.dump_stats(out)
    with open(out + ".json", "w") as file:
        json.dump(dict(counts), file)
    with open(out + ".threads.json", "w") as file:  # which OS thread is which
        json.dump(names, file)


names: dict[str, str] = {}


def start(*_: object) -> None:
    names.update({str(t.native_id): t.name for t in threading.enumerate()})
    counts.clear()
    profile.enable()


atexit.register(dump)
signal.signal(signal.SIGUSR1, start)  # the harness starts the profile when the work begins
from packhorse.cli.main import main  # noqa: E402

main()
