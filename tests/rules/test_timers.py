"""Timer schedules as tables: interval grid, APScheduler cron semantics (field defaults,
day_of_week 0 = Monday, names, positions, ISO weeks), time zones and DST, date timers, the
latest unfired due time and the missed-fire decision, and parameter problems."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.model.events import Trigger
from packhorse.rules.timers import (
    CRON_TIMER,
    DATE_TIMER,
    INTERVAL_TIMER,
    InvalidTimer,
    MissedFires,
    Schedule,
    cron_fields,
    latest_due,
    should_fire,
    timer_problems,
    timer_schedule,
)


def at(text: str) -> dt.datetime:
    """An aware UTC moment from ``YYYY-MM-DD HH:MM[:SS[.f]]``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def schedule(trigger_type: str, **parameters: Any) -> Schedule:
    return timer_schedule(Trigger(trigger_type, parameters))


def series(plan: Schedule, after: dt.datetime, count: int) -> list[dt.datetime | None]:
    found: list[dt.datetime | None] = []
    for _ in range(count):
        due = plan.next_due(after)
        found.append(due)
        if due is None:
            break
        after = due
    return found


# -- interval ---------------------------------------------------------------------------------

INTERVALS = [
    # unit, delta, after, next due (the grid counts from Monday 1970-01-05 00:00 UTC)
    ("seconds", 1, "2031-01-01 00:00:00.5", "2031-01-01 00:00:01"),
    ("seconds", 30, "2031-01-01 10:00:29", "2031-01-01 10:00:30"),
    ("minutes", 15, "2031-01-01 10:07", "2031-01-01 10:15"),
    ("minutes", 15, "2031-01-01 10:15", "2031-01-01 10:30"),  # strictly after
    ("hours", 1, "2031-01-01 10:59:59", "2031-01-01 11:00"),
    ("hours", 6, "2031-01-01 13:00", "2031-01-01 18:00"),
    ("days", 1, "2031-01-01 10:00", "2031-01-02 00:00"),
    ("weeks", 1, "2031-01-01 10:00", "2031-01-06 00:00"),  # 2031-01-01 is a Wednesday
]


@pytest.mark.parametrize(("unit", "delta", "after", "due"), INTERVALS)
def test_interval_timers_fire_on_a_fixed_grid(unit: str, delta: int, after: str, due: str) -> None:
    plan = schedule(INTERVAL_TIMER, unit=unit, delta=delta)
    assert plan.next_due(at(after)) == at(due)


def test_an_interval_ends_with_the_calendar() -> None:
    plan = schedule(INTERVAL_TIMER, unit="weeks", delta=100_000)
    assert plan.next_due(at("9990-01-01 00:00")) is None


def test_an_interval_series_is_even_and_ignores_the_time_zone() -> None:
    plain = schedule(INTERVAL_TIMER, unit="minutes", delta=7)
    zoned = schedule(INTERVAL_TIMER, unit="minutes", delta=7, timezone="Europe/Paris")
    dues = series(plain, at("2031-03-30 00:00"), 5)
    assert dues == series(zoned, at("2031-03-30 00:00"), 5)
    assert {b - a for a, b in itertools.pairwise(dues) if a and b} == {dt.timedelta(minutes=7)}
    # The series continues from any of its due times: last + delta (what a restart relies on).
    assert dues[2] is not None and plain.next_due(dues[2]) == dues[3]


# -- cron -------------------------------------------------------------------------------------

