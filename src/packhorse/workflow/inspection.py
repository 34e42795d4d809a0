"""StackStorm's inspection of an Orquesta workflow before it runs, as its result shows it.

StackStorm inspects a workflow when an execution starts: orquesta's ``spec.inspect()`` (syntax,
semantics, expressions, and context with the host names ``st2`` and ``parent``) and its own
check of the task actions (the reference is well formed, the action is registered, required
inputs are given and no unknown one is). Any problem fails the execution at once with the
result ``{"output": None, "errors": [...]}``, one entry per problem::

    {"type": "context", "language": "yaql", "expression": "<% ctx().foobar %>",
     "message": 'Variable "foobar" is referenced before assignment.',
     "spec_path": "tasks.task1.input",
     "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.input"}

sorted by type (``content``, ``context``, ``expression``, ``semantic``, ``syntax``) then
schema path. :func:`inspect_workflow` builds that list from the workflow parser's diagnostics
(:func:`packhorse.workflow.spec.parse_workflow`, which checks what orquesta checks) and the
task actions, which the host looks up. Paths are orquesta's: a problem is placed on the
property that holds it (``tasks.t.input``, ``tasks.t.next[0].when``), not deeper.

Messages are orquesta's and StackStorm's where the parser's problem has an orquesta
counterpart; JSON-schema messages (syntax) are reproduced for wrong types and unknown keys,
others keep the parser's wording. Pure: the host passes ``action_parameters``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from packhorse.expr.jinja import syntax_errors as jinja_syntax_errors
from packhorse.expr.yaql import yaql_grammar_problems
from packhorse.model.diagnostics import Diagnostic
from packhorse.packs.validate.yamldoc import parse_yaml
from packhorse.workflow.expressions import (
    JINJA,
    YAQL,
    Language,
    context_references,
    languages,
    parse_inline_params,
    strings,
)
from packhorse.workflow.spec import parse_workflow

TASK_SCHEMA: Final = r"properties.tasks.patternProperties.^\w+$"
"""orquesta's schema path of a task."""

ActionParameters = Callable[[str], Mapping[str, Mapping[str, Any]] | None]
"""The parameters (runner's and action's, merged) of a registered action; None if there is no
action of that reference."""

_SEMANTIC: Final = frozenset({"PH706", "PH707", "PH712", "PH713", "PH716"})
_CONTEXT: Final = frozenset({"PH708", "PH715"})
_EXPRESSION: Final = frozenset({"PH709", "PH710", "PH711"})

#: Properties whose schema is a ``oneOf`` (its message: "... is not valid under any of the
#: given schemas"); the others of these levels are typed.
_ONE_OF: Final = {
    "task": frozenset({"delay", "join", "input"}),
    "next": frozenset({"publish", "do"}),
    "with": frozenset({"concurrency"}),
    "retry": frozenset({"count", "delay"}),
}
_TYPED: Final = {
    "workflow": {
        "description": "string",
        "input": "array",
        "vars": "array",
        "output": "array",
        "tasks": "object",
    },
    "task": {"action": "string", "with": "object", "retry": "object", "next": "array"},
    "next": {"when": "string"},
    "with": {"items": "string"},
    "retry": {"when": "string"},
}

_VARIABLE: Final = re.compile(r'Variable "(?P<name>\w+)"|The variable "(?P<private>\w+)"')
_SEGMENT: Final = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


@dataclass(frozen=True, slots=True)
class InspectionError:
    """One problem, as StackStorm lists it in the failed execution's ``errors``."""

    type: str
    """``content``, ``context``, ``expression``, ``semantic`` or ``syntax``."""
    message: str
    spec_path: str | None
    """Where in the workflow: ``tasks.task2.next[0].when``."""
    schema_path: str | None
    """Where in orquesta's schema: ``properties.tasks.patternProperties.^\\w+$....``."""
    language: str | None = None
    """``yaql`` or ``jinja`` for context and expression problems (None for mixed types)."""
    expression: str | None = None
    """The expression at fault, for context and expression problems."""

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": self.type,
            "message": self.message,
            "spec_path": self.spec_path,
            "schema_path": self.schema_path,
        }
        if self.type in ("context", "expression"):
            entry["language"] = self.language
            entry["expression"] = self.expression
        return entry


