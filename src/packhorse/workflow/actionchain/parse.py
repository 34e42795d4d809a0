"""Reading and checking an action chain file.

    parse_chain(text, path) -> (ChainSpec | None, [Diagnostic])

Parsing never raises; every problem is a diagnostic with the file, line, column and dotted
field (``chain.1.on-success``). The spec is None when there is any error.

What StackStorm checks (``ActionChain``/``Node`` schemas in ``st2common.models.system.
actionchain`` and ``ChainHolder.validate`` in the runner), and what we add:

* the top level allows ``chain`` (required), ``default`` and ``vars``; a node allows ``name``
  and ``ref`` (required), ``params``/``parameters``, ``on-success``, ``on-failure``,
  ``publish`` and ``notify``. StackStorm's schema lists the node schema as a one-item tuple,
  so it checks the *first* node only: an unknown key on a later node (``description`` is
  common) is a warning, PH801, because StackStorm runs such chains;
* ``params`` and ``parameters`` together, a ``default``, ``on-success`` or ``on-failure``
  naming no node, and an empty chain fail in StackStorm before any node runs: errors;
* added: a missing name or ref and wrong types on any node, Jinja syntax errors (StackStorm
  fails the chain when it reaches that node), duplicate names and names or refs that can never
  resolve (warnings: StackStorm runs them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

from packhorse.expr import is_jinja, syntax_errors
from packhorse.model.diagnostics import Diagnostic, has_errors
from packhorse.packs.validate.report import FileReport, check_type, describe, dotted
from packhorse.packs.validate.yamldoc import Path, parse_yaml
from packhorse.workflow.actionchain.model import ChainSpec, NodeSpec

TOP_KEYS: Final = ("chain", "default", "vars")
NODE_KEYS: Final = (
    "name",
    "ref",
    "params",
    "parameters",
    "on-success",
    "on-failure",
    "publish",
    "notify",
)
NOTIFY_KEYS: Final = ("on-complete", "on-failure", "on-success")

_TOP_TYPES: Final = {"chain": "array", "default": "string", "vars": "object"}
_NODE_TYPES: Final = {
    "name": "string",
    "ref": "string",
    "params": "object",
    "parameters": "object",
    "on-success": "string",
    "on-failure": "string",
    "publish": "object",
    "notify": "object",
}
_NOTIFY_TYPES: Final = {
    "message": "string",
    "data": "object",
    "routes": "array",
    "channels": "array",
}
_TRANSITIONS: Final = ("on-success", "on-failure")


def parse_chain(text: str | bytes, path: str) -> tuple[ChainSpec | None, list[Diagnostic]]:
    """Parse and check one action chain definition; the spec is None when there is any error."""
    doc, diagnostics = parse_yaml(text, path)
    if doc is None:
        return None, diagnostics
    report = FileReport(path, doc, diagnostics)
    data = doc.data
    if not isinstance(data, dict):
        message = f"an action chain is {describe(data)}, not a mapping: it needs a chain list"
        report.add("PH004", message)
        return None, diagnostics
    _check_top(report, data)
    nodes = data.get("chain")
    if isinstance(nodes, list):
        for index, node in enumerate(nodes):
            _check_node(report, node, index)
        _check_names(report, data, nodes)
    _check_templates(report, data)
    if has_errors(diagnostics):
        return None, diagnostics
    return _build(data), diagnostics


def _check_top(report: FileReport, data: Mapping[str, Any]) -> None:
    for key in data:
        if key not in TOP_KEYS:
            report.add("PH011", _unknown(key, "an action chain", TOP_KEYS), (key,))
    if data.get("chain") is None:
        report.add("PH010", "an action chain needs the field chain, a list of nodes; add it")
    elif data["chain"] == []:
        report.add("PH800", "the chain has no nodes: there is no node to start with", ("chain",))
    for key, type_name in _TOP_TYPES.items():
        if data.get(key) is not None:
            check_type(report, data[key], type_name, (key,))


def _check_node(report: FileReport, node: Any, index: int) -> None:
    at: Path = ("chain", index)
    if not isinstance(node, dict):
        report.add("PH012", f"{dotted(at)} must be a mapping (a node), not {describe(node)}", at)
        return
    for key in node:
        if key not in NODE_KEYS:
            if index == 0:
                report.add("PH011", _unknown(key, "a node", NODE_KEYS), (*at, key))
            else:
                message = (
                    f"{_unknown(key, 'a node', NODE_KEYS)}; StackStorm ignores it here but "
                    "refuses it on the first node"
                )
                report.add("PH801", message, (*at, key))
    for key in ("name", "ref"):
        if node.get(key) is None:
            report.add("PH010", f"node {dotted(at)} needs the field {key}; add it", at)
    for key, type_name in _NODE_TYPES.items():
        if node.get(key) is not None:
            check_type(report, node[key], type_name, (*at, key))
    if node.get("params") and node.get("parameters"):
        message = 'Either "params" or "parameters" attribute needs to be provided, but not both'
        report.add("PH802", message, (*at, "parameters"))
    ref = node.get("ref")
    if isinstance(ref, str):
        if is_jinja(ref):
            message = (
                f"ref {ref!r} is a template: StackStorm never renders it, so it finds no action"
            )
            report.add("PH806", message, (*at, "ref"))
        elif not _is_reference(ref):
            message = f"ref {ref!r} is not a pack.action reference: it finds no action"
            report.add("PH807", message, (*at, "ref"))
    notify = node.get("notify")
    if isinstance(notify, dict):
        _check_notify(report, notify, (*at, "notify"), first=index == 0)


def _check_notify(report: FileReport, notify: Mapping[str, Any], at: Path, *, first: bool) -> None:
    # StackStorm checks notify on the first node only, like every other node field.
    for key, settings in notify.items():
        if key not in NOTIFY_KEYS:
            code = "PH011" if first else "PH801"
            report.add(code, _unknown(key, "notify", NOTIFY_KEYS), (*at, key))
        elif settings is not None and check_type(report, settings, "object", (*at, key)):
            for field, value in settings.items():
                if field not in _NOTIFY_TYPES:
                    code = "PH011" if first else "PH801"
                    report.add(
                        code, _unknown(field, "a notification", _NOTIFY_TYPES), (*at, key, field)
                    )
                elif value is not None:
                    check_type(report, value, _NOTIFY_TYPES[field], (*at, key, field))


def _check_names(report: FileReport, data: Mapping[str, Any], nodes: list[Any]) -> None:
    """Duplicate names, and transitions and ``default`` naming no node (ChainHolder.validate)."""
    names: set[str] = set()
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            continue
        name = node["name"]
        if name in names:
            message = f"node name {name!r} is used twice: transitions reach the first one only"
            report.add("PH804", message, ("chain", index, "name"))
        names.add(name)
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        for key in _TRANSITIONS:
            target = node.get(key)
            if isinstance(target, str):
                task = node.get("name")
                where = f'in "{key}" in task "{task}"'
                _check_target(report, target, names, where, ("chain", index, key))
    default = data.get("default")
    if isinstance(default, str):
        _check_target(report, default, names, 'in "default"', ("default",))


def _check_target(report: FileReport, target: str, names: set[str], where: str, at: Path) -> None:
    if not target:
        return
    if is_jinja(target):
        message = (
            f"node name {target!r} {where} is a template: StackStorm never renders it, so the "
            "chain fails (or, for default, ends) when it gets there"
        )
        report.add("PH806", message, at)
    elif target not in names:
        report.add("PH803", f'Unable to find node with name "{target}" referenced {where}.', at)


def _check_templates(report: FileReport, data: Mapping[str, Any]) -> None:
    """PH805 for every Jinja syntax error in vars, parameters and publish."""
    places: list[tuple[Path, Any]] = [(("vars",), data.get("vars"))]
    nodes = data.get("chain")
    if isinstance(nodes, list):
        for index, node in enumerate(nodes):
            if isinstance(node, dict):
                for key in ("params", "parameters", "publish"):
                    places.append((("chain", index, key), node.get(key)))
    for at, value in places:
        if not isinstance(value, dict):
            continue
        for inner, text in _strings(value):
            for error in syntax_errors(text):
                where = dotted((*at, *inner))
                message = f"{where}: invalid Jinja {error.expression!r}: {error.reason}"
                report.add("PH805", message, (*at, *inner))


def _strings(value: Any) -> Iterator[tuple[Path, str]]:
    """Every string in ``value``, mapping keys included, with its path."""
    if isinstance(value, str):
        yield (), value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (key,), key
            for at, text in _strings(item):
                yield (key, *at), text
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for at, text in _strings(item):
                yield (index, *at), text


def _unknown(key: str, where: str, known: Iterable[str]) -> str:
    listed = ", ".join(known)
    return f"unknown field {key!r} in {where}: remove it or fix its spelling (known: {listed})"


def _is_reference(ref: str) -> bool:
    pack, dot, name = ref.partition(".")
    return bool(pack and dot and name)


def _build(data: Mapping[str, Any]) -> ChainSpec:
    nodes = tuple(_node(node) for node in data["chain"])
    return ChainSpec(nodes, data.get("default") or _default(nodes), _frozen(data.get("vars")))


def _node(data: Mapping[str, Any]) -> NodeSpec:
    written = {
        "name": data.get("name"),
        "ref": data.get("ref"),
        "params": data.get("params"),
        "parameters": data.get("parameters"),
        "on_success": data.get("on-success"),
        "on_failure": data.get("on-failure"),
        "publish": data.get("publish"),
        "notify": data.get("notify"),
    }
    return NodeSpec(
        name=data["name"],
        ref=data["ref"],
        parameters=_frozen(data.get("parameters") or data.get("params")),
        on_success=data.get("on-success") or None,
        on_failure=data.get("on-failure") or None,
        publish=_frozen(data.get("publish")),
        notify=data.get("notify") or None,
        written=MappingProxyType(written),
    )


def _default(nodes: tuple[NodeSpec, ...]) -> str:
    """The first node no transition leads to, else the first node (``_get_default``)."""
    targets = {node.on_success for node in nodes} | {node.on_failure for node in nodes}
    for node in nodes:
        if node.name not in targets:
            return node.name
    return nodes[0].name


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))