CRON = [
    # parameters, after (UTC), the next due times (UTC)
    ({"hour": 9}, "2024-01-01 10:00", ["2024-01-02 09:00", "2024-01-03 09:00"]),
    ({"minute": 30}, "2024-01-01 10:00", ["2024-01-01 10:30", "2024-01-01 11:30"]),
    ({"second": 15}, "2024-01-01 10:00:20", ["2024-01-01 10:01:15", "2024-01-01 10:02:15"]),
    ({}, "2024-01-01 10:00", ["2024-01-01 10:00:01", "2024-01-01 10:00:02"]),
    ({"day": 15}, "2024-01-20 00:00", ["2024-02-15 00:00", "2024-03-15 00:00"]),
    ({"month": "feb"}, "2024-03-01 00:00", ["2025-02-01 00:00"]),
    ({"month": "jan-mar", "day": 1}, "2024-02-15 00:00", ["2024-03-01 00:00", "2025-01-01"]),
    ({"year": 2025}, "2024-06-01 00:00", ["2025-01-01 00:00"]),
    # day_of_week counts from 0 = Monday (2024-01-01 is a Monday)
    ({"day_of_week": 0, "hour": 8}, "2024-01-01 10:00", ["2024-01-08 08:00"]),
    ({"day_of_week": "6", "hour": 8}, "2024-01-01 10:00", ["2024-01-07 08:00"]),
    ({"day_of_week": "sun", "hour": 8}, "2024-01-01 10:00", ["2024-01-07 08:00"]),
    (
        {"day_of_week": "mon-fri", "hour": 5, "minute": 30},
        "2024-01-05 06:00",
        ["2024-01-08 05:30", "2024-01-09 05:30"],
    ),
    (
        {"day_of_week": "5-6", "hour": 0},
        "2024-01-01 00:00",
        ["2024-01-06 00:00", "2024-01-07 00:00", "2024-01-13 00:00"],
    ),
    (  # */2 from Monday: Monday, Wednesday, Friday, Sunday
        {"day_of_week": "*/2", "hour": 12},
        "2024-01-01 13:00",
        ["2024-01-03 12:00", "2024-01-05 12:00", "2024-01-07 12:00", "2024-01-08 12:00"],
    ),
    # every field must match: Friday the 13th, not "the 13th or any Friday"
    ({"day": 13, "day_of_week": "fri"}, "2024-01-01 00:00", ["2024-09-13 00:00", "2024-12-13"]),
    ({"day": "last"}, "2024-01-01 00:00", ["2024-01-31 00:00", "2024-02-29 00:00"]),
    ({"day": "1st mon", "hour": 9}, "2024-01-02 00:00", ["2024-02-05 09:00", "2024-03-04 09:00"]),
    ({"day": "last fri"}, "2024-01-01 00:00", ["2024-01-26 00:00", "2024-02-23 00:00"]),
    ({"day": "2nd tue, 15"}, "2024-01-01 00:00", ["2024-01-09", "2024-01-15", "2024-02-13"]),
    ({"day": "1st mon,last fri", "day_of_week": "fri"}, "2024-01-01", ["2024-01-26"]),
    ({"week": 10}, "2024-01-01 00:00", ["2024-03-04 00:00", "2024-03-05 00:00"]),
    ({"week": "1", "day_of_week": "fri", "hour": 17}, "2024-01-06 00:00", ["2025-01-03 17:00"]),
    ({"hour": "*/6"}, "2024-01-01 10:00", ["2024-01-01 12:00", "2024-01-01 18:00"]),
    ({"minute": "5/20"}, "2024-01-01 10:30", ["2024-01-01 10:45", "2024-01-01 11:05"]),
    (
        {"hour": "9-17", "minute": "0,30"},
        "2024-01-01 17:31",
        ["2024-01-02 09:00", "2024-01-02 09:30"],
    ),
    ({"year": 2100}, "2024-01-01 00:00", [None]),  # beyond croniter's calendar
    ({"year": "2020-2023"}, "2024-01-01 00:00", [None]),
    ({"month": 2, "day": 30}, "2024-01-01 00:00", [None]),
    ({"month": 7, "day": 11, "week": 24}, "2024-01-01 00:00", [None]),  # never in that week
]


@pytest.mark.parametrize(("parameters", "after", "dues"), CRON)
def test_cron_timers_follow_apscheduler(
    parameters: dict[str, Any], after: str, dues: list[str | None]
) -> None:
    plan = schedule(CRON_TIMER, **parameters)
    expected = [None if due is None else at(due) for due in dues]
    assert series(plan, at(after), len(dues)) == expected


@pytest.mark.parametrize(
    ("parameters", "fields"),
    [
        ({}, "* * * * * * * *"),
        ({"hour": 9}, "* * * * * 9 0 0"),
        ({"day": 15}, "* * 15 * * 0 0 0"),
        ({"month": 6, "minute": 5}, "* 6 * * * * 5 0"),  # every hour of June at :05
        ({"day_of_week": "mon"}, "* * * * mon 0 0 0"),
        ({"week": 3, "second": 7}, "* * * 3 * * * 7"),
        ({"year": 2030}, "2030 1 1 * * 0 0 0"),
    ],
)
def test_fields_above_the_last_given_are_any_and_below_are_their_minimum(
    parameters: dict[str, Any], fields: str
) -> None:
    assert " ".join(cron_fields(parameters).values()) == fields


