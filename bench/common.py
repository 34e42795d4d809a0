"""Helpers shared by the benchmarks: timing, medians and the table every script prints."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (the machine is noisy: never quote one run)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def print_table(title: str, rows: Sequence[tuple[str, float, float | None, str]]) -> None:
    """Rows of (measurement, seconds, floor seconds or None, target)."""
    print(f"\n{title}")
    header = f"{'measurement':<46} {'median':>10} {'floor':>10} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for name, seconds, floor, target in rows:
        floor_text = f"{floor * 1000:9.1f}ms" if floor else f"{'':>10}"
        ratio = f"{seconds / floor:6.1f}x" if floor else f"{'':>7}"
        print(f"{name:<46} {seconds * 1000:9.1f}ms {floor_text} {ratio}  {target}")
