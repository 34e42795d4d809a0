"""Criteria operators: StackStorm's comparison semantics, as a registry of small functions.

Each operator is ``operator(value, pattern, now) -> bool``: ``value`` is what the criterion key
found in the payload (None when nothing), ``pattern`` the rendered pattern, ``now`` the current
time (only the ``timediff`` operators read it; the clock is never read here). An operator may
raise (``None < 1``, ``[].lower()``, a bad regular expression): the caller reports that as a
miss, as StackStorm's rule filter does when it catches the exception.

Behaviour kept from StackStorm's ``st2common/operators.py`` (stackstorm-packs.md §4.1):

* names are case-insensitive, with short aliases (``eq``, ``neq``, ``ieq``, ``lt``, ``gt``,
  ``td_lt``, ``td_gt``, ``in``, ``nin``);
* a pattern of None never matches, except for ``nequals`` (``x != None``) and the presence
  operators, which ignore the pattern;
* bytes (the value or the pattern) are decoded as UTF-8 for the string operators; ``lessthan``,
  ``greaterthan`` and the time operators compare what they are given;
* ``contains`` is Python's ``in``: a substring of a string, an item of a list, a key of a dict.
  The ``i`` variants lower-case both sides, so they work on strings only (a list value fails);
* ``lessthan`` / ``greaterthan`` are Python's ``<`` / ``>``: strings compare as text, and a
  number against a string fails (no casting);
* ``inside`` / ``ninside`` are ``contains`` reversed (the value in the pattern);
* ``regex`` and ``iregex`` search anywhere; ``matchregex`` (deprecated) matches at the start,
  with ``DOTALL``;
* ``timediff_lt`` / ``timediff_gt`` compare the seconds from a date in the payload to now with
  the pattern (a number of seconds); a date without a time zone is UTC.

``search`` is not in the registry: it applies other criteria to the items of a list, so the
criteria evaluation (``packhorse.rules.criteria``) drives it with :func:`search_items`.

One deliberate difference: ``matchwildcard`` is case-sensitive on every platform (StackStorm's
``fnmatch`` follows the operating system, case-sensitive on Linux where it runs).
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, TypeVar

from dateutil import parser as date_parser

__all__ = [
    "ALIASES",
    "OPERATORS",
    "SEARCH",
    "SEARCH_CONDITIONS",
    "Operator",
    "canonical_name",
    "get_operator",
    "parse_date",
    "search_items",
]

Operator = Callable[[Any, Any, datetime], bool]
"""``operator(value, pattern, now) -> bool``; may raise on values it cannot compare."""

_Child = TypeVar("_Child")

SEARCH: Final = "search"
SEARCH_CONDITIONS: Final = frozenset({"any", "all", "any2any", "all2any"})


def _text(value: Any) -> Any:
    """Bytes decoded as UTF-8; anything else as it is."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def equals(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(value) == _text(pattern))


def nequals(value: Any, pattern: Any, now: datetime) -> bool:
    # The one comparison that accepts a None pattern: "value is not None" in effect.
    return bool(_text(value) != _text(pattern))


def iequals(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(value).lower() == _text(pattern).lower())


