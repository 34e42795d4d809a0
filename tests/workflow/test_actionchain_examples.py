"""The 21 action chains of StackStorm's ``examples`` pack, run with mocked actions.

Each chain must parse and then run to the result StackStorm's runner gives: the nodes it
starts, in order, with the parameters it renders, and its final status and published values.
The expected values were worked out by reading the runner and the examples; actions that need
a network, another pack or a person are mocked. The chains are read from the StackStorm
sources when they are on this machine (``ST2_EXAMPLES``); they are not copied into this
repository.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from packhorse.expr import FUNCTIONS, Datastore
from packhorse.model.diagnostics import Severity
from packhorse.workflow.actionchain import (
    ChainFinished,
    ChainPaused,
    ChainStatus,
    RunNode,
    cancel,
    on_result,
    parse_chain,
    pause,
    resume,
    start,
)

from .chain_rehearsal import Reply, rehearse

ST2_EXAMPLES = Path("/work/st2src/contrib/examples/actions/chains")

URL = "https://github.com/StackStorm-Exchange"  # forloop_chain's default parameter
REPOS = ["repo-a", "repo-b"]
SAMPLE = {"k1": "v1", "k2": [1, 2]}  # what examples.object_return gives back


def shell(node: RunNode) -> Reply:
    """core.local: ``echo`` prints its arguments as a shell would; other commands print nothing."""
    words = shlex.split(str(node.parameters.get("cmd", "")))
    stdout = " ".join(words[1:]) if words[:1] == ["echo"] else ""
    return "succeeded", {"stdout": stdout, "stderr": "", "return_code": 0, "succeeded": True}


def echo(node: RunNode) -> Reply:
    """core.echo: prints its message."""
    return "succeeded", {"stdout": node.parameters["message"], "stderr": "", "return_code": 0}


def python(value: Any, status: str = "succeeded") -> Reply:
    """A python-script action that returned ``value``."""
    return status, {"result": value, "stdout": "", "stderr": "", "exit_code": 0}


def default_reply(node: RunNode) -> Reply:
    if node.action_ref == "core.local":
        return shell(node)
    if node.action_ref == "core.echo":
        return echo(node)
    return "succeeded", {}


PENDING_INQUIRY = {"schema": {}, "route": "developers", "users": [], "roles": [], "ttl": 1440}
ANSWERED_INQUIRY = {**PENDING_INQUIRY, "response": {"secondfactor": "s3cr3t"}}
WAIT = "while [ -e '/tmp/st2-test' ]; do sleep 0.1; done"
SUB = {"tempfile": "/tmp/st2-test", "message": "hello"}


ECHOCHAIN_NOTIFY = {
    "on-complete": {"message": '"@channel: Action succeeded."', "routes": ["slack"]}
}


def datastore() -> Datastore:
    values = {("system", "my_cmd"): "enc-system", ("user", "stanley:my_cmd"): "enc-user"}
    return Datastore(
        lambda scope, name: values.get((scope, name)),
        user="stanley",
        decrypt=lambda text: text.replace("enc-", "plain-"),
    )


@dataclass(frozen=True)
class Example:
    chain: str
    order: list[str]
    rendered: dict[str, dict[str, Any] | list[dict[str, Any]]] = field(default_factory=dict)
    """Parameters of each node's run (a list for a node that runs several times)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """The chain's parameters (the defaults of its action metadata, or made up for it)."""
    replies: dict[str, Any] = field(default_factory=dict)
    status: ChainStatus = ChainStatus.SUCCEEDED
    published: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """Runner parameters and notify from the metadata."""
    functions: Callable[[], Mapping[str, Any]] = dict
    notify: list[Any] | None = None
    checks: Callable[[dict[str, dict[str, Any]]], None] | None = None
    warnings: int = 0
    """PH801 warnings expected (``description`` on a later node)."""
    failed_runs: int = 0
    """Task entries in state ``failed`` (the others succeeded)."""


def tasks(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{index}" for index in range(1, count + 1)]


def streamed(count: int) -> dict[str, Any]:
    return {"count": "5", "sleep_delay": "0.2"} | ({"hosts": "localhost"} if count else {})


def json_escape_checks(rendered: dict[str, dict[str, Any]]) -> None:
    alert = rendered["post_alert"]
    assert alert["text"] == " "
    assert alert["channel"] == "#stackstorm"
    # The var's trailing newline is gone (every rendered string loses one) and json_escape
    # keeps the JSON valid.
    assert json.loads(alert["attachments"]) == [
        {
            "title": 'FAILED - Random text from another action2 output """ which will break '
            "JSON and needs escaping",
            "color": "#808080",
        }
    ]


