"""One case per diagnostic code: a broken pack that triggers it, with file, line and message."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from packhorse.model.diagnostics import Severity
from packhorse.packs.validate.codes import CODES

from .helpers import PACK_YAML, diagnostics_of


@dataclass(frozen=True)
class Case:
    code: str
    files: dict[str, str | bytes]
    file: str
    line: int
    message: str
    dir_name: str = "demo"
    extra: dict[str, str] = field(default_factory=dict)


NOOP = "---\nname: {name}\nrunner_type: noop\n"
ACTION_A = {"actions/a.yaml": NOOP.format(name="a")}


def action(text: str, **files: str) -> dict[str, str | bytes]:
    return {"actions/a.yaml": "---\nname: a\n" + text, **files}


def rule(text: str) -> dict[str, str | bytes]:
    return {**ACTION_A, "rules/r.yaml": "---\nname: r\n" + text}


WEBHOOK = "trigger:\n  type: core.st2.webhook\n  parameters:\n    url: hook\n"
TO_A = "action:\n  ref: demo.a\n"


def manifest(extra: str) -> dict[str, str | bytes]:
    return {"pack.yaml": PACK_YAML + extra}


def sensor(text: str, **files: str) -> dict[str, str | bytes]:
    return {"sensors/s.yaml": "---\nclass_name: S\n" + text, **files}


CASES = [
    # PH0xx: files, YAML and shared structure
    Case("PH001", {"actions/a.yaml": b"---\nname: \xff\n"}, "actions/a.yaml", 0, "UTF-8"),
    Case("PH002", {"actions/a.yaml": "---\nname: [a\n"}, "actions/a.yaml", 3, "invalid YAML"),
    Case(
        "PH003",
        {"actions/a.yaml": "---\nname: a\nname: b\nrunner_type: noop\n"},
        "actions/a.yaml",
        3,
        "duplicate key 'name'",
    ),
    Case("PH004", {"actions/a.yaml": "---\n- a\n"}, "actions/a.yaml", 2, "must be a YAML mapping"),
    Case(
        "PH005",
        {**ACTION_A, "actions/b.yaml": NOOP.format(name="a")},
        "actions/b.yaml",
        2,
        "already defined in actions/a.yaml",
    ),
    Case("PH010", action(""), "actions/a.yaml", 2, "runner_type"),
    Case(
        "PH011", action("runner_type: noop\nfoo: 1\n"), "actions/a.yaml", 4, "unknown field 'foo'"
    ),
    Case(
        "PH012",
        action("runner_type: noop\nenabled: sometimes\n"),
        "actions/a.yaml",
        4,
        "enabled must be a boolean",
    ),
    Case("PH013", action("pack: other\nrunner_type: noop\n"), "actions/a.yaml", 3, "pack 'other'"),
    # PH1xx: pack.yaml
    Case(
        "PH101",
        {"pack.yaml": PACK_YAML.replace("1.0.0", "0.2")},
        "pack.yaml",
        4,
        "not strict semver",
    ),
    Case(
        "PH102",
        {"pack.yaml": PACK_YAML.replace("name: demo", "name: Demo Pack")},
        "pack.yaml",
        2,
        "cannot work out the pack ref",
        dir_name="Demo-Pack",
    ),
    Case("PH103", manifest("ref: Bad-Ref\n"), "pack.yaml", 7, "ref 'Bad-Ref' is invalid"),
    Case("PH104", manifest("ref: _global\n"), "pack.yaml", 7, "reserved"),
    Case("PH105", manifest("stackstorm_version: '3.0'\n"), "pack.yaml", 7, "stackstorm_version"),
    Case("PH106", manifest("python_versions: [4]\n"), "pack.yaml", 7, "python_versions"),
    Case(
        "PH107",
        {"pack.yaml": PACK_YAML.replace("tests@example.org", "nobody")},
        "pack.yaml",
        6,
        "not an e-mail address",
    ),
    Case("PH108", {"config.yaml": "a: 1\n"}, "pack.yaml", 2, "config.yaml inside the pack"),
    Case("PH109", manifest("ref: other\n"), "pack.yaml", 7, "rename the folder"),
    Case("PH110", manifest("python_versions: ['2']\n"), "pack.yaml", 7, "Python 3"),
    Case("PH111", manifest("dependencies:\n  - ''\n"), "pack.yaml", 8, "dependency"),
    # PH2xx: actions and parameters
    Case(
        "PH201",
        action("runner_type: mistral-v2\nentry_point: wf.yaml\n"),
        "actions/a.yaml",
        3,
        "removed from StackStorm; use orquesta",
    ),
    Case("PH202", action("runner_type: winrm-cmd\n"), "actions/a.yaml", 3, "not implemented"),
    Case(
        "PH203", action("runner_type: python-script\n"), "actions/a.yaml", 3, "needs an entry_point"
    ),
    Case(
        "PH204",
        action("runner_type: local-shell-cmd\nentry_point: x.sh\n", **{"actions/x.sh": ""}),
        "actions/a.yaml",
        4,
        "ignores entry_point",
    ),
    Case(
        "PH205",
        action("runner_type: python-script\nentry_point: missing.py\n"),
        "actions/a.yaml",
        4,
        "expected the file actions/missing.py",
    ),
    Case(
        "PH206",
        action("runner_type: python-script\nentry_point: ../../outside.py\n"),
        "actions/a.yaml",
        4,
        "outside the pack",
    ),
    Case(
        "PH207",
        action(
            "runner_type: orquesta\nentry_point: workflows/wf.yaml\n",
            **{"actions/workflows/wf.yaml": "- just\n- a list\n"},
        ),
        "actions/a.yaml",
        4,
        "must be a YAML mapping",
    ),
    Case(
        "PH208",
        action("runner_type: noop\nparameters:\n  bad-name:\n    type: string\n"),
        "actions/a.yaml",
        5,
        "parameter name 'bad-name' is invalid",
    ),
    Case(
        "PH209",
        action("runner_type: noop\nparameters:\n  x:\n    type: string\n    requird: true\n"),
        "actions/a.yaml",
        7,
        "unknown keyword 'requird'",
    ),
    Case(
        "PH210",
        action("runner_type: noop\nparameters:\n  x:\n    type: [string, integer]\n"),
        "actions/a.yaml",
        6,
        "single type",
    ),
    Case(
        "PH211",
        action("runner_type: noop\nparameters:\n  x:\n    type: string\n    format: email\n"),
        "actions/a.yaml",
        7,
        "'format' is not allowed",
    ),
    Case(
        "PH212",
        action("runner_type: noop\nparameters:\n  x:\n    type: string\n    secret: 'yes'\n"),
        "actions/a.yaml",
        7,
        "secret must be true or false",
    ),
    Case(
        "PH213",
        action("runner_type: noop\nparameters:\n  x:\n    position: -1\n"),
        "actions/a.yaml",
        6,
        "position must be a number >= 0",
    ),
    Case(
        "PH214",
        action(
            "runner_type: local-shell-script\nentry_point: s.sh\nparameters:\n"
            "  first:\n    position: 0\n  third:\n    position: 2\n",
            **{"actions/s.sh": "#!/bin/sh\n"},
        ),
        "actions/a.yaml",
        9,
        "positions 0, 2 are not contiguous",
    ),
    Case(
        "PH215",
        action("runner_type: noop\nparameters:\n  x:\n    type: string\n    immutable: true\n"),
        "actions/a.yaml",
        7,
        "immutable but has no default",
    ),
    Case(
        "PH216",
        action("runner_type: local-shell-cmd\nparameters:\n  cmd:\n    type: integer\n"),
        "actions/a.yaml",
        6,
        "changes 'type'",
    ),
    Case(
        "PH217",
        action(
            "runner_type: remote-shell-cmd\nparameters:\n  parallel:\n"
            "    default: true\n    immutable: true\n"
        ),
        "actions/a.yaml",
        7,
        "immutable by the runner already",
    ),
    Case(
        "PH218",
        action("runner_type: noop\nparameters:\n  x: string\n"),
        "actions/a.yaml",
        5,
        "must be a mapping",
    ),
    Case(
        "PH221",
        action("runner_type: noop\noutput_schema:\n  type: 5\n"),
        "actions/a.yaml",
        5,
        "output_schema is not a valid JSON schema",
    ),
    # PH3xx: rules, trigger types, references
    Case(
        "PH301",
        rule(WEBHOOK + TO_A + "criteria:\n  trigger.body.x: equals\n"),
        "rules/r.yaml",
        10,
        "criterion 'trigger.body.x' must be a mapping",
    ),
    Case(
        "PH302",
        rule(WEBHOOK + TO_A + "criteria:\n  trigger.body.x:\n    type: sameas\n    pattern: 1\n"),
        "rules/r.yaml",
        11,
        "unknown operator 'sameas'",
    ),
    Case(
        "PH303",
        rule(WEBHOOK + TO_A + "criteria:\n  trigger.body.x:\n    pattern: 1\n"),
        "rules/r.yaml",
        10,
        "never matches",
    ),
    Case(
        "PH304",
        rule(
            WEBHOOK + TO_A + "criteria:\n  trigger.body.items:\n    type: search\n"
            "    condition: some\n    pattern:\n      item.name:\n        type: equals\n"
            "        pattern: x\n"
        ),
        "rules/r.yaml",
        12,
        "condition",
    ),
    Case(
        "PH305",
        rule(
            WEBHOOK + TO_A + "criteria:\n  trigger.body.items:\n    type: SEARCH\n"
            "    condition: any\n    pattern: x\n"
        ),
        "rules/r.yaml",
        13,
        "search needs 'pattern' to be a mapping",
    ),
    Case(
        "PH306",
        rule("trigger:\n  type: elsewhere.thing\n" + TO_A),
        "rules/r.yaml",
        4,
        "pack 'elsewhere' is neither installed",
    ),
    Case(
        "PH307",
        rule("trigger:\n  type: demo.nothing\n" + TO_A),
        "rules/r.yaml",
        4,
        "does not exist in pack 'demo'",
    ),
    Case(
        "PH308",
        rule(
            "trigger:\n  type: core.st2.IntervalTimer\n  parameters:\n    unit: fortnights\n" + TO_A
        ),
        "rules/r.yaml",
        6,
        "'fortnights' is not one of",
    ),
    Case(
        "PH309",
        rule(WEBHOOK + "action:\n  ref: elsewhere.act\n"),
        "rules/r.yaml",
        8,
        "pack 'elsewhere' is neither installed",
    ),
    Case(
        "PH310",
        rule(WEBHOOK + "action:\n  ref: demo.missing\n"),
        "rules/r.yaml",
        8,
        "action 'demo.missing' does not exist",
    ),
    Case(
        "PH311",
        rule(WEBHOOK + "action:\n  ref: nodot\n"),
        "rules/r.yaml",
        8,
        "not a '<pack>.<name>' ref",
    ),
    Case(
        "PH312",
        rule(WEBHOOK + TO_A + "type:\n  ref: fancy\n"),
        "rules/r.yaml",
        10,
        "rule type 'fancy' is unknown",
    ),
    Case(
        "PH313",
        {"triggers/t.yaml": "---\nname: t\npayload_schema:\n  type: 12\n"},
        "triggers/t.yaml",
        4,
        "payload_schema is not a valid JSON schema",
    ),
    Case(
        "PH314",
        rule(
            "trigger:\n  type: core.st2.CronTimer\n  parameters:\n    day_of_week: funday\n" + TO_A
        ),
        "rules/r.yaml",
        6,
        "day_of_week: 'funday': unknown name",
    ),
    # PH4xx: sensors
    Case("PH401", sensor("entry_point: missing.py\n"), "sensors/s.yaml", 3, "sensors/missing.py"),
    Case("PH402", sensor("entry_point: ../../x.py\n"), "sensors/s.yaml", 3, "outside the pack"),
    Case(
        "PH403",
        sensor("entry_point: s.py\npoll_interval: 0\n", **{"sensors/s.py": ""}),
        "sensors/s.yaml",
        4,
        "poll_interval must be a number",
    ),
    Case(
        "PH404",
        sensor("entry_point: s.py\ntrigger_types:\n  - just_a_name\n", **{"sensors/s.py": ""}),
        "sensors/s.yaml",
        5,
        "trigger_types[0] must be a trigger-type definition",
    ),
    Case("PH405", sensor(""), "sensors/s.yaml", 2, "no entry_point"),
    # PH5xx: aliases and policies
    Case(
        "PH501",
        {**ACTION_A, "aliases/x.yaml": "---\nname: x\naction_ref: demo.a\nformats:\n  - 42\n"},
        "aliases/x.yaml",
        5,
        "formats[0]",
    ),
    Case(
        "PH502",
        {
            **ACTION_A,
            "aliases/x.yaml": "---\nname: x\naction_ref: demo.a\nack:\n  enabled: 'yes'\n",
        },
        "aliases/x.yaml",
        5,
        "ack.enabled must be a boolean",
    ),
    Case(
        "PH503",
        {
            **ACTION_A,
            "aliases/x.yaml": "---\nname: x\naction_ref: demo.a\nformats:\n"
            "  - display: restart\n    representation:\n      - 'restart ( {{ service }}'\n",
        },
        "aliases/x.yaml",
        7,
        "is not a valid regular expression",
    ),
    Case(
        "PH510",
        {
            **ACTION_A,
            "policies/p.yaml": "---\nname: p\nresource_ref: demo.a\npolicy_type: action.magic\n",
        },
        "policies/p.yaml",
        4,
        "unknown policy type 'action.magic'",
    ),
    Case(
        "PH511",
        {
            **ACTION_A,
            "policies/p.yaml": (
                "---\nname: p\nresource_ref: demo.a\npolicy_type: action.retry\nparameters:\n"
                "  retry_on: failure\n  max_retry_count: 9\n"
            ),
        },
        "policies/p.yaml",
        7,
        "must be at most 5",
    ),
    # PH6xx: config schema
    Case("PH601", {"config.schema.yaml": ""}, "config.schema.yaml", 0, "empty"),
    Case(
        "PH602",
        {"config.schema.yaml": "---\nbad-key:\n  type: string\n"},
        "config.schema.yaml",
        2,
        "parameter name 'bad-key' is invalid",
    ),
]

#: Codes whose case needs more than one pack or folder: tested in test_discover/test_batch;
#: and the codes of config values (configs/<ref>.yaml), tested in test_config_values.
WORKFLOW = "runner_type: orquesta\nentry_point: workflows/wf.yaml\n"
CASES += [
    Case(
        "PH707",
        action(
            WORKFLOW,
            **{"actions/workflows/wf.yaml": "version: 1.0\ntasks:\n  t:\n    next: [{do: u}]\n"},
        ),
        "actions/workflows/wf.yaml",
        4,
        'The task "u" is not defined.',
    ),
    Case(
        "PH708",
        action(
            WORKFLOW,
            **{
                "actions/workflows/wf.yaml": "version: 1.0\ntasks:\n  t:\n"
                "    action: <% ctx(x) %>\n"
            },
        ),
        "actions/workflows/wf.yaml",
        4,
        'Variable "x" is referenced before assignment.',
    ),
]

CHAIN = "runner_type: action-chain\nentry_point: chains/c.yaml\n"
CASES += [
    Case(
        "PH803",
        action(
            CHAIN,
            **{
                "actions/chains/c.yaml": (
                    "chain:\n  - name: a\n    ref: core.noop\n    on-success: b\n"
                )
            },
        ),
        "actions/chains/c.yaml",
        4,
        'Unable to find node with name "b" referenced in "on-success" in task "a".',
    ),
]

# Workflow codes: one case each in tests/workflow/test_spec.py (Orquesta) and
# tests/workflow/test_actionchain.py (action chains).
ELSEWHERE = (
    {"PH006", "PH007", "PH100"}
    | {code for code in CODES if code.startswith("PH61")}
    | {code for code in CODES if code.startswith("PH7") and code not in {"PH707", "PH708"}}
    | {code for code in CODES if code.startswith("PH8") and code != "PH803"}
)


def test_every_code_has_a_case() -> None:
    covered = {case.code for case in CASES} | ELSEWHERE
    assert covered == set(CODES)


@pytest.mark.parametrize("case", CASES, ids=[case.code for case in CASES])
def test_code(tmp_path: Path, case: Case) -> None:
    found = diagnostics_of(tmp_path, case.files, case.dir_name)
    matching = [d for d in found if d.code == case.code and case.message in d.message]
    assert matching, f"{case.code} not reported; got {[d.format() for d in found]}"
    diagnostic = matching[0]
    assert diagnostic.path == f"{case.dir_name}/{case.file}"
    assert diagnostic.line == case.line, diagnostic.format()
    assert case.message in diagnostic.message
    if case.code.startswith(("PH7", "PH8")):
        # Workflow problems do not block a pack's registration (StackStorm registers the
        # pack; the workflow fails when run): warnings in a pack, errors in `workflow validate`.
        assert diagnostic.severity is Severity.WARNING
        assert diagnostic.message.endswith("(this workflow will fail when run)")
    else:
        assert diagnostic.severity is CODES[case.code].severity
    if diagnostic.severity is Severity.ERROR:
        assert diagnostic.is_error