def contains(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _text(pattern) in _text(value)


def ncontains(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _text(pattern) not in _text(value)


def icontains(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(pattern).lower() in _text(value).lower())


def incontains(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(pattern).lower() not in _text(value).lower())


def startswith(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(value).startswith(_text(pattern)))


def istartswith(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(value).lower().startswith(_text(pattern).lower()))


def endswith(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(value).endswith(_text(pattern)))


def iendswith(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(_text(value).lower().endswith(_text(pattern).lower()))


def lessthan(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(value < pattern)


def greaterthan(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return bool(value > pattern)


@lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def matchwildcard(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    value = _text(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a string value, got {type(value).__name__}")
    return _wildcard(_text(pattern)).match(value) is not None


@lru_cache(maxsize=4096)
def _regex(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def regex(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _regex(_text(pattern), 0).search(_text(value)) is not None


def iregex(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _regex(_text(pattern), re.IGNORECASE).search(_text(value)) is not None


def matchregex(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _regex(_text(pattern), re.DOTALL).match(_text(value)) is not None


def _utc(moment: datetime) -> datetime:
    """Aware and in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_date(value: Any, now: datetime) -> datetime:
    """A payload date as an aware UTC datetime, parsed as StackStorm's ``date_utils.parse``
    does: ISO 8601 first, then dateutil's lenient parser (``Jan 5 2024 10:00``...). Parts
    the text leaves out are taken from the day of ``now`` (dateutil would read the clock)."""
    text = str(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        midnight = _utc(now).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        with warnings.catch_warnings():
            # An unknown zone name ("PST") is ignored with a warning; StackStorm ignores it too.
            warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
            parsed = date_parser.parse(text, default=midnight)
    return _utc(parsed)


def _seconds_since(value: Any, now: datetime) -> float:
    return (_utc(now) - parse_date(value, now)).total_seconds()


def timediff_lt(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _seconds_since(value, now) < float(pattern)


def timediff_gt(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _seconds_since(value, now) > float(pattern)


def exists(value: Any, pattern: Any, now: datetime) -> bool:
    return value is not None


def nexists(value: Any, pattern: Any, now: datetime) -> bool:
    return value is None


def inside(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _text(value) in _text(pattern)


def ninside(value: Any, pattern: Any, now: datetime) -> bool:
    if pattern is None:
        return False
    return _text(value) not in _text(pattern)


OPERATORS: Final[Mapping[str, Operator]] = MappingProxyType(
    {
        "equals": equals,
        "nequals": nequals,
        "iequals": iequals,
        "contains": contains,
        "ncontains": ncontains,
        "icontains": icontains,
        "incontains": incontains,
        "startswith": startswith,
        "istartswith": istartswith,
        "endswith": endswith,
        "iendswith": iendswith,
        "lessthan": lessthan,
        "greaterthan": greaterthan,
        "matchwildcard": matchwildcard,
        "regex": regex,
        "iregex": iregex,
        "matchregex": matchregex,
        "timediff_lt": timediff_lt,
        "timediff_gt": timediff_gt,
        "exists": exists,
        "nexists": nexists,
        "inside": inside,
        "ninside": ninside,
    }
)
"""Every comparison operator by canonical name (``search`` is driven by the criteria)."""

ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "eq": "equals",
        "neq": "nequals",
        "ieq": "iequals",
        "lt": "lessthan",
        "gt": "greaterthan",
        "td_lt": "timediff_lt",
        "td_gt": "timediff_gt",
        "in": "inside",
        "nin": "ninside",
    }
)
"""Short name -> canonical name."""


def canonical_name(name: Any) -> str | None:
    """The canonical name of an operator (case-insensitive, aliases resolved), ``search``
    included; None for an unknown name or a name that is not a string."""
    if not isinstance(name, str):
        return None
    lowered = name.lower()
    lowered = ALIASES.get(lowered, lowered)
    if lowered in OPERATORS or lowered == SEARCH:
        return lowered
    return None


def get_operator(name: Any) -> Operator | None:
    """The comparison operator called ``name`` (any case, aliases too), or None when unknown
    or when it is ``search``."""
    canonical = canonical_name(name)
    return None if canonical is None else OPERATORS.get(canonical)


def search_items(
    value: Any, condition: Any, children: Sequence[_Child], check: Callable[[Any, _Child], bool]
) -> bool:
    """StackStorm's ``search``: apply the ``children`` criteria to the items of ``value`` with
    ``check(item, child)``, combined by ``condition``:

    * ``any``: some item matches every child criterion;
    * ``all``: every item matches every child criterion (true for an empty list);
    * ``any2any``: some item matches some child criterion;
    * ``all2any``: every item matches some child criterion.

    A dict is one item; any other value is iterated as it is (a string by character, as in
    StackStorm). Raises ValueError for another condition, TypeError when ``value`` cannot be
    iterated (None, a number).
    """
    over_items, over_children = _combine(condition)
    items = [value] if isinstance(value, dict) else value
    return over_items(
        over_children(check(item, child) for child in children) for item in iter(items)
    )


def _combine(
    condition: Any,
) -> tuple[Callable[[Iterable[bool]], bool], Callable[[Iterable[bool]], bool]]:
    """(how items combine, how the child criteria of one item combine)."""
    match condition:
        case "any":
            return any, all
        case "all":
            return all, all
        case "any2any":
            return any, any
        case "all2any":
            return all, any
    raise ValueError(
        f"the {condition!r} condition is not recognised for search; use one of "
        f"{', '.join(sorted(SEARCH_CONDITIONS))}"
    )