EXAMPLES = [
    Example(
        "action_chain_streaming_demo.yaml",
        tasks("task", 10),
        {
            "task1": {"cmd": "echo 'Task 1'"},
            "task2": streamed(0),
            "task4": streamed(0),
            "task6": streamed(0),
            "task8": streamed(1),
            "task9": {"cmd": "echo 'Task 9'"},
            "task10": streamed(1),
        },
        parameters={"count": 5, "sleep_delay": 0.2},
    ),
    Example(
        "chain_sequential.yaml",
        ["task1", "task2", "task3"],
        {
            "task1": {"message": "Lakshmi"},
            "task2": {"message": "All your base are belong to us!"},
            "task3": {"message": "Lakshmi, All your base are belong to us!"},
        },
        parameters={"name": "Lakshmi"},
        published={"greeting": "Lakshmi, All your base are belong to us!"},
        options={"skip_notify": ["task1", "task2", "task3"], "notify": {"on-complete": {}}},
        notify=[None, None, None],
    ),
    Example(
        "chain_test_cancel.yaml",
        ["task1", "task2"],
        {"task1": {"cmd": WAIT}, "task2": {"cmd": 'echo "hello"'}},
        parameters=SUB,
    ),
    Example(
        "chain_test_cancel_with_subworkflow.yaml",
        ["task1", "task2"],
        {"task1": SUB, "task2": {"cmd": "echo foobar"}},
        parameters=SUB,
    ),
    Example(
        "chain_test_inquiry.yaml",
        ["task1", "task2"],
        {
            "task1": {
                "route": "developers",
                "schema": {
                    "type": "object",
                    "properties": {
                        "secondfactor": {
                            "type": "string",
                            "description": 'Please enter second factor for authenticating to "foo" '
                            "service",
                            "required": True,
                        }
                    },
                },
            },
            # StackStorm shows the answer under task1.result after the inquiry was pending.
            "task2": {"cmd": 'echo "We can now authenticate to "foo" service with s3cr3t"'},
        },
        replies={"task1": [[("pending", PENDING_INQUIRY), ("succeeded", ANSWERED_INQUIRY)]]},
    ),
    Example(
        "chain_test_inquiry_parent.yaml",
        ["task1", "task2"],
        {"task1": {}, "task2": {"cmd": 'echo "parent task2"'}},
        # The sub-chain pauses on its inquiry, which pauses this chain too.
        replies={"task1": [[("paused", {"tasks": []}), ("succeeded", {"tasks": []})]]},
    ),
    Example(
        "chain_test_pause_resume.yaml",
        ["task1", "task2"],
        {"task1": {"cmd": WAIT}, "task2": {"cmd": 'echo "hello"'}},
        parameters=SUB,
    ),
    Example(
        "chain_test_pause_resume_with_subchain.yaml",
        ["task1", "task2"],
        {"task1": SUB, "task2": {"cmd": "echo foobar"}},
        parameters=SUB,
    ),
    Example(
        "chain_test_pause_resume_with_subworkflow.yaml",
        ["task1", "task2"],
        {"task1": SUB, "task2": {"cmd": "echo foobar"}},
        parameters=SUB,
    ),
    Example(
        "data_jinja_filter.yaml",
        ["c1", "c2", "c3"],
        {
            "c1": {},
            "c2": {"json_str": FUNCTIONS["to_json_string"](SAMPLE)},
            "c3": {"yaml_str": FUNCTIONS["to_yaml_string"](SAMPLE)},
        },
        replies={"c1": python(SAMPLE)},
    ),
    Example(
        "decrypt_kv_jinja_filter.yaml",
        ["c1", "c2"],
        {"c1": {"cmd": "echo plain-system"}, "c2": {"cmd": "echo plain-user"}},
        functions=lambda: {"st2kv": datastore()},
    ),
    Example(
        "echochain.yaml",
        ["c1", "c2", "c3"],
        {
            "c1": {"cmd": "echo c1"},
            "c2": {"cmd": 'echo "c2: parent exec is chain-1."'},
            "c3": {"cmd": "echo c3"},
        },
        # The action's metadata sets skip_notify and notify.
        options={"skip_notify": ["c2"], "notify": ECHOCHAIN_NOTIFY},
        notify=[ECHOCHAIN_NOTIFY, None, ECHOCHAIN_NOTIFY],
    ),
    Example(
        "echochain_param.yaml",
        ["c1", "c2", "c3"],
        {
            "c1": {"cmd": "echo c1, input hello"},
            "c2": {"cmd": "echo c2 c1, input hello"},
            "c3": {"cmd": "echo c3 c2 c1, input hello"},
        },
        parameters={"input1": "hello"},
    ),
    Example(
        "forloop_chain.yaml",
        [
            *["get_github_page", "parse_github_repos", "push_github_repos"],
            "increase_index_and_check_condition",
            *["get_github_page", "parse_github_repos", "push_github_repos"],
            *["increase_index_and_check_condition", "finished"],
        ],
        {
            "get_github_page": [{"url": URL, "page": ""}, {"url": URL, "page": "2"}],
            "parse_github_repos": {"content": "<html>repos</html>"},
            "push_github_repos": {"data_to_push": str(REPOS)},
            "increase_index_and_check_condition": [
                {"index": "", "pagesize": "30", "input": str(REPOS)},
                {"index": "2", "pagesize": "30", "input": str(REPOS)},
            ],
            "finished": {"cmd": "exit 0"},
        },
        parameters={"github_organization_url": URL},
        failed_runs=1,  # the loop ends through on-failure of the check
        replies={
            "get_github_page": python("<html>repos</html>"),
            "parse_github_repos": python(REPOS),
            "push_github_repos": python(None),
            # The action returns (True, index + 1), then (False, ...) once a page is short.
            "increase_index_and_check_condition": [
                python(2),
                python("Breaking out of the loop", "failed"),
            ],
        },
    ),
    Example(
        "json_escape_jinja_filter.yaml",
        ["post_alert"],
        checks=json_escape_checks,
    ),
    Example(
        "publish_data.yaml",
        ["get_host", "say_the_names", "call_api", "call_webui"],
        {
            "get_host": {"cmd": "hostname | tr -d ' \\n'"},
            "say_the_names": {
                "cmd": "echo host=myhost, domain=, fqdn=myhost, api_url=http://myhost:9101, "
                "webui_url=http://myhost:8080"
            },
            "call_api": {"method": "GET", "url": "http://myhost:9101/v1/actions"},
            "call_webui": {"method": "GET", "url": "http://myhost:8080//", "allow_redirects": True},
        },
        parameters={"system_info_path": "/system-info"},
        replies={"get_host": ("succeeded", {"stdout": "myhost", "return_code": 0})},
        published={
            "api_url": "http://myhost:9101",
            "webui_url": "http://myhost:8080",
            "host": "myhost",
            "fqdn": "myhost",  # st2kv.system.domain is not set
            # A dict is rendered as JSON text in StackStorm: its items become strings.
            "paths": {
                "api": ["v1/actions", "v1/triggers"],
                "webui": "/",
                "auth_port": "9102",
                "system_info": "/system-info",
            },
        },
        functions=lambda: {"st2kv": datastore()},
        warnings=3,
    ),
    Example(
        "regex_jinja_filter.yaml",
        ["is_match", "replace_string", "search_for_str", "show_address", "show_second_address"],
        {
            "is_match": {"cmd": "echo False"},
            "replace_string": {"cmd": "echo Your address is <redacted>. My address is <redacted>."},
            "search_for_str": {"cmd": "echo True"},
            "show_address": {"cmd": "echo 567 Elsewhere Dr"},
            "show_second_address": {"cmd": "echo 123 Somewhere Ave"},
        },
    ),
    Example("time_jinja_filter.yaml", ["c1"], {"c1": {"cmd": "echo '3h25m45s'"}}),
    Example(
        "version_jinja_filter.yaml",
        ["c1", "c2", "c3", "c4", "c5"],
        {
            "c1": {"cmd": "echo 1.7.0"},
            "c2": {"cmd": "echo 2.0.0"},
            "c3": {"cmd": "echo 1"},
            "c4": {"cmd": "echo 1.7"},
            "c5": {"cmd": "echo True"},
        },
    ),
]

