"""``yaql-format``: format() calls rewritten to ``str()`` and ``+``; the rest reported."""

from __future__ import annotations

import pytest

from packhorse.expr.yaql import render_yaql
from packhorse.migrate.transforms import yaql_format

REWRITES = [
    ('x: <% format("{0}-{1}", $.a, $.b) %>', 'x: <% str($.a) + "-" + str($.b) %>'),
    ("x: <% format('{}:{}', $.a, 'k') %>", "x: <% str($.a) + ':' + 'k' %>"),
    ('x: <% "{0}/{0}".format($.a) %>', 'x: <% str($.a) + "/" + str($.a) %>'),
    ("x: '<% \"n={0}\".format(ctx(n)) %>'", "x: '<% \"n=\" + str(ctx(n)) %>'"),
    ('x: <% format("{0}", $.a) %>', "x: <% str($.a) %>"),
    ('x: <% format("{{{0}}}", $.a) %>', 'x: <% "{" + str($.a) + "}" %>'),
    ('x: <% format("a{0}", $.a).toUpper() %>', 'x: <% ("a" + str($.a)).toUpper() %>'),
    ('x: <% format("{0}", format("{0}!", $.a)) %>', 'x: <% str((str($.a) + "!")) %>'),
    ('x: <% format("none") %>', 'x: <% "none" %>'),
    ("x: \"a <% format('{0}', $.a) %> b\"", 'x: "a <% str($.a) %> b"'),
    # untouched: outside <% %>, Jinja, or a method of something else
    ('x: format("{0}", 1)', 'x: format("{0}", 1)'),
    ("x: \"{{ '{0}'.format(1) }}\"", "x: \"{{ '{0}'.format(1) }}\""),
    ("x: <% $.reformat(1) %>", "x: <% $.reformat(1) %>"),
]
REPORTED = [
    ("<% format($.template, $.a) %>", "not a literal", 7),
    ('<% format("{name}", name => $.a) %>', "keyword arguments", 7),
    ('<% format("{0:>5}", $.a) %>', "format spec", 7),
    ('<% format("{1}", $.a) %>', "has no argument", 7),
    ("<% $.t.format($.a) %>", "receiver is not a literal", 10),
]


@pytest.mark.parametrize(("before", "after"), REWRITES)
def test_apply(before: str, after: str) -> None:
    once = yaql_format.apply("w.yaml", before + "\n")
    assert once == after + "\n"
    assert yaql_format.apply("w.yaml", once) == once


@pytest.mark.parametrize(("text", "reason", "col"), REPORTED)
def test_reported_not_rewritten(text: str, reason: str, col: int) -> None:
    line = f"x: {text}\n"
    assert yaql_format.apply("w.yaml", line) == line
    [finding] = yaql_format.detect({"w.yaml": line})
    assert not finding.fixable
    assert reason in finding.message
    assert (finding.line, finding.col) == (1, col)


def test_detect_places_and_fixability() -> None:
    text = "a: 1\nb:\n  c: <% format('{0}', $.x) %>\n"
    [finding] = yaql_format.detect({"w.yaml": text, "x.py": text})
    assert (finding.path, finding.line, finding.col, finding.fixable) == ("w.yaml", 3, 9, True)


@pytest.mark.parametrize(
    ("data", "expected"), [({"a": "x", "b": "y"}, "x-y"), ({"a": 1, "b": 2}, "1-2")]
)
def test_rewrite_gives_what_format_gave(data: dict[str, object], expected: str) -> None:
    rewritten = yaql_format.apply("w.yaml", '<% format("{0}-{1}", $.a, $.b) %>')
    assert rewritten == '<% str($.a) + "-" + str($.b) %>'
    assert render_yaql(rewritten, data) == expected == f"{data['a']}-{data['b']}"
