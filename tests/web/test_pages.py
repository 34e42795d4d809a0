"""The console's pages over HTTP (no browser): signing in and out, the session cookie, CSRF,
roles, the run form, masking, filters and the static files."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from tests.api.serving import serving
from tests.web.conftest import PASSWORDS, Instance, csrf_of, prepare, sign_in

from packhorse import bootstrap
from packhorse.api.security import SESSION_COOKIE
from packhorse.model.datastore import Scope
from packhorse.settings import Settings, load_settings
from packhorse.web.session import safe_next

Client = httpx.Client


def empty_shown(page: str, element_id: str) -> bool:
    """Whether the list's "No ..." message is shown (it is always in the page, hidden while
    the list has rows, so that a live list can show or hide it)."""
    found = re.search(rf'id="{element_id}"( hidden)?>', page)
    assert found is not None, f"no #{element_id} in the page"
    return found.group(1) is None


def signed_in(client: Client, instance: Instance, user: str = "admin") -> Client:
    password = instance.admin_password if user == "admin" else PASSWORDS[user]
    answer = sign_in(client, user, password)
    assert answer.status_code == 303, answer.text
    return client


def executions(instance: Instance) -> list[str]:
    runtime_store = bootstrap.database_engine(instance.settings)
    with runtime_store.connect() as connection:
        rows = connection.exec_driver_sql("SELECT action_ref FROM executions").fetchall()
    return [row[0] for row in rows]


def wait_until_done(client: Client, execution_id: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = client.get(f"/ui/executions/{execution_id}/panel")
        for status in ("succeeded", "failed"):
            # The panel's own status (its tasks' rows and graph nodes carry theirs too).
            if f'<div id="execution-panel" data-status="{status}"' in page.text:
                return status
        time.sleep(0.1)
    raise AssertionError(f"{execution_id} did not finish")


def test_pages_send_a_stranger_to_sign_in_and_back(client: Client, instance: Instance) -> None:
    for path in ("/ui/executions?status=failed", "/ui/actions", "/ui/actions/core.local"):
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/sign-in?next=")
    assert client.get("/").headers["location"] == "/ui/executions"
    form = client.get("/ui/sign-in?next=/ui/actions")
    assert form.status_code == 200 and 'name="password" type="password"' in form.text
    data = {"user": "admin", "password": instance.admin_password, "next": "/ui/actions"}
    answer = client.post("/ui/sign-in", data={**data, "csrf_token": csrf_of(form)})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/actions"
    assert client.get("/ui/actions").status_code == 200


def test_signing_in_needs_the_token_of_the_sign_in_form(client: Client, instance: Instance) -> None:
    data = {"user": "admin", "password": instance.admin_password}
    form = client.get("/ui/sign-in")
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui/sign-in" in cookie
    token = csrf_of(form)
    # Another site's form: no token, or a token without this browser's sign-in cookie.
    assert client.post("/ui/sign-in", data=data).status_code == 403
    with Client(base_url=str(client.base_url)) as stranger:
        refused = stranger.post("/ui/sign-in", data={**data, "csrf_token": token})
        assert refused.status_code == 403 and "did not come from this console" in refused.text
        assert SESSION_COOKIE not in stranger.cookies
    assert client.post("/ui/sign-in", data={**data, "csrf_token": token}).status_code == 303


def test_a_wrong_password_is_refused_with_a_message(client: Client) -> None:
    answer = sign_in(client, "admin", "not-the-password")
    assert answer.status_code == 401
    assert "Unknown user or wrong password." in answer.text
    assert SESSION_COOKIE not in client.cookies
    assert "not-the-password" not in answer.text


@pytest.mark.parametrize(
    ("asked", "safe"),
    [
        ("/ui/actions?pack=core", "/ui/actions?pack=core"),
        ("https://evil.example/ui/", "/ui/executions"),
        ("//evil.example/ui/", "/ui/executions"),
        ("/api/v1/executions", "/ui/executions"),
        (None, "/ui/executions"),
    ],
)
def test_sign_in_only_returns_to_a_page_of_the_console(asked: str | None, safe: str) -> None:
    assert safe_next(asked) == safe


def test_the_session_cookie_is_httponly_strict_and_ends_at_sign_out(
    client: Client, instance: Instance
) -> None:
    answer = sign_in(client, "otto", PASSWORDS["otto"])
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; over HTTPS it is Secure (below)
    token = client.cookies[SESSION_COOKIE]
    page = client.get("/ui/executions")
    assert token not in page.text  # the token stays in the cookie
    out = client.post("/ui/sign-out", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/sign-in"
    assert SESSION_COOKIE not in client.cookies
    # The token itself is revoked, not only forgotten by this browser.
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/ui/executions").status_code == 303
    assert client.get("/api/v1/executions", headers={"X-Auth-Token": token}).status_code == 401


def test_the_session_cookie_opens_the_event_stream_but_not_the_api(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance, "vera")
    assert client.get("/api/v1/executions").status_code == 401
    with client.stream("GET", "/stream/v1/stream") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
    client.cookies.clear()
    with client.stream("GET", "/stream/v1/stream") as stream:
        assert stream.status_code == 401


def test_a_post_without_the_csrf_token_is_refused(client: Client, instance: Instance) -> None:
    signed_in(client, instance)
    before = executions(instance)
    for token in (None, "0" * 64):
        data = {"cmd": "echo should not run"}
        if token:
            data["csrf_token"] = token
        answer = client.post("/ui/actions/core.local", data=data)
        assert answer.status_code == 403
        assert "did not come from this console" in answer.text
    assert client.post("/ui/sign-out").status_code == 403
    assert executions(instance) == before


def test_a_viewer_reads_but_cannot_run(client: Client, instance: Instance) -> None:
    signed_in(client, instance, "vera")
    page = client.get("/ui/actions/core.local")
    assert page.status_code == 200
    assert 'id="run-button"' not in page.text and "running needs operator" in page.text
    # Even with a valid CSRF token (from the sign-out form every page has), the POST is refused.
    answer = client.post(
        "/ui/actions/core.local", data={"csrf_token": csrf_of(page), "cmd": "echo no"}
    )
    assert answer.status_code == 403 and "may not run actions" in answer.text
    assert executions(instance) == []


def test_running_an_action_from_its_form(client: Client, instance: Instance) -> None:
    signed_in(client, instance, "otto")
    form = client.get("/ui/actions/core.local")
    assert 'id="param-cmd"' in form.text and 'id="run-button"' in form.text
    answer = client.post(
        "/ui/actions/core.local", data={"csrf_token": csrf_of(form), "cmd": "echo hello-web"}
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    execution_id = location.rsplit("/", 1)[1]
    assert wait_until_done(client, execution_id) == "succeeded"
    page = client.get(location)
    assert "hello-web" in page.text  # the output (and the result)
    assert "user otto" in page.text
    listing = client.get("/ui/executions")
    assert f'id="execution-{execution_id}"' in listing.text
    assert ">succeeded</span>" in listing.text


def run_from_form(client: Client, action: str, **fields: str) -> str:
    form = client.get(f"/ui/actions/{action}")
    answer = client.post(f"/ui/actions/{action}", data={"csrf_token": csrf_of(form), **fields})
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"].rsplit("/", 1)[1])


def test_a_workflow_is_drawn_as_a_graph_with_each_tasks_status(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance)
    execution_id = run_from_form(client, "examples.greet_team")
    assert wait_until_done(client, execution_id) == "succeeded"
    page = client.get(f"/ui/executions/{execution_id}").text
    assert '<svg class="workflow-graph" role="img"' in page
    for task in ("build", "say", "list_names", "check"):
        assert f'data-task="{task}" data-status="succeeded"' in page
        assert f"<title>{task}: succeeded</title>" in page
    # The fail commands were never reached; the edges carry their conditions.
    assert 'data-task="fail after check" data-status="not started"' in page
    assert "<title>build to say when succeeded()</title>" in page
    # The list for screen readers says the same.
    assert "<li>build: succeeded. Then fail after build when failed(). Then list_names" in page
    # The live panel carries the graph too.
    assert (
        'data-task="check" data-status="succeeded"'
        in client.get(f"/ui/executions/{execution_id}/panel").text
    )
    # An action chain: its nodes, the branch not taken not started.
    chain_id = run_from_form(client, "examples.hello_chain", name="web")
    assert wait_until_done(client, chain_id) == "succeeded"
    chain = client.get(f"/ui/executions/{chain_id}").text
    assert 'data-task="shout" data-status="succeeded"' in chain
    assert 'data-task="complain" data-status="not started"' in chain
    assert "<title>measure to complain when on failure</title>" in chain
    # Not a workflow: no graph.
    plain_id = run_from_form(client, "core.local", cmd="echo plain")
    assert wait_until_done(client, plain_id) == "succeeded"
    assert "workflow-graph" not in client.get(f"/ui/executions/{plain_id}").text


def wait_for_status(client: Client, execution_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        panel = client.get(f"/ui/executions/{execution_id}/panel").text
        if f'<div id="execution-panel" data-status="{status}"' in panel:
            return
        time.sleep(0.1)
    raise AssertionError(f"{execution_id} did not become {status}")


def pending_inquiry(client: Client) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.search(r'href="/ui/inquiries/([0-9a-f]+)"', client.get("/ui/inquiries").text)
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError("no inquiry appeared")


def test_an_inquiry_is_answered_from_its_form_and_the_workflow_goes_on(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance, "otto")
    assert empty_shown(client.get("/ui/inquiries").text, "inquiries-empty")
    workflow_id = run_from_form(client, "console.approve")
    inquiry_id = pending_inquiry(client)
    wait_for_status(client, workflow_id, "paused")
    listing = client.get("/ui/inquiries").text
    assert not empty_shown(listing, "inquiries-empty")
    assert f'href="/ui/executions/{workflow_id}"' in listing and ">ask</a>" in listing
    page = client.get(f"/ui/inquiries/{inquiry_id}")
    assert "Go on with the change?" in page.text
    assert 'id="param-approved"' in page.text and 'id="param-note"' in page.text
    assert 'id="param-passphrase" name="passphrase" type="password"' in page.text
    token = csrf_of(page)
    # Without the token: refused, nothing answered.
    assert client.post(f"/ui/inquiries/{inquiry_id}", data={"approved": "true"}).status_code == 403
    # A required answer missing: said by its field; a secret typed is not sent back.
    missing = client.post(
        f"/ui/inquiries/{inquiry_id}",
        data={"csrf_token": token, "note": "kept", "passphrase": "hunter2-secret"},
    )
    assert missing.status_code == 400
    assert 'id="param-approved-error">required<' in missing.text
    assert 'value="kept"' in missing.text and "hunter2-secret" not in missing.text
    answered = client.post(
        f"/ui/inquiries/{inquiry_id}",
        data={
            "csrf_token": token,
            "approved": "true",
            "note": "from the console",
            "passphrase": "hunter2-secret",
        },
    )
    assert answered.status_code == 303
    assert answered.headers["location"] == f"/ui/executions/{workflow_id}"
    assert wait_until_done(client, workflow_id) == "succeeded"
    assert (
        "&#34;note&#34;: &#34;from the console&#34;"
        in client.get(f"/ui/executions/{workflow_id}").text
    )
    done = client.get(f"/ui/inquiries/{inquiry_id}").text
    assert ">succeeded</span>" in done and "&#34;approved&#34;: true" in done
    assert "hunter2-secret" not in done and "&#34;passphrase&#34;: &#34;********&#34;" in done
    assert empty_shown(client.get("/ui/inquiries").text, "inquiries-empty")
    # Answered already: refused with the engine's reason.
    again = client.post(
        f"/ui/inquiries/{inquiry_id}", data={"csrf_token": token, "approved": "true"}
    )
    assert again.status_code == 400 and "not pending" in again.text


def test_who_may_answer_an_inquiry_is_checked_as_the_api_checks_it(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance, "vera")
    with Client(base_url=str(client.base_url)) as admin:
        signed_in(admin, instance)
        workflow_id = run_from_form(admin, "console.approve", users='["admin"]')
        inquiry_id = pending_inquiry(admin)
        # A viewer reads it but has no form, and a post is refused.
        page = client.get(f"/ui/inquiries/{inquiry_id}")
        assert "answering needs operator" in page.text and 'id="answer-button"' not in page.text
        refused = client.post(
            f"/ui/inquiries/{inquiry_id}", data={"csrf_token": csrf_of(page), "approved": "true"}
        )
        assert refused.status_code == 403
        # An operator not among its users: refused too.
        with Client(base_url=str(client.base_url)) as otto:
            signed_in(otto, instance, "otto")
            page = otto.get(f"/ui/inquiries/{inquiry_id}")
            assert "may not answer inquiry" in page.text and 'id="answer-button"' not in page.text
            refused = otto.post(
                f"/ui/inquiries/{inquiry_id}",
                data={"csrf_token": csrf_of(page), "approved": "true"},
            )
            assert refused.status_code == 403
        # The user it names answers: no, and the workflow does not go on to its report.
        page = admin.get(f"/ui/inquiries/{inquiry_id}")
        answered = admin.post(
            f"/ui/inquiries/{inquiry_id}", data={"csrf_token": csrf_of(page), "approved": "false"}
        )
        assert answered.status_code == 303
        wait_until_done(admin, workflow_id)
        assert "&#34;approved&#34;: false" in admin.get(f"/ui/inquiries/{inquiry_id}").text
        detail = admin.get(f"/ui/executions/{workflow_id}").text
        assert 'data-task="report" data-status="not started"' in detail
    assert client.get("/ui/inquiries/not-an-inquiry").status_code == 404


def test_rules_listed_tested_against_a_payload_and_disabled(
    client: Client, instance: Instance
) -> None:
    bootstrap.datastore_service(instance.settings).set_value(
        "console_pw", "hunter2-secret", secret=True
    )
    signed_in(client, instance, "otto")
    listing = client.get("/ui/rules").text
    assert 'href="/ui/rules/console.echo_word"' in listing
    assert 'href="/ui/rules/examples.page_on_critical_alert"' in listing
    row = listing.split('id="rule-console.echo_word"')[1].split("</tr>")[0]
    assert ">enabled<" in row and "core.st2.webhook" in row and ">never<" in row
    # A webhook call fires it: one match, linked to its execution.
    token = client.post("/auth/v1/tokens", auth=("admin", instance.admin_password)).json()["token"]
    hook = client.post(
        "/api/v1/webhooks/console", json={"word": "bird"}, headers={"X-Auth-Token": token}
    )
    assert hook.status_code == 202, hook.text
    deadline = time.monotonic() + 20
    while "execution " not in (page := client.get("/ui/rules/console.echo_word").text):
        assert time.monotonic() < deadline, "no enforcement"
        time.sleep(0.1)
    assert "trigger.body.word" in page and "decrypt_kv" in page  # criteria, parameters
    found = re.search(r'href="/ui/executions/([0-9a-f]+)">execution', page)
    assert found and wait_until_done(client, found.group(1)) == "succeeded"
    row = client.get("/ui/rules").text.split('id="rule-console.echo_word"')[1].split("</tr>")[0]
    assert '<td data-label="Matches">1</td>' in row
    # A dry run: matched, the parameters rendered with the secret masked.
    form = csrf_of(page)
    tested = client.post(
        "/ui/rules/console.echo_word/test",
        data={"csrf_token": form, "payload": '{"body": {"word": "fish"}}'},
    )
    assert tested.status_code == 200
    assert ">matches</span>" in tested.text and "word=fish" in tested.text
    assert "********" in tested.text and "hunter2-secret" not in tested.text
    missed = client.post(
        "/ui/rules/console.echo_word/test", data={"csrf_token": form, "payload": '{"body": {}}'}
    )
    assert ">no match</span>" in missed.text and "trigger.body.word" in missed.text
    broken = client.post(
        "/ui/rules/console.echo_word/test", data={"csrf_token": form, "payload": "{nope"}
    )
    assert broken.status_code == 400 and "The payload is not JSON" in broken.text
    # Nothing ran for the dry runs.
    assert executions(instance).count("console.echo_secret") == 1
    # Enabling and disabling needs admin, as the API.
    assert 'id="toggle-button"' not in page
    refused = client.post(
        "/ui/rules/console.echo_word/enabled", data={"csrf_token": form, "enabled": "false"}
    )
    assert refused.status_code == 403
    with Client(base_url=str(client.base_url)) as admin:
        signed_in(admin, instance)
        page = admin.get("/ui/rules/console.echo_word")
        assert 'id="toggle-button">Disable<' in page.text
        no_token = admin.post("/ui/rules/console.echo_word/enabled", data={"enabled": "false"})
        assert no_token.status_code == 403
        done = admin.post(
            "/ui/rules/console.echo_word/enabled",
            data={"csrf_token": csrf_of(page), "enabled": "false"},
        )
        assert done.status_code == 303
        page = admin.get("/ui/rules/console.echo_word").text
        assert 'id="rule-state">disabled<' in page and 'id="toggle-button">Enable<' in page
    api = client.get("/api/v1/rules/console.echo_word", headers={"X-Auth-Token": token})
    assert api.json()["enabled"] is False
    assert client.get("/ui/rules/console.nope").status_code == 404
    assert "No rule in pack nope" in client.get("/ui/rules?pack=nope").text


def test_trigger_instances_listed_filtered_and_shown_with_what_they_fired(
    client: Client, instance: Instance
) -> None:
    bootstrap.datastore_service(instance.settings).set_value(
        "console_pw", "hunter2-secret", secret=True
    )
    signed_in(client, instance, "vera")
    empty = client.get("/ui/trigger-instances").text
    assert "No trigger has fired yet" in empty
    assert empty_shown(empty, "trigger-instances-empty")
    token = client.post("/auth/v1/tokens", auth=("admin", instance.admin_password)).json()["token"]
    body = {"word": "owl", "leaked": "hunter2-secret"}
    hook = client.post("/api/v1/webhooks/console", json=body, headers={"X-Auth-Token": token})
    assert hook.status_code == 202, hook.text
    webhook = re.compile(r'href="/ui/trigger-instances/([0-9a-f]+)">core.st2.webhook<')
    deadline = time.monotonic() + 20
    while not (found := webhook.search(listing := client.get("/ui/trigger-instances").text)):
        assert time.monotonic() < deadline, "no trigger instance"
        time.sleep(0.1)
    detail = f"/ui/trigger-instances/{found.group(1)}"
    while 'id="instance-status">processed<' not in client.get(detail).text:
        assert time.monotonic() < deadline, "not processed"
        time.sleep(0.1)
    assert "owl" in listing and "hunter2-secret" not in listing  # the preview, masked
    assert not empty_shown(listing, "trigger-instances-empty")
    filtered = client.get("/ui/trigger-instances?trigger_type=core.st2.webhook&status=processed")
    assert found.group(1) in filtered.text
    none = client.get("/ui/trigger-instances?trigger_type=examples.service_alert").text
    assert "No trigger instance matches these filters." in none
    assert empty_shown(none, "trigger-instances-empty")
    assert "Unknown status" in client.get("/ui/trigger-instances?status=lost").text
    page = client.get(f"/ui/trigger-instances/{found.group(1)}").text
    assert "&#34;word&#34;: &#34;owl&#34;" in page and "hunter2-secret" not in page
    assert "X-Auth-Token" not in page  # never stored
    assert 'href="/ui/rules/console.echo_word"' in page
    assert re.search(r'href="/ui/executions/[0-9a-f]+">execution', page)
    assert client.get("/ui/trigger-instances/nope").status_code == 404


def test_packs_listed_and_a_config_saved_from_its_form_with_the_secret_encrypted(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance)
    listing = client.get("/ui/packs").text
    row = listing.split('id="pack-examples"')[1].split("</tr>")[0]
    assert 'href="/ui/packs/examples"' in row and "bundled or placed by hand" in row
    page = client.get("/ui/packs/examples")
    assert 'href="/ui/actions/examples.greet_team"' in page.text
    assert 'href="/ui/rules/examples.page_on_critical_alert"' in page.text
    assert 'id="param-api_token" name="api_token" type="password"' in page.text
    token = csrf_of(page)
    wrong = client.post(
        "/ui/packs/examples/config",
        data={
            "csrf_token": token,
            "greeting": "Hi",
            "max_names": "many",
            "api_token": "tok-1234567",
        },
    )
    assert wrong.status_code == 400
    assert 'id="param-max_names-error">enter a whole number<' in wrong.text
    assert 'value="Hi"' in wrong.text and "tok-1234567" not in wrong.text
    config_file = instance.settings.configs_dir / "examples.yaml"
    assert not config_file.exists()
    saved = client.post(
        "/ui/packs/examples/config",
        data={"csrf_token": token, "greeting": "Hi", "max_names": "3", "api_token": "tok-1234567"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/ui/packs/examples?saved=1"
    written = config_file.read_text()
    assert "greeting: Hi" in written and "max_names: 3" in written
    assert "tok-1234567" not in written and "st2kv.system.examples_api_token" in written
    datastore = bootstrap.datastore_service(instance.settings)
    stored = datastore.get_value("examples_api_token", decrypt=True)
    assert stored.value == "tok-1234567"
    page = client.get("/ui/packs/examples?saved=1")
    assert "Config saved" in page.text and "tok-1234567" not in page.text
    assert "&#34;api_token&#34;: &#34;********&#34;" in page.text
    assert "api_token is set (not shown)" in page.text
    # The secret left empty keeps its value; an empty field drops back to the default.
    again = client.post(
        "/ui/packs/examples/config", data={"csrf_token": token, "greeting": "", "max_names": "4"}
    )
    assert again.status_code == 303
    written = config_file.read_text()
    assert "greeting" not in written and "max_names: 4" in written
    assert "st2kv.system.examples_api_token" in written
    # An operator reads the config but has no form, and a post is refused.
    with Client(base_url=str(client.base_url)) as otto:
        signed_in(otto, instance, "otto")
        page = otto.get("/ui/packs/examples")
        assert "needs admin" in page.text and 'id="save-config-button"' not in page.text
        refused = otto.post(
            "/ui/packs/examples/config", data={"csrf_token": csrf_of(page), "max_names": "9"}
        )
        assert refused.status_code == 403
    assert "max_names: 4" in config_file.read_text()
    assert client.get("/ui/packs/nope").status_code == 404


def test_a_config_object_holding_a_secret_is_never_sent_back_into_the_form(
    client: Client, instance: Instance
) -> None:
    config_file = instance.settings.configs_dir / "console.yaml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        "endpoint:\n  url: https://svc.invalid\n  password: nested-secret-99\nretries: 3\n"
    )
    signed_in(client, instance)
    page = client.get("/ui/packs/console")
    assert (
        "nested-secret-99" not in page.text
        and "svc.invalid" not in page.text.split('id="param-endpoint"')[1].split("</textarea>")[0]
    )
    assert "endpoint is set (not shown)" in page.text
    assert "&#34;endpoint&#34;: {" in page.text and "&#34;password&#34;: &#34;********&#34;" in (
        page.text
    )
    # Saved with the object left empty: it keeps its value; the other field changes.
    saved = client.post(
        "/ui/packs/console/config", data={"csrf_token": csrf_of(page), "retries": "5"}
    )
    assert saved.status_code == 303, saved.text
    written = config_file.read_text()
    assert "nested-secret-99" in written and "retries: 5" in written
    # A refused form does not echo the object back either.
    refused = client.post(
        "/ui/packs/console/config",
        data={"csrf_token": csrf_of(page), "retries": "x", "endpoint": '{"password": "typed-7"}'},
    )
    assert refused.status_code == 400 and "typed-7" not in refused.text


def test_the_datastore_masks_secrets_and_sets_and_deletes_as_the_api_allows(
    client: Client, instance: Instance
) -> None:
    datastore = bootstrap.datastore_service(instance.settings)
    datastore.set_value("region", "eu-west-1", description="where we run")
    datastore.set_value("db_password", "hunter2-secret", secret=True)
    signed_in(client, instance, "otto")
    page = client.get("/ui/datastore")
    assert "<code>eu-west-1</code>" in page.text and "where we run" in page.text
    row = page.text.split('id="key-system-db_password"')[1].split("</tr>")[0]
    assert "<code>********</code>" in row and ">secret<" in row
    assert "hunter2-secret" not in page.text
    # An operator: no delete for system keys, and a system write is refused.
    assert 'aria-label="Delete region"' not in page.text
    token = csrf_of(page)
    refused = client.post(
        "/ui/datastore", data={"csrf_token": token, "scope": "system", "name": "x", "value": "1"}
    )
    assert refused.status_code == 403 and "needs admin" in refused.text
    # Their own keys: a secret set from the form is stored encrypted, never shown.
    no_token = client.post("/ui/datastore", data={"scope": "user", "name": "x", "value": "1"})
    assert no_token.status_code == 403
    done = client.post(
        "/ui/datastore",
        data={
            "csrf_token": token,
            "scope": "user",
            "name": "my_token",
            "value": "otto-secret-42",
            "secret": "true",
            "description": "mine",
        },
    )
    assert done.status_code == 303
    page = client.get("/ui/datastore?done=set")
    assert "Key saved." in page.text and "otto-secret-42" not in page.text
    row = page.text.split('id="key-user-my_token"')[1].split("</tr>")[0]
    assert "<code>********</code>" in row
    stored = datastore.get_value("my_token", scope=Scope.USER, user="otto")
    assert stored.secret and stored.value != "otto-secret-42"
    assert datastore.get_value("my_token", scope=Scope.USER, user="otto", decrypt=True).value == (
        "otto-secret-42"
    )
    # A refused set (a bad name) does not send the secret back.
    bad = client.post(
        "/ui/datastore",
        data={"csrf_token": token, "scope": "user", "name": "", "value": "otto-secret-43"},
    )
    assert bad.status_code == 400 and "otto-secret-43" not in bad.text
    deleted = client.post(
        "/ui/datastore/delete", data={"csrf_token": token, "scope": "user", "name": "my_token"}
    )
    assert deleted.status_code == 303
    assert 'id="key-user-my_token"' not in client.get("/ui/datastore").text
    # A viewer reads, with no form; an admin deletes a system key.
    with Client(base_url=str(client.base_url)) as vera:
        signed_in(vera, instance, "vera")
        page = vera.get("/ui/datastore").text
        assert "eu-west-1" in page and 'id="set-key-button"' not in page
    with Client(base_url=str(client.base_url)) as admin:
        signed_in(admin, instance)
        page = admin.get("/ui/datastore")
        assert 'aria-label="Delete region"' in page.text
        gone = admin.post(
            "/ui/datastore/delete",
            data={"csrf_token": csrf_of(page), "scope": "system", "name": "region"},
        )
        assert gone.status_code == 303
    assert [p.name for p in datastore.list_values()] == ["db_password"]


def upgrade_page(instance: Instance, settings: Settings) -> str:
    app = bootstrap.create_app(settings, workers=1)
    with serving(app) as url, Client(base_url=url) as client:
        signed_in(client, instance, "vera")
        return client.get("/ui/upgrade").text


def test_the_upgrade_page_reads_the_journal_the_verify_report_and_the_front_state(
    instance: Instance, tmp_path: Path
) -> None:
    from packhorse.front.state import FrontState, save_state
    from packhorse.migrate.upgrade_journal import Journal

    page = upgrade_page(instance, instance.settings)
    assert "No upgrade has run on this instance." in page
    assert "[web] upgrade_journal" in page and "[web] front_state" in page
    journal = Journal(tmp_path / "plan.journal.jsonl")
    for event in (
        {"at": "2026-11-28T10:00:00.000000Z", "event": "run", "plan": "/srv/plan.yaml"},
        {"at": "2026-11-28T10:00:01.000000Z", "event": "started", "step": "verify"},
        {
            "at": "2026-11-28T10:00:02.000000Z",
            "event": "done",
            "step": "verify",
            "seconds": 1.0,
            "outputs": {"summary": "7 replayed, no differences", "replayed": 7},
        },
        {"at": "2026-11-28T10:00:03.000000Z", "event": "started", "step": "cutover"},
        {"at": "2026-11-28T10:00:04.000000Z", "event": "done", "step": "cutover", "seconds": 1},
        {"at": "2026-11-28T10:00:05.000000Z", "event": "finished", "seconds": 5.0},
    ):
        journal.append(event)
    save_state(
        tmp_path / "front.json",
        FrontState(
            active="http://127.0.0.1:9202",
            previous="http://127.0.0.1:9101",
            flipped_at="2026-11-28T10:00:03Z",
            flipped_by="ops@host",
            via="front",
        ),
    )
    web = {"upgrade_journal": str(journal.path), "front_state": "front.json"}
    # A relative path is relative to the instance folder.
    (instance.settings.home / "front.json").write_bytes((tmp_path / "front.json").read_bytes())
    page = upgrade_page(instance, replace(instance.settings, extra={"web": web}))
    assert 'id="upgrade-state">finished<' in page and "/srv/plan.yaml" in page
    verify_row = page.split('id="step-verify"')[1].split("</tr>")[0]
    assert ">done<" in verify_row
    assert "7 replayed, no differences" in page.split('id="verify-report"')[1]
    front = page.split('id="front-state"')[1].split("</dl>")[0]
    assert "http://127.0.0.1:9202" in front and "http://127.0.0.1:9101" in front
    assert "ops@host" in front and "via front" in front and "2026-11-28 10:00:03" in front


def test_field_errors_are_shown_next_to_their_fields(client: Client, instance: Instance) -> None:
    signed_in(client, instance)
    form = client.get("/ui/actions/console.every_type")
    assert 'id="param-fixed"' not in form.text  # immutable
    assert 'id="param-token" name="token" type="password"' in form.text
    answer = client.post(
        "/ui/actions/console.every_type",
        data={
            "csrf_token": csrf_of(form),
            "count": "two",
            "tags": "[1,",
            "token": "hunter2-secret",
        },
    )
    assert answer.status_code == 400
    assert 'id="param-count-error">enter a whole number<' in answer.text
    assert 'id="param-tags-error">enter JSON (an array)<' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert 'value="two"' in answer.text  # what was typed is kept...
    assert "hunter2-secret" not in answer.text  # ...but a secret is asked for again
    assert executions(instance) == []


def test_missing_required_parameters_are_shown_by_field(client: Client, instance: Instance) -> None:
    signed_in(client, instance)
    form = client.get("/ui/actions/core.local")
    answer = client.post("/ui/actions/core.local", data={"csrf_token": csrf_of(form)})
    assert answer.status_code == 400
    assert 'id="param-cmd-error">required<' in answer.text


def test_secret_parameters_are_masked_in_the_detail_page(
    client: Client, instance: Instance
) -> None:
    signed_in(client, instance)
    form = client.get("/ui/actions/console.echo_secret")
    answer = client.post(
        "/ui/actions/console.echo_secret",
        data={"csrf_token": csrf_of(form), "password": "hunter2-secret"},
    )
    assert answer.status_code == 303, answer.text
    execution_id = answer.headers["location"].rsplit("/", 1)[1]
    assert wait_until_done(client, execution_id) == "succeeded"
    page = client.get(answer.headers["location"])
    assert "ran with a secret" in page.text
    assert "********" in page.text
    assert "hunter2-secret" not in page.text
    assert "hunter2-secret" not in client.get(f"/ui/executions/{execution_id}/row").text


def test_filters_empty_states_and_unknown_pages(client: Client, instance: Instance) -> None:
    signed_in(client, instance)
    empty = client.get("/ui/executions")
    assert "No executions yet" in empty.text and 'href="/ui/actions"' in empty.text
    form = client.get("/ui/actions/core.noop")
    assert client.post("/ui/actions/core.noop", data={"csrf_token": csrf_of(form)}).is_redirect
    assert client.post(
        "/ui/actions/console.every_type", data={"csrf_token": csrf_of(form), "count": "1"}
    ).is_redirect
    core = client.get("/ui/executions?pack=core")
    assert "core.noop" in core.text and "console.every_type" not in core.text
    by_action = client.get("/ui/executions?action=console.every_type")
    assert "console.every_type" in by_action.text and ">core.noop<" not in by_action.text
    none = client.get("/ui/executions?status=timeout")
    assert "No executions match these filters" in none.text
    bad = client.get("/ui/executions?status=bogus")
    assert bad.status_code == 200 and "Unknown status" in bad.text
    missing = client.get("/ui/executions/nope")
    assert missing.status_code == 404 and "There is no execution nope." in missing.text
    assert client.get("/ui/actions/no.such").status_code == 404
    assert "No action matches" in client.get("/ui/actions?q=zzzz-nothing").text
    found = client.get("/ui/actions?q=every")
    assert "console.every_type" in found.text and "core.local" not in found.text


def test_pages_paginate(client: Client, instance: Instance) -> None:
    signed_in(client, instance)
    form = client.get("/ui/actions/core.noop")
    token = csrf_of(form)
    for _ in range(27):
        assert client.post("/ui/actions/core.noop", data={"csrf_token": token}).is_redirect
    first = client.get("/ui/executions")
    assert first.text.count('data-execution-id="') == 25
    assert "Page 1 of 2 (27 executions)" in first.text
    second = client.get("/ui/executions?action=&status=&pack=&page=2")
    assert second.text.count('data-execution-id="') == 2
    assert 'data-live="off"' in second.text  # only the newest page grows live


def test_static_files_are_versioned_and_cached(client: Client, instance: Instance) -> None:
    page = signed_in(client, instance).get("/ui/executions")
    for name in ("console.css", "console.js", "htmx.min.js"):
        marker = f"/ui/static/{name}?v="
        assert marker in page.text
        start = page.text.index(marker)
        url = page.text[start : page.text.index('"', start)]
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/ui/static/console.css").headers["cache-control"] == "no-cache"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_without_auth_no_one_signs_in_but_forms_still_need_the_token(
    instance_home: Path,
) -> None:
    prepare(instance_home)
    toml = instance_home / "packhorse.toml"
    text = toml.read_text()
    assert "[auth]\nenabled = true\n" in text
    toml.write_text(text.replace("[auth]\nenabled = true\n", "[auth]\nenabled = false\n"))
    settings = load_settings(instance_home)
    assert not settings.auth_enabled
    with serving(bootstrap.create_app(settings, workers=1)) as url, Client(base_url=url) as client:
        page = client.get("/ui/actions/core.noop")
        assert page.status_code == 200 and "Sign out" not in page.text
        assert SESSION_COOKIE in client.cookies  # a random session the form token is bound to
        assert client.post("/ui/actions/core.noop", data={}).status_code == 403
        answer = client.post("/ui/actions/core.noop", data={"csrf_token": csrf_of(page)})
        assert answer.status_code == 303
        assert client.get("/ui/sign-in").headers["location"] == "/ui/executions"


def test_over_https_the_session_cookie_is_secure(instance: Instance) -> None:
    app = bootstrap.create_app(instance.settings, workers=1)

    async def post() -> httpx.Response:
        # In-process, no lifespan (signing in needs none): the request's scheme is https.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            form = await http.get("/ui/sign-in")
            assert "Secure" in form.headers["set-cookie"]
            data = {"user": "admin", "password": instance.admin_password}
            return await http.post("/ui/sign-in", data={**data, "csrf_token": csrf_of(form)})

    answer = asyncio.run(post())
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]
