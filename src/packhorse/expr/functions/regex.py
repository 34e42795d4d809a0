"""Regular expression functions (Python ``re`` syntax); a value that is not a string is matched
as its ``str()``."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["regex_match", "regex_replace", "regex_search", "regex_substring"]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _flags(ignorecase: bool) -> int:
    return re.IGNORECASE if ignorecase else 0


def regex_match(value: Any, pattern: str, ignorecase: bool = False) -> bool:
    """Whether ``pattern`` matches at the start of the value."""
    return re.match(pattern, _text(value), _flags(ignorecase)) is not None


def regex_search(value: Any, pattern: str, ignorecase: bool = False) -> bool:
    """Whether ``pattern`` matches anywhere in the value."""
    return re.search(pattern, _text(value), _flags(ignorecase)) is not None


def regex_replace(value: Any, pattern: str, replacement: str, ignorecase: bool = False) -> str:
    """Every match replaced (``\\1`` and ``\\g<name>`` refer to groups)."""
    return re.sub(pattern, replacement, _text(value), flags=_flags(ignorecase))


def regex_substring(
    value: Any, pattern: str, result_index: int = 0, ignorecase: bool = False
) -> Any:
    """The ``result_index``-th match (its group when the pattern has one group, a tuple of groups
    when it has several); IndexError when there are not that many matches."""
    return re.findall(pattern, _text(value), _flags(ignorecase))[result_index]
