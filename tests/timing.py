"""Timing a call over and over: the speed checks of the tests and of tests/perf/app_speed.py."""

from __future__ import annotations

import time
from collections.abc import Callable


def call_times(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Seconds each of `runs` calls of fn took, sorted, after `warmup` untimed calls (first calls pay for lazy
    imports)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)
