"""The event stream ``/stream/v1/stream`` over real HTTP on loopback, against the app
``packhorse up`` serves (engine running in its lifespan), read by an SSE parser: real
executions' events, their names, shapes and order, the filters, credentials, clients that go
away and a server that stops under open streams."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.api.credentials import headers_for, token_for
from tests.api.serving import serving
from tests.api.sse import Event, parse

from packhorse import bootstrap
from packhorse.engine.stream import Broadcaster
from packhorse.settings import Settings, load_settings

SIGNALS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "signals"
STREAM = "/stream/v1/stream"
FINAL = {"succeeded", "failed", "canceled", "timeout", "abandoned"}


@dataclass
class Served:
    url: str
    headers: dict[str, str]
    app: FastAPI
    settings: Settings

    @property
    def hub(self) -> Broadcaster:
        hub = self.app.state.stream
        assert isinstance(hub, Broadcaster)
        return hub


def _app(instance_home: Path) -> tuple[FastAPI, Settings]:
    shutil.copytree(SIGNALS, instance_home / "packs" / "signals")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["signals"]).ok
    return bootstrap.create_app(settings, workers=2), settings


@pytest.fixture
def served(instance_home: Path) -> Iterator[Served]:
    app, settings = _app(instance_home)
    with serving(app) as url:
        yield Served(url, headers_for(settings), app, settings)


def _run(served: Served, action: str, **parameters: Any) -> str:
    response = httpx.post(
        f"{served.url}/api/v1/executions",
        json={"action": action, "parameters": parameters},
        headers=served.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _opened(lines: Iterator[str]) -> Iterator[Event | None]:
    """The events of a stream, after the blank line it opens with (the server has
    subscribed it by then)."""
    events = parse(lines)
    assert next(events) is None
    return events


def _until_final(events: Iterator[Event | None], execution_id: str) -> list[Event]:
    """Events up to the execution update of ``execution_id`` with a final status."""
    seen: list[Event] = []
    for event in events:
        if event is None:
            continue
        seen.append(event)
        body = event.json()
        if (
            event.name == "st2.execution__update"
            and body.get("id") == execution_id
            and body.get("status") in FINAL
        ):
            return seen
    raise AssertionError(f"the stream ended before {execution_id} finished: {seen}")


def test_an_execution_streams_created_scheduled_running_succeeded_in_order(
    served: Served,
) -> None:
    with httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = _opened(response.iter_lines())
        execution_id = _run(served, "core.local", cmd="echo streamed")
        seen = [e for e in _until_final(events, execution_id) if _about(e, execution_id)]

    executions = [e for e in seen if e.name.startswith("st2.execution__")]
    assert [(e.name, e.json()["status"]) for e in executions] == [
        ("st2.execution__create", "requested"),
        ("st2.execution__update", "scheduled"),
        ("st2.execution__update", "running"),
        ("st2.execution__update", "succeeded"),
    ]
    liveactions = [e for e in seen if e.name.startswith("st2.liveaction__")]
    assert [(e.name, e.json()["status"]) for e in liveactions] == [
        ("st2.liveaction__create", "requested"),
        ("st2.liveaction__update", "scheduled"),
        ("st2.liveaction__update", "running"),
        ("st2.liveaction__update", "succeeded"),
    ]
    # Each event shows the execution as it was then, in the shape GET /executions/ID has.
    created, _, running, done = (e.json() for e in executions)
    assert created["action"]["ref"] == "core.local"
    assert created["runner"]["name"] == "local-shell-cmd"
    assert created["parameters"] == {"cmd": "echo streamed"}
    assert created["context"]["user"] == "admin"
    assert created["result"] is None and created["end_timestamp"] is None
    assert running["result"] is None and running["start_timestamp"].endswith("Z")
    assert [entry["status"] for entry in running["log"]] == ["requested", "scheduled", "running"]
    assert done["result"]["stdout"] == "streamed"
    assert done["end_timestamp"].endswith("Z")
    assert done["liveaction"]["id"] == execution_id
    final_liveaction = liveactions[-1].json()
    assert final_liveaction["action"] == "core.local"
    assert final_liveaction["result"]["stdout"] == "streamed"
    # Output is streamed only to those who ask for it (StackStorm's default list).
    assert not [e for e in seen if e.name == "st2.execution.output__create"]


def _about(event: Event, execution_id: str) -> bool:
    body = event.json()
    return execution_id in (body.get("id"), body.get("execution_id"))


def test_secret_parameters_are_masked_in_every_event(served: Served) -> None:
    with httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as response:
        events = _opened(response.iter_lines())
        execution_id = _run(served, "signals.probe", token="hunter2")
        seen = _until_final(events, execution_id)
    mine = [e for e in seen if e.name.startswith("st2.execution__") and _about(e, execution_id)]
    assert [e.json()["status"] for e in mine] == ["requested", "scheduled", "running", "succeeded"]
    assert all(e.json()["parameters"] == {"token": "********"} for e in mine)
    assert not [e for e in seen if "hunter2" in e.data]


def test_events_filter_output_and_end_event_as_st2_execution_tail_asks(served: Served) -> None:
    """``st2 execution tail`` asks for updates and output of one execution, ending with it."""
    execution_id = _run(served, "core.local", cmd="sleep 1; echo one; echo two >&2")
    query = {
        "events": "st2.execution__update,st2.execution.output__create",
        "end_execution_id": execution_id,
        "end_event": "st2.execution__update",
    }
    with httpx.stream(
        "GET", served.url + STREAM, params=query, headers=served.headers, timeout=20
    ) as response:
        # The server ends the stream itself after the final update: read to the end.
        seen = [e for e in parse(response.iter_lines()) if e is not None]

    assert {e.name for e in seen} <= {"st2.execution__update", "st2.execution.output__create"}
    assert seen[-1].name == "st2.execution__update"
    assert seen[-1].json()["id"] == execution_id and seen[-1].json()["status"] == "succeeded"
    output = [e.json() for e in seen if e.name == "st2.execution.output__create"]
    assert {o["execution_id"] for o in output} == {execution_id}
    assert "".join(o["data"] for o in output if o["output_type"] == "stdout") == "one\n"
    assert "".join(o["data"] for o in output if o["output_type"] == "stderr") == "two\n"
    assert all(
        o["action_ref"] == "core.local" and o["runner_ref"] == "local-shell-cmd" for o in output
    )
    assert all(o["timestamp"].endswith("Z") and len(o["id"]) == 24 for o in output)


def test_action_refs_and_execution_ids_filters(served: Served) -> None:
    query = {"events": "st2.execution__*", "action_refs": "signals.probe"}
    with httpx.stream(
        "GET", served.url + STREAM, params=query, headers=served.headers, timeout=20
    ) as response:
        events = _opened(response.iter_lines())
        other = _run(served, "core.noop")
        probe = _run(served, "signals.probe", token="x")
        seen = _until_final(events, probe)
    assert {e.json()["action"]["ref"] for e in seen} == {"signals.probe"}
    assert other not in {e.json()["id"] for e in seen}

    slow = _run(served, "core.local", cmd="sleep 1; echo slow")
    query = {
        "events": "st2.execution__update",
        "execution_ids": slow,
        "end_execution_id": slow,
        "end_event": "st2.execution__update",
    }
    with httpx.stream(
        "GET", served.url + STREAM, params=query, headers=served.headers, timeout=20
    ) as response:
        events = _opened(response.iter_lines())
        meanwhile = _run(served, "core.noop")
        seen = [e for e in events if e is not None]
    assert seen and {e.json()["id"] for e in seen} == {slow}
    assert meanwhile not in {e.json()["id"] for e in seen}
    assert seen[-1].json()["status"] == "succeeded"


def test_a_stream_without_credentials_is_refused_with_a_faultstring(served: Served) -> None:
    refused = httpx.get(served.url + STREAM, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["faultstring"].startswith("Unauthorized")
    wrong = httpx.get(served.url + STREAM, params={"x-auth-token": "nope"}, timeout=10)
    assert wrong.status_code == 401 and "faultstring" in wrong.json()


def test_a_viewer_token_in_the_query_opens_the_stream(served: Served) -> None:
    """``EventSource`` cannot set headers: the token comes as ``x-auth-token``."""
    token = token_for(served.settings, "watcher", "viewer")
    query = {"x-auth-token": token, "events": "st2.execution__create"}
    with httpx.stream("GET", served.url + STREAM, params=query, timeout=20) as response:
        assert response.status_code == 200
        events = _opened(response.iter_lines())
        execution_id = _run(served, "core.noop")
        event = next(e for e in events if e is not None)
    assert event.name == "st2.execution__create" and event.json()["id"] == execution_id


def test_a_client_that_goes_away_is_unsubscribed(served: Served) -> None:
    with httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as response:
        events = _opened(response.iter_lines())
        assert served.hub.subscribers == 1
        events.close()  # closes the connection
    deadline = time.monotonic() + 5
    while served.hub.subscribers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert served.hub.subscribers == 0
    # The stream still serves the next client.
    with httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as response:
        events = _opened(response.iter_lines())
        execution_id = _run(served, "core.noop")
        assert _until_final(events, execution_id)[-1].json()["status"] == "succeeded"


def test_the_server_stops_promptly_under_an_open_stream(instance_home: Path) -> None:
    app, settings = _app(instance_home)
    headers = headers_for(settings)
    server = serving(app)
    url = server.__enter__()
    with httpx.stream("GET", url + STREAM, headers=headers, timeout=20) as response:
        lines = response.iter_lines()
        events = _opened(lines)
        assert app.state.stream.subscribers == 1
        stopping = time.monotonic()
        server.__exit__(None, None, None)  # uvicorn waits for open responses to end
        took = time.monotonic() - stopping
        rest = list(events)  # the server ended the stream: this returns
    assert took < 5, f"stopping took {took:.1f}s"
    assert rest == [None]  # the comment saying why, and its blank line
    assert app.state.stream.subscribers == 0


def test_executions_another_process_runs_are_streamed(served: Served) -> None:
    """Polling sees writes this process was not told about (``packhorse run`` elsewhere)."""
    query = {"events": "st2.execution__update", "action_refs": "core.local"}
    with httpx.stream(
        "GET", served.url + STREAM, params=query, headers=served.headers, timeout=30
    ) as response:
        events = _opened(response.iter_lines())
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "packhorse",
                "--home",
                str(served.settings.home),
                "run",
                "core.local",
                "cmd=echo elsewhere",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        update = next(e for e in events if e is not None and e.json()["status"] in FINAL)
    assert update.json()["result"]["stdout"] == "elsewhere"


def test_a_silent_stream_sends_keep_alive_blank_lines(served: Served) -> None:
    served.app.state.stream_heartbeat = 0.2
    with httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as response:
        events = _opened(response.iter_lines())
        started = time.monotonic()
        assert [next(events), next(events)] == [None, None]
        assert time.monotonic() - started >= 0.3


def _output_events(response: httpx.Response) -> list[Event]:
    return [e for e in parse(response.iter_lines()) if e is not None]


def test_an_execution_output_stream_sends_stored_then_new_output_then_eof(served: Served) -> None:
    execution_id = _run(served, "core.local", cmd="echo early; sleep 1; echo late; echo err >&2")
    # Wait for the first chunk to be stored, so that it comes as stored output.
    deadline = time.monotonic() + 10
    while (
        "early"
        not in httpx.get(
            f"{served.url}/api/v1/executions/{execution_id}/output", headers=served.headers
        ).text
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    url = f"{served.url}/stream/v1/executions/{execution_id}/output"
    with httpx.stream("GET", url, headers=served.headers, timeout=20) as response:
        assert response.status_code == 200
        events = _output_events(response)  # the server ends it: read to the end

    assert events[-1] == Event("EOF", "''")
    chunks = [e.json() for e in events[:-1]]
    assert {e.name for e in events[:-1]} == {"st2.execution.output__create"}
    stdout = "".join(c["data"] for c in chunks if c["output_type"] == "stdout")
    assert stdout == "early\nlate\n"  # each chunk once, in order
    assert "".join(c["data"] for c in chunks if c["output_type"] == "stderr") == "err\n"
    assert all(c["execution_id"] == execution_id and c["timestamp"].endswith("Z") for c in chunks)
    assert len({c["id"] for c in chunks}) == len(chunks)

    # Once it has ended: what is stored, of the type asked for, and EOF at once.
    with httpx.stream(
        "GET", url, params={"output_type": "stderr"}, headers=served.headers, timeout=20
    ) as response:
        again = _output_events(response)
    assert [(e.name, e.json()["data"]) for e in again[:-1]] == [
        ("st2.execution.output__create", "err\n")
    ]
    assert again[-1].name == "EOF"


def test_an_execution_output_stream_of_last_and_of_an_unknown_execution(served: Served) -> None:
    execution_id = _run(served, "core.local", cmd="echo newest")
    url = f"{served.url}/stream/v1/executions/last/output"
    with httpx.stream("GET", url, headers=served.headers, timeout=20) as response:
        events = _output_events(response)
    assert [e.json()["execution_id"] for e in events[:-1]] == [execution_id]
    assert events[-1].name == "EOF"

    missing = httpx.get(
        f"{served.url}/stream/v1/executions/000000000000000000000000/output",
        headers=served.headers,
    )
    assert missing.status_code == 404
    assert missing.json() == {
        "faultstring": "Execution with id 000000000000000000000000 not found."
    }
    refused = httpx.get(f"{served.url}/stream/v1/executions/{execution_id}/output")
    assert refused.status_code == 401


def test_a_client_too_far_behind_is_dropped_and_told(served: Served) -> None:
    # One execution's creation gives four events in one read: more than a limit of one.
    served.hub._limit = 1  # the only way to make a loopback client fall behind
    with httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as response:
        lines = response.iter_lines()
        assert next(lines) == ""  # opened
        _run(served, "core.noop")
        rest = list(lines)  # the server ends the stream
    assert rest[0].startswith(": the client fell too far behind"), rest
    assert not [line for line in rest if line.startswith("event:")]
    assert served.hub.subscribers == 0


def test_the_openapi_document_marks_the_streams_as_streaming(served: Served) -> None:
    """StackStorm's mark, for fuzzers and generated clients: these answers do not end."""
    paths = httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    for path in (STREAM, "/stream/v1/executions/{execution_id}/output"):
        operation = paths[path]["get"]
        assert operation["x-is-streaming-endpoint"] is True
        assert "text/event-stream" in operation["responses"]["200"]["content"]


