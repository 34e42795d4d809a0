"""Time, passed in: the shell reads the real clock here and hands values to the core."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_now() -> str:
    """Current UTC time as ISO-8601 with microseconds and a ``Z`` suffix (as StackStorm)."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso(moment: dt.datetime) -> str:
    """``moment`` as StackStorm writes timestamps: UTC, microseconds, ``Z``."""
    return moment.astimezone(dt.UTC).strftime(ISO)


def parse_iso(timestamp: str) -> dt.datetime:
    """The moment a timestamp written by :func:`iso` stands for (UTC)."""
    return dt.datetime.strptime(timestamp, ISO).replace(tzinfo=dt.UTC)
