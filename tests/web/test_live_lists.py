"""The live inquiries and trigger-instances lists over HTTP: what the stream sends them (the
events their script listens to) and the rows they fetch, rendered by the page's template."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
from tests.api.sse import Event, parse
from tests.web.conftest import Instance, csrf_of
from tests.web.test_pages import pending_inquiry, run_from_form, signed_in, wait_until_done

from packhorse import bootstrap

Client = httpx.Client


def first_event(events: Iterator[Event | None], wanted: str) -> dict[str, object]:
    """The data of the next event named ``wanted`` that the stream sends."""
    for happened in events:
        if happened is not None and happened.name == wanted:
            return dict(json.loads(happened.data))
    raise AssertionError(f"the stream ended before {wanted}")


def test_a_new_trigger_instance_is_streamed_and_its_row_masks_the_payload(
    client: Client, instance: Instance
) -> None:
    bootstrap.datastore_service(instance.settings).set_value(
        "console_pw", "hunter2-secret", secret=True
    )
    signed_in(client, instance, "vera")  # a viewer reads the list and its rows
    listing = client.get("/ui/trigger-instances").text
    assert 'data-live-list="trigger-instances" data-live="on"' in listing
    assert '<div class="empty" id="trigger-instances-empty">' in listing  # shown, not hidden
    assert 'id="live-announce" class="visually-hidden" aria-live="polite"' in listing
    token = client.post("/auth/v1/tokens", auth=("admin", instance.admin_password)).json()["token"]
    events = "st2.trigger_instance__create"
    with client.stream("GET", f"/stream/v1/stream?events={events}") as stream:
        lines = parse(stream.iter_lines())
        assert next(lines) is None  # subscribed
        body = {"word": "owl", "leaked": "hunter2-secret"}
        hook = client.post("/api/v1/webhooks/console", json=body, headers={"X-Auth-Token": token})
        assert hook.status_code == 202, hook.text
        created = first_event(lines, events)
    assert created["trigger_type"] == "core.st2.webhook"  # what the list's filter compares
    row = client.get(f"/ui/trigger-instances/{created['id']}/row")
    assert row.status_code == 200
    assert row.text.startswith(f'<tr id="instance-{created["id"]}" data-status="')
    assert ">core.st2.webhook</a>" in row.text and "owl" in row.text
    assert "hunter2-secret" not in row.text and "********" in row.text
    assert row.headers["cache-control"] == "no-store"
    # The same template as the page's rows.
    deadline = time.monotonic() + 20
    url = f"/ui/trigger-instances/{created['id']}/row"
    while 'data-status="processed"' not in (fetched := client.get(url).text):
        assert time.monotonic() < deadline, "not processed"
        time.sleep(0.1)
    page = client.get("/ui/trigger-instances").text
    assert fetched.strip() in page
    assert '<div class="empty" id="trigger-instances-empty" hidden>' in page
    assert client.get("/ui/trigger-instances/nope/row").status_code == 404
    # Page 2 is not live; an unknown status filter is not live either.
    assert 'data-live="off"' in client.get("/ui/trigger-instances?page=2").text
    assert 'data-live="off"' in client.get("/ui/trigger-instances?status=lost").text
    client.cookies.clear()
    stranger = client.get(f"/ui/trigger-instances/{created['id']}/row")
    assert stranger.status_code == 401 and stranger.headers["HX-Redirect"].startswith(
        "/ui/sign-in?next="
    )


def test_an_inquiry_is_streamed_and_its_row_leaves_the_list_once_answered(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance, "otto")
    listing = client.get("/ui/inquiries").text
    assert 'data-live-list="inquiries" data-live="on"' in listing
    assert '<div class="empty" id="inquiries-empty">' in listing
    events = "st2.execution__create,st2.execution__update"
    with client.stream("GET", f"/stream/v1/stream?events={events}") as stream:
        lines = parse(stream.iter_lines())
        assert next(lines) is None
        workflow_id = run_from_form(client, "console.approve")
        while True:
            document = first_event(lines, "st2.execution__update")
            runner = document.get("runner")
            assert isinstance(runner, dict)
            # What the list's script looks for: the inquirer runner, pending.
            if runner["name"] == "inquirer" and document["status"] == "pending":
                break
    inquiry_id = str(document["id"])
    assert pending_inquiry(client) == inquiry_id
    with httpx.Client(base_url=str(client.base_url), timeout=10) as viewer:
        signed_in(viewer, instance, "vera")  # any signed-in role reads the rows
        row = viewer.get(f"/ui/inquiries/{inquiry_id}/row")
    assert row.status_code == 200
    assert row.text.startswith(f'<tr id="inquiry-{inquiry_id}" data-status="pending">')
    assert ">pending</span>" in row.text and f'href="/ui/executions/{workflow_id}"' in row.text
    page = client.get("/ui/inquiries").text
    assert row.text.strip() in page
    assert '<div class="empty" id="inquiries-empty" hidden>' in page
    form = client.get(f"/ui/inquiries/{inquiry_id}")
    answered = client.post(
        f"/ui/inquiries/{inquiry_id}",
        data={"csrf_token": csrf_of(form), "approved": "true", "passphrase": "pw"},
    )
    assert answered.status_code == 303, answered.text
    wait_until_done(client, workflow_id)
    done = client.get(f"/ui/inquiries/{inquiry_id}/row").text
    assert 'data-status="succeeded"' in done and ">succeeded</span>" in done
    assert f'id="inquiry-{inquiry_id}"' not in client.get("/ui/inquiries").text
    # Unknown ids, and an execution that is not an inquiry: 404.
    assert client.get("/ui/inquiries/nope/row").status_code == 404
    assert client.get(f"/ui/inquiries/{workflow_id}/row").status_code == 404
