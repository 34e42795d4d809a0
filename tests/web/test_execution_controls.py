"""An execution page's Cancel and Re-run buttons over HTTP (no browser): the engine's cancel
and re-run as the API's, the CSRF token, the roles, and a secret parameter re-used as stored,
never in a page."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from tests.web.conftest import Instance, csrf_of
from tests.web.test_pages import run_from_form, signed_in, wait_until_done

from packhorse import bootstrap
from packhorse.crypto.cipher import is_encrypted_token

Client = httpx.Client


def stored(instance: Instance, execution_id: str) -> dict[str, Any]:
    """An execution's row in the store: status, action, parameters (as stored), context."""
    engine = bootstrap.database_engine(instance.settings)
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT status, action_ref, parameters, context FROM executions WHERE id = ?",
            (execution_id,),
        ).one()
    return {
        "status": row[0],
        "action_ref": row[1],
        "parameters": json.loads(row[2]),
        "context": json.loads(row[3]),
    }


def all_ids(instance: Instance) -> list[str]:
    engine = bootstrap.database_engine(instance.settings)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id FROM executions").fetchall()
    return sorted(row[0] for row in rows)


def wait_for_stored(instance: Instance, execution_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if stored(instance, execution_id)["status"] == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"{execution_id} did not become {status}")


def running_sleep(client: Client, instance: Instance) -> str:
    execution_id = run_from_form(client, "core.local", cmd="sleep 30")
    wait_for_stored(instance, execution_id, "running")
    return execution_id


