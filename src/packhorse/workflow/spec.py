"""The Orquesta workflow language as frozen data, and its validation.

    parse_workflow(text, path) -> (WorkflowSpec | None, [Diagnostic])

Parsing never raises. Every problem comes back as a diagnostic (codes PH7xx, see
``docs/diagnostics.md``) with the file, line, column and dotted field path, e.g.
``tasks.task2.next[0].do``. The checks follow orquesta's ``spec.inspect()``: syntax (the
schema), semantics (reserved and undefined task names, joins, start tasks), expressions
(each YAQL and Jinja snippet parses) and context (every ``ctx()`` name is assigned somewhere).

Context is checked along the graph: a task sees the inputs, the vars, the names the host
seeds (``st2``, ``parent``) and what the transitions on some path from a start task into it
publish; output sees every name. Orquesta walks the graph once, breadth first, so in a few
cases (a join reached before all its branches are walked) it is stricter than this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from packhorse.expr.jinja import syntax_errors
from packhorse.model.diagnostics import Diagnostic, has_errors
from packhorse.packs.validate.codes import severity_of
from packhorse.packs.validate.yamldoc import Path, YamlDocument, parse_yaml
from packhorse.workflow.expressions import (
    Language,
    context_references,
    languages,
    parse_inline_params,
    strings,
)
from packhorse.workflow.scopes import published_by, task_scopes

ENGINE_COMMANDS: Final = frozenset({"continue", "fail", "noop", "retry"})
"""Reserved task names: ``do`` may name them, a task may not be called so."""

HOST_CONTEXT: Final = frozenset({"st2", "parent"})
"""Names StackStorm places in the initial context before inputs and vars."""

YaqlSyntaxCheck = Callable[[str], Sequence[str]]
"""Given a string holding ``<% %>`` expressions, the messages of those that do not parse."""


def no_yaql_errors(text: str) -> Sequence[str]:
    """A YAQL check that finds nothing (for callers that skip YAQL parsing)."""
    return ()


def yaql_errors(text: str) -> Sequence[str]:
    """The default YAQL check: every ``<% %>`` of ``text`` that does not parse (yaql is
    imported only when a workflow holds YAQL)."""
    from packhorse.expr.yaql import yaql_syntax_errors

    return [str(error) for error in yaql_syntax_errors(text)]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One declared workflow input."""

    name: str
    default: Any = None
    """Rendered as an expression at start; may read the inputs declared before it."""
    has_default: bool = False
    """False for a bare name (``- x``), whose default is null."""


@dataclass(frozen=True, slots=True)
class RetrySpec:
    when: str | None
    """Expression on the task's result; absent means retry on failure."""
    count: Any
    """Integer or expression giving the number of retries."""
    delay: Any = None
    """Seconds between attempts, an integer or an expression; None for none."""


