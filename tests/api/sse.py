"""A small server-sent events reader over an httpx streaming response, parsing as the HTML
standard says (``event:`` / ``data:`` fields, comments, a blank line dispatches), for the
stream tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    name: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse(lines: Iterable[str]) -> Iterator[Event | None]:
    """Events as they are dispatched; None for a blank line that dispatched nothing (a
    keep-alive). Comments (``: ...``) are skipped."""
    name, data = "", []
    for line in lines:
        if line == "":
            yield Event(name or "message", "\n".join(data)) if data else None
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
