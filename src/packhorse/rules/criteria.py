"""A rule's criteria, compiled once and checked against trigger instances.

What StackStorm's rule filter does for each criterion, in its order (stackstorm-packs.md §4.1):

1. a criterion without ``type`` never matches;
2. a string pattern is rendered with Jinja over ``trigger`` (the payload), ``st2kv.system``
   and the deprecated ``system``; one ``{{ expression }}`` keeps its type
   (:func:`packhorse.expr.render_criteria_pattern`); a render failure is a miss;
3. the key (JSONPath, ``#suffix`` stripped, :mod:`packhorse.rules.paths`) gives the value;
4. the operator compares value and pattern; an error it raises is a miss.

Inside ``search`` the same steps apply to each item of the list, with the item as ``item`` in
keys and patterns (``trigger`` is not available there, as in StackStorm).

Nothing here raises for a rule's content: every failure is a :class:`Reason`. Keys are parsed
and templates compiled once, when the criteria are compiled (a syntax error is then reported
by every check, as StackStorm reports it on every trigger instance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from packhorse.errors import ExpressionError
from packhorse.expr import CriteriaPattern, Datastore, prepare_criteria_pattern
from packhorse.rules.operators import SEARCH, Operator, canonical_name, get_operator, search_items
from packhorse.rules.paths import KeyPath, compile_key

__all__ = [
    "Criterion",
    "MissKind",
    "Reason",
    "Scope",
    "check_all",
    "compile_criteria",
]

_SHOWN_CHARACTERS: Final = 200


class MissKind(StrEnum):
    """Why a rule did not match."""

    DISABLED = "disabled"
    BACKSTOP = "backstop"
    """A backstop rule, and a standard rule matched."""
    EMPTY_PAYLOAD = "empty_payload"
    NO_TYPE = "no_type"
    RENDER_FAILED = "render_failed"
    BAD_KEY = "bad_key"
    UNKNOWN_OPERATOR = "unknown_operator"
    OPERATOR_FAILED = "operator_failed"
    """The operator raised (``None < 1``, ``[].lower()``, a bad regular expression...)."""
    NOT_SATISFIED = "not_satisfied"


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _SHOWN_CHARACTERS:
        return text[: _SHOWN_CHARACTERS - 3] + "..."
    return text


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule did not match: the criterion at fault, what it compared, and the error."""

    kind: MissKind
    key: str | None = None
    """The criterion key as written (``#suffix`` included)."""
    operator: Any = None
    """The operator as written."""
    pattern: Any = None
    """The rendered pattern (as written when rendering failed)."""
    value: Any = None
    """What the key found in the payload (None: nothing)."""
    detail: str = ""
    """The error message, for failures."""

    @property
    def message(self) -> str:
        """One line for people: logs, ``rule-enforcement list``, the rule tester."""
        at = f"criterion {self.key!r}: "
        match self.kind:
            case MissKind.DISABLED:
                return "rule is disabled"
            case MissKind.BACKSTOP:
                return f"backstop rule skipped: standard rule(s) matched: {self.detail}"
            case MissKind.EMPTY_PAYLOAD:
                return "criteria given but payload empty"
            case MissKind.NO_TYPE:
                return f"{at}criterion has no type (operator), so it never matches"
            case MissKind.RENDER_FAILED:
                return f"{at}pattern render failed: {self.detail}"
            case MissKind.BAD_KEY:
                return f"{at}key is not a valid JSONPath: {self.detail}"
            case MissKind.UNKNOWN_OPERATOR:
                return f"{at}unknown operator {self.operator!r}"
            case MissKind.OPERATOR_FAILED:
                return (
                    f"{at}{self.operator} failed on value {_show(self.value)} with pattern "
                    f"{_show(self.pattern)}: {self.detail}"
                )
            case MissKind.NOT_SATISFIED:
                return (
                    f"{at}value {_show(self.value)} does not satisfy {self.operator} "
                    f"{_show(self.pattern)}"
                )

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Scope:
    """What criteria read for one trigger instance (or, inside ``search``, one item)."""

    roots: Mapping[str, Any]
    """The roots of keys: ``{"trigger": payload}`` or ``{"item": item}``."""
    variables: Mapping[str, Any]
    """The names patterns see: the root, ``st2kv`` and ``system``."""
    datastore: Datastore
    datastore_key: Callable[[str], str | None]
    """A system key's value, or None (for ``system.<key>`` criteria keys)."""
    now: datetime

    @classmethod
    def of(
        cls,
        root: str,
        value: Any,
        datastore: Datastore,
        datastore_key: Callable[[str], str | None],
        now: datetime,
    ) -> Scope:
        return cls(
            {root: value},
            {root: value, "st2kv": datastore, "system": datastore.system},
            datastore,
            datastore_key,
            now,
        )

    def for_item(self, item: Any) -> Scope:
        return Scope.of("item", item, self.datastore, self.datastore_key, self.now)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One compiled criterion."""

    key: str
    operator_name: Any
    """As written; None when the criterion has no ``type``."""
    has_type: bool
    pattern: Any
    condition: Any
    template: CriteriaPattern | None
    """``pattern`` compiled, when it is a template to render on each check."""
    pattern_error: str | None
    """A template syntax error, found when compiling (reported on each check)."""
    path: KeyPath | None
    key_error: str | None
    canonical: str | None
    operator: Operator | None
    children: tuple[Criterion, ...] | None
    """For ``search``: the criteria applied to each item (None: the pattern is no mapping)."""

    def check(self, scope: Scope) -> Reason | None:
        """None when the criterion holds, else why not."""
        if not self.has_type:
            return Reason(MissKind.NO_TYPE, self.key)
        pattern = self.pattern
        if self.pattern_error is not None:
            return self._miss(MissKind.RENDER_FAILED, pattern, None, self.pattern_error)
        if self.template is not None:
            try:
                pattern = self.template.render(scope.variables)
            except ExpressionError as error:
                return self._miss(MissKind.RENDER_FAILED, pattern, None, error.reason)
        if self.path is None:
            return self._miss(MissKind.BAD_KEY, pattern, None, self.key_error or "")
        value = self.path.find(scope.roots, scope.datastore_key)
        if self.canonical is None:
            return self._miss(MissKind.UNKNOWN_OPERATOR, pattern, value, "")
        try:
            if self.operator is not None:
                holds = self.operator(value, pattern, scope.now)
            else:
                holds = self._search(value, scope)
        except Exception as error:  # noqa: BLE001 - StackStorm's filter treats any error as a miss
            return self._miss(
                MissKind.OPERATOR_FAILED, pattern, value, f"{type(error).__name__}: {error}"
            )
        if holds:
            return None
        return self._miss(MissKind.NOT_SATISFIED, pattern, value, "")

    def _search(self, value: Any, scope: Scope) -> bool:
        if self.children is None:
            raise TypeError(
                f"search needs a mapping of item criteria as its pattern, not {_show(self.pattern)}"
            )
        return search_items(
            value,
            self.condition,
            self.children,
            lambda item, child: child.check(scope.for_item(item)) is None,
        )

    def _miss(self, kind: MissKind, pattern: Any, value: Any, detail: str) -> Reason:
        return Reason(kind, self.key, self.operator_name, pattern, value, detail)


def compile_criterion(key: str, spec: Any) -> Criterion:
    """Compile one criterion; problems are kept to be reported when it is checked."""
    has_type = isinstance(spec, Mapping) and "type" in spec
    body: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
    operator_name = body.get("type")
    pattern = body.get("pattern")
    canonical = canonical_name(operator_name)
    path: KeyPath | None = None
    key_error: str | None = None
    try:
        path = compile_key(key)
    except ValueError as error:
        key_error = str(error)
    template: CriteriaPattern | None = None
    pattern_error: str | None = None
    # The test render_criteria_pattern makes: an unclosed "{{" is a template, and fails.
    if isinstance(pattern, str) and ("{{" in pattern or "{%" in pattern):
        try:
            template = prepare_criteria_pattern(pattern)
        except ExpressionError as error:
            pattern_error = error.reason
    children: tuple[Criterion, ...] | None = None
    if canonical == SEARCH and isinstance(pattern, Mapping):
        children = tuple(compile_criterion(str(k), v) for k, v in pattern.items())
    return Criterion(
        key=key,
        operator_name=operator_name,
        has_type=has_type,
        pattern=pattern,
        condition=body.get("condition"),
        template=template,
        pattern_error=pattern_error,
        path=path,
        key_error=key_error,
        canonical=canonical,
        operator=get_operator(canonical),
        children=children,
    )


def compile_criteria(criteria: Mapping[str, Any]) -> tuple[Criterion, ...]:
    """A rule's criteria, in the order written (all must hold)."""
    return tuple(compile_criterion(str(key), spec) for key, spec in criteria.items())


def check_all(criteria: tuple[Criterion, ...], scope: Scope) -> Reason | None:
    """None when every criterion holds, else the reason of the first that does not."""
    for criterion in criteria:
        reason = criterion.check(scope)
        if reason is not None:
            return reason
    return None
