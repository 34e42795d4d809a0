"""Transforms that only report: Python 2, Mistral v2, stackstorm_version; and the registry."""

from __future__ import annotations

from packhorse.migrate import transforms
from packhorse.migrate.transforms import mistral, python2, stackstorm_version

PY2 = 'import os\n\n\ndef f():\n    print "x"\n'
MISTRAL = """\
version: '2.0'
p.wf:
  type: direct
  tasks:
    a:
      action: core.noop
      retry:
        count: 3
      on-success: [b]
    b:
      with-items: x in <% $.xs %>
      action: core.noop
"""


def test_python2_declared_and_uncompilable() -> None:
    findings = python2.detect(
        {"pack.yaml": "name: p\npython_versions:\n  - '2'\n", "a.py": PY2, "ok.py": "x = 1\n"}
    )
    assert [(f.path, f.line, f.fixable) for f in findings] == [
        ("pack.yaml", 2, False),
        ("a.py", 5, False),
    ]
    assert "print" in findings[1].message


def test_python3_packs_are_not_flagged() -> None:
    assert python2.detect({"pack.yaml": "python_versions: ['2', '3']\n"}) == []
    assert python2.detect({"pack.yaml": "name: p\n"}) == []


def test_mistral_reports_workflow_runner_and_manual_features() -> None:
    findings = mistral.detect(
        {
            "actions/workflows/wf.yaml": MISTRAL,
            "actions/wf.yaml": "name: wf\nrunner_type: mistral-v2\n",
            "actions/workflows/o.yaml": "version: 1.0\ntasks: {}\n",
        }
    )
    assert [(f.path, f.line, f.col) for f in findings] == [
        ("actions/wf.yaml", 2, 14),
        ("actions/workflows/wf.yaml", 2, 1),
        ("actions/workflows/wf.yaml", 7, 7),
        ("actions/workflows/wf.yaml", 11, 7),
    ]
    # the entry point is not set: the action cannot be converted either
    assert not any(f.fixable for f in findings)
    assert "retry" in findings[2].message
    assert "with-items" in findings[3].message


def test_stackstorm_version() -> None:
    [finding] = stackstorm_version.detect({"pack.yaml": 'stackstorm_version: "<3.0"\n'})
    assert (finding.line, finding.col, finding.fixable) == (1, 21, False)
    assert stackstorm_version.detect({"pack.yaml": 'stackstorm_version: ">=3.0"\n'}) == []


def test_registry_ids_are_unique_and_described() -> None:
    ids = [t.id for t in transforms.REGISTRY]
    assert len(ids) == len(set(ids))
    assert all(t.description and t.since for t in transforms.REGISTRY)


def test_apply_all_is_idempotent() -> None:
    files = {
        "pack.yaml": "name: p\nversion: 1.0\n",
        "actions/workflows/w.yaml": (
            "version: 1.0\ntasks:\n  continue:\n"
            "    action: core.echo message=<% format('{0}', 1) %>\n"
        ),
    }
    changed = transforms.apply_all(files)
    assert set(changed) == set(files)
    assert transforms.apply_all({**files, **changed}) == {}
    assert [f for f in transforms.detect({**files, **changed}) if f.fixable] == []