@dataclass(frozen=True, slots=True)
class WithItemsSpec:
    items: Any
    """The expression (or list) giving the items."""
    concurrency: Any = None
    """Integer or expression; None for no limit."""
    names: tuple[str, ...] = ()
    """Item names of the ``x, y in <% … %>`` form; empty when items are unnamed."""


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    when: str | None
    """Condition expression; None fires whenever the task completes."""
    publish: tuple[tuple[str, Any], ...] = ()
    """Published names and their expressions, in order."""
    do: tuple[str, ...] = ("continue",)
    """Target task names or engine commands, in order."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    action: str | None
    """Action ref (or an expression giving one); inline ``key=value`` pairs moved to input."""
    input: Mapping[str, Any] | str = field(default_factory=lambda: MappingProxyType({}))
    """Action parameters, or one expression that returns them."""
    next: tuple[TransitionSpec, ...] = ()
    join: str | int | None = None
    """``"all"``, a count of inbound tasks, or None for a task that is not a barrier."""
    with_items: WithItemsSpec | None = None
    retry: RetrySpec | None = None
    delay: Any = None


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    version: str
    description: str | None
    input: tuple[InputSpec, ...]
    vars: tuple[tuple[str, Any], ...]
    tasks: Mapping[str, TaskSpec]
    """Tasks in the order the file lists them."""
    output: tuple[tuple[str, Any], ...]

    def start_tasks(self) -> tuple[str, ...]:
        """Tasks no transition leads to, in file order."""
        targets = {name for task in self.tasks.values() for t in task.next for name in t.do}
        return tuple(name for name in self.tasks if name not in targets)


_WORKFLOW_KEYS: Final = ("version", "description", "input", "vars", "tasks", "output")
_META_KEYS: Final = ("name", "tags")
_TASK_KEYS: Final = ("action", "input", "next", "join", "with", "retry", "delay")
_TRANSITION_KEYS: Final = ("when", "publish", "do")
_WITH_KEYS: Final = ("items", "concurrency")
_RETRY_KEYS: Final = ("when", "count", "delay")
_NAME: Final = re.compile(r"^\w+$")
_STATEMENT: Final = r"<%.*?%>|{{.*?}}|{%.*?%}"
# orquesta's with-items pattern: one expression, or "x, y in <expression>".
_ITEMS: Final = re.compile(
    rf"^\s*(?P<whole>{_STATEMENT})\s*$"
    rf"|^\s*(?P<names>(?:\w+,\s?|\s+)*\w+)\s+in\s+(?P<items>{_STATEMENT})\s*$"
)


def field_path(at: Path) -> str:
    """``("tasks", "t2", "next", 0, "do")`` as ``tasks.t2.next[0].do``."""
    text = ""
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_workflow(
    text: str | bytes,
    path: str,
    *,
    yaql_syntax_errors: YaqlSyntaxCheck = yaql_errors,
    host_context: Collection[str] = HOST_CONTEXT,
    check_context: bool = True,
) -> tuple[WorkflowSpec | None, list[Diagnostic]]:
    """Parse and inspect one Orquesta workflow; the spec is None when there is any error.

    ``host_context`` names the variables the host puts in the initial context (orquesta's
    ``app_ctx``): expressions may read them without declaring them. ``check_context=False``
    leaves out the checks of ``ctx()`` names (PH708, PH715), as orquesta's conductor does:
    the workflow then fails at run time where a name is missing.
    """
    doc, read = parse_yaml(text, path)
    if doc is None:
        return None, read
    # orquesta refuses a definition with a duplicate key; plain YAML keeps the last value.
    diagnostics = [_duplicate(d) if d.code == "PH003" else d for d in read]
    try:
        parser = _Parser(doc, yaql_syntax_errors, frozenset(host_context), check_context)
        spec = parser.workflow()
    except RecursionError:
        message = "workflow nests too deeply to inspect"
        return None, [*diagnostics, _diagnostic("PH704", message, path, doc, ())]
    diagnostics.extend(parser.diagnostics)
    return (None if has_errors(diagnostics) else spec), diagnostics


def _duplicate(warning: Diagnostic) -> Diagnostic:
    key = warning.field.rsplit(".", 1)[-1]
    message = f'Failed to load workflow definition because found duplicate key "{key}"'
    return replace(warning, code="PH718", severity=severity_of("PH718"), message=message)


def _diagnostic(code: str, message: str, path: str, doc: YamlDocument, at: Path) -> Diagnostic:
    line, col = doc.where(at)
    return Diagnostic(code, severity_of(code), message, path, line, col, field_path(at))


def _kind(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "a mapping"
    return type(value).__name__


class _Parser:
    """One pass over the document: builds the spec and collects every problem."""

    def __init__(
        self,
        doc: YamlDocument,
        yaql_check: YaqlSyntaxCheck,
        host_context: frozenset[str],
        check_context: bool = True,
    ) -> None:
        self.doc = doc
        self.check_context = check_context
        self.host_context = host_context
        self.yaql_check = yaql_check
        self.diagnostics: list[Diagnostic] = []
        # Expressions are inspected once every defined name is known.
        self.expressions: list[tuple[Path, Any, frozenset[str] | None]] = []

    def add(self, code: str, message: str, at: Path) -> None:
        self.diagnostics.append(_diagnostic(code, message, self.doc.path, self.doc, at))

    def wrong_type(self, at: Path, value: Any, expected: str) -> None:
        self.add("PH704", f"{field_path(at)} must be {expected}, not {_kind(value)}", at)

    def unknown_keys(self, data: dict[str, Any], allowed: Sequence[str], at: Path) -> None:
        for key in data:
            if key not in allowed:
                self.add(
                    "PH703",
                    f"Additional properties are not allowed ({key!r} was unexpected); "
                    f"expected one of {', '.join(allowed)}",
                    (*at, key),
                )

    def workflow(self) -> WorkflowSpec | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.wrong_type((), data, "a mapping of version, input, vars, tasks and output")
            return None
        self.unknown_keys(data, _WORKFLOW_KEYS + _META_KEYS, ())
        version = self.version(data)
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            self.wrong_type(("description",), description, "a string")
            description = None
        inputs = self.inputs(data.get("input"))
        declared = self.host_context | {item.name for item in inputs}
        variables = self.pairs(data.get("vars"), ("vars",), declared)
        declared |= {name for name, _ in variables}
        tasks = self.tasks(data)
        published = {name for task in tasks.values() for t in task.next for name, _ in t.publish}
        output = self.pairs(data.get("output"), ("output",), declared | published)
        self.semantics(tasks)
        self.inspect_expressions(declared | published, task_scopes(tasks, frozenset(declared)))
        return WorkflowSpec(version, description, inputs, variables, tasks, output)

    def version(self, data: dict[str, Any]) -> str:
        if "version" not in data:
            self.add("PH700", "version missing: add version: 1.0", ())
            return "1.0"
        version = data["version"]
        if version not in ("1.0", 1.0) or isinstance(version, bool):
            self.add("PH701", f"{version!r} is not one of ['1.0', 1.0]", ("version",))
        return "1.0"

    def inputs(self, value: Any) -> tuple[InputSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.wrong_type(("input",), value, "a list of names or one-key mappings")
            return ()
        found: list[InputSpec] = []
        for index, item in enumerate(value):
            at: Path = ("input", index)
            if isinstance(item, str):
                spec = InputSpec(item)
            elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item)), str):
                name, default = next(iter(item.items()))
                spec = InputSpec(name, default, True)
                seen = self.host_context | {earlier.name for earlier in found}
                self.expressions.append(((*at, name), default, frozenset(seen)))
            else:
                self.wrong_type(at, item, "a name or a one-key mapping")
                continue
            if any(earlier.name == spec.name for earlier in found):
                self.add("PH717", f"input {spec.name!r} is declared twice", at)
                continue
            found.append(spec)
        return tuple(found)

    def pairs(
        self, value: Any, at: Path, defined: set[str] | frozenset[str]
    ) -> tuple[tuple[str, Any], ...]:
        """vars or output: a list of one-key mappings; each item sees the ones before it."""
        if value is None:
            return ()
        if not isinstance(value, list):
            self.wrong_type(at, value, "a list of one-key mappings")
            return ()
        found: list[tuple[str, Any]] = []
        for index, item in enumerate(value):
            if not (isinstance(item, dict) and len(item) == 1):
                self.wrong_type((*at, index), item, "a one-key mapping")
                continue
            name, expression = next(iter(item.items()))
            if any(earlier == name for earlier, _ in found):
                self.add("PH717", f"{at[0]} {name!r} is declared twice", (*at, index))
                continue
            scope = frozenset(defined) | {earlier for earlier, _ in found}
            self.expressions.append(((*at, index, name), expression, scope))
            found.append((name, expression))
        return tuple(found)

    def tasks(self, data: dict[str, Any]) -> Mapping[str, TaskSpec]:
        value = data.get("tasks")
        if value is None or value == {}:
            message = (
                "{} should be non-empty" if "tasks" in data else "'tasks' is a required property"
            )
            self.add("PH702", message, ("tasks",))
            return MappingProxyType({})
        if not isinstance(value, dict):
            self.wrong_type(("tasks",), value, "a mapping of task names to tasks")
            return MappingProxyType({})
        tasks: dict[str, TaskSpec] = {}
        for name, body in value.items():
            at: Path = ("tasks", name)
            if not _NAME.match(name):
                self.add("PH705", f"task name {name!r} does not match '^\\w+$'", at)
            elif name in ENGINE_COMMANDS:
                self.add("PH706", f'The task name "{name}" is reserved with special function.', at)
            task = self.task(name, body, at)
            if task is not None:
                tasks[name] = task
        return MappingProxyType(tasks)

    def task(self, name: str, body: Any, at: Path) -> TaskSpec | None:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            self.wrong_type(at, body, "a mapping")
            return None
        self.unknown_keys(body, _TASK_KEYS, at)
        action, inline = self.action(body.get("action"), (*at, "action"))
        task_input = self.task_input(body.get("input"), inline, (*at, "input"))
        transitions = self.transitions(body.get("next"), (*at, "next"))
        join = self.join(body.get("join"), (*at, "join"))
        with_items = self.with_items(body.get("with"), (*at, "with"))
        if with_items is not None and action is None:
            self.add("PH713", "The action property is required for with items task.", at)
        retry = self.retry(body.get("retry"), (*at, "retry"))
        delay = body.get("delay")
        if delay is not None:
            self.check_count(delay, (*at, "delay"))
        return TaskSpec(name, action, task_input, transitions, join, with_items, retry, delay)

    def action(self, value: Any, at: Path) -> tuple[str | None, list[tuple[str, Any]]]:
        if value is None:
            return None, []
        if not isinstance(value, str) or not value.strip():
            self.wrong_type(at, value, "a non-empty string")
            return None, []
        # orquesta's rule: when the string holds name=value pairs, the action is the text
        # before the first space and the pairs replace the task's input.
        inline = parse_inline_params(value)
        if not inline:
            self.expressions.append((at, value, None))
            return value, []
        ref = value[: value.index(" ")]
        # Inline parameters are located at the action line, where they are written.
        for item in (ref, *(value for _, value in inline)):
            self.expressions.append((at, item, None))
        return ref, inline

    def task_input(
        self, value: Any, inline: list[tuple[str, Any]], at: Path
    ) -> Mapping[str, Any] | str:
        if value is not None and not isinstance(value, dict | str):
            self.wrong_type(at, value, "a mapping of parameters or an expression")
            value = None
        self.expressions.append((at, value, None))
        if inline:  # as in orquesta, inline pairs on the action line replace the input
            return MappingProxyType(dict(inline))
        return value if isinstance(value, str) else MappingProxyType(dict(value or {}))

    def transitions(self, value: Any, at: Path) -> tuple[TransitionSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.wrong_type(at, value, "a list of transitions")
            return ()
        found: list[TransitionSpec] = []
        for index, item in enumerate(value):
            here: Path = (*at, index)
            if item is not None and not isinstance(item, dict):
                self.wrong_type(here, item, "a mapping of when, publish and do")
                continue
            item = item or {}  # noqa: PLW2901 - an empty transition is allowed
            self.unknown_keys(item, _TRANSITION_KEYS, here)
            when = item.get("when")
            if when is not None and not isinstance(when, str):
                self.wrong_type((*here, "when"), when, "an expression string")
                when = None
            elif when is not None:
                self.expressions.append(((*here, "when"), when, None))
            publish = self.publish(item.get("publish"), (*here, "publish"))
            do = self.do(item.get("do"), (*here, "do"))
            found.append(TransitionSpec(when, publish, do))
        return tuple(found)

    def publish(self, value: Any, at: Path) -> tuple[tuple[str, Any], ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            pairs = parse_inline_params(value)
            if not pairs:
                self.wrong_type(at, value, "name=value pairs")
            self.expressions.append((at, dict(pairs), None))
            return tuple(pairs)
        if isinstance(value, dict):
            self.expressions.append((at, value, None))
            return tuple(value.items())
        if not isinstance(value, list):
            self.wrong_type(at, value, "a list of one-key mappings, a mapping or name=value pairs")
            return ()
        pairs = []
        for index, item in enumerate(value):
            if not (isinstance(item, dict) and len(item) == 1):
                self.wrong_type((*at, index), item, "a one-key mapping")
                continue
            self.expressions.append(((*at, index), item, None))
            pairs.extend(item.items())
        return tuple(pairs)

    def do(self, value: Any, at: Path) -> tuple[str, ...]:
        if value is None:
            return ("continue",)
        if isinstance(value, str):
            names = [name.strip() for name in value.split(",")]
        elif isinstance(value, list) and all(isinstance(name, str) for name in value):
            names = [name.strip() for name in value]
        else:
            self.wrong_type(at, value, "a task name, a comma-separated string or a list of names")
            return ()
        if not all(names):
            self.add("PH704", f"{field_path(at)} has an empty task name", at)
        return tuple(name for name in names if name)

    def join(self, value: Any, at: Path) -> str | int | None:
        if value is None or value == "all":
            return value  # type: ignore[no-any-return]
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        self.wrong_type(at, value, "'all' or an integer >= 0")
        return None

    def with_items(self, value: Any, at: Path) -> WithItemsSpec | None:
        if value is None:
            return None
        concurrency = None
        items_at = at
        if isinstance(value, dict):
            self.unknown_keys(value, _WITH_KEYS, at)
            if "items" not in value:
                self.add("PH704", f"{field_path(at)} needs items", at)
                return None
            concurrency = value.get("concurrency")
            if concurrency is not None:
                self.check_count(concurrency, (*at, "concurrency"))
            items, items_at = value["items"], (*at, "items")
        else:
            items = value
        if not isinstance(items, str):
            self.wrong_type(items_at, items, "an expression string")
            return None
        matched = _ITEMS.match(items)
        if matched is None:
            message = f"{items!r} does not match 'x, y in <expression>' or '<expression>'"
            self.add("PH704", message, items_at)
            return None
        names: tuple[str, ...] = ()
        if matched.group("names"):
            names = tuple(re.findall(r"\w+", matched.group("names")))
            items = matched.group("items")
        self.expressions.append((items_at, items, None))
        return WithItemsSpec(items, concurrency, names)

    def retry(self, value: Any, at: Path) -> RetrySpec | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.wrong_type(at, value, "a mapping of when, count and delay")
            return None
        self.unknown_keys(value, _RETRY_KEYS, at)
        if "count" not in value:
            self.add("PH704", f"{field_path(at)} needs count", at)
            return None
        when = value.get("when")
        if when is not None and not isinstance(when, str):
            self.wrong_type((*at, "when"), when, "an expression string")
            when = None
        elif when is not None:
            self.expressions.append(((*at, "when"), when, None))
        self.check_count(value["count"], (*at, "count"))
        if value.get("delay") is not None:
            self.check_count(value["delay"], (*at, "delay"))
        return RetrySpec(when, value["count"], value.get("delay"))

    def check_count(self, value: Any, at: Path) -> None:
        """An integer >= 0, or an expression that gives one."""
        if isinstance(value, str) and value:
            self.expressions.append((at, value, None))
        elif not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            self.wrong_type(at, value, "an integer >= 0 or an expression")

    def semantics(self, tasks: Mapping[str, TaskSpec]) -> None:
        inbound: dict[str, set[str]] = {name: set() for name in tasks}
        for task in tasks.values():
            for index, transition in enumerate(task.next):
                for target in transition.do:
                    if target in tasks:
                        inbound[target].add(task.name)
                    elif target not in ENGINE_COMMANDS:
                        at: Path = ("tasks", task.name, "next", index, "do")
                        self.add("PH707", f'The task "{target}" is not defined.', at)
        for task in tasks.values():
            count = len(inbound[task.name])
            if task.join is None:
                continue
            needed = 1 if task.join == "all" else task.join
            if count == 0 or (isinstance(needed, int) and needed > count):
                self.add(
                    "PH712",
                    f'The join task "{task.name}" waits for {task.join} inbound tasks '
                    f"but {count} transition to it.",
                    ("tasks", task.name, "join"),
                )
        if tasks and all(inbound[name] for name in tasks):
            self.add(
                "PH716",
                "Unable to identify any tasks to start the workflow. If the workflow has a "
                "loop, please add a task that serves as an entry point (or lead) into the loop.",
                ("tasks",),
            )

    def inspect_expressions(
        self, defined: set[str] | frozenset[str], scopes: Mapping[str, frozenset[str]]
    ) -> None:
        for at, value, fixed in self.expressions:
            scope = fixed
            if scope is None and len(at) > 1 and at[0] == "tasks":
                scope = scopes.get(str(at[1]))
                if scope is not None and len(at) > 3 and at[2] == "next":
                    # A transition's when and publish also see what that transition publishes.
                    scope = scope | published_by(self.doc.data, at)
            for relative, text in strings(value):
                self.inspect_text((*at, *relative), text, defined if scope is None else scope)

    def inspect_text(self, at: Path, text: str, defined: set[str] | frozenset[str]) -> None:
        found = languages(text)
        if len(found) > 1:
            self.add("PH709", "Expression with multiple types is not supported.", at)
            return
        if Language.JINJA in found:
            for error in syntax_errors(text):
                self.add("PH710", str(error), at)
        if Language.YAQL in found:
            for message in self.yaql_check(text):
                self.add("PH711", message, at)
        if not self.check_context:
            return
        for name in context_references(text):
            if name.startswith("__"):
                message = f'The variable "{name}" is for internal use and inaccessible.'
                self.add("PH715", message, at)
            elif name not in defined:
                self.add("PH708", f'Variable "{name}" is referenced before assignment.', at)
