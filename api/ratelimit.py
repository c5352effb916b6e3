"""Moving-window rate limits counted in this process (``memory://``).

The ``limits`` library's memory storage expires its entries from a timer thread, and every hit
that finds the timer finished starts a new one: a report waits in ``Thread.start()`` until the
new thread has run, which under load (every worker thread wanting the GIL) took up to 40 ms.
Here each key's hits are dropped when that key is next counted, in the caller's thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Keys left idle are forgotten on a sweep every so many hits, so that tokens seen once do not
# stay in memory for the life of the process.
SWEEP_EVERY = 4096


class MovingWindows:
    """For each key, the times (s, from ``clock``) of its hits in the last window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._until_sweep = SWEEP_EVERY
        self._longest_s = 0.0

    def hit(self, key: str, amount: int, window_s: float) -> float | None:
        """Count one hit on ``key`` if fewer than ``amount`` were counted in the last
        ``window_s`` seconds: None if counted, else the seconds until one more would be."""
        now = self.clock()
        with self._lock:
            self._longest_s = max(self._longest_s, window_s)
            self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            if len(hits) >= amount:
                return hits[len(hits) - amount] + window_s - now
            hits.append(now)
            return None

    def _sweep(self, now: float) -> None:
        """Forget the keys with no hit in the longest window counted."""
        self._until_sweep -= 1
        if self._until_sweep > 0:
            return
        self._until_sweep = SWEEP_EVERY
        since = now - self._longest_s
        idle = [k for k, hits in self._hits.items() if not hits or hits[-1] <= since]
        for key in idle:
            del self._hits[key]

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._hits)