# Both reference a node "c4" that the chain does not define: StackStorm's runner refuses them
# before running anything (ChainHolder.validate), with this message.
REFUSED = {
    "echochain_task_failure.yaml": 'Unable to find node with name "c4" referenced in '
    '"on-failure" in task "c1".',
    "echochain_top_level_failure.yaml": 'Unable to find node with name "c4" referenced in '
    '"on-failure" in task "c1".',
}


def example_path(name: str) -> Path:
    if not ST2_EXAMPLES.is_dir():
        pytest.skip(f"StackStorm's example chains are not on this machine ({ST2_EXAMPLES})")
    return ST2_EXAMPLES / name


def test_the_table_covers_every_example() -> None:
    if not ST2_EXAMPLES.is_dir():
        pytest.skip(f"StackStorm's example chains are not on this machine ({ST2_EXAMPLES})")
    names = {path.name for path in ST2_EXAMPLES.glob("*.yaml")}
    assert len(names) == 21
    assert names == {example.chain for example in EXAMPLES} | set(REFUSED)


# regex_jinja_filter writes "\w" inside Jinja string literals; Jinja decodes them with
# Python's deprecated invalid-escape behaviour (a DeprecationWarning, as in StackStorm).
@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:decoding with 'unicode-escape' codec failed:DeprecationWarning")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.chain.removesuffix(".yaml"))
def test_example_runs_as_in_stackstorm(example: Example) -> None:
    path = example_path(example.chain)
    spec, diagnostics = parse_chain(path.read_text(), path.name)
    assert spec is not None, [d.format() for d in diagnostics]
    assert all(d.severity is Severity.WARNING for d in diagnostics)
    assert [d.code for d in diagnostics] == ["PH801"] * example.warnings

    run = rehearse(
        spec,
        example.parameters,
        example.replies,
        default=default_reply,
        functions=example.functions(),
        **example.options,
    )

    assert run.order == example.order
    assert run.finished.status is example.status
    result = run.finished.result
    assert [task["name"] for task in result["tasks"]] == example.order
    states = [task["state"] for task in result["tasks"]]
    assert states.count("failed") == example.failed_runs
    assert states.count("succeeded") == len(states) - example.failed_runs
    assert result["published"] == example.published
    assert "error" not in result
    for node, expected in example.rendered.items():
        runs = expected if isinstance(expected, list) else [expected]
        assert [run.parameters(node, index) for index in range(len(runs))] == runs, node
    if example.notify is not None:
        assert [step.notify for step in run.started] == example.notify
    if example.checks is not None:
        example.checks({step.node: step.parameters for step in run.started})


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_examples_that_stackstorm_refuses(name: str) -> None:
    path = example_path(name)
    spec, diagnostics = parse_chain(path.read_text(), path.name)
    assert spec is None
    assert [(d.code, d.message, d.field) for d in diagnostics] == [
        ("PH803", REFUSED[name], "chain.0.on-failure")
    ]


