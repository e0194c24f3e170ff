"""Timing that shares the machine's noise between contenders, and its summaries.

Timed passes are interleaved: within a round every workload runs on every contender back to back,
and the contenders' order rotates from round to round, so a burst of load from another process
lands on all of them alike instead of on whichever ran during it. Figures are medians over rounds
with the [min–max] spread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence

import numpy as np


def interleaved_rounds(
    names: Sequence[str],
    workloads: Sequence[Hashable],
    rounds: int,
    measure: Callable[[str, Hashable], list[float]],
    on_round: Callable[[int], None] | None = None,
) -> dict[str, dict[Hashable, list[float]]]:
    """``measure(name, workload)`` for every round, workload and contender, in that nesting, the
    contenders rotating by one place per round. Returns every sample, by contender and workload
    (``measure`` returns a list, so one call may give several samples)."""
    samples: dict[str, dict[Hashable, list[float]]] = {
        name: {workload: [] for workload in workloads} for name in names
    }
    for round_index in range(rounds):
        if on_round is not None:
            on_round(round_index)
        shift = round_index % len(names)
        order = [*names[shift:], *names[:shift]]
        for workload in workloads:
            for name in order:
                samples[name][workload].extend(measure(name, workload))
    return samples


def interleaved_milliseconds(steps: dict[str, Callable[[], object]], rounds: int = 30) -> dict:
    """Median milliseconds of each step, timed alternately (after 5 warm-up calls each)."""
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        for _ in range(5):
            step()
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) * 1e3 for name, values in seconds.items()}


def summary(values: list[float]) -> dict:
    """Median, min, max and the samples themselves (as the JSON results keep them)."""
    return {
        "median": float(np.median(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "values": values,
    }
