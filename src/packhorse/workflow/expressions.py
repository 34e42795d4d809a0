"""What a workflow spec needs to know about expressions, without evaluating any.

Orquesta's rules: a string is YAQL when it holds ``<% %>``, Jinja when it holds ``{{ }}`` or
``{% %}``; one string may not hold both. Variables are reached only through ``ctx()``:
``ctx().x``, ``ctx(x)`` (YAQL), ``ctx('x')``, ``ctx()['x']``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Final

YAQL: Final = re.compile(r"<%.*?%>", re.DOTALL)
JINJA: Final = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)

_CTX_REFERENCE: Final = re.compile(
    r"""ctx\(\s*\)\s*\.\s*(?P<attr>[A-Za-z_]\w*)(?![\w(]|\s+\()"""  # not ctx().get(x)
    r"""|ctx\(\s*\)\s*\[\s*(?P<q1>['"])(?P<item>\w+)(?P=q1)\s*\]"""
    r"""|ctx\(\s*(?P<q2>['"]?)(?P<arg>\w+)(?P=q2)\s*\)"""
)


class Language(StrEnum):
    YAQL = "yaql"
    JINJA = "jinja"


def languages(text: str) -> set[Language]:
    """The expression languages ``text`` uses (empty for plain text)."""
    found: set[Language] = set()
    if YAQL.search(text):
        found.add(Language.YAQL)
    if JINJA.search(text):
        found.add(Language.JINJA)
    return found


def strings(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside ``value`` (keys included), with its path relative to ``value``."""
    if isinstance(value, str):
        yield (), value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (key,), key
            for at, text in strings(item):
                yield (key, *at), text
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for at, text in strings(item):
                yield (index, *at), text


def context_references(text: str) -> list[str]:
    """Names read through ``ctx()`` inside the expressions of ``text``, in order."""
    names: list[str] = []
    for pattern in (YAQL, JINJA):
        for expression in pattern.finditer(text):
            for found in _CTX_REFERENCE.finditer(expression.group()):
                name = found.group("attr") or found.group("item") or found.group("arg")
                if name and name not in names:
                    names.append(name)
    return names


_INLINE_VALUE: Final = (
    r"\[.*\]\s*",
    r'"[^"]*"\s*',
    r"'[^']*'\s*",
    r"-?\d*\.\d+",
    r"-?\d+",
    r"(?i:true)",
    r"(?i:false)",
    r"null",
    r"<%.*?%>",
    r"{{.*?}}",
)
_INLINE_PARAM: Final = re.compile(r"(\w+)=(" + "|".join(_INLINE_VALUE) + ")")


def parse_inline_params(text: str) -> list[tuple[str, Any]]:
    """``a=1 b="x" c=<% ctx(y) %>`` as ordered pairs, typed as orquesta types them.

    Quoted values stay strings, except a quoted ``{...}`` which is JSON-decoded; other values
    are JSON-decoded where that works (``true``/``false`` in any case are booleans).
    """
    pairs: list[tuple[str, Any]] = []
    for name, raw in _INLINE_PARAM.findall(text):
        value = raw.strip()
        quoted = bool(re.fullmatch(r'"[^"]*"|\'[^\']*\'', value))
        value = re.sub(r"""^["']|["']$""", "", value) if quoted else value
        if quoted and not (value.startswith("{") and value.endswith("}")):
            pairs.append((name, value))
            continue
        if value.lower() in ("true", "false"):
            pairs.append((name, value.lower() == "true"))
            continue
        try:
            pairs.append((name, json.loads(value)))
        except ValueError:
            pairs.append((name, value))
    return pairs
