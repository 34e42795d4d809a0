"""Every criteria operator, table-driven: (operator as written, value, pattern, expected).

``RAISES`` means the operator raises, which the rule filter reports as a miss (StackStorm
catches it the same way). The table was checked against StackStorm's own operator functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from packhorse.rules.operators import (
    ALIASES,
    OPERATORS,
    SEARCH,
    canonical_name,
    get_operator,
    parse_date,
    search_items,
)

RAISES = "raises"
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

TABLE: list[tuple[str, Any, Any, Any]] = [
    # equality: no casting, bytes decoded, None pattern never matches
    ("equals", "a", "a", True),
    ("equals", 5, 5, True),
    ("equals", 5, "5", False),
    ("equals", b"abc", "abc", True),
    ("equals", "abc", b"abc", True),
    ("equals", None, None, False),
    ("equals", [1, 2], [1, 2], True),
    ("eq", {"a": 1}, {"a": 1}, True),
    ("EQUALS", "a", "a", True),
    ("Eq", "a", "b", False),
    ("nequals", "a", "b", True),
    ("nequals", "a", "a", False),
    ("neq", "a", None, True),  # the one operator that takes a None pattern
    ("nequals", None, None, False),
    ("nequals", 5, "5", True),
    ("iequals", "ABC", "abc", True),
    ("ieq", "abc", "abd", False),
    ("iequals", b"ABC", "abc", True),
    ("iequals", 5, "5", RAISES),
    ("iequals", "a", None, False),
    # containment: Python's `in` on strings, lists and dict keys
    ("contains", "foobar", "oba", True),
    ("contains", ["a", "b"], "b", True),
    ("contains", ["ab"], "a", False),
    ("contains", {"k": 1}, "k", True),
    ("contains", {"k": 1}, 1, False),
    ("contains", b"hello", "ell", True),
    ("contains", None, "a", RAISES),
    ("contains", 123, "1", RAISES),
    ("contains", "abc", None, False),
    ("ncontains", "foobar", "baz", True),
    ("ncontains", ["a"], "a", False),
    ("ncontains", None, "a", RAISES),
    ("ncontains", "abc", None, False),
    ("icontains", "FooBar", "OBA", True),
    ("icontains", "FooBar", "xyz", False),
    ("icontains", ["A"], "a", RAISES),  # lower() of a list
    ("incontains", "FooBar", "xyz", True),
    ("incontains", "FooBar", "OBA", False),
    ("incontains", "FooBar", None, False),
    # prefix and suffix
    ("startswith", "foobar", "foo", True),
    ("startswith", "foobar", "Foo", False),
    ("startswith", ["foo"], "foo", RAISES),
    ("startswith", "foobar", None, False),
    ("istartswith", "FOObar", "foo", True),
    ("istartswith", "bar", "foo", False),
    ("endswith", "foobar", "bar", True),
    ("endswith", "foobar", "BAR", False),
    ("iendswith", "fooBAR", "bar", True),
    ("iendswith", "fooBAR", "foo", False),
    # ordering: Python's < and >, strings compare as text, no casting
    ("lessthan", 3, 5, True),
    ("lt", 5, 3, False),
    ("lessthan", 2.5, 3, True),
    ("lessthan", "10", "9", True),
    ("lessthan", 3, "5", RAISES),
    ("lessthan", None, 5, RAISES),
    ("lt", 3, None, False),
    ("gt", 5, 3, True),
    ("greaterthan", 3, 3, False),
    ("greaterthan", "b", "a", True),
    ("GT", 1, None, False),
    # wildcards (fnmatch, case-sensitive)
    ("matchwildcard", "web-01", "web-*", True),
    ("matchwildcard", "db-01", "web-*", False),
    ("matchwildcard", "web-1", "web-?", True),
    ("matchwildcard", "Web-1", "web-*", False),
    ("matchwildcard", "a[1]", "a[[]1]", True),
    ("matchwildcard", 5, "5", RAISES),
    ("matchwildcard", "x", None, False),
    # regular expressions
    ("regex", "error: disk full", r"disk\s+full", True),
    ("regex", "abc", "^b", False),
    ("regex", "ABC", "abc", False),
    ("regex", "line1\nline2", "^line2", False),  # no MULTILINE
    ("regex", "abc", "(", RAISES),
    ("regex", 5, "5", RAISES),
    ("regex", b"abc", "b", True),
    ("regex", "abc", None, False),
    ("iregex", "ABC", "abc", True),
    ("iregex", "ABC", "abd", False),
    ("matchregex", "abc", "b", False),  # anchored at the start
    ("matchregex", "abc", "a.c", True),
    ("matchregex", "a\nc", "a.c", True),  # DOTALL
    ("matchregex", "abc", None, False),
    # time: seconds from the payload date to now, against the pattern
    ("timediff_lt", "2026-01-01T11:59:30Z", 60, True),
    ("td_lt", "2026-01-01T11:58:00Z", 60, False),
    ("timediff_gt", "2026-01-01T11:58:00Z", 60, True),
    ("td_gt", "2026-01-01T11:59:30", 60, False),  # no zone: UTC
    ("timediff_lt", "2026-01-01T13:59:30+02:00", 60, True),
    ("timediff_lt", "2026-01-01 11:59:30.5+00:00", "60", True),  # the pattern may be a string
    ("timediff_lt", "Jan 1 2026 11:59:30", 60, True),  # dateutil's lenient formats
    ("timediff_gt", "11:00", 3599, True),  # the date is taken from now's day
    ("timediff_gt", "11:00", 3601, False),
    ("timediff_lt", "2026-01-01T12:00:30Z", 0, True),  # in the future: negative seconds
    ("timediff_lt", "not a date", 60, RAISES),
    ("timediff_lt", None, 60, RAISES),
    ("timediff_lt", "2026-01-01T11:59:30Z", "soon", RAISES),
    ("timediff_lt", "2026-01-01T11:59:30Z", None, False),
    # presence: the pattern is ignored
    ("exists", "x", None, True),
    ("exists", 0, None, True),
    ("exists", "", None, True),
    ("exists", None, "anything", False),
    ("nexists", None, None, True),
    ("nexists", False, None, False),
    # membership: contains reversed
    ("inside", "b", ["a", "b"], True),
    ("in", "b", "abc", True),
    ("inside", "x", ["a"], False),
    ("inside", "k", {"k": 1}, True),
    ("inside", b"b", "abc", True),
    ("inside", None, "abc", RAISES),
    ("inside", "a", None, False),
    ("nin", "x", ["a"], True),
    ("ninside", "a", ["a"], False),
    ("ninside", 5, "abc", RAISES),
    ("ninside", "a", None, False),
]


@pytest.mark.parametrize(("name", "value", "pattern", "expected"), TABLE)
def test_operator(name: str, value: Any, pattern: Any, expected: Any) -> None:
    operator = get_operator(name)
    assert operator is not None, name
    if expected == RAISES:
        with pytest.raises(Exception):  # noqa: B017 - any error: the filter reports it as a miss
            operator(value, pattern, NOW)
    else:
        assert operator(value, pattern, NOW) is expected


def test_the_table_covers_every_operator_and_alias() -> None:
    written = {name.lower() for name, *_ in TABLE}
    covered = {canonical_name(name) for name in written}
    assert covered == set(OPERATORS)
    assert set(ALIASES) <= written


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("TD_LT", "timediff_lt"),
        ("In", "inside"),
        ("NIN", "ninside"),
        ("Search", SEARCH),
        ("matchRegex", "matchregex"),
        ("like", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_names_are_case_insensitive_with_aliases(name: Any, canonical: str | None) -> None:
    assert canonical_name(name) == canonical


def test_search_has_no_comparison_function() -> None:
    # search applies other criteria to list items: the criteria evaluation drives it.
    assert canonical_name("search") == SEARCH
    assert get_operator("search") is None


def test_the_clock_is_the_one_passed_in() -> None:
    operator = get_operator("td_lt")
    assert operator is not None
    date = "2020-05-01T00:00:00Z"
    assert operator(date, 60, datetime(2020, 5, 1, 0, 0, 30, tzinfo=UTC))
    assert not operator(date, 60, datetime(2020, 5, 1, 0, 5, 0, tzinfo=UTC))
    # a naive now is UTC; another zone is converted
    assert operator(date, 60, datetime(2020, 5, 1, 0, 0, 30))
    plus_two = timezone(timedelta(hours=2))
    assert operator(date, 60, datetime(2020, 5, 1, 2, 0, 30, tzinfo=plus_two))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04T05:06:07Z", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2026-03-04T07:06:07+02:00", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2026-03-04 05:06:07", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("March 4, 2026 5:06:07 AM", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("05:06", datetime(2026, 1, 1, 5, 6, tzinfo=UTC)),
    ],
)
def test_dates_parse_as_stackstorm_parses_them(text: str, expected: datetime) -> None:
    assert parse_date(text, NOW) == expected


ITEMS = [{"name": "a", "size": 1}, {"name": "b", "size": 5}]


def _name_is_a(item: Any) -> bool:
    return bool(item["name"] == "a")


def _size_over_3(item: Any) -> bool:
    return bool(item["size"] > 3)


@pytest.mark.parametrize(
    ("condition", "children", "value", "expected"),
    [
        ("any", [_name_is_a, _size_over_3], ITEMS, False),  # no item holds both
        ("any", [_name_is_a], ITEMS, True),
        ("all", [_name_is_a], ITEMS, False),
        ("all", [lambda item: "name" in item], ITEMS, True),
        ("any2any", [_name_is_a, _size_over_3], ITEMS, True),
        ("all2any", [_name_is_a, _size_over_3], ITEMS, True),  # a by name, b by size
        ("all2any", [_name_is_a], ITEMS, False),
        ("all", [_name_is_a], [], True),  # all() of nothing
        ("any", [_name_is_a], [], False),
        ("any", [_name_is_a], {"name": "a", "size": 0}, True),  # a dict is one item
    ],
)
def test_search_conditions(condition: str, children: list[Any], value: Any, expected: bool) -> None:
    assert search_items(value, condition, children, lambda item, check: check(item)) is expected


def test_search_refuses_an_unknown_condition_and_a_value_that_is_not_a_list() -> None:
    with pytest.raises(ValueError, match="'some' condition is not recognised"):
        search_items(ITEMS, "some", [_name_is_a], lambda item, check: check(item))
    with pytest.raises(TypeError):
        search_items(None, "any", [_name_is_a], lambda item, check: check(item))


def test_pack_validation_knows_exactly_the_operators_the_matcher_knows() -> None:
    # Validation keeps its own table so that importing it stays light (no Jinja, no YAQL).
    from packhorse.packs.validate.rules import CRITERIA_OPERATORS, SEARCH_CONDITIONS
    from packhorse.rules.operators import SEARCH_CONDITIONS as MATCHER_CONDITIONS

    matcher_names = {*OPERATORS, SEARCH, *ALIASES}
    assert set(CRITERIA_OPERATORS) == matcher_names
    assert all(canonical_name(name) == CRITERIA_OPERATORS[name] for name in matcher_names)
    assert SEARCH_CONDITIONS == MATCHER_CONDITIONS