def inspect_workflow(
    text: str, action_parameters: ActionParameters | None = None
) -> list[InspectionError]:
    """Every problem StackStorm's inspection finds in the workflow ``text``, in its order.
    Without ``action_parameters`` the task actions are not checked."""
    definition = inspect_definition(text)
    found = list(definition.problems)
    if action_parameters is not None:
        found.extend(check_actions(definition.actions, action_parameters))
    return ordered(found)


def ordered(found: list[InspectionError]) -> list[InspectionError]:
    """StackStorm's order: by type then schema path. The sort is stable, so within that,
    orquesta's order (schema path, spec path) and the task order of the action checks stay."""
    return sorted(found, key=lambda e: (e.type, e.schema_path or ""))


def inspect_definition(text: str) -> Definition:
    """orquesta's part of the inspection, and the actions the tasks name. It depends on the
    text only, so a host may cache it per definition; :func:`check_actions` looks the actions
    up."""
    spec, diagnostics = parse_workflow(text, "<workflow>")
    if spec is not None:  # the usual case: no problem, and the actions from the spec
        actions = tuple(
            ActionUse(
                task.name,
                task.action,
                tuple(task.input) if not isinstance(task.input, str) else None,
            )
            for task in spec.tasks.values()
            if task.action and not languages(task.action)
        )
        return Definition((), actions)
    doc, read = parse_yaml(text, "<workflow>")
    if doc is None:
        problems = [InspectionError("syntax", d.message, None, None) for d in read if d.is_error]
        return Definition(tuple(problems), ())
    found: list[InspectionError] = []
    seen: set[tuple[str, str]] = set()
    for diagnostic in diagnostics:
        if not diagnostic.is_error:
            continue
        place = _Place(diagnostic.field, doc.data)
        if diagnostic.code in _EXPRESSION:
            group = (diagnostic.code, place.spec_path(indexed=False))
            if group not in seen:  # one pass over the property finds all its problems
                seen.add(group)
                found.extend(_expression_errors(place))
        elif diagnostic.code in _CONTEXT:
            found.extend(_context_errors(diagnostic, place))
        elif diagnostic.code in _SEMANTIC:
            found.append(_semantic_error(diagnostic, place))
        else:
            found.append(_syntax_error(diagnostic, place))
    unique = list(dict.fromkeys(found))
    problems = sorted(unique, key=lambda e: (e.type, e.schema_path or "", e.spec_path or ""))
    return Definition(tuple(problems), _action_uses(doc.data))


@dataclass(frozen=True, slots=True)
class ActionUse:
    """A task's action as StackStorm checks it: the reference and the inputs given."""

    task: str
    reference: str
    inputs: tuple[str, ...] | None
    """Names of the inputs given (inline pairs replace ``input``); None when ``input`` is an
    expression, which StackStorm does not check."""


@dataclass(frozen=True, slots=True)
class Definition:
    """What inspecting a workflow's text finds, before any action is looked up."""

    problems: tuple[InspectionError, ...]
    """orquesta's problems (syntax, semantics, expressions, context), in its order."""
    actions: tuple[ActionUse, ...]
    """The actions the tasks name (not expressions), in task order."""


