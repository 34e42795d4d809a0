"""Action aliases over StackStorm's v1 API, against the served app (engine running):
``/api/v1/actionalias`` (list, get, match) and ``/api/v1/aliasexecution`` (execute, match and
execute), with the ``talk`` fixture pack's aliases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api.serving import serving
from tests.api.test_reactor_api import Api, as_user, wait

from packhorse import bootstrap
from packhorse.settings import load_settings

TALK = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "talk"


@pytest.fixture
def client(instance_home: Path) -> Iterator[Api]:
    from tests.api.credentials import headers_for

    shutil.copytree(TALK, instance_home / "packs" / "talk")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["talk"]).ok
    app = bootstrap.create_app(settings, workers=2)
    with serving(app) as url, Api(base_url=url, headers=headers_for(settings), timeout=20) as api:
        api.runtime = app.state.runtime
        api.settings = settings
        yield api


def finished(client: Api, execution_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        document: dict[str, Any] = client.get(f"/api/v1/executions/{execution_id}").json()
        return document if document["status"] in ("succeeded", "failed") else None

    found: dict[str, Any] = wait(done)
    return found


# -- list and get -----------------------------------------------------------------------------


def test_list_aliases_with_filters_and_paging(client: Api) -> None:
    listed = client.get("/api/v1/actionalias", params={"pack": "talk"})
    assert listed.status_code == 200, listed.text
    refs = [alias["ref"] for alias in listed.json()]
    assert refs == ["talk.close", "talk.deploy", "talk.say", "talk.say_again", "talk.shout"]
    assert listed.headers["X-Total-Count"] == "5"
    everything = [a["ref"] for a in client.get("/api/v1/actionalias").json()]
    assert "examples.greet" in everything and "talk.say" in everything
    page = client.get("/api/v1/actionalias", params={"pack": "talk", "limit": 2, "offset": 2})
    assert [a["ref"] for a in page.json()] == ["talk.say", "talk.say_again"]
    by_name = client.get("/api/v1/actionalias/", params={"name": "shout"}).json()
    assert [(a["ref"], a["enabled"]) for a in by_name] == [("talk.shout", False)]
    slim = client.get(
        "/api/v1/actionalias", params={"pack": "talk", "include_attributes": "ref,action_ref"}
    ).json()
    assert set(slim[0]) == {"id", "ref", "action_ref"}
    assert client.get("/api/v1/actionalias", params={"limit": "x"}).status_code == 400


def test_get_alias_by_ref_and_id_in_stackstorms_shape(client: Api) -> None:
    alias = client.get("/api/v1/actionalias/talk.say").json()
    assert alias | {"id": "-"} == {
        "id": "-",
        "ref": "talk.say",
        "uid": "action_alias:talk:say",
        "name": "say",
        "pack": "talk",
        "description": "Say something, once or several times.",
        "enabled": True,
        "action_ref": "talk.say",
        "formats": [
            "talk {{ message }}",
            {
                "display": "repeat <message> [<times>] times",
                "representation": ["repeat {{ message }} {{ times = 2 }} times"],
            },
        ],
        "ack": {
            "enabled": True,
            "format": "Saying {{ execution.parameters.message }}",
            "append_url": False,
        },
        "result": {"format": "{{ execution.result.stdout }}"},
        "metadata_file": "aliases/say.yaml",
    }
    assert len(alias["id"]) == 24
    assert client.get(f"/api/v1/actionalias/{alias['id']}").json()["ref"] == "talk.say"
    missing = client.get("/api/v1/actionalias/talk.nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "faultstring": 'Resource with a reference or id "talk.nope" not found'
    }


# -- match ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "ref", "display", "representation"),
    [
        ("talk hello there", "talk.say", "talk {{ message }}", "talk {{ message }}"),
        (
            "repeat hi 3 times",
            "talk.say",
            "repeat <message> [<times>] times",
            "repeat {{ message }} {{ times = 2 }} times",
        ),
        (
            "ship web to prod!",
            "talk.deploy",
            "(deploy|ship) {{ app }}( to {{ stage = staging }})?[!.]?",
            "(deploy|ship) {{ app }}( to {{ stage = staging }})?[!.]?",
        ),
        ("greet Ada", "examples.greet", "greet {{name=world}}", "greet {{name=world}}"),
    ],
)
def test_match_answers_the_alias_and_the_format(
    client: Api, command: str, ref: str, display: str, representation: str
) -> None:
    matched = client.post("/api/v1/actionalias/match", json={"command": command})
    assert matched.status_code == 200, matched.text
    body = matched.json()
    assert body["actionalias"]["ref"] == ref
    assert (body["display"], body["representation"]) == (display, representation)


def test_match_refuses_no_match_several_matches_and_bad_bodies(client: Api) -> None:
    def fault(body: Any) -> tuple[int, str]:
        answer = client.post("/api/v1/actionalias/match", json=body)
        return answer.status_code, answer.json()["faultstring"]

    assert fault({"command": "dance wildly"}) == (
        400,
        "Command 'dance wildly' matched no patterns",
    )
    assert fault({"command": "talk hi again"}) == (
        400,
        "Command 'talk hi again' matched more than 1 pattern",
    )
    # A disabled alias never matches.
    assert fault({"command": "shout hi"})[1] == "Command 'shout hi' matched no patterns"
    assert fault({}) == (400, "'command' is a required property")
    assert fault({"command": 3}) == (400, "3 is not of type 'string'")
    assert fault({"command": "x", "extra": 1})[1].startswith("Additional properties")
    raw = client.post("/api/v1/actionalias/match", content=b"{nope")
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["faultstring"]


# -- execute ----------------------------------------------------------------------------------


def test_alias_execution_runs_the_action_with_stackstorms_context(client: Api) -> None:
    answer = client.post(
        "/api/v1/aliasexecution",
        json={
            "name": "say",
            "format": "repeat {{ message }} {{ times = 2 }} times",
            "command": "repeat hello 3 times tags=a,b",
            "user": "ada",
            "source_channel": "ops",
            "notification_route": "slack",
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["actionalias"]["ref"] == "talk.say"
    assert body["message"] == "Saying hello"
    execution = body["execution"]
    assert execution["action"]["ref"] == "talk.say"
    assert execution["parameters"] == {"message": "hello", "times": 3, "tags": ["a", "b"]}
    context = execution["context"]
    alias_id = client.get("/api/v1/actionalias/talk.say").json()["id"]
    assert context["action_alias_ref"] == {"id": alias_id, "name": "say"}
    assert (context["api_user"], context["user"], context["source_channel"]) == (
        "ada",
        "admin",
        "ops",
    )
    done = finished(client, execution["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["stdout"] == "hello x3 #a #b"


def test_alias_execution_renders_immutable_parameters(client: Api) -> None:
    answer = client.post(
        "/api/v1/aliasexecution",
        json={
            "name": "talk.deploy",
            "format": "(deploy|ship) {{ app }}( to {{ stage = staging }})?[!.]?",
            "command": "deploy shop",
            "user": "ada",
            "source_channel": "chat",
        },
    )
    assert answer.status_code == 201, answer.text
    execution = answer.json()["execution"]
    assert execution["parameters"] == {
        "app": "shop",
        "stage": "staging",
        "requested_by": "ada via chat",
    }
    assert "message" not in answer.json()  # the alias has no ack
    assert finished(client, execution["id"])["result"]["stdout"] == (
        "deploy shop to staging for ada via chat"
    )


def test_alias_execution_errors_are_stackstorms(client: Api) -> None:
    def post(**body: Any) -> tuple[int, str]:
        answer = client.post("/api/v1/aliasexecution", json=body)
        return answer.status_code, answer.json()["faultstring"]

    base = {"format": "talk {{ message }}", "command": "talk hi", "source_channel": "ops"}
    assert post(**{**base, "name": "nope"}) == (
        404,
        'Unable to identify action alias with name "nope".',
    )
    assert post(**{**base, "name": "shout", "format": "shout {{ message }}"}) == (
        400,
        'Action alias with name "shout" is disabled.',
    )
    assert post(**{**base, "name": "say", "format": "bogus"}) == (
        400,
        'Format string "bogus" is not available on the alias "say"',
    )
    assert post(**{**base, "name": "say", "command": "dance"}) == (
        400,
        'Command "dance" doesn\'t match format string "talk {{ message }}"',
    )
    overriding = post(
        name="deploy",
        format="(deploy|ship) {{ app }}( to {{ stage = staging }})?[!.]?",
        command="deploy shop requested_by=mallory",
        source_channel="ops",
    )
    assert overriding == (400, "Immutable arguments cannot be overriden: requested_by")
    assert post(name="say", command="talk hi", source_channel="ops") == (
        400,
        "'format' is a required property",
    )
    assert post(**{**base, "name": "say", "command": "repeat x y times"})[0] == 400


def test_match_and_execute_answers_results(client: Api) -> None:
    answer = client.post(
        "/api/v1/aliasexecution/match_and_execute",
        json={"command": "talk good morning", "user": "", "source_channel": "cli"},
    )
    assert answer.status_code == 201, answer.text
    [result] = answer.json()["results"]
    assert result["actionalias"]["ref"] == "talk.say"
    assert result["execution"]["parameters"] == {"message": "good morning"}
    assert finished(client, result["execution"]["id"])["result"]["stdout"] == "good morning x1"
    none = client.post(
        "/api/v1/aliasexecution/match_and_execute",
        json={"command": "dance", "source_channel": "cli"},
    )
    assert none.status_code == 400
    assert none.json() == {"faultstring": "Command 'dance' matched no patterns"}


def test_a_match_multiple_format_starts_one_execution_per_match(client: Api) -> None:
    answer = client.post(
        "/api/v1/aliasexecution/match_and_execute",
        json={"command": "close AB-1 and close CD-22 please", "source_channel": "ops"},
    )
    assert answer.status_code == 201, answer.text
    results = answer.json()["results"]
    assert [r["execution"]["parameters"] for r in results] == [
        {"ticket": "AB-1"},
        {"ticket": "CD-22"},
    ]
    outputs = sorted(finished(client, r["execution"]["id"])["result"]["stdout"] for r in results)
    assert outputs == ["closed AB-1", "closed CD-22"]
    # POST /aliasexecution runs one, on the first match, as StackStorm's does.
    single = client.post(
        "/api/v1/aliasexecution",
        json={
            "name": "close",
            "format": r"(?:\b|^)close (?P<ticket>[A-Z]+-[0-9]+)(?:\b|$)",
            "command": "close AB-1 and close CD-22 please",
            "source_channel": "ops",
        },
    )
    assert single.status_code == 201, single.text
    assert single.json()["execution"]["parameters"] == {"ticket": "AB-1"}


def test_a_viewer_may_match_but_not_execute(client: Api) -> None:
    as_user(client, "watcher", "viewer")
    assert client.get("/api/v1/actionalias").status_code == 200
    assert client.post("/api/v1/actionalias/match", json={"command": "talk hi"}).status_code == 200
    refused = client.post(
        "/api/v1/aliasexecution/match_and_execute",
        json={"command": "talk hi", "source_channel": "ops"},
    )
    assert refused.status_code == 403, refused.text
    unauthenticated = client.get("/api/v1/actionalias", headers={"X-Auth-Token": "nope"})
    assert unauthenticated.status_code == 401


def test_help_lists_the_displays_of_enabled_aliases(client: Api) -> None:
    answer = client.get("/api/v1/actionalias/help", params={"pack": "talk"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "available": 5,
        "helpstrings": [
            {"pack": "talk", "display": "close <TICKET>", "description": CLOSE},
            {
                "pack": "talk",
                "display": DEPLOY,
                "description": "Deploy an application; who asked is recorded.",
            },
            {"pack": "talk", "display": "talk {{ message }}", "description": SAY},
            {"pack": "talk", "display": "repeat <message> [<times>] times", "description": SAY},
            {"pack": "talk", "display": "talk {{ message }} again", "description": AGAIN},
        ],
    }
    found = client.get("/api/v1/actionalias/help", params={"filter": "REPEAT|greet"}).json()
    assert [h["display"] for h in found["helpstrings"]] == [
        "greet {{name=world}}",
        "repeat <message> [<times>] times",
    ]
    paged = client.get("/api/v1/actionalias/help", params={"pack": "talk", "limit": 1, "offset": 1})
    assert paged.json()["available"] == 5
    assert [h["display"] for h in paged.json()["helpstrings"]] == [DEPLOY]
    bad = client.get("/api/v1/actionalias/help", params={"filter": "("})
    assert bad.status_code == 400 and "not a valid regular expression" in bad.json()["faultstring"]


SAY = "Say something, once or several times."
AGAIN = 'Overlaps with talk.say on purpose ("talk X again" matches both).'
CLOSE = "Close every ticket named in the message, one execution each."
DEPLOY = "(deploy|ship) {{ app }}( to {{ stage = staging }})?[!.]?"
