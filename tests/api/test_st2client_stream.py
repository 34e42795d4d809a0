"""``st2 execution tail`` (``st2client`` from PyPI, in a venv of its own) against the served
app: it reads ``/stream/v1/stream`` for the execution's updates and output and stops when the
execution ends. Skipped, saying why, when pip cannot install st2client."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import st2_logged_in
from tests.api.credentials import headers_for
from tests.api.serving import serving
from tests.api.test_executions_api import served_url  # noqa: F401 - the fixture

from packhorse import bootstrap
from packhorse.settings import load_settings

FLOWS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "flows"

pytestmark = pytest.mark.slow


def test_st2_execution_tail_follows_a_running_execution_to_its_end(
    st2_bin: Path,
    served_url: tuple[str, dict[str, str]],  # noqa: F811
    instance_home: Path,
    tmp_path: Path,
) -> None:
    url, headers = served_url
    cli = st2_logged_in(st2_bin, url, load_settings(instance_home), tmp_path)
    # Long enough for st2 to start and connect before the output comes.
    created = httpx.post(
        f"{url}/api/v1/executions",
        json={"action": "core.local", "parameters": {"cmd": "sleep 4; echo tailed-line"}},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    execution_id = created.json()["id"]

    tailed = cli("execution", "tail", execution_id, "--include-metadata")

    # Only output that came as stream events has its metadata (an execution that had already
    # ended would be printed from GET .../output, plain).
    assert re.search(r"^\[\S+Z\]\[stdout\] tailed-line$", tailed, re.MULTILINE), tailed
    assert tailed.rstrip().endswith(
        f"Execution {execution_id} has completed (status=succeeded)."
    ), tailed


@pytest.fixture
def flows_url(instance_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    shutil.copytree(FLOWS, instance_home / "packs" / "flows")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["flows"]).ok
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield url, headers_for(settings)


def test_st2_execution_tail_follows_a_workflow_and_its_tasks(
    st2_bin: Path, flows_url: tuple[str, dict[str, str]], instance_home: Path, tmp_path: Path
) -> None:
    url, headers = flows_url
    cli = st2_logged_in(st2_bin, url, load_settings(instance_home), tmp_path)
    # nap (core.local sleep 4), then after (core.noop): st2 connects during the nap.
    created = httpx.post(
        f"{url}/api/v1/executions",
        json={"action": "flows.sleepy", "parameters": {"seconds": 4}},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    tailed = cli("execution", "tail", workflow_id)

    child = r"Child execution \(task={task}\) [0-9a-f]{{24}} has {what}"
    assert re.search(child.format(task="nap", what=r"finished \(status=succeeded\)"), tailed)
    assert re.search(child.format(task="after", what="started"), tailed), tailed
    assert re.search(child.format(task="after", what=r"finished \(status=succeeded\)"), tailed)
    assert tailed.rstrip().endswith(f"Execution {workflow_id} has completed (status=succeeded)."), (
        tailed
    )
