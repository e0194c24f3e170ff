"""Markdown pieces every benchmark report uses: the run's header clauses and tables of
"median [min–max] (ratio)" cells."""

from __future__ import annotations

from collections.abc import Sequence


def run_clause(date: str, machine: dict) -> str:
    """``2026-11-25 · AMD EPYC · 2 logical CPUs``"""
    return f"{date} · {machine['cpu']} · {machine['logical_cpus']} logical CPUs"


def load_clause(load: dict | None) -> str:
    """How long the run took and how busy other processes kept the machine (``machine.LoadMeter``);
    empty where the load is unknown."""
    if not load:
        return ""
    return (
        f" · run took {load['wall_s'] / 60:.1f} min; other processes used "
        f"{load['other_processes_cpu_share']:.0%} of the machine's CPU meanwhile "
        f"(hypervisor steal {load['steal_share']:.0%})"
    )


def spread(summary: dict, median_format: str = "{:.1f}", range_format: str = "{:.0f}") -> str:
    """A ``timing.summary`` as ``median [min–max]``."""
    low, high = range_format.format(summary["min"]), range_format.format(summary["max"])
    return f"{median_format.format(summary['median'])} [{low}–{high}]"


def ratio(value: float, reference: float) -> str:
    """`` (1.23×)``: ``value`` over ``reference``."""
    return f" ({value / reference:.2f}×)"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table; the first column is a label column."""

    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    return [line(header), "|---|" + "---|" * (len(header) - 1), *(line(row) for row in rows)]
