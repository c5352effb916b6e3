"""The number of cores this process may use: one count for every parallel part of kst-match."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores in this process's CPU affinity (what a container or ``taskset`` allows), not the
    machine's count, so worker pools never oversubscribe."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity
        return max(1, os.cpu_count() or 1)
