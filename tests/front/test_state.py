"""The front's state file and the pure parts of the proxy and the hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from packhorse.errors import ConfigurationError
from packhorse.front.hook import hook_argv, run_hook
from packhorse.front.proxy import forwarded_headers
from packhorse.front.state import FrontState, flipped, load_state, save_state, target_url


def test_a_flip_makes_the_active_target_the_previous_one_and_round_trips(tmp_path: Path):
    path = tmp_path / "front.json"
    assert load_state(path) == FrontState()
    state = FrontState()
    for n, to in enumerate(["http://a:1", "http://b:2", "http://a:1"]):
        before = state
        state = flipped(state, to, by="ops", at=f"t{n}", via="front")
        assert (state.active, state.previous) == (to, before.active)
        save_state(path, state)
        assert load_state(path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["front.json"]  # no temporary file left


def test_a_newer_or_damaged_state_file_is_refused_saying_why(tmp_path: Path):
    path = tmp_path / "front.json"
    for text, message in [
        ('{"format": 2}', "newer than this Packhorse reads"),
        ("[]", "not a front state file"),
        ("{", "cannot read the front's state"),
        ('{"format": 1, "active": 3}', "active must be strings"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigurationError, match=message):
            load_state(path)


def test_an_older_state_file_without_newer_fields_still_reads(tmp_path: Path):
    path = tmp_path / "front.json"
    path.write_text(json.dumps({"format": 1, "active": "http://a:1"}))
    assert load_state(path) == FrontState(active="http://a:1")


def test_targets_are_base_urls():
    assert target_url(" https://h:9101/prefix/ ") == "https://h:9101/prefix"
    with pytest.raises(ConfigurationError):
        target_url("h:9101")


def test_forwarded_headers_drop_hop_by_hop_and_extend_x_forwarded_for():
    scope = {
        "scheme": "https",
        "client": ("192.0.2.7", 5000),
        "headers": [
            (b"host", b"front.example"),
            (b"connection", b"close, x-secret"),
            (b"x-secret", b"1"),
            (b"te", b"trailers"),
            (b"transfer-encoding", b"chunked"),
            (b"x-forwarded-proto", b"http"),
            (b"x-forwarded-host", b"spoofed.example"),
            (b"x-forwarded-for", b"198.51.100.1"),
            (b"content-type", b"application/json"),
        ],
    }
    assert forwarded_headers(scope) == [
        (b"content-type", b"application/json"),
        (b"x-forwarded-for", b"198.51.100.1, 192.0.2.7"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"front.example"),
    ]


def test_the_hook_substitutes_the_address_word_by_word():
    assert hook_argv("lb-switch --to '{address}' --pool web", "http://b:1; rm -rf /") == (
        "lb-switch",
        "--to",
        "http://b:1; rm -rf /",
        "--pool",
        "web",
    )
    for wrong in ["", "lb-switch --to", "lb 'unclosed {address}"]:
        with pytest.raises(ConfigurationError):
            hook_argv(wrong, "http://b:1")
    missing = run_hook("no-such-command-packhorse {address}", "http://b:1")
    assert missing.exit_status == 127 and "command not found" in missing.output


def test_the_admin_interface_refuses_what_it_cannot_do(tmp_path: Path):
    import asyncio

    import httpx

    from packhorse.front.admin import Admin
    from packhorse.front.proxy import Proxy

    async def calls() -> list[tuple[int, dict]]:
        admin = Admin(Proxy(FrontState()), tmp_path / "front.json", clock=lambda: "T")
        transport = httpx.ASGITransport(app=admin)
        async with httpx.AsyncClient(transport=transport, base_url="http://front") as client:
            answers = [
                await client.post("/flip", content=b"not json"),
                await client.post("/flip", json={"to": "ftp://x"}),
                await client.get("/flip"),
                await client.post("/rollback", json={}),
                await client.post("/flip", json={"to": "http://127.0.0.1:9", "force": True}),
                await client.get("/state"),
            ]
        return [(answer.status_code, answer.json()) for answer in answers]

    answers = asyncio.run(calls())
    assert [status for status, _ in answers] == [400, 400, 404, 409, 200, 200]
    assert "nothing to roll back to" in answers[3][1]["faultstring"]
    assert answers[4][1]["ready_ms"] < 1 and answers[4][1]["flipped_at"] == "T"
    assert answers[5][1]["active"] == "http://127.0.0.1:9"
    assert load_state(tmp_path / "front.json").active == "http://127.0.0.1:9"
