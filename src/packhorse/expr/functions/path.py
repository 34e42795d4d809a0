"""Path functions, always with POSIX rules (StackStorm runs on Linux)."""

from __future__ import annotations

import posixpath
from typing import Any

__all__ = ["basename", "dirname"]


def basename(path: Any) -> str:
    """The last component: ``/a/b.txt`` -> ``b.txt``; ``/a/b/`` -> the empty string."""
    return posixpath.basename(str(path))


def dirname(path: Any) -> str:
    """Everything before the last component: ``/a/b.txt`` -> ``/a``; ``/a/b/`` -> ``/a/b``."""
    return posixpath.dirname(str(path))
