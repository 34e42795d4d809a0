"""``python2-only``: packs whose code is Python 2.

A pack declaring ``python_versions`` without ``3`` is flagged, and every ``.py`` file of any
pack that Python 3 cannot compile (``print x``, ``except E, e``...) is reported at the line
the compiler names. Nothing here is fixable: the code needs porting.
"""

from __future__ import annotations

import yaml

from packhorse.migrate.transforms.base import Finding, PackFiles, Transform
from packhorse.migrate.transforms.yamltext import compose, get, where

ID = "python2-only"


def _declared(files: PackFiles) -> list[Finding]:
    text = files.get("pack.yaml")
    pair = get(compose(text), "python_versions") if text is not None else None
    if pair is None or not isinstance(pair[1], yaml.SequenceNode):
        return []
    versions = [str(item.value) for item in pair[1].value if isinstance(item, yaml.ScalarNode)]
    if not versions or any(v.strip().startswith("3") for v in versions):
        return []
    line, col = where(pair[0])
    message = (
        f"python_versions {versions} is Python 2 only: port the code to Python 3, then declare '3'"
    )
    return [Finding(ID, "pack.yaml", line, col, message, fixable=False)]


def compile_problem(path: str, text: str) -> Finding | None:
    """Where Python 3 refuses ``text`` (None when it compiles)."""
    try:
        # Compiling parses only: nothing of the pack runs.
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        message = f"Python 3 cannot compile it: {error.msg}"
        return Finding(ID, path, error.lineno or 0, error.offset or 0, message, fixable=False)
    except ValueError as error:  # e.g. a NUL byte
        return Finding(ID, path, 0, 0, f"Python 3 cannot compile it: {error}", fixable=False)
    return None


def detect(files: PackFiles) -> list[Finding]:
    findings = _declared(files)
    for path, text in sorted(files.items()):
        if path.endswith(".py"):
            problem = compile_problem(path, text)
            if problem is not None:
                findings.append(problem)
    return findings


TRANSFORM = Transform(
    id=ID,
    description="Python-2-only packs and .py files Python 3 cannot compile (reported)",
    since="3.0.0",
    detect=detect,
)