PARIS = "Europe/Paris"
ZONED = [
    ({"hour": 9, "timezone": PARIS}, "2024-01-01 10:00", ["2024-01-02 08:00"]),
    ({"hour": 9, "timezone": PARIS}, "2024-07-01 10:00", ["2024-07-02 07:00"]),
    ({"hour": 9, "timezone": "America/New_York"}, "2024-01-01 10:00", ["2024-01-01 14:00"]),
    # 02:30 does not exist on 2024-03-31 in Paris: it fires at 03:30 CEST, then as usual.
    (
        {"hour": 2, "minute": 30, "timezone": PARIS},
        "2024-03-30 12:00",
        ["2024-03-31 01:30", "2024-04-01 00:30"],
    ),
    # 02:30 happens twice on 2024-10-27 in Paris: it fires once, at the first (CEST).
    (
        {"hour": 2, "minute": 30, "timezone": PARIS},
        "2024-10-26 12:00",
        ["2024-10-27 00:30", "2024-10-28 01:30"],
    ),
    # Hourly across the change back: wall-clock hours, so 02:00 fires once.
    (
        {"minute": 0, "timezone": PARIS},
        "2024-10-26 23:30",
        ["2024-10-27 00:00", "2024-10-27 02:00", "2024-10-27 03:00"],
    ),
    # Monthly across the change forward (APScheduler 3.11 skips April here).
    ({"day": 1, "timezone": PARIS}, "2026-02-28 23:00", ["2026-03-31 22:00", "2026-04-30 22:00"]),
    # Looked at from inside the repeated hour (02:10 CET), the next quarter is 02:15 CET.
    ({"minute": "*/15", "timezone": PARIS}, "2024-10-27 01:10", ["2024-10-27 01:15"]),
]


@pytest.mark.parametrize(("parameters", "after", "dues"), ZONED)
def test_cron_times_are_wall_clock_times_in_the_time_zone(
    parameters: dict[str, Any], after: str, dues: list[str]
) -> None:
    plan = schedule(CRON_TIMER, **parameters)
    assert series(plan, at(after), len(dues)) == [at(due) for due in dues]


def test_the_default_time_zone_applies_when_the_timer_names_none() -> None:
    trigger = Trigger(CRON_TIMER, {"hour": 9})
    plan = timer_schedule(trigger, timezone=ZoneInfo("America/Los_Angeles"))
    assert plan.next_due(at("2024-01-01 00:00")) == at("2024-01-01 17:00")


# -- date -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "due"),
    [
        ({"date": "2030-12-31 23:59:59"}, "2030-12-31 23:59:59"),
        ({"date": "2030-12-31T23:59:59Z"}, "2030-12-31 23:59:59"),
        ({"date": "2030-12-31 23:59:59", "timezone": PARIS}, "2030-12-31 22:59:59"),
        ({"date": "2030-12-31T23:59:59+05:00", "timezone": PARIS}, "2030-12-31 18:59:59"),
        ({"date": "2030-12-31"}, "2030-12-31 00:00"),
    ],
)
def test_a_date_timer_fires_once(parameters: dict[str, Any], due: str) -> None:
    plan = schedule(DATE_TIMER, **parameters)
    assert plan.next_due(at("2030-01-01 00:00")) == at(due)
    assert plan.next_due(at(due)) is None


# -- what fires -------------------------------------------------------------------------------


class Counting:
    """A schedule that counts how often it is asked."""

    def __init__(self, plan: Schedule) -> None:
        self.plan = plan
        self.calls = 0

    def next_due(self, after: dt.datetime) -> dt.datetime | None:
        self.calls += 1
        return self.plan.next_due(after)


EVERY_MINUTE = schedule(INTERVAL_TIMER, unit="minutes", delta=1)
DAILY_AT_9 = schedule(CRON_TIMER, hour=9)
ONCE_IN_2031 = schedule(DATE_TIMER, date="2031-06-01 12:00:00")