def _action_uses(data: Any) -> tuple[ActionUse, ...]:
    """The actions of the tasks of a workflow document that did not parse cleanly."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, dict):
        return ()
    uses = []
    for name, body in tasks.items():
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            continue
        action: str = body["action"]
        inline = parse_inline_params(action)
        reference = action[: action.index(" ")] if inline else action
        if not reference or languages(reference):
            continue  # an expression: known at run time only
        given = dict(inline) if inline else body.get("input") or {}
        inputs = tuple(given) if isinstance(given, dict) else None
        uses.append(ActionUse(str(name), reference, inputs))
    return tuple(uses)


def check_actions(
    uses: tuple[ActionUse, ...], action_parameters: ActionParameters
) -> list[InspectionError]:
    """StackStorm's checks of each task's action and inputs, in task order."""
    found: list[InspectionError] = []
    action_schema = f"{TASK_SCHEMA}.properties.action"
    input_schema = f"{TASK_SCHEMA}.properties.input"
    for use in uses:
        at, reference = f"tasks.{use.task}", use.reference
        if "." not in reference:
            message = f'The action reference "{reference}" is not formatted correctly.'
            found.append(InspectionError("content", message, f"{at}.action", action_schema))
            continue
        parameters = action_parameters(reference)
        if parameters is None:
            message = f'The action "{reference}" is not registered in the database.'
            found.append(InspectionError("content", message, f"{at}.action", action_schema))
            continue
        if use.inputs is None:
            continue
        required = sorted(
            name
            for name, meta in parameters.items()
            if meta.get("required") and "default" not in meta and name not in use.inputs
        )
        for missing in required:
            message = f'Action "{reference}" is missing required input "{missing}".'
            found.append(InspectionError("content", message, f"{at}.input", input_schema))
        for unknown in sorted(set(use.inputs) - set(parameters)):
            message = f'Action "{reference}" has unexpected input "{unknown}".'
            found.append(
                InspectionError(
                    "content",
                    message,
                    f"{at}.input.{unknown}",
                    input_schema + r".patternProperties.^\w+$",
                )
            )
    return found


# -- placing a diagnostic on orquesta's property ------------------------------------------------


class _Place:
    """The orquesta property a parser diagnostic falls on, and its value in the document."""

    def __init__(self, field: str, data: Any) -> None:
        self.segments: list[str | int] = [
            int(index) if index else name for index, name in _SEGMENT.findall(field)
        ]
        self.data = data
        self.level, self.property, self.depth = self._property()

    def _property(self) -> tuple[str, str, int]:
        """(level, property name, number of segments up to it)."""
        parts = self.segments
        if not parts:
            return "workflow", "", 0
        if parts[0] != "tasks" or len(parts) < 2:
            return "workflow", str(parts[0]), 1
        if len(parts) == 2:
            return "tasks", "", 2
        prop = str(parts[2])
        if prop == "next" and len(parts) >= 5:
            return "next", str(parts[4]), 5
        if prop in ("with", "retry") and len(parts) >= 4:
            return prop, str(parts[3]), 4
        if prop == "with" and isinstance(self.value(3), str):
            return "with", "items", 3  # the short form: orquesta reads it as with.items
        if prop == "action" and isinstance(self.value(3), str) and self._inline_action():
            return "task", "input", 3  # inline pairs are the task's input to orquesta
        return "task", prop, 3

    def _inline_action(self) -> bool:
        return bool(parse_inline_params(str(self.value(3))))

    def value(self, depth: int | None = None) -> Any:
        value = self.data
        for part in self.segments[: self.depth if depth is None else depth]:
            found = (isinstance(value, dict) and part in value) or (
                isinstance(value, list) and isinstance(part, int) and part < len(value)
            )
            if not found:
                return None
            value = value[part]
        return value

    def spec_path(self, *, indexed: bool) -> str:
        """``tasks.t.input``; ``indexed`` keeps the list index of a list property
        (``vars[0]``, ``tasks.t.next[0].publish[1]``), as orquesta's context check does."""
        parts = self.segments[: self.depth]
        if self.level == "task" and self.property == "input":
            parts = [*parts[:2], "input"]
        if self.level == "with" and self.property == "items":
            parts = [*parts[:3], "items"]
        if indexed and len(self.segments) > self.depth:
            following = self.segments[self.depth]
            if isinstance(following, int) and isinstance(self.value(), list):
                parts = [*parts, following]
        return _dotted(parts)

    def schema_path(self) -> str:
        if self.level == "workflow":
            return f"properties.{self.property}" if self.property else ""
        path = TASK_SCHEMA
        if self.level == "tasks":
            return path
        if self.level == "task":
            return f"{path}.properties.{self.property}"
        if self.level == "next":
            return f"{path}.properties.next.items.properties.{self.property}"
        return f"{path}.properties.{self.level}.properties.{self.property}"

    def property_value(self) -> Any:
        if self.level == "task" and self.property == "input" and self.segments[2] == "action":
            return dict(parse_inline_params(str(self.value(3))))
        if self.level == "with" and self.property == "items" and len(self.segments) == 3:
            return self.value(3)
        return self.value()


