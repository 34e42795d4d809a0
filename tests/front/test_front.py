"""``packhorse front`` over real HTTP on loopback: two small upstream servers behind a real
front process, flipped with the real CLI."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from pathlib import Path

import httpx
import pytest

from packhorse.front.state import FrontState, load_state
from tests.api.serving import free_port
from tests.front.upstream import packhorse, running_front, upstream


def flip(state: Path, to: str, *extra: str, check: bool = True) -> dict:
    done = packhorse(
        "front", "flip", "--state", str(state), "--to", to, "--json", *extra, check=check
    )
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr}


def test_forwards_method_path_query_headers_and_body_to_the_active_target(tmp_path: Path):
    state = tmp_path / "front.json"
    with upstream("a") as (_, a), running_front(state) as front:
        flip(state, a)
        response = httpx.post(
            f"{front}/api/v1/webhooks/some/hook?x=1&y=%20two",
            content=b'{"n": 1}',
            headers={
                "Content-Type": "application/json",
                "X-Forwarded-For": "10.0.0.9",
                "Connection": "keep-alive, x-private",
                "X-Private": "one hop only",
                "St2-Api-Key": "secret",
            },
        )
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "a"
    seen = response.json()
    assert seen["name"] == "a"
    assert (seen["method"], seen["path"]) == ("POST", "/api/v1/webhooks/some/hook")
    assert seen["query"] == "x=1&y=%20two"
    assert seen["body"] == '{"n": 1}'
    headers = seen["headers"]
    assert headers["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == front.removeprefix("http://")
    assert headers["st2-api-key"] == "secret"
    assert headers["host"] == a.removeprefix("http://")
    assert "x-private" not in headers
    assert "connection" not in response.headers or response.headers["connection"] != "x-private"


def test_a_flip_under_continuous_load_fails_no_request(tmp_path: Path):
    """300 requests (a third of them slow, some event streams held open across the flip)
    sent continuously over a flip: none fails, the ones in flight finish on the old target,
    every one sent after the flip lands on the new one."""
    state = tmp_path / "front.json"
    with upstream("a") as (old, a), upstream("b") as (new, b), running_front(state) as front:
        flip(state, a)
        new.release.set()
        outcomes: list[tuple[float, float, str, int]] = []  # sent, answered, target, status
        flipped_at: list[float] = []

        async def one(client: httpx.AsyncClient, n: int) -> None:
            sent = time.monotonic()
            if n % 20 == 0:
                async with client.stream("GET", f"{front}/events") as response:
                    lines = [line async for line in response.aiter_lines()]
                assert "data: done" in lines, lines
                name = next(line for line in lines if line.startswith("data: "))[6:]
            else:
                path = "/slow?seconds=0.15" if n % 3 == 0 else f"/fast/{n}"
                response = await client.get(f"{front}{path}")
                name = response.json()["name"]
            outcomes.append((sent, time.monotonic(), name, response.status_code))

        async def flip_midway() -> None:
            await asyncio.sleep(0.8)
            flipped_at.append(time.monotonic())  # the switch happens between these two
            done = await asyncio.to_thread(flip, state, b)
            flipped_at.append(time.monotonic())
            assert (done["active"], done["previous"]) == (b, a)
            await asyncio.sleep(0.3)
            old.release.set()  # the streams opened before the flip end now, on the old target

        async def load() -> None:
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:
                tasks = [asyncio.create_task(flip_midway())]
                for n in range(300):
                    tasks.append(asyncio.create_task(one(client, n)))
                    await asyncio.sleep(0.007)
                await asyncio.gather(*tasks)

        asyncio.run(load())
    flip_started, flip_done = flipped_at
    assert len(outcomes) == 300
    assert [outcome for outcome in outcomes if outcome[3] != 200] == []
    after = {name for sent, _, name, _ in outcomes if sent > flip_done}
    assert after == {"b"}
    finished_before = {name for _, answered, name, _ in outcomes if answered < flip_started}
    assert finished_before == {"a"}
    held_across = [o for o in outcomes if o[0] < flip_started and o[1] > flip_done]
    assert held_across and {name for _, _, name, _ in held_across} == {"a"}
    assert old.requests > 50 and new.requests > 50


def test_server_sent_events_pass_through_unbuffered(tmp_path: Path):
    state = tmp_path / "front.json"
    with upstream("a") as (app, a), running_front(state) as front:
        flip(state, a)
        with httpx.stream("GET", f"{front}/events", timeout=10) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: hello"
            assert next(lines) == "data: a"
            # The upstream has not ended the stream: the event came through on its own.
            assert not app.release.is_set()
            app.release.set()
            rest = list(lines)
    assert response.headers["content-type"] == "text/event-stream"
    assert "data: done" in rest


def test_a_target_that_is_down_gets_a_502_faultstring_naming_it(tmp_path: Path):
    state = tmp_path / "front.json"
    nowhere = f"http://127.0.0.1:{free_port()}"
    with running_front(state) as front:
        empty = httpx.get(f"{front}/api/v1/actions")
        flip(state, nowhere, "--force")
        response = httpx.get(f"{front}/api/v1/actions")
    assert empty.status_code == 502
    assert "no active instance" in empty.json()["faultstring"]
    assert response.status_code == 502
    fault = response.json()["faultstring"]
    assert nowhere in fault and "down" in fault and "GET /api/v1/actions" in fault


def test_a_flip_to_a_target_that_is_not_ready_is_refused_and_changes_nothing(tmp_path: Path):
    state = tmp_path / "front.json"
    with upstream("a") as (_, a), upstream("b", ready=False) as (_, b):
        with running_front(state) as front:
            flip(state, a)
            refused = packhorse("front", "flip", "--state", str(state), "--to", b, check=False)
            assert httpx.get(f"{front}/x").json()["name"] == "a"
        offline = packhorse("front", "flip", "--state", str(state), "--to", b, check=False)
    for done in (refused, offline):
        assert done.returncode == 1
        assert f"not flipped: {b}/ready answered 503: not yet" in done.stderr
    assert load_state(state).active == a


def test_the_state_persists_across_a_restart_and_rollback_flips_back(tmp_path: Path):
    state = tmp_path / "front.json"
    with upstream("a") as (_, a), upstream("b") as (_, b):
        with running_front(state):
            flip(state, a)
            flip(state, b, "--by", "ops")
        saved = json.loads(state.read_text())
        assert saved | {"flipped_at": ""} == {
            "format": 1,
            "active": b,
            "previous": a,
            "flipped_at": "",
            "flipped_by": "ops",
            "via": "front",
        }
        with running_front(state) as front:
            assert httpx.get(f"{front}/x").json()["name"] == "b"
            status = json.loads(
                packhorse("front", "status", "--state", str(state), "--json").stdout
            )
            assert status["running"] is True
            assert status["health"] == {"active": "ready", "previous": "ready"}
            back = packhorse("front", "rollback", "--state", str(state), "--json")
            assert (json.loads(back.stdout)["active"], httpx.get(f"{front}/x").json()["name"]) == (
                a,
                "a",
            )
        status = packhorse("front", "status", "--state", str(state)).stdout
    assert "not running" in status and f"active:   {a}  [ready]" in status
    assert load_state(state) == FrontState(
        active=a,
        previous=b,
        flipped_at=load_state(state).flipped_at,
        flipped_by=load_state(state).flipped_by,
        via="front",
    )


def test_a_flip_without_a_running_front_is_recorded_for_its_start(tmp_path: Path):
    state = tmp_path / "front.json"
    with upstream("a") as (_, a):
        done = packhorse("front", "flip", "--state", str(state), "--to", a + "/")
        assert "No front is running" in done.stdout
        assert load_state(state).via == "file"
        with running_front(state) as front:
            assert httpx.get(f"{front}/x").json()["name"] == "a"


HOOK = (
    f"{sys.executable} -c "
    "\"import sys; open(sys.argv[2], 'w').write(sys.argv[1]); print('switched to', sys.argv[1]); "
    'sys.exit(int(sys.argv[3]))" {address} '
)


def test_hook_mode_runs_the_command_with_the_new_address(tmp_path: Path):
    state = tmp_path / "front.json"
    record = tmp_path / "dns.txt"
    with upstream("a") as (_, a):
        done = packhorse(
            "front", "flip", "--state", str(state), "--to", a, "--hook",
            "--hook-command", HOOK + f"{record} 0",
        )  # fmt: skip
    assert record.read_text() == a
    assert f"  | switched to {a}" in done.stdout
    assert "hook exit status: 0" in done.stdout
    assert (load_state(state).active, load_state(state).via) == (a, "hook")


def test_a_failing_hook_fails_the_flip_and_leaves_the_state(tmp_path: Path):
    state = tmp_path / "front.json"
    with upstream("a") as (_, a):
        done = packhorse(
            "front", "flip", "--state", str(state), "--to", a, "--hook", "--json",
            "--hook-command", HOOK + f"{tmp_path / 'dns.txt'} 3", check=False,
        )  # fmt: skip
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert (result["flipped"], result["exit_status"]) == (False, 3)
    assert result["output"] == f"switched to {a}\n"
    assert "flip failed: the hook exited with status 3; state unchanged" in done.stderr
    assert not state.exists() or load_state(state).active == ""


def test_hook_mode_reads_the_hook_from_the_instance_settings(tmp_path: Path, instance_home: Path):
    state = tmp_path / "front.json"
    record = tmp_path / "dns.txt"
    settings = instance_home / "packhorse.toml"
    hook = HOOK + f"{record} 0"
    settings.write_text(settings.read_text() + f"\n[front]\nhook = {json.dumps(hook)}\n")
    with upstream("a") as (_, a):
        packhorse("--home", str(instance_home), "front", "flip", "--state", str(state),
                  "--to", a, "--hook")  # fmt: skip
    assert record.read_text() == a


@pytest.mark.parametrize("url", ["ftp://host", "http://", "http://h:1/?q=1"])
def test_a_target_that_is_no_base_url_is_refused(tmp_path: Path, url: str):
    done = packhorse("front", "flip", "--state", str(tmp_path / "f.json"), "--to", url,
                     check=False)  # fmt: skip
    assert done.returncode == 2 and "error: target" in done.stderr


def test_the_front_serves_https_with_a_certificate(tmp_path: Path):
    from tests.test_up_tls import self_signed

    cert, key = self_signed(tmp_path)
    state = tmp_path / "front.json"
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    with upstream("a") as (_, a), running_front(state, *tls, scheme="https") as front:
        flip(state, a)
        response = httpx.get(f"{front}/x", verify=ssl.create_default_context(cafile=cert))
    assert response.json()["name"] == "a"
    assert response.json()["headers"]["x-forwarded-proto"] == "https"


def test_the_admin_socket_is_for_its_owner_only_and_a_stream_does_not_hold_up_a_stop(
    tmp_path: Path,
):
    state = tmp_path / "front.json"
    with upstream("a") as (_, a):
        with running_front(state) as front:
            flip(state, a)
            socket_path = tmp_path / "front.json.sock"
            assert socket_path.stat().st_mode & 0o777 == 0o600
            client = httpx.Client(timeout=10)
            held = client.send(client.build_request("GET", f"{front}/events"), stream=True)
            assert next(held.iter_lines()) == "event: hello"
            started = time.monotonic()
        # running_front stopped the front (SIGTERM, exit 0) with the stream still open
        assert time.monotonic() - started < 5
        assert not socket_path.exists()
        held.close()
        client.close()


def test_cutover_flips_and_rolls_back_through_the_library(tmp_path: Path):
    from packhorse.errors import FlipRefused
    from packhorse.front.control import flip_front, rollback_front

    state = tmp_path / "front.json"
    with pytest.raises(FlipRefused, match="nothing to roll back to"):
        rollback_front(state, by="cutover")
    with upstream("a") as (_, a), upstream("b") as (_, b), running_front(state) as front:
        first = flip_front(state, a, by="cutover")
        with pytest.raises(FlipRefused, match="nothing to roll back to"):
            rollback_front(state, by="cutover")  # the running front has no previous target
        second = flip_front(state, b, by="cutover")
        assert httpx.get(f"{front}/x").json()["name"] == "b"
        back = rollback_front(state, by="cutover")
        assert httpx.get(f"{front}/x").json()["name"] == "a"
    assert (first.state.via, first.flip_ms is not None, first.ready_ms is not None) == (
        "front",
        True,
        True,
    )
    assert (second.state.active, second.state.previous) == (b, a)
    assert (back.state.active, back.state.previous, back.state.flipped_by) == (a, b, "cutover")


def test_an_https_instance_is_verified_against_the_target_ca(tmp_path: Path):
    from tests.test_up_tls import self_signed

    cert, key = self_signed(tmp_path, "instance")
    trusting, untrusting = tmp_path / "trusting.json", tmp_path / "untrusting.json"
    with upstream("a", tls=(cert, key)) as (_, a):
        with running_front(trusting, "--target-ca", str(cert)) as front:
            flip(trusting, a)  # the front checks /ready over verified https
            assert httpx.get(f"{front}/x").json()["name"] == "a"
        status = packhorse("front", "status", "--state", str(trusting), "--json",
                           "--target-ca", str(cert))  # fmt: skip
        assert json.loads(status.stdout)["health"]["active"] == "ready"
        with running_front(untrusting) as front:
            refused = flip(untrusting, a, check=False)
            flip(untrusting, a, "--force")
            response = httpx.get(f"{front}/x")
    assert "not flipped" in refused["error"] and "CERTIFICATE_VERIFY_FAILED" in refused["error"]
    assert response.status_code == 502
    assert "CERTIFICATE_VERIFY_FAILED" in response.json()["faultstring"]


def test_large_and_chunked_request_bodies_arrive_whole(tmp_path: Path):
    state = tmp_path / "front.json"
    big = "x" * 2_000_000

    def chunks():
        for n in range(100):
            yield f"{n:03d}".encode() * 1000

    with upstream("a") as (_, a), running_front(state) as front:
        flip(state, a)
        sized = httpx.put(f"{front}/big", content=big.encode(), timeout=30).json()
        chunked = httpx.post(f"{front}/chunked", content=chunks(), timeout=30).json()
    assert (sized["method"], len(sized["body"]), sized["headers"]["content-length"]) == (
        "PUT",
        2_000_000,
        "2000000",
    )
    assert chunked["body"] == b"".join(chunks()).decode()
    assert chunked["headers"]["transfer-encoding"] == "chunked"


def test_a_second_front_on_the_same_state_or_a_socket_path_too_long_is_refused(tmp_path: Path):
    state = tmp_path / "front.json"
    with running_front(state):
        second = packhorse("front", "--listen", f"127.0.0.1:{free_port()}",
                           "--state", str(state), check=False)  # fmt: skip
    deep = tmp_path / ("d" * 110) / "front.json"
    deep.parent.mkdir()
    too_long = packhorse("front", "--listen", f"127.0.0.1:{free_port()}",
                         "--state", str(deep), check=False)  # fmt: skip
    assert second.returncode == 2 and "a front is already running" in second.stderr
    assert too_long.returncode == 2 and "shorter path" in too_long.stderr