@pytest.mark.parametrize(
    ("plan", "since", "now", "latest"),
    [
        (EVERY_MINUTE, "2031-01-01 10:00", "2031-01-01 10:00:30", None),
        (EVERY_MINUTE, "2031-01-01 10:00", "2031-01-01 10:01", "2031-01-01 10:01"),
        (EVERY_MINUTE, "2031-01-01 09:00", "2031-01-01 10:00:30", "2031-01-01 10:00"),
        (EVERY_MINUTE, "2021-01-01 09:00", "2031-01-01 10:00:30", "2031-01-01 10:00"),
        (EVERY_MINUTE, "2031-01-01 10:00", "2031-01-01 09:00", None),
        (DAILY_AT_9, "2023-12-01 00:00", "2024-01-10 08:00", "2024-01-09 09:00"),
        (DAILY_AT_9, "2024-01-09 09:00", "2024-01-10 08:00", None),
        (ONCE_IN_2031, "2031-01-01 00:00", "2032-01-01 00:00", "2031-06-01 12:00"),
        (ONCE_IN_2031, "2031-06-01 12:00", "2032-01-01 00:00", None),
    ],
)
def test_the_latest_unfired_due_time(
    plan: Schedule, since: str, now: str, latest: str | None
) -> None:
    counting = Counting(plan)
    found = latest_due(counting, since=at(since), now=at(now))
    assert found == (None if latest is None else at(latest))
    assert counting.calls < 100  # ten years of minutes are not walked one by one


@pytest.mark.parametrize(
    ("late", "missed", "fires"),
    [
        (dt.timedelta(0), MissedFires.SKIP, True),
        (dt.timedelta(seconds=10), MissedFires.SKIP, True),
        (dt.timedelta(seconds=11), MissedFires.SKIP, False),
        (dt.timedelta(days=3), MissedFires.SKIP, False),
        (dt.timedelta(days=3), MissedFires.ONCE, True),
    ],
)
def test_a_due_time_fires_when_late_within_grace_or_caught_up_once(
    late: dt.timedelta, missed: MissedFires, fires: bool
) -> None:
    now = at("2031-01-01 10:00")
    grace = dt.timedelta(seconds=10)
    assert should_fire(now - late, now=now, missed=missed, grace=grace) is fires


# -- problems ---------------------------------------------------------------------------------

PROBLEMS = [
    (INTERVAL_TIMER, {"unit": "fortnights", "delta": 1}, ["unit: 'fortnights' is not one of"]),
    (INTERVAL_TIMER, {"unit": "days", "delta": 0}, ["delta: 0 is not a whole number of 1"]),
    (INTERVAL_TIMER, {"unit": "days", "delta": "5"}, ["delta: '5' is not a whole number"]),
    (INTERVAL_TIMER, {}, ["unit: is required", "delta: is required"]),
    (INTERVAL_TIMER, {"unit": ["days"], "delta": True}, ["unit: ['days'] is not", "delta: True"]),
    (INTERVAL_TIMER, {"unit": "weeks", "delta": 10**12}, ["is too long an interval"]),
    (INTERVAL_TIMER, {"unit": "days", "delta": 1, "every": 2}, ["every: unknown parameter"]),
    (
        CRON_TIMER,
        {"minute": "*/90", "hour": 25, "day_of_week": "fri-mon", "second": "1-"},
        [
            "day_of_week: 'fri-mon': the range runs backwards",
            "hour: '25': values must lie within 0-23",
            "minute: '*/90': the step 90 is larger than the range 0-59",
            "second: '1-': expected *, */n, a number",
        ],
    ),
    (CRON_TIMER, {"day": "6th mon"}, ["day: '6th mon': expected", "'1st mon' to '5th mon'"]),
    (CRON_TIMER, {"day": "1st xyz"}, ["day: '1st xyz': unknown weekday 'xyz'; names are mon, tue"]),
    (CRON_TIMER, {"month": "foo"}, ["month: 'foo': unknown name; names are jan, feb"]),
    (CRON_TIMER, {"month": "jan-foo"}, ["month: 'jan-foo': unknown name 'foo'; names are"]),
    (CRON_TIMER, {"week": 54, "year": 1969}, ["week: '54'", "year: '1969'"]),
    (CRON_TIMER, {"day_of_week": 7}, ["day_of_week: '7': values must lie within 0-6"]),
    (CRON_TIMER, {"hour": ""}, ["hour: '': expected"]),
    (CRON_TIMER, {"timezone": "Mars/Base"}, ["timezone: unknown time zone 'Mars/Base'"]),
    (DATE_TIMER, {}, ["date: is required"]),
    (DATE_TIMER, {"date": "9999-12-31 23:00", "timezone": "America/New_York"}, ["out of range"]),
    (DATE_TIMER, {"date": "tomorrow"}, ["date: 'tomorrow' is not an ISO 8601 date"]),
    ("core.st2.webhook", {"url": "x"}, ["'core.st2.webhook' is not a timer trigger type"]),
]


