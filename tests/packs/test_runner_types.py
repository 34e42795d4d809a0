"""The runner catalogue: the facts packs depend on."""

from __future__ import annotations

from packhorse.model.runner_types import REMOVED_RUNNER_TYPES, RUNNER_TYPES

EXPECTED = {
    "local-shell-cmd",
    "local-shell-script",
    "remote-shell-cmd",
    "remote-shell-script",
    "python-script",
    "http-request",
    "orquesta",
    "action-chain",
    "inquirer",
    "noop",
    "announcement",
    "winrm-cmd",
    "winrm-ps-cmd",
    "winrm-ps-script",
}


def test_every_runner_type() -> None:
    assert set(RUNNER_TYPES) == EXPECTED
    assert not set(REMOVED_RUNNER_TYPES) & EXPECTED


def test_parameters_packs_rely_on() -> None:
    local = RUNNER_TYPES["local-shell-cmd"].parameters
    assert local["timeout"]["default"] == 60
    assert local["kwarg_op"]["default"] == "--"
    assert local["sudo_password"]["secret"] is True
    assert RUNNER_TYPES["python-script"].parameters["timeout"]["default"] == 600
    remote = RUNNER_TYPES["remote-shell-cmd"].parameters
    assert remote["hosts"]["required"] is True
    assert remote["dir"]["immutable"] is True
    assert remote["parallel"]["immutable"] is True
    assert "immutable" not in RUNNER_TYPES["remote-shell-script"].parameters["dir"]
    assert RUNNER_TYPES["http-request"].parameters["url"]["required"] is True
    assert RUNNER_TYPES["inquirer"].parameters["ttl"]["default"] == 1440
    assert RUNNER_TYPES["winrm-cmd"].parameters["port"]["default"] == 5986
    assert RUNNER_TYPES["noop"].parameters == {}


def test_shape_flags() -> None:
    assert RUNNER_TYPES["python-script"].output_key == "result"
    assert RUNNER_TYPES["orquesta"].workflow and RUNNER_TYPES["action-chain"].workflow
    assert RUNNER_TYPES["local-shell-cmd"].entry_point_forbidden
    assert RUNNER_TYPES["local-shell-script"].entry_point_required
    assert not RUNNER_TYPES["announcement"].implemented
    assert {name for name, r in RUNNER_TYPES.items() if not r.implemented} == {
        "announcement",
        "winrm-cmd",
        "winrm-ps-cmd",
        "winrm-ps-script",
    }
    assert REMOVED_RUNNER_TYPES["mistral-v2"].startswith("orquesta")
