"""``yaql-format``: YAQL ``format()`` calls, removed in StackStorm 3.9.

``format("{0}-{1}", a, b)`` (or ``"{0}-{1}".format(a, b)``) inside ``<% %>`` becomes
``str(a) + "-" + str(b)``: the literal pieces of the format string, and ``str()`` of each
argument placed by ``{N}`` or ``{}``. String literal arguments are placed as they are.

YAQL's ``str()`` writes ``null``, ``true`` and ``false`` where Python's ``format`` wrote
``None``, ``True`` and ``False``; the message says so. A format string that is not a literal,
a named field or a format spec (``{name}``, ``{0:>5}``), keyword arguments, or an index past
the arguments are reported, not rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packhorse.migrate.transforms.base import Edit, Finding, PackFiles, Transform, apply_edits
from packhorse.migrate.transforms.yamltext import is_yaml

ID = "yaql-format"
_EXPRESSION = re.compile(r"<%(.*?)%>", re.DOTALL)
_FUNCTION = re.compile(r"(?<![\w.$])format\s*\(")
_METHOD = re.compile(r"\.\s*format\s*\(")
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_MAX_PASSES = 8


@dataclass(frozen=True, slots=True)
class Call:
    """One ``format`` call found in the text."""

    start: int
    end: int
    replacement: str | None
    """The rewritten expression; None when it cannot be rewritten (``reason`` says why)."""
    reason: str = ""


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal opening at ``start`` (len(text) if unterminated)."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _arguments(text: str, open_paren: int) -> tuple[list[str], int] | None:
    """The top-level arguments of the call whose ``(`` is at ``open_paren``, and the index
    past its ``)``; None when the parentheses do not close."""
    depth, i, start = 0, open_paren + 1, open_paren + 1
    args: list[str] = []
    while i < len(text):
        char = text[i]
        if char in "'\"`":
            i = _string_end(text, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                last = text[start:i].strip()
                if last or args:
                    args.append(last)
                return args, i + 1
            depth -= 1
        elif char == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    return None


def _literal(argument: str) -> tuple[str, str] | None:
    """(quote, raw inner text) of a single string literal argument."""
    if len(argument) >= 2 and argument[0] in "'\"" and _string_end(argument, 0) == len(argument):
        return argument[0], argument[1:-1]
    return None


def rewrite(template: str, arguments: list[str]) -> tuple[str | None, str]:
    """The concatenation that ``format(template, *arguments)`` stands for, or (None, why)."""
    literal = _literal(template)
    if literal is None:
        return None, "the format string is not a literal"
    if any("=>" in argument for argument in arguments):
        return None, "keyword arguments (name => value) name fields"
    quote, inner = literal
    pieces: list[str] = []
    text, auto = "", 0

    def flush() -> None:
        nonlocal text
        if text:
            pieces.append(f"{quote}{text}{quote}")
            text = ""

    position = 0
    for field in _FIELD.finditer(inner):
        text += inner[position : field.start()]
        position = field.end()
        token = field.group(0)
        if token in ("{{", "}}"):
            text += token[0]
            continue
        name = field.group(1)
        if name is None:
            return None, f"unbalanced brace in {template}"
        if name == "":
            index, auto = auto, auto + 1
        elif name.isdigit():
            index = int(name)
        else:
            return None, f"field {{{name}}} (a name or a format spec) has no concatenation form"
        if index >= len(arguments):
            return None, f"field {{{index}}} has no argument"
        flush()
        argument = arguments[index]
        pieces.append(argument if _literal(argument) else f"str({argument})")
    text += inner[position:]
    flush()
    return (" + ".join(pieces) if pieces else f"{quote}{quote}"), ""


def _calls_in(expression: str, offset: int) -> list[Call]:
    """Outermost ``format`` calls of one expression body; offsets in the whole text."""
    calls: list[Call] = []
    i = 0
    while i < len(expression):
        function = _FUNCTION.search(expression, i)
        method = _METHOD.search(expression, i)
        found = min((m for m in (function, method) if m), key=lambda m: m.start(), default=None)
        if found is None:
            break
        parsed = _arguments(expression, found.end() - 1)
        if parsed is None:
            break
        arguments, end = parsed
        start = found.start()
        if found is method:
            receiver = _receiver_start(expression, found.start())
            if receiver is None:
                calls.append(Call(offset + start, offset + end, None, "receiver is not a literal"))
                i = end
                continue
            start = receiver
            arguments = [expression[receiver : found.start()].strip(), *arguments]
        if not arguments:
            calls.append(Call(offset + start, offset + end, None, "format() without arguments"))
            i = end
            continue
        replacement, reason = rewrite(arguments[0], arguments[1:])
        whole = expression[:start].strip() == "" and expression[end:].strip() == ""
        if replacement is not None and not whole and " + " in replacement:
            replacement = f"({replacement})"
        calls.append(Call(offset + start, offset + end, replacement, reason))
        i = end
    return calls


def _receiver_start(expression: str, dot: int) -> int | None:
    """Start of the string literal just before ``.format`` (None when it is not one)."""
    end = len(expression[:dot].rstrip())
    if end == 0 or expression[end - 1] not in "'\"":
        return None
    quote = expression[end - 1]
    i = end - 2
    while i >= 0:
        if expression[i] == quote and (i == 0 or expression[i - 1] != "\\"):
            return i
        i -= 1
    return None


def calls(text: str) -> list[Call]:
    """Every outermost ``format`` call inside the ``<% %>`` expressions of ``text``."""
    found: list[Call] = []
    for expression in _EXPRESSION.finditer(text):
        found.extend(_calls_in(expression.group(1), expression.start(1)))
    return found


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def detect(files: PackFiles) -> list[Finding]:
    findings = []
    for path, text in sorted(files.items()):
        if not is_yaml(path) or "format" not in text:
            continue
        for call in calls(text):
            line, col = _line_col(text, call.start)
            if call.replacement is None:
                message = f"YAQL format() was removed in StackStorm 3.9; {call.reason}"
            else:
                message = (
                    f"YAQL format() was removed in StackStorm 3.9: {call.replacement} "
                    "(str() writes null/true/false where format wrote None/True/False)"
                )
            findings.append(Finding(ID, path, line, col, message, call.replacement is not None))
    return findings


def apply(path: str, text: str) -> str:
    if not is_yaml(path):
        return text
    # Nested calls: the outer one is rewritten first, the inner one on the next pass.
    for _ in range(_MAX_PASSES):
        edits = [
            Edit(c.start, c.end, c.replacement) for c in calls(text) if c.replacement is not None
        ]
        if not edits:
            break
        text = apply_edits(text, edits)
    return text


TRANSFORM = Transform(
    id=ID,
    description="YAQL format() (removed in StackStorm 3.9) rewritten to str() and +",
    since="3.9.0",
    detect=detect,
    apply=apply,
)
