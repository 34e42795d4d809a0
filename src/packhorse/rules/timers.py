"""When timers are due: the schedules of ``core.st2.IntervalTimer``, ``core.st2.CronTimer`` and
``core.st2.DateTimer`` triggers, pure (no clock, no I/O: times come in as arguments).

A :class:`Schedule` answers one question, ``next_due(after)``: the first due time strictly
after ``after``, or None when the timer will never fire again. Moments in are aware datetimes;
moments out are in UTC.

* **Interval** timers fire at whole multiples of the interval counted from Monday 1970-01-05
  00:00 UTC: every 15 minutes at :00, :15, :30 and :45, every day at 00:00 UTC, every week on
  Mondays at 00:00 UTC. Every process computes the same due times without any state, which is
  what lets several processes share one database and fire each due time once; and a restart
  continues the same series (the next due time after the last fire is ``last + interval``).
  StackStorm (APScheduler) starts the series when its timer engine starts, so its phase moves
  with every restart. The interval is elapsed time: ``timezone`` changes nothing.
* **Cron** timers take APScheduler's ``CronTrigger`` fields, which StackStorm passes through
  unchanged: ``year, month, day, week, day_of_week, hour, minute, second``. A field left out is
  ``*`` when it is more significant than the least significant field given, and its minimum
  otherwise (``week`` and ``day_of_week`` excepted, always ``*``): ``{hour: 9}`` fires at
  09:00:00 every day, not every second of that hour. All fields must match (no cron "day OR
  weekday"). ``day_of_week`` counts from **0 = Monday** (not cron's Sunday) and takes names
  ``mon``..``sun``; ``month`` takes ``jan``..``dec``; ``day`` also takes ``last``, ``1st fri``..
  ``5th fri`` and ``last fri``. Times are wall-clock times in ``timezone``: a time skipped when
  clocks go forward fires at the same instant read in the old offset (02:30 becomes 03:30), a
  time repeated when clocks go back fires once, at its first occurrence.
* **Date** timers fire once, at ``date`` (ISO 8601, e.g. ``2030-12-31 23:59:59``), read in
  ``timezone`` unless it carries an offset.

When a timer is looked at, :func:`latest_due` finds the latest due time since it last fired
and :func:`should_fire` says whether it fires now: when it is recent (late by at most a grace
period), or whatever its age when missed fires are caught up (:class:`MissedFires`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from packhorse.errors import PackhorseError
from packhorse.model.events import Trigger

INTERVAL_TIMER = "core.st2.IntervalTimer"
CRON_TIMER = "core.st2.CronTimer"
DATE_TIMER = "core.st2.DateTimer"
TIMER_TYPES = frozenset({INTERVAL_TIMER, CRON_TIMER, DATE_TIMER})

UTC = dt.UTC


class MissedFires(StrEnum):
    """What to do with due times that passed without firing (Packhorse was down, or its
    process stalled for longer than the grace period)."""

    SKIP = "skip"
    """Drop them, as StackStorm does (APScheduler, one-second grace, nothing kept across
    restarts): the timer goes on with its next due time."""
    ONCE = "once"
    """Fire once, now, for the latest of them (however many were missed), then go on."""


@dataclass(frozen=True, slots=True)
class TimerProblem:
    """One thing wrong with a timer's parameters."""

    parameter: str
    """The parameter at fault (``""`` for the parameters as a whole)."""
    message: str

    def format(self) -> str:
        return f"{self.parameter}: {self.message}" if self.parameter else self.message


class InvalidTimer(PackhorseError):
    """A timer trigger's parameters cannot make a schedule; ``problems`` lists every fault."""

    def __init__(self, trigger_type: str, problems: list[TimerProblem]) -> None:
        super().__init__(
            f"invalid {trigger_type} parameters: " + "; ".join(p.format() for p in problems),
            hint="see docs/events.md#timers for the parameters of each timer",
        )
        self.trigger_type = trigger_type
        self.problems = problems


class Schedule(Protocol):
    """When a timer is due."""

    def next_due(self, after: dt.datetime) -> dt.datetime | None:
        """The first due time strictly after ``after`` (aware), in UTC; None: never again."""
        ...