def _dotted(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# -- one entry per kind of problem -------------------------------------------------------------


def _expression_errors(place: _Place) -> Iterator[InspectionError]:
    spec_path, schema_path = place.spec_path(indexed=False), place.schema_path()
    for _, text in strings(place.property_value()):
        used = languages(text)
        if len(used) > 1:
            message = "Expression with multiple types is not supported."
            yield InspectionError("expression", message, spec_path, schema_path, None, text)
        elif Language.YAQL in used:
            for expression, message in yaql_grammar_problems(text):
                yield InspectionError(
                    "expression", message, spec_path, schema_path, "yaql", expression
                )
        elif Language.JINJA in used:
            for error in jinja_syntax_errors(text):
                message = error.reason.split(": ", 1)[-1]
                yield InspectionError(
                    "expression", message, spec_path, schema_path, "jinja", error.expression
                )


def _context_errors(diagnostic: Diagnostic, place: _Place) -> Iterator[InspectionError]:
    match = _VARIABLE.search(diagnostic.message)
    name = (match.group("name") or match.group("private")) if match else None
    spec_path, schema_path = place.spec_path(indexed=True), place.schema_path()
    if diagnostic.code == "PH715":
        message = (
            f'Variable "{name}" that is prefixed with double underscores is considered a '
            "private variable and cannot be referenced."
        )
    else:
        message = f'Variable "{name}" is referenced before assignment.'
    value = place.value(len(place.segments)) if place.level == "workflow" else None
    texts = [text for _, text in strings(value if value is not None else place.property_value())]
    for text in texts:
        for language, pattern in ((Language.YAQL, YAQL), (Language.JINJA, JINJA)):
            for expression in pattern.findall(text):
                if name in context_references(expression):
                    yield InspectionError(
                        "context", message, spec_path, schema_path, language.value, expression
                    )


def _semantic_error(diagnostic: Diagnostic, place: _Place) -> InspectionError:
    if diagnostic.code == "PH716":
        return InspectionError("semantic", diagnostic.message, "tasks", "properties.tasks")
    if diagnostic.code == "PH707":
        return InspectionError(
            "semantic", diagnostic.message, place.spec_path(indexed=False), place.schema_path()
        )
    task = _dotted(place.segments[:2])
    return InspectionError("semantic", diagnostic.message, task, TASK_SCHEMA)


def _syntax_error(diagnostic: Diagnostic, place: _Place) -> InspectionError:
    spec_path, schema_path = place.spec_path(indexed=False), place.schema_path()
    message = diagnostic.message
    if diagnostic.code == "PH703":
        # JSON schema places an unknown key on the mapping that holds it.
        message = message.split(";", 1)[0]
        holder = place.segments[:-1]
        spec_path = _dotted(holder)
        if len(holder) == 4 and holder[2] == "next":  # a transition
            schema_path = f"{TASK_SCHEMA}.properties.next.items.additionalProperties"
        else:
            schema_path = f"{_Place(spec_path, place.data).schema_path()}.additionalProperties"
            schema_path = schema_path.lstrip(".")
    elif diagnostic.code == "PH704" and len(place.segments) == place.depth:
        value = place.value()
        kind = _TYPED.get(place.level, {}).get(place.property)
        if place.property in _ONE_OF.get(place.level, frozenset()):
            message = f"{value!r} is not valid under any of the given schemas"
            schema_path = f"{schema_path}.oneOf"
        elif kind is not None:
            message = f"{value!r} is not of type '{kind}'"
            schema_path = f"{schema_path}.type"
    return InspectionError("syntax", message, spec_path or None, schema_path or None)