def test_cancel_ends_a_running_execution_canceled(client: Client, instance: Instance) -> None:
    signed_in(client, instance, "otto")
    execution_id = running_sleep(client, instance)
    page = client.get(f"/ui/executions/{execution_id}")
    assert 'id="cancel-button"' in page.text and "Cancel this execution" in page.text
    answer = client.post(
        f"/ui/executions/{execution_id}/cancel", data={"csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/executions/{execution_id}"
    wait_for_stored(instance, execution_id, "canceled")
    ended = client.get(f"/ui/executions/{execution_id}")
    assert '<div id="execution-panel" data-status="canceled"' in ended.text
    assert 'id="cancel-button"' not in ended.text  # nothing left to cancel
    assert 'id="re-run-button"' in ended.text
    # Canceled already: the same answer; an execution that succeeded cannot be.
    again = client.post(
        f"/ui/executions/{execution_id}/cancel", data={"csrf_token": csrf_of(ended)}
    )
    assert again.status_code == 303
    done = run_from_form(client, "core.local", cmd="echo done")
    assert wait_until_done(client, done) == "succeeded"
    refused = client.post(f"/ui/executions/{done}/cancel", data={"csrf_token": csrf_of(ended)})
    assert refused.status_code == 409 and "cannot be canceled" in refused.text
    assert stored(instance, done)["status"] == "succeeded"
    missing = client.post("/ui/executions/nope/cancel", data={"csrf_token": csrf_of(ended)})
    assert missing.status_code == 404


def test_cancel_is_refused_without_the_token_and_to_a_viewer(
    client: Client, instance: Instance, base_url: str
) -> None:
    signed_in(client, instance, "otto")
    execution_id = running_sleep(client, instance)
    for data in ({}, {"csrf_token": "0" * 64}):
        answer = client.post(f"/ui/executions/{execution_id}/cancel", data=data)
        assert answer.status_code == 403 and "did not come from this console" in answer.text
    with httpx.Client(base_url=base_url, timeout=10) as viewer:
        signed_in(viewer, instance, "vera")
        page = viewer.get(f"/ui/executions/{execution_id}")
        assert page.status_code == 200
        assert 'id="cancel-button"' not in page.text and 'id="re-run-button"' not in page.text
        panel = viewer.get(f"/ui/executions/{execution_id}/panel")
        assert 'id="cancel-button"' not in panel.text
        # A valid token (the sign-out form's) does not make a viewer an operator.
        answer = viewer.post(
            f"/ui/executions/{execution_id}/cancel", data={"csrf_token": csrf_of(page)}
        )
        assert answer.status_code == 403 and "may not cancel executions" in answer.text
    assert stored(instance, execution_id)["status"] == "running"
    # Clean up: the operator cancels it.
    page = client.get(f"/ui/executions/{execution_id}")
    client.post(f"/ui/executions/{execution_id}/cancel", data={"csrf_token": csrf_of(page)})
    wait_for_stored(instance, execution_id, "canceled")


def test_re_run_reuses_the_parameters_and_the_secret_as_stored(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance, "otto")
    form = client.get("/ui/actions/console.echo_secret")
    first = client.post(
        "/ui/actions/console.echo_secret",
        data={
            "csrf_token": csrf_of(form),
            "password": "hunter2-secret",
            "cmd": 'echo "again and again"',
        },
    )
    assert first.status_code == 303, first.text
    original = first.headers["location"].rsplit("/", 1)[1]
    assert wait_until_done(client, original) == "succeeded"
    pages = [client.get(f"/ui/executions/{original}")]
    # The button posts the id and the token: no parameter is in the form.
    form_html = pages[0].text.split(f'action="/ui/executions/{original}/re-run"', 1)[1]
    form_html = form_html.split("</form>", 1)[0]
    assert form_html.count("<input") == 1 and 'name="csrf_token"' in form_html
    answer = client.post(
        f"/ui/executions/{original}/re-run", data={"csrf_token": csrf_of(pages[0])}
    )
    assert answer.status_code == 303
    fresh = answer.headers["location"].rsplit("/", 1)[1]
    assert fresh != original
    assert wait_until_done(client, fresh) == "succeeded"
    pages += [
        client.get(f"/ui/executions/{fresh}"),
        client.get(f"/ui/executions/{fresh}/panel"),
        client.get(f"/ui/executions/{fresh}/row"),
        client.get("/ui/executions"),
    ]
    assert "again and again" in pages[1].text  # the same command ran
    for page in pages:
        assert "hunter2-secret" not in page.text
    before, after = stored(instance, original), stored(instance, fresh)
    assert after["action_ref"] == "console.echo_secret"
    assert after["context"]["user"] == "otto"
    assert after["context"]["re-run"] == {"ref": original}
    assert after["parameters"]["cmd"] == before["parameters"]["cmd"]
    # The secret, stored encrypted once, opens to the value first given.
    token = after["parameters"]["password"]
    assert is_encrypted_token(token)
    datastore = bootstrap.datastore_service(instance.settings)
    assert datastore.decrypt(token) == "hunter2-secret"


def test_re_run_is_refused_without_the_token_and_to_a_viewer(
    client: Client, instance: Instance, base_url: str
) -> None:
    signed_in(client, instance, "otto")
    execution_id = run_from_form(client, "core.local", cmd="echo once")
    assert wait_until_done(client, execution_id) == "succeeded"
    before = all_ids(instance)
    assert client.post(f"/ui/executions/{execution_id}/re-run", data={}).status_code == 403
    with httpx.Client(base_url=base_url, timeout=10) as viewer:
        signed_in(viewer, instance, "vera")
        page = viewer.get(f"/ui/executions/{execution_id}")
        assert 'id="re-run-button"' not in page.text
        answer = viewer.post(
            f"/ui/executions/{execution_id}/re-run", data={"csrf_token": csrf_of(page)}
        )
        assert answer.status_code == 403 and "may not run actions" in answer.text
    assert all_ids(instance) == before


def test_cancel_of_a_workflow_ends_it_canceled_as_the_api_does(
    client: Client, instance: Instance
) -> None:
    """As in StackStorm (and ``DELETE /api/v1/executions/ID``): the running task runs to its
    end, no further task starts, the workflow ends canceled."""
    signed_in(client, instance)
    execution_id = run_from_form(client, "console.slow_flow", seconds="2")
    wait_for_stored(instance, execution_id, "running")
    page = client.get(f"/ui/executions/{execution_id}")
    answer = client.post(
        f"/ui/executions/{execution_id}/cancel", data={"csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 303
    wait_for_stored(instance, execution_id, "canceled")
    engine = bootstrap.database_engine(instance.settings)
    with engine.connect() as connection:
        tasks = connection.exec_driver_sql(
            "SELECT action_ref, status FROM executions WHERE parent_id = ?", (execution_id,)
        ).fetchall()
    assert [tuple(row) for row in tasks] == [("core.local", "succeeded")]
    assert (
        '<div id="execution-panel" data-status="canceled"'
        in client.get(answer.headers["location"]).text
    )
