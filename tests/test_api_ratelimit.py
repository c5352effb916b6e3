"""Rate limits counted in the server process (``memory://``): a moving window per key, the
seconds to wait when it is full, no thread started to expire the hits, idle keys forgotten."""

from __future__ import annotations

import threading

import pytest
from fastapi import HTTPException

from api import ratelimit
from api.deps import RateLimits
from api.ratelimit import MovingWindows


class Clock:
    """Seconds set by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_moving_window_counts_the_hits_of_the_last_window_per_key() -> None:
    clock = Clock()
    windows = MovingWindows(clock)
    got = []
    for at in (0, 10, 20, 30):  # 3 a minute: the fourth is refused until 0 + 60
        clock.now = 1000.0 + at
        got.append(windows.hit("a", 3, 60))
    assert got == [None, None, None, 30.0]
    assert windows.hit("b", 3, 60) is None  # another key has its own window
    clock.now = 1059.0
    assert windows.hit("a", 3, 60) == 1.0  # the refused hit was not counted
    clock.now = 1060.0  # the hit at 0 has left the window; those at 10 and 20 have not
    assert windows.hit("a", 3, 60) is None
    assert windows.hit("a", 3, 60) == 10.0  # now 10, 20 and 60 are in: free again at 70


def test_idle_keys_are_forgotten_on_a_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY", 5)
    clock = Clock()
    windows = MovingWindows(clock)
    for key in ("a", "b", "c"):
        windows.hit(key, 10, 60)
    clock.now += 61  # a, b and c are idle for longer than the window
    windows.hit("d", 10, 60)
    assert len(windows) == 4  # 4 hits: no sweep yet
    windows.hit("d", 10, 60)  # the 5th hit sweeps
    assert len(windows) == 1


def test_a_full_window_answers_429_with_retry_after_and_starts_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = RateLimits("memory://", {"report": "2/minute"})
    started: list[threading.Thread] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread)
        start(thread)

    def hit(key: str) -> None:
        for timer in [t for t in threading.enumerate() if isinstance(t, threading.Timer)]:
            timer.join()  # a hit may not lean on an expiry thread already running
        limits.hit("report", key)

    monkeypatch.setattr(threading.Thread, "start", counted)
    hit("t_1")
    hit("t_1")
    with pytest.raises(HTTPException) as refused:
        hit("t_1")
    hit("t_2")  # another token is counted apart
    assert started == []
    assert refused.value.status_code == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
