"""``to_human_time_from_seconds``: a duration in seconds as ``1y2d3h4m5s``."""

from __future__ import annotations

from typing import Any

__all__ = ["to_human_time_from_seconds"]

_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60))


def to_human_time_from_seconds(seconds: Any) -> str:
    """A duration as ``1y2d3h4m5s``, leading zero units left out (``45`` -> ``45s``,
    ``3600`` -> ``1h0m0s``); fractions of a second are rounded away, except below one second.

    Kept from StackStorm: values below one second (and negative values) are printed with a
    ``μs`` suffix though they are seconds (``0.1`` -> ``0.1μs``). Fixed: StackStorm computes
    days as a day of the month, so every whole month is lost (40 days print as ``9d...``); we
    count days since the last whole year of 365 days.
    """
    if not isinstance(seconds, int | float):
        raise TypeError(
            f"to_human_time_from_seconds expects a number of seconds, got {type(seconds).__name__}"
        )
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds}\u03bcs"
    remaining = round(seconds) if isinstance(seconds, float) else seconds
    parts: list[str] = []
    for suffix, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count or parts:
            parts.append(f"{count}{suffix}")
    parts.append(f"{remaining}s")
    return "".join(parts)