@pytest.mark.parametrize(("trigger_type", "parameters", "messages"), PROBLEMS)
def test_problems_name_the_parameter_and_say_what_is_wrong(
    trigger_type: str, parameters: dict[str, Any], messages: list[str]
) -> None:
    found = "\n".join(p.format() for p in timer_problems(trigger_type, parameters))
    for message in messages:
        assert message in found


def test_an_invalid_timer_raises_with_every_problem() -> None:
    with pytest.raises(InvalidTimer) as caught:
        timer_schedule(Trigger(CRON_TIMER, {"hour": 25, "minute": 61}))
    assert [p.parameter for p in caught.value.problems] == ["hour", "minute"]
    assert "invalid core.st2.CronTimer parameters: hour:" in caught.value.message


@pytest.mark.parametrize(
    ("trigger_type", "parameters"),
    [
        (INTERVAL_TIMER, {"unit": "seconds", "delta": 5, "timezone": "UTC"}),
        (CRON_TIMER, {"day": "1st mon, last", "month": "jan-mar", "day_of_week": "mon-fri"}),
        (DATE_TIMER, {"date": "2014-12-31 23:59:59", "timezone": "Asia/Tokyo"}),
    ],
)
def test_valid_timers_have_no_problems(trigger_type: str, parameters: dict[str, Any]) -> None:
    assert timer_problems(trigger_type, parameters) == []


# -- APScheduler as the oracle ----------------------------------------------------------------

_RANGES = {
    "year": (2024, 2032),
    "month": (1, 12),
    "day": (1, 31),
    "week": (1, 53),
    "day_of_week": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
_NAMED = {
    "day": ["last", "1st mon", "3rd fri", "last sun", "5th thu"],
    "day_of_week": ["mon-fri", "sat", "sun", "tue-thu"],
    "month": ["jan", "feb-apr", "dec"],
}


def _items(name: str) -> st.SearchStrategy[str]:
    low, high = _RANGES[name]
    value = st.integers(low, high)
    pair = st.tuples(value, value).map(sorted)
    forms = [
        value.map(str),
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        st.integers(1, max(1, (high - low) // 2)).map(lambda n: f"*/{n}"),
        st.tuples(pair, st.integers(1, 9))
        .filter(lambda t: t[1] <= t[0][1] - t[0][0])
        .map(lambda t: f"{t[0][0]}-{t[0][1]}/{t[1]}"),
        st.just("*"),
    ]
    if name in _NAMED:
        forms.append(st.sampled_from(_NAMED[name]))
    return st.lists(st.one_of(forms), min_size=1, max_size=2).map(",".join)


CRON_SPECS = st.fixed_dictionaries({}, optional={name: _items(name) for name in _RANGES}).filter(
    bool
)


@settings(max_examples=150, deadline=None)
@given(
    CRON_SPECS,
    st.sampled_from(["UTC", "Asia/Tokyo", "Asia/Kolkata"]),
    st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)),
)
def test_cron_due_times_are_apschedulers(
    parameters: dict[str, str], zone: str, after: dt.datetime
) -> None:
    """Time zones without daylight saving: there APScheduler 3.11 (what StackStorm runs) has
    bugs of its own (see docs/compatibility.md)."""
    from apscheduler.triggers.cron import CronTrigger

    horizon = after + dt.timedelta(days=3650)  # APScheduler searches to year 9999 otherwise
    ours = schedule(CRON_TIMER, **parameters, timezone=zone)
    theirs = CronTrigger(**parameters, timezone=zone, end_date=horizon)
    expected: list[dt.datetime | None] = []
    previous = None
    for _ in range(3):
        previous = theirs.get_next_fire_time(
            previous, previous or after + dt.timedelta(microseconds=1)
        )
        expected.append(None if previous is None else previous.astimezone(dt.UTC))
        if previous is None:
            break
    found = series(ours, after, len(expected))
    assert [None if due is None or due > horizon else due for due in found] == expected