def is_timer(trigger_type: str) -> bool:
    return trigger_type in TIMER_TYPES


def timer_problems(trigger_type: str, parameters: Mapping[str, Any]) -> list[TimerProblem]:
    """Every problem with ``parameters`` for a timer of ``trigger_type`` (none: valid)."""
    return _build(trigger_type, parameters, UTC)[1]


def timer_schedule(trigger: Trigger, *, timezone: dt.tzinfo = UTC) -> Schedule:
    """The schedule of a timer trigger; ``timezone`` applies when its parameters name none.

    Raises :class:`InvalidTimer` with every problem found."""
    schedule, problems = _build(trigger.type, trigger.parameters, timezone)
    if schedule is None:
        raise InvalidTimer(trigger.type, problems)
    return schedule


def latest_due(schedule: Schedule, *, since: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The latest due time in ``(since, now]``, or None when there is none.

    The window before ``now`` doubles until it holds a due time, then the due times inside it
    are walked, so a timer that last fired long ago costs a few dozen steps, not one per
    missed fire."""
    if since >= now:
        return None
    first = schedule.next_due(since)
    if first is None or first > now:
        return None
    window = dt.timedelta(seconds=1)
    while True:
        start = max(since, now - window)
        found = first if start == since else schedule.next_due(start)
        if found is not None and found <= now:
            break
        window *= 2
    while (following := schedule.next_due(found)) is not None and following <= now:
        found = following
    return found


def should_fire(
    due: dt.datetime, *, now: dt.datetime, missed: MissedFires, grace: dt.timedelta
) -> bool:
    """Whether a due time that passed without firing fires at ``now``: when it is late by at
    most ``grace`` (late, not missed), or whatever its age when missed fires are caught up
    ``ONCE``. Only the latest unfired due time is ever asked about: older ones are dropped."""
    return now - due <= grace or missed is MissedFires.ONCE


# -- interval and date ------------------------------------------------------------------------

INTERVAL_ORIGIN = dt.datetime(1970, 1, 5, tzinfo=UTC)
"""Interval timers fire at whole multiples of their interval counted from here (a Monday)."""

_UNITS = {
    "weeks": dt.timedelta(weeks=1),
    "days": dt.timedelta(days=1),
    "hours": dt.timedelta(hours=1),
    "minutes": dt.timedelta(minutes=1),
    "seconds": dt.timedelta(seconds=1),
}


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    every: dt.timedelta

    def next_due(self, after: dt.datetime) -> dt.datetime | None:
        count = (after - INTERVAL_ORIGIN) // self.every
        try:
            return INTERVAL_ORIGIN + (count + 1) * self.every
        except OverflowError:  # past the year 9999
            return None


@dataclass(frozen=True, slots=True)
class DateSchedule:
    at: dt.datetime

    def next_due(self, after: dt.datetime) -> dt.datetime | None:
        return self.at if self.at > after else None


def _interval(parameters: Mapping[str, Any], problems: list[TimerProblem]) -> IntervalSchedule:
    unit, delta = parameters.get("unit"), parameters.get("delta")
    step = _UNITS.get(unit) if isinstance(unit, str) else None
    if unit is None:
        problems.append(TimerProblem("unit", f"is required: one of {', '.join(_UNITS)}"))
    elif step is None:
        problems.append(TimerProblem("unit", f"{unit!r} is not one of {', '.join(_UNITS)}"))
    if delta is None:
        problems.append(TimerProblem("delta", "is required: a whole number of units"))
    elif not isinstance(delta, int) or isinstance(delta, bool) or delta < 1:
        problems.append(TimerProblem("delta", f"{delta!r} is not a whole number of 1 or more"))
    elif step is not None:
        try:
            return IntervalSchedule(step * delta)
        except OverflowError:
            problems.append(TimerProblem("delta", f"{delta} {unit} is too long an interval"))
    return IntervalSchedule(dt.timedelta(seconds=1))  # not used: there are problems


def _date(
    parameters: Mapping[str, Any], zone: dt.tzinfo, problems: list[TimerProblem]
) -> DateSchedule:
    text = parameters.get("date")
    if text is None:
        problems.append(TimerProblem("date", "is required, e.g. '2030-12-31 23:59:59'"))
        return DateSchedule(INTERVAL_ORIGIN)
    try:
        at = dt.datetime.fromisoformat(str(text))
    except ValueError:
        problems.append(
            TimerProblem(
                "date",
                f"{text!r} is not an ISO 8601 date and time, e.g. "
                "'2030-12-31 23:59:59' or '2030-12-31T23:59:59+01:00'",
            )
        )
        return DateSchedule(INTERVAL_ORIGIN)
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    try:
        return DateSchedule(at.astimezone(UTC))
    except OverflowError:
        problems.append(TimerProblem("date", f"{text!r} is out of range"))
        return DateSchedule(INTERVAL_ORIGIN)


def _zone(
    parameters: Mapping[str, Any], default: dt.tzinfo, problems: list[TimerProblem]
) -> dt.tzinfo:
    name = parameters.get("timezone")
    if name is None:
        return default
    try:
        if not isinstance(name, str):
            raise TypeError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(
            TimerProblem(
                "timezone",
                f"unknown time zone {name!r}: use an IANA name such as 'UTC' or "
                "'Europe/Paris' (the system time zone database or the tzdata package "
                "provides them)",
            )
        )
        return default


# -- cron -------------------------------------------------------------------------------------

CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
"""APScheduler's CronTrigger fields, most significant first."""

_LIMITS = {
    "year": (1970, 9999),
    "month": (1, 12),
    "day": (1, 31),
    "week": (1, 53),
    "day_of_week": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
_BELOW_DEFAULTS = {"week": "*", "day_of_week": "*"}
"""Fields less significant than the least significant one given take their minimum, except
these (APScheduler's DEFAULT_VALUES)."""

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NTH = ("1st", "2nd", "3rd", "4th", "5th", "last")
_LAST_NTH = 6

_SEPARATOR = re.compile(r" *, *")
_ALL = re.compile(r"\*(?:/(?P<step>\d+))?")
_RANGE = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?")
_NAMES = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?", re.IGNORECASE)
_POSITION = re.compile(r"(?P<nth>1st|2nd|3rd|4th|5th|last) +(?P<weekday>[a-z]+)", re.IGNORECASE)

_FORMS = {
    "": "*, */n, a number, a range a-b or a-b/n, or a list of these",
    "day": "*, */n, a number, a range a-b or a-b/n, 'last', '1st mon' to '5th mon', "
    "'last mon', or a list of these",
    "month": "*, */n, a number, a range a-b or a-b/n, a name jan to dec or a range of names "
    "(jan-mar), or a list of these",
    "day_of_week": "*, */n, a number (0 = Monday), a range a-b or a-b/n, a name mon to sun or "
    "a range of names (mon-fri), or a list of these",
}

_CRONITER_LAST_YEAR = 2099
"""croniter's calendar ends here; later years never come."""
_MAX_STEPS = 10_000
"""Bound on the steps of the search for a due time in a matching ISO week (each step moves
to the next matching week at least, so the end of the calendar comes first)."""
_MAX_WEEKS = 53 * 8


@dataclass(frozen=True, slots=True)
class _Field:
    values: frozenset[int]
    last_day: bool = False
    """``day`` only: the last day of the month."""
    positions: frozenset[tuple[int, int]] = frozenset()
    """``day`` only: (nth 1..5, or 6 for the last, weekday 0 = Monday)."""


class _BadItem(ValueError):
    pass


def _span(name: str, first: int, last: int, step: int | None) -> frozenset[int]:
    low, high = _LIMITS[name]
    if first < low or last > high:
        raise _BadItem(f"values must lie within {low}-{high}")
    if first > last:
        raise _BadItem(f"the range runs backwards ({first} > {last})")
    if step is not None:
        if step < 1:
            raise _BadItem("the step must be 1 or more")
        if step > last - first > 0:
            raise _BadItem(f"the step {step} is larger than the range {first}-{last}")
    return frozenset(range(first, last + 1, step or 1))


def _named(name: str, names: tuple[str, ...], match: re.Match[str]) -> frozenset[int]:
    base = 1 if name == "month" else 0
    ends = []
    for part in (match["first"], match["last"] or match["first"]):
        try:
            ends.append(names.index(part.lower()) + base)
        except ValueError:
            which = "" if part == match[0] else f" {part!r}"
            raise _BadItem(f"unknown name{which}; names are {', '.join(names)}") from None
    return _span(name, ends[0], ends[1], None)


def _item(name: str, item: str) -> _Field:
    low, high = _LIMITS[name]
    if match := _ALL.fullmatch(item):
        step = match["step"]
        return _Field(_span(name, low, high, int(step) if step else None))
    if match := _RANGE.fullmatch(item):
        first, last, step = match["first"], match["last"], match["step"]
        end = int(last) if last else (int(first) if step is None else high)
        return _Field(_span(name, int(first), end, int(step) if step else None))
    if name == "day":
        if item.lower() == "last":
            return _Field(frozenset(), last_day=True)
        if match := _POSITION.fullmatch(item):
            weekday = match["weekday"].lower()
            if weekday not in _WEEKDAYS:
                raise _BadItem(f"unknown weekday {weekday!r}; names are {', '.join(_WEEKDAYS)}")
            nth = _NTH.index(match["nth"].lower()) + 1
            return _Field(frozenset(), positions=frozenset({(nth, _WEEKDAYS.index(weekday))}))
    if name in ("month", "day_of_week") and (match := _NAMES.fullmatch(item)):
        return _Field(_named(name, _MONTHS if name == "month" else _WEEKDAYS, match))
    raise _BadItem(f"expected {_FORMS.get(name, _FORMS[''])}")


def _field(name: str, text: str, problems: list[TimerProblem]) -> _Field:
    values: set[int] = set()
    positions: set[tuple[int, int]] = set()
    last_day = False
    for item in _SEPARATOR.split(text.strip()):
        try:
            parsed = _item(name, item)
        except _BadItem as error:
            problems.append(TimerProblem(name, f"{item!r}: {error}"))
            continue
        values |= parsed.values
        positions |= parsed.positions
        last_day = last_day or parsed.last_day
    return _Field(frozenset(values), last_day, frozenset(positions))


def cron_fields(parameters: Mapping[str, Any]) -> dict[str, str]:
    """The eight fields as APScheduler reads them: those given, ``*`` above the least
    significant one given, the minimum below it (``week`` and ``day_of_week`` stay ``*``).
    With no field at all, every field is ``*``: the timer fires every second."""
    given = {name: parameters[name] for name in CRON_FIELDS if parameters.get(name) is not None}
    fields: dict[str, str] = {}
    seen = 0
    for name in CRON_FIELDS:
        if name in given:
            fields[name] = str(given[name])
            seen += 1
        elif given and seen == len(given):
            fields[name] = _BELOW_DEFAULTS.get(name, str(_LIMITS[name][0]))
        else:
            fields[name] = "*"
    return fields


def _listed(values: frozenset[int], name: str, convert: Callable[[int], int] = int) -> str:
    low, high = _LIMITS[name]
    if values == frozenset(range(low, high + 1)):
        return "*"
    return ",".join(str(v) for v in sorted({convert(v) for v in values}))


def _cron_weekday(weekday: int) -> int:
    """APScheduler's weekday (0 = Monday) as cron's (0 = Sunday)."""
    return (weekday + 1) % 7


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """APScheduler cron fields compiled to croniter expressions (cron's own weekday numbers,
    seconds then years after the five classic fields), whose union is the schedule. The ISO
    week, which cron lacks, filters their results."""

    fields: Mapping[str, str]
    """The effective APScheduler fields (see :func:`cron_fields`)."""
    timezone: dt.tzinfo
    expressions: tuple[str, ...]
    weeks: frozenset[int] | None
    """ISO weeks to fire in; None: every week."""

    def next_due(self, after: dt.datetime) -> dt.datetime | None:
        from croniter import CroniterBadDateError, croniter

        start = after.astimezone(self.timezone).replace(tzinfo=None)
        for _ in range(_MAX_STEPS):
            if start.year > _CRONITER_LAST_YEAR:
                return None
            candidates = []
            for expression in self.expressions:
                try:
                    found = croniter(
                        expression, start, day_or=False, max_years_between_matches=200
                    ).get_next(dt.datetime)
                except (CroniterBadDateError, ValueError, OverflowError):
                    continue  # no match before the end of the calendar
                candidates.append(found)
            if not candidates:
                return None
            wall: dt.datetime = min(candidates)
            if self.weeks is not None and wall.isocalendar().week not in self.weeks:
                monday = _next_week(wall.date(), self.weeks)
                if monday is None:
                    return None
                start = dt.datetime.combine(monday, dt.time()) - dt.timedelta(microseconds=1)
                continue
            for fold in (0, 1):  # a repeated wall time may lie before ``after`` the first time
                due = wall.replace(tzinfo=self.timezone, fold=fold).astimezone(UTC)
                if due > after:
                    return due
            start = wall
        return None


def _next_week(day: dt.date, weeks: frozenset[int]) -> dt.date | None:
    """The first Monday after ``day`` that starts one of ``weeks`` (week 53 comes every five
    or six years)."""
    monday = day + dt.timedelta(days=7 - day.weekday())
    for _ in range(_MAX_WEEKS):
        if monday.year > _CRONITER_LAST_YEAR:
            break
        if monday.isocalendar().week in weeks:
            return monday
        monday += dt.timedelta(days=7)
    return None


def _cron(
    parameters: Mapping[str, Any], zone: dt.tzinfo, problems: list[TimerProblem]
) -> CronSchedule:
    fields = cron_fields(parameters)
    parsed = {name: _field(name, fields[name], problems) for name in CRON_FIELDS}
    weekdays = parsed["day_of_week"].values
    second, minute, hour, month = (
        _listed(parsed[name].values, name) for name in ("second", "minute", "hour", "month")
    )
    dow = _listed(weekdays, "day_of_week", _cron_weekday)
    years = sorted(y for y in parsed["year"].values if y <= _CRONITER_LAST_YEAR)
    year = "*" if fields["year"] == "*" else ",".join(str(y) for y in years)
    day = parsed["day"]
    expressions = []
    if year:  # else every year given lies beyond croniter's calendar: never due
        if day.values or day.last_day:
            days = _listed(day.values, "day") if day.values else ""
            if days != "*" and day.last_day:
                days = ",".join(filter(None, (days, "l")))
            expressions.append(f"{minute} {hour} {days} {month} {dow} {second} {year}")
        # "3rd fri" and "last fri" become cron weekday expressions ("5#3", "L5"); as every
        # field must match, only those on an allowed weekday are kept.
        nths = [
            f"L{_cron_weekday(weekday)}" if nth == _LAST_NTH else f"{_cron_weekday(weekday)}#{nth}"
            for nth, weekday in sorted(day.positions)
            if weekday in weekdays
        ]
        if nths:
            expressions.append(f"{minute} {hour} * {month} {','.join(nths)} {second} {year}")
    weeks = parsed["week"].values
    return CronSchedule(
        fields=fields,
        timezone=zone,
        expressions=tuple(expressions),
        weeks=None if _listed(weeks, "week") == "*" else weeks,
    )


# -- all timers -------------------------------------------------------------------------------

_PARAMETERS = {
    INTERVAL_TIMER: frozenset({"unit", "delta", "timezone"}),
    DATE_TIMER: frozenset({"date", "timezone"}),
    CRON_TIMER: frozenset({*CRON_FIELDS, "timezone"}),
}


def _build(
    trigger_type: str, parameters: Mapping[str, Any], default_zone: dt.tzinfo
) -> tuple[Schedule | None, list[TimerProblem]]:
    known = _PARAMETERS.get(trigger_type)
    if known is None:
        return None, [TimerProblem("", f"{trigger_type!r} is not a timer trigger type")]
    problems = [
        TimerProblem(name, f"unknown parameter; {trigger_type} takes {', '.join(sorted(known))}")
        for name in sorted(set(parameters) - known)
    ]
    zone = _zone(parameters, default_zone, problems)
    schedule: Schedule
    if trigger_type == INTERVAL_TIMER:
        schedule = _interval(parameters, problems)
    elif trigger_type == DATE_TIMER:
        schedule = _date(parameters, zone, problems)
    else:
        schedule = _cron(parameters, zone, problems)
    return (None, problems) if problems else (schedule, [])
