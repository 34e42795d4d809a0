"""``packhorse front`` over real HTTP on loopback: two small upstream servers behind a real
front process, flipped with the real CLI."""

from __future__ import annotations

import asyncio
import json
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
    assert flipped_at, "the flip did not happen"
    flip_time = flipped_at[0]
    assert len(outcomes) == 300
    assert [outcome for outcome in outcomes if outcome[3] != 200] == []
    after = {name for sent, _, name, _ in outcomes if sent > flip_time}
    assert after == {"b"}
    finished_before = {name for _, answered, name, _ in outcomes if answered < flip_time - 0.2}
    assert finished_before == {"a"}
    held_across = [o for o in outcomes if o[0] < flip_time - 0.3 and o[1] > flip_time]
    assert held_across and {name for _, _, name, _ in held_across} == {"a"}
    assert old.requests > 50 and new.requests > 50
