"""orquesta-style evaluation: type preservation, re-evaluation, raw blocks, errors, sandbox."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.errors import ExpressionError, PackhorseError
from packhorse.expr import is_jinja, render_template, render_value, syntax_errors
from packhorse.expr.jinja import MAX_REEVALUATION_DEPTH

CONTEXT: dict[str, Any] = {
    "k1": 101,
    "k2": 1.999,
    "k3": True,
    "k4": [1, 2],
    "k5": {"k": "v"},
    "k6": None,
    "k7": "",
    "name": "world",
    "items": ["a", "b", "c"],
    "trigger": {"body": {"x": 5, "tags": ["p", "q"]}},
}

# (value, expected result)
TYPES: list[tuple[Any, Any]] = [
    ("{{ k1 }}", 101),
    ("{{ k2 }}", 1.999),
    ("{{ k3 }}", True),
    ("{{ k4 }}", [1, 2]),
    ("{{ k5 }}", {"k": "v"}),
    ("{{ k6 }}", None),
    ("{{ k7 }}", ""),
    ("{{k1}}", 101),
    ("{{- k1 -}}", 101),
    ("{{ k1 + 1 }}", 102),
    ("{{ k4 | length }}", 2),
    ("{{ k4 | map('string') }}", ["1", "2"]),  # a generator becomes a list
    ("{{ range(3) }}", [0, 1, 2]),
    ("{{ k4 | reverse }}", [2, 1]),  # an iterator becomes a list
    ("{{ k5.keys() }}", ["k"]),
    ("{{ k5.items() }}", [("k", "v")]),
    ("{{ {'a': {'b': 1}} }}", {"a": {"b": 1}}),  # '}}' inside the expression
    ("{{ '}}' }}", "}}"),
    ("{{ trigger.body.tags[1] }}", "q"),
    ("{{ trigger['body'].x }}", 5),
    # several expressions, or text around one: a string
    ("{{ k1 }} -> {{ k1 }}", "101 -> 101"),
    ("{{ k1 }}{{ k1 }}", "101101"),
    (" {{ k1 }}", " 101"),
    ("{{ k1 }} ", "101 "),
    ("x {{ k4 }}", "x [1, 2]"),
    ("x {{ k6 }}", "x None"),
    ("hello {{ name }}!", "hello world!"),
    # a trailing newline stays when there are only inline expressions (orquesta substitutes)
    ("echo {{ name }}\n", "echo world\n"),
    # blocks: the whole text is a template (Jinja drops one trailing newline)
    ("{% for i in items %}{{ i }}{% endfor %}", "abc"),
    ("{% if k3 %}yes{% else %}no{% endif %}\n", "yes"),
    ("{% set n = k1 %}{{ n }}", "101"),
    ("{{ name }}{% for i in items %}{{ i }}{% endfor %}{{ k1 }}", "worldabc101"),
    # raw sections are kept as written
    ("{% raw %}{{ name }}{% endraw %}", "{{ name }}"),
    ("{% raw %}{{ a }}{% endraw %} and {% raw %}{{ b }}{% endraw %}", "{{ a }} and {{ b }}"),
    ("{{ name }} and {% raw %}{{ 1234 }}{% endraw %}", "world and {{ 1234 }}"),
    # not templates
    ("plain text", "plain text"),
    ("{ {name} }", "{ {name} }"),
    ("{{ k1 }", "{{ k1 }"),  # no closing braces: not an expression (as orquesta)
    ("", ""),
    (101, 101),
    (None, None),
    (True, True),
    (1.5, 1.5),
    # structures, keys included
    (["{{ k1 }}", "x {{ k1 }}", 3], [101, "x 101", 3]),
    ({"{{ name }}": "{{ k4 }}", "n": {"m": ["{{ k3 }}"]}}, {"world": [1, 2], "n": {"m": [True]}}),
    ({"{{ k1 }}": 1}, {101: 1}),
]


@pytest.mark.parametrize(("value", "expected"), TYPES, ids=[repr(case[0]) for case in TYPES])
def test_type_preservation(value: Any, expected: Any) -> None:
    result = render_value(value, CONTEXT)
    assert result == expected
    assert type(result) is type(expected)


def test_the_value_from_the_context_is_returned_not_a_copy() -> None:
    assert render_value("{{ k4 }}", CONTEXT) is CONTEXT["k4"]


def test_a_result_that_is_a_template_is_evaluated_again() -> None:
    context = {"fee": "{{ fi }}", "fi": "{{ fo }}", "fo": "{{ fum }}", "fum": "fee-fi-fo-fum"}
    assert render_value("{{ fee }}", context) == "fee-fi-fo-fum"
    assert render_value("{{ fee }}!", context) == "fee-fi-fo-fum!"
    assert render_value("{{ s }}", {"s": "{{ 7 }}"}) == 7  # and keeps its type
    blocks = {"x": ["{{ a }}", "{{ b }}{% for j in y %}{{ j }}{% endfor %}"], "a": "A", "b": "B"}
    blocks["y"] = ["d", "e"]
    assert render_value("{% for i in x %}{{ i }}{% endfor %}", blocks) == "ABde"


def test_re_evaluation_stops_at_a_depth() -> None:
    with pytest.raises(ExpressionError, match="RecursionError"):
        render_value("{{ me }}", {"me": "{{ me }}"})
    chain = {f"v{i}": f"{{{{ v{i + 1} }}}}" for i in range(MAX_REEVALUATION_DEPTH)}
    chain[f"v{MAX_REEVALUATION_DEPTH}"] = "end"
    assert render_value("{{ v0 }}", chain) == "end"


def test_render_template_does_not_re_evaluate() -> None:
    assert render_template("{{ s }}", {"s": "{{ 7 }}"}) == "{{ 7 }}"
    assert render_template("{{ k1 }}", CONTEXT) == "101"
    assert render_template("{{ k1 }}\n", CONTEXT) == "101"  # Jinja's rule, as StackStorm


# (value, the expression named in the error, the start of the reason)
ERRORS: list[tuple[str, str, str]] = [
    ("{{ nope }}", "{{ nope }}", "UndefinedError: 'nope' is undefined"),
    ("{{ k5.nope }}", "{{ k5.nope }}", "UndefinedError: 'dict object' has no attribute 'nope'"),
    ("{{ nope.x }}", "{{ nope.x }}", "UndefinedError: 'nope' is undefined"),
    ("a {{ k1 }} b {{ nope }} c", "{{ nope }}", "UndefinedError: 'nope' is undefined"),
    ("{{ k1 + }}", "{{ k1 + }}", "TemplateSyntaxError: "),
    ("{% for %}", "{% for %}", "TemplateSyntaxError: "),
    ("{% if k3 %}", "{% if k3 %}", "TemplateSyntaxError: "),
    ("{{ k1 / 0 }}", "{{ k1 / 0 }}", "ZeroDivisionError: division by zero"),
    ("{{ k1 | nofilter }}", "{{ k1 | nofilter }}", "TemplateAssertionError: No filter named"),
    # map() and select() are generators: they fail only when their result is read
    ("{{ k4 | map('nope') }}", "{{ k4 | map('nope') }}", "TemplateRuntimeError: No filter"),
    ("{{ k4 | select('nope') }}", "{{ k4 | select('nope') }}", "TemplateRuntimeError: No test"),
    ("x {{ k4 | map('nope') | list }}", "{{ k4 | map('nope') | list }}", "TemplateRuntimeError"),
    (
        "{% for i in items %}{{ nope }}{% endfor %}",
        "{% for i in items %}{{ nope }}{% endfor %}",
        "UndefinedError",
    ),
]


@pytest.mark.parametrize(("value", "expression", "reason"), ERRORS)
def test_errors(value: str, expression: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        render_value(value, CONTEXT)
    error = raised.value
    assert error.expression == expression
    assert error.reason.startswith(reason)
    assert error.kind == "JinjaEvaluationException"
    assert error.message == (
        f"JinjaEvaluationException: Unable to evaluate expression '{expression}'. {error.reason}"
    )
    assert str(error) == error.message


def test_an_unhashable_key_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="TypeError"):
        render_value({"{{ k4 }}": 1}, CONTEXT)


def test_lenient_mode_renders_undefined_as_empty() -> None:
    assert render_value("{{ nope }}", {}, strict=False) == ""
    assert render_value("a{{ nope }}b", {}, strict=False) == "ab"
    assert render_template("a{{ nope }}b", {}, strict=False) == "ab"
    # As in Jinja (and StackStorm's lenient environment), an attribute of undefined fails.
    with pytest.raises(ExpressionError, match="UndefinedError"):
        render_value("{{ nope.x }}", {}, strict=False)


SANDBOX_ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ k4.__class__.__base__ }}",
    "{{ ''.__class__.__name__ }}",
    "{{ k5.items.__self__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
    "{{ ''.format.__globals__ }}",
    "{{ '{0.__class__}'.format(k1) }}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ 'x' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ range(10 ** 9) | list }}",
    "{{ 'x'.center(10 ** 9) }}",
    "{{ 'x'.zfill(size) }}",
    "{{ 'x'.ljust(width=10 ** 9) }}",
    "{{ 'x' | center(10 ** 9) }}",
    "{{ 'a\nb' | indent(10 ** 9) }}",
    "{{ [1] | batch(10 ** 9, 0) | list }}",
    "{{ [1] | slice(10 ** 9, 0) | list }}",
    "{{ '%*s' | format(10 ** 9, 'x') }}",
]


@pytest.mark.parametrize("template", SANDBOX_ESCAPES)
@pytest.mark.parametrize("strict", [True, False])
def test_sandbox_escapes_are_refused(template: str, strict: bool) -> None:
    context = {**CONTEXT, "k4": [1, 2], "size": 10**9}
    with pytest.raises(ExpressionError):
        render_value(template, context, strict=strict)
    with pytest.raises(ExpressionError):
        render_template(template, context, strict=strict)


def test_sized_filters_and_methods_still_work() -> None:
    assert render_value("{{ 'x' | center(5) }}", {}) == "  x  "
    assert render_value("{{ 'x'.rjust(3, '-') }}", {}) == "--x"
    assert render_value("{{ [1, 2, 3] | batch(2) | list }}", {}) == [[1, 2], [3]]
    assert render_value("{{ [1, 2, 3] | slice(2) | list }}", {}) == [[1, 2], [3]]
    assert render_value("{{ '%s-%d' | format('a', 5) }}", {}) == "a-5"
    assert render_value("{{ 'a\nb' | indent(2) }}", {}) == "a\n  b"


def test_the_sandbox_refusal_names_the_attribute() -> None:
    with pytest.raises(ExpressionError) as raised:
        render_value("{{ ''.__class__ }}", {})
    assert raised.value.reason == (
        "SecurityError: access to attribute '__class__' of 'str' object is unsafe."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ x }}", True),
        ("a {{ x }} b", True),
        ("{% if x %}{% endif %}", True),
        ("{{\n x\n}}", True),  # orquesta misses multi-line expressions; we do not
        ("{{ x", False),
        ("x }}", False),
        ("{ { x } }", False),
        ("{# comment #}", False),
        ("", False),
        (5, False),
        (None, False),
    ],
)
def test_is_jinja(text: Any, expected: bool) -> None:
    assert is_jinja(text) is expected


template_text = st.text(
    alphabet=st.sampled_from(list("{}%#-+*/|.()[]'\" \nabxk1_")) | st.characters(),
    max_size=40,
)
fragments = st.lists(
    st.sampled_from(
        [
            "{{",
            "}}",
            "{%",
            "%}",
            "{#",
            "#}",
            " raw ",
            " endraw ",
            " for ",
            " in ",
            " if ",
            " endfor ",
            " endif ",
            "k1",
            "k4",
            "nope",
            ".",
            "|",
            "length",
            "(",
            ")",
            "'",
            "**",
            "__class__",
            "map",
            "select",
            "attribute=",
            "items",
            "sum",
            "join",
            ",",
            "true",
            "none",
            "%",
            " ",
            "\n",
            "x",
            "1",
            "[",
            "]",
            " set ",
            "=",
            "-",
            "+",
            "~",
            "range",
        ]
    ),
    max_size=14,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(template_text, fragments))
def test_render_value_raises_only_expression_errors(text: str) -> None:
    for strict in (True, False):
        with contextlib.suppress(ExpressionError):
            render_value(text, CONTEXT, strict=strict)
        with contextlib.suppress(ExpressionError):
            render_template(text, CONTEXT, strict=strict)


def test_expression_error_is_a_packhorse_error() -> None:
    assert issubclass(ExpressionError, PackhorseError)


class Holder:
    """An object with an attribute and item access, as a trigger payload never is."""

    attribute = "from attribute"

    def __getitem__(self, key: str) -> str:
        return f"item {key}"


class DictWithAttribute(dict[str, Any]):
    extra = "attribute wins"


LOOKUP_CONTEXT: dict[str, Any] = {
    "d": {"items": [1], "x": {"y": [10, {"z": "deep"}]}, "0": "zero-key", "extra": "key"},
    "holder": Holder(),
    "sub": DictWithAttribute(extra="key loses"),
    "lst": ["a", "b"],
}

LOOKUPS = [
    "{{ d.x.y[1].z }}",
    "{{ d['x']['y'][0] }}",
    "{{ d.x.y.1.z }}",
    "{{ d['0'] }}",
    "{{ d['items'] }}",
    "{{ holder.attribute }}",
    "{{ holder.other }}",
    "{{ sub.extra }}",
    "{{ sub['extra'] }}",
    "{{ lst.0 }}",
    "{{ d.missing }}",
    "{{ missing }}",
    "{{ missing.x }}",
    "{{ lst[5] }}",
    "{{ d.x.__class__ }}",
    "{{ range }}",
]


@pytest.mark.parametrize("template", LOOKUPS)
@pytest.mark.parametrize("strict", [True, False])
def test_the_lookup_shortcut_gives_what_the_compiled_template_gives(
    template: str, strict: bool
) -> None:
    from packhorse.expr import sandbox as internals

    single = internals.compile_single(template, strict)
    assert isinstance(single, internals.SingleExpression)
    assert single.path is not None
    slow = internals.SingleExpression(single.program, None)

    def outcome(run: Any) -> Any:
        try:
            return ("value", run())
        except ExpressionError as error:
            return ("error", error.reason)
        except Exception as error:  # noqa: BLE001 - the internals raise what Jinja raises
            return ("error", f"{type(error).__name__}: {error}")

    def native(candidate: Any) -> Any:
        return internals.native_value(internals.run_single(candidate, LOOKUP_CONTEXT), template)

    assert outcome(lambda: native(single)) == outcome(lambda: native(slow))
    compiled = internals.compile_template(template, strict, False)
    full_template = internals.CompiledTemplate(compiled.template, None)
    assert outcome(lambda: render_template(template, LOOKUP_CONTEXT, strict=strict)) == outcome(
        lambda: internals.run_template(full_template, LOOKUP_CONTEXT)
    )
    assert outcome(lambda: internals.run_template(compiled, LOOKUP_CONTEXT)) == outcome(
        lambda: internals.run_template(full_template, LOOKUP_CONTEXT)
    )


TEXT_AND_LOOKUPS = [
    "echo {{ d.x.y[1].z }} and {{ lst.0 }}!",
    "{{ d.x.y[0] }}{{ d['0'] }}",
    "a {{ missing }} b",
    "a {{ d.missing }} b",
    "a {{ missing.x }} b",
    "{{ 'const' }} {{ 5 }} {{ none }}",
    "{{ holder.attribute }} / {{ holder.other }}",
    "x {{ d.x.__class__ }}",
    "{% raw %}{{ d }}{% endraw %} {{ lst[1] }}",
    "line\r\nnext {{ lst.0 }}\n",
    "{{ reeval }} {{ '{{ lst.0 }}' }}",
]


@pytest.mark.parametrize("template", TEXT_AND_LOOKUPS)
@pytest.mark.parametrize("strict", [True, False])
def test_text_with_lookups_renders_as_the_compiled_template_does(
    template: str, strict: bool
) -> None:
    from packhorse.expr import sandbox as internals

    context = {**LOOKUP_CONTEXT, "reeval": "{{ lst.1 }}"}
    for keep_newline in (True, False):
        compiled = internals.compile_template(template, strict, keep_newline)
        assert compiled.pieces is not None
        full_template = internals.CompiledTemplate(compiled.template, None)

        def outcome(candidate: Any, hook: Any) -> Any:
            token = internals.reevaluation.set(hook)
            try:
                return ("value", internals.run_template(candidate, context))
            except Exception as error:  # noqa: BLE001 - the internals raise what Jinja raises
                return ("error", f"{type(error).__name__}: {error}")
            finally:
                internals.reevaluation.reset(token)

        for hook in (None, lambda text: render_value(text, context)):
            assert outcome(compiled, hook) == outcome(full_template, hook)


def test_a_dict_method_wins_over_a_key_as_in_jinja() -> None:
    assert callable(render_value("{{ d.items }}", LOOKUP_CONTEXT))
    assert render_value("{{ d['items'] }}", LOOKUP_CONTEXT) == [1]
    assert render_value("{{ sub.extra }}", LOOKUP_CONTEXT) == "attribute wins"


@pytest.mark.parametrize(
    ("value", "expressions"),
    [
        ("{{ x }}", []),
        ("plain", []),
        ("{{ x + }}", ["{{ x + }}"]),
        ("a {{ x }} b {{ y + }} c {{ (z }}", ["{{ y + }}", "{{ (z }}"]),
        ("{% for %}{{ x }}", ["{% for %}{{ x }}"]),
        ("{% if x %}", ["{% if x %}"]),
        ("{{ x | no_such_filter }}", ["{{ x | no_such_filter }}"]),
        ("{{ x is no_such_test }}", ["{{ x is no_such_test }}"]),
        ({"{{ k + }}": ["{{ ok }}", "{{ bad ) }}"], "n": 5}, ["{{ k + }}", "{{ bad ) }}"]),
        (5, []),
        (None, []),
    ],
)
def test_syntax_errors_are_all_reported_without_evaluating(
    value: Any, expressions: list[str]
) -> None:
    errors = syntax_errors(value)
    assert [error.expression for error in errors] == expressions
    assert all(error.message.startswith("JinjaEvaluationException: ") for error in errors)
