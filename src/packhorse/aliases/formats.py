"""Action-alias format strings matched against a chat command, with StackStorm's grammar.

A format is a regular expression with placeholders:

* ``{{ name }}`` captures a value: a quoted string (the quotes are dropped), a ``{...}``
  block kept as written (JSON), or else the shortest text that lets the rest match;
* ``{{ name = default }}`` is optional, and the space before it goes with it; an absent or
  empty value takes the default (quotes around the default are dropped, ``{...}`` is kept, so
  ``{{ x = {{ st2kv.system.y }} }}`` gives the template text);
* everything else is regex syntax: ``(run|execute) {{ cmd }}( on {{ hosts = localhost }})?``
  works, and so do named groups of your own (``(?P<key>[A-Z]+-[0-9]+)``);
* a format is anchored to the whole command: ``^\\s*`` is put in front unless it has a start
  anchor (``^``, ``\\A``) of its own somewhere, ``\\s*$`` at the end unless it has an end
  anchor (``$``, ``\\Z``); so ``(?:^|\\b)close (?P<id>[A-Z]+-[0-9]+)(?:\\b|$)`` is found
  anywhere in a command.

Before the format is tried, ``key=value`` pairs at the end of the command are cut off and become
parameters as well (a value may be quoted, or a ``{...}`` block); they win over captured ones.

Every value is a string (the caller casts them by the action's parameter types). A group that
took part in no match is None, as StackStorm returns it.

This module is the one implementation: the API, the CLI and ``st2tests``'
``BaseActionAliasTestCase`` (which loads this file by path inside pack test processes) all use
it. So it imports only the standard library and keeps to Python 3.9 syntax, and its
dataclasses are not slotted (``slots=True`` needs 3.10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "FormatError",
    "ParseError",
    "Representation",
    "compile_format",
    "extract_all",
    "extract_parameters",
    "matches",
    "representations",
]


class ParseError(ValueError):
    """The command does not match the format (StackStorm's ``ParseException``)."""


class FormatError(ValueError):
    """The format is not a valid regular expression once its placeholders are replaced."""


# {{ name }} or {{ name = default }}, with the whitespace before it (which an optional
# placeholder takes inside its optional group). A default is "", '', a quoted text, a {...}
# block or bare text up to the closing braces.
_PLACEHOLDER = re.compile(
    r"(?P<lead>\s*)\{\{\s*(?P<name>\w+)\s*"
    r"(?:=\s*(?P<default>\"\"|''|\"(?P<dq>.+?)\"|'(?P<sq>.+?)'|(?P<block>\{.+?\})|(?P<bare>.+?))\s*)?"
    r"\}\}",
    re.DOTALL,
)

# One value in the command: an optional opening quote; then up to the matching quote when one
# was opened, a {...} block, or the shortest text; an optional closing quote.
_VALUE = r"""["']?(?P<{name}>(?:(?<=').+?(?=')|(?<=").+?(?=")|\{{.+?\}}|.+?))["']?"""

# A trailing "key=value" pair; the key is any text without spaces.
_PAIR_VALUE = r"""(?:""|''|"(?P<dq>.+?)"|'(?P<sq>.+?)'|(?P<block>\{.+?\})|(?P<word>\S+))"""
_PAIR = re.compile(r"(?:^|\s+)\s*(?P<key>\S+?)\s*=" + _PAIR_VALUE, re.DOTALL)
_TRAILING_PAIRS = re.compile(
    r".*?(?P<pairs>(?:(?:^|\s+)\s*\S+?\s*="
    r"""(?:""|''|".+?"|'.+?'|\{.+?\}|\S+)\s*)*)$""",
    re.DOTALL,
)


@dataclass(frozen=True)
class CompiledFormat:
    """A format string turned into a regular expression, with its placeholders' defaults."""

    text: str
    pattern: Any  # re.Pattern[str]; not subscriptable at runtime on Python 3.9
    defaults: dict[str, str] = field(default_factory=dict)
    literals: tuple[str, ...] | None = None
    """For a format whose text between placeholders is plain (no regex syntax): that text, in
    order (first and last may be empty). None for the others."""

    def could_match(self, stream: str) -> bool:
        """False when ``stream`` cannot match: a plain format's texts must appear in it in
        order, the first at its start and the last at its end. A quick, exact-enough
        pre-check: placeholders side by side (``{{ a }} {{ b }} {{ c }}``) make the regular
        expression take time that grows as a power of the command's length when it fails."""
        if self.literals is None:
            return True
        text = stream.strip()
        first, *middle, last = self.literals if len(self.literals) > 1 else (*self.literals, "")
        if not text.startswith(first.strip()) or not text.endswith(last.strip()):
            return False
        position = len(first.strip())
        for piece in (m.strip() for m in middle):
            found = text.find(piece, position)
            if found < 0:
                return False
            position = found + len(piece)
        return position <= len(text) - len(last.strip())


def _default_text(match: Any) -> str:
    for group in ("dq", "sq", "block", "bare"):
        if match.group(group) is not None:
            return str(match.group(group))
    return ""  # "" or ''


def _anchored(regex: str) -> tuple[bool, bool]:
    """Whether ``regex`` has a start anchor (``^``, ``\\A``) and an end anchor (``$``,
    ``\\Z``) outside character classes."""
    start = end = False
    index, in_class = 0, False
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            escaped = regex[index + 1 : index + 2]
            start = start or (escaped == "A" and not in_class)
            end = end or (escaped == "Z" and not in_class)
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A "]" right after "[" or "[^" is a literal member of the class.
            if regex[index + 1 : index + 2] == "^":
                index += 1
            if regex[index + 1 : index + 2] == "]":
                index += 1
        elif char == "^":
            start = True
        elif char == "$":
            end = True
        index += 1
    return start, end


_REGEX_SYNTAX = frozenset("\\.^$*+?{}[]|()")


@lru_cache(maxsize=1024)
def compile_format(format_text: str) -> CompiledFormat:
    """The regular expression of a format. Raises :class:`FormatError` when it is not one."""
    parts: list[str] = []
    literal: list[str] = []
    defaults: dict[str, str] = {}
    position = 0
    for match in _PLACEHOLDER.finditer(format_text):
        before = format_text[position : match.start()]
        parts.append(before)
        literal.append(before)
        name, lead = match.group("name"), match.group("lead")
        value = _VALUE.format(name=name)
        if match.group("default") is None:
            parts.append(lead + value)
        else:
            defaults[name] = _default_text(match)
            parts.append(f"(?:{lead}{value})?")
        position = match.end()
    parts.append(format_text[position:])
    literal.append(format_text[position:])
    regex = "".join(parts)
    start, end = _anchored("".join(literal))
    if not start:
        regex = r"^\s*" + regex
    if not end:
        regex = regex + r"\s*$"
    try:
        pattern = re.compile(regex, re.DOTALL)
    except re.error as error:
        message = f'format "{format_text}" is not a valid regular expression: {error.msg}'
        raise FormatError(message) from None
    plain = not any(_REGEX_SYNTAX.intersection(piece) for piece in literal)
    return CompiledFormat(format_text, pattern, defaults, tuple(literal) if plain else None)


@lru_cache(maxsize=64)
def _split_pairs(command: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The command without its trailing ``key=value`` pairs, and the pairs (cached: matching
    tries one command against every format)."""
    found = _TRAILING_PAIRS.match(command)
    tail = found.group("pairs") if found else ""
    if not tail:
        return command, ()
    pairs = []
    for pair in _PAIR.finditer(tail):
        value = next(
            (pair.group(g) for g in ("dq", "sq", "block", "word") if pair.group(g) is not None),
            "",
        )
        pairs.append((pair.group("key"), value))
    return command[: len(command) - len(tail)], tuple(pairs)


def _parameters(
    compiled: CompiledFormat,
    found: Any,
    rest: str,
    pairs: tuple[tuple[str, str], ...],
) -> dict[str, str | None]:
    values: dict[str, str | None] = dict(found.groupdict())
    for name, default in compiled.defaults.items():
        values[name] = values.get(name) or default
    values.update(pairs)
    if compiled.text and not (rest.strip() or any(values.values())):
        raise ParseError("No value supplied and no default value found.")
    return values


def _prepare(
    format_text: str, command: str
) -> tuple[CompiledFormat, str, tuple[tuple[str, str], ...]]:
    compiled = compile_format(format_text)
    rest, pairs = _split_pairs(command or "")
    return compiled, rest, pairs


def _no_match(format_text: str, command: str) -> ParseError:
    return ParseError(f'Command "{command or ""}" doesn\'t match format string "{format_text}"')


def extract_parameters(format_text: str, command: str) -> dict[str, str | None]:
    """The parameters ``command`` gives through ``format_text``.

    Raises :class:`ParseError` when it does not match, :class:`FormatError` when the format is
    not a valid regular expression.
    """
    compiled, rest, pairs = _prepare(format_text, command)
    found = compiled.pattern.search(f" {rest} ") if compiled.could_match(rest) else None
    if found is None:
        raise _no_match(format_text, command)
    return _parameters(compiled, found, rest, pairs)


def matches(format_text: str, command: str) -> bool:
    """Whether :func:`extract_parameters` would give parameters (not raise
    :class:`ParseError`); without building the error of every format that does not match."""
    compiled, rest, pairs = _prepare(format_text, command)
    found = compiled.pattern.search(f" {rest} ") if compiled.could_match(rest) else None
    if found is None:
        return False
    try:
        _parameters(compiled, found, rest, pairs)
    except ParseError:
        return False
    return True


def extract_all(format_text: str, command: str) -> list[dict[str, str | None]]:
    """Every match of ``format_text`` in ``command``, for formats with ``match_multiple``
    (one execution each). Raises :class:`ParseError` when there is none."""
    compiled, rest, pairs = _prepare(format_text, command)
    found = compiled.pattern.finditer(f" {rest} ") if compiled.could_match(rest) else ()
    results = [_parameters(compiled, match, rest, pairs) for match in found]
    if not results:
        raise _no_match(format_text, command)
    return results


@dataclass(frozen=True)
class Representation:
    """One format string of an alias, as matching tries it."""

    text: str
    """The format string matched against commands."""
    display: str | None
    """What help shows: the string itself, or the ``display`` of a mapping entry."""
    index: int
    """Which entry of ``formats`` it comes from."""
    match_multiple: bool = False
    """``match_multiple: true`` on the entry: every match in the command is one execution."""


def representations(formats: Any) -> list[Representation]:
    """The format strings of an alias's ``formats``: a string entry is its own display; a
    mapping entry ``{display, representation: [...]}`` gives one per representation (a single
    string is taken as a list of one). A display without representations matches nothing."""
    found: list[Representation] = []
    for index, entry in enumerate(formats if isinstance(formats, list) else []):
        if isinstance(entry, str):
            found.append(Representation(entry, entry, index))
        elif isinstance(entry, dict):
            listed = entry.get("representation") or []
            if isinstance(listed, str):
                listed = [listed]
            display = entry.get("display")
            multiple = entry.get("match_multiple") is True
            for text in listed:
                if isinstance(text, str):
                    found.append(
                        Representation(
                            text, display if isinstance(display, str) else None, index, multiple
                        )
                    )
    return found