def test_chain_test_cancel_canceled_while_task1_runs() -> None:
    """StackStorm's test_chain_cancel: canceled during task1, the chain ends with 1 task."""
    spec, _ = parse_chain(example_path("chain_test_cancel.yaml").read_text(), "c")
    assert spec is not None
    state, step = start(spec, SUB, {"user": "stanley"}, execution_id="c", now="t0")
    assert isinstance(step, RunNode) and step.node == "task1"
    state, _ = cancel(state)
    state, end = on_result(spec, state, "task1", "succeeded", {}, execution_id="e", now="t1")
    assert end == ChainFinished(ChainStatus.CANCELED, {"tasks": [state.tasks[0]], "published": {}})


def test_chain_test_pause_resume_paused_during_task1() -> None:
    """StackStorm's test_chain_pause_resume: paused during task1, resumed, 2 tasks."""
    spec, _ = parse_chain(example_path("chain_test_pause_resume.yaml").read_text(), "c")
    assert spec is not None
    state, _ = start(spec, SUB, {"user": "stanley"}, execution_id="c", now="t0")
    state, _ = pause(state)
    state, paused = on_result(spec, state, "task1", "succeeded", {}, execution_id="e", now="t1")
    assert isinstance(paused, ChainPaused) and len(paused.result["tasks"]) == 1
    state, step = resume(spec, state, now="t2")
    assert isinstance(step, RunNode) and step.parameters == {"cmd": 'echo "hello"'}
    state, end = on_result(spec, state, "task2", "succeeded", {}, execution_id="f", now="t3")
    assert isinstance(end, ChainFinished) and end.status is ChainStatus.SUCCEEDED
    assert len(state.tasks) == 2
