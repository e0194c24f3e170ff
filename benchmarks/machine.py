"""The machine a benchmark ran on, and how busy other processes kept it meanwhile."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time


def describe_machine() -> dict:
    """CPU model name (from ``lscpu`` where there is one), logical CPUs, Python version."""
    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "logical_cpus": os.cpu_count(), "python": platform.python_version()}


def _busy_cpu_seconds() -> tuple[float, float] | None:
    """Machine-wide (busy, steal) CPU seconds so far, from /proc/stat; None off Linux."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (workers, export)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class LoadMeter:
    """Share of the machine's CPU that *other* processes used between creation and ``stop``.

    The benchmark's own CPU time (this process and its children, which must have exited by
    ``stop``) is subtracted from the machine-wide busy time. Above a few percent, treat timings
    as noisy.
    """

    def __init__(self):
        self.started = time.perf_counter()
        self.busy_before = _busy_cpu_seconds()
        self.own_before = _own_cpu_seconds()

    def stop(self) -> dict | None:
        """``wall_s``, ``other_processes_cpu_share``, ``steal_share``; None off Linux."""
        wall = time.perf_counter() - self.started
        busy_after = _busy_cpu_seconds()
        if not (self.busy_before and busy_after):
            return None
        foreign = busy_after[0] - self.busy_before[0] - (_own_cpu_seconds() - self.own_before)
        return {
            "wall_s": wall,
            "other_processes_cpu_share": max(foreign, 0.0) / (wall * os.cpu_count()),
            "steal_share": (busy_after[1] - self.busy_before[1]) / (wall * os.cpu_count()),
        }
