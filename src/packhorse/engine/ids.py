"""Execution ids: 24 hex digits like StackStorm's (MongoDB ObjectId-shaped), so that tools
and scripts that expect that shape keep working; time-ordered, then random."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"