def test_trigger_instances_stream_when_asked_for(served: Served) -> None:
    """Packhorse's own event (StackStorm's stream has no trigger events): each stored trigger
    instance once, as the trigger instance API shows it; not in the default events."""
    query = {"events": "st2.trigger_instance__create,st2.execution__create"}
    with (
        httpx.stream(
            "GET", served.url + STREAM, params=query, headers=served.headers, timeout=20
        ) as asked,
        httpx.stream("GET", served.url + STREAM, headers=served.headers, timeout=20) as default,
    ):
        events = _opened(asked.iter_lines())
        default_events = _opened(default.iter_lines())
        posted = httpx.post(
            f"{served.url}/api/v1/webhooks/signals/in",
            json={"ok": "yes"},
            headers={**served.headers, "X-Source": "test"},
            timeout=10,
        )
        assert posted.status_code == 202, posted.text
        first = next(e for e in events if e is not None)
        assert first.name == "st2.trigger_instance__create"
        body = first.json()
        # Read after it was stored: the rules may have processed it already.
        assert body["trigger"].startswith("core.") and body["status"] in {"pending", "processed"}
        assert body["payload"]["body"] == {"ok": "yes"}
        # The rule's execution comes next; the instance is not announced a second time.
        following = next(e for e in events if e is not None)
        assert following.name == "st2.execution__create"
        assert following.json()["context"]["trigger_instance"]["id"] == body["id"]
        by_default = next(e for e in default_events if e is not None)
        assert by_default.name != "st2.trigger_instance__create"
