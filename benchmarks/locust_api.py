"""Locust users for ``bench_api.py``: street champion apps on volunteers' phones.

Each user holds one volunteer's token (from the JSON file named by KST_BENCH_TOKENS: a list of
tokens and the day's date) and, in a loop with a think time between visits, pulls today's
assignments and reports the next one done or failed, each report with a fresh report_id. With
KST_BENCH_TIMINGS set, every request's start (Unix time, s), response time (ms), name and
success are written to that JSON file when Locust stops. With KST_BENCH_SPREAD_RATE set to
Locust's spawn rate, the users Locust starts together (``floor(rate)`` once a second) start one
every ``1/rate`` seconds instead.

    locust -f benchmarks/locust_api.py --headless -u 100 -r 20 -t 60s --host http://...
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, events, task

_SETUP = json.loads(Path(os.environ["KST_BENCH_TOKENS"]).read_text(encoding="utf-8"))
_TOKENS = itertools.cycle(_SETUP["tokens"])
_LOCK = threading.Lock()
_WAIT = (
    float(os.environ.get("KST_BENCH_WAIT_MIN", "1")),
    float(os.environ.get("KST_BENCH_WAIT_MAX", "2")),
)
_REASONS = ("not_home", "refused", "could_not_collect", "volunteer_unwell")
_TIMINGS = os.environ.get("KST_BENCH_TIMINGS")
_SPREAD = float(os.environ.get("KST_BENCH_SPREAD_RATE", "0"))
_started = itertools.count()
_requests: list[tuple[float, float, str, bool]] = []


@events.request.add_listener
def _timed(
    name: str, response_time: float, start_time: float, exception: Any = None, **_: Any
) -> None:
    if _TIMINGS:
        _requests.append((start_time, response_time, name, exception is None))


@events.quitting.add_listener
def _write_timings(**_: Any) -> None:
    if _TIMINGS:
        Path(_TIMINGS).write_text(json.dumps(_requests), encoding="utf-8")


class StreetChampion(FastHttpUser):
    """One volunteer's app: pull the run, report a stop, wait, again."""

    wait_time = between(*_WAIT)

    def on_start(self) -> None:
        with _LOCK:
            token = next(_TOKENS)
            started = next(_started)
        if _SPREAD:
            # Locust starts its users floor(rate) at a time, in the same instant, once a
            # second: each waits its turn in that second, one every 1/rate s.
            gevent.sleep((started % max(1, math.floor(_SPREAD))) / _SPREAD)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.date = _SETUP["date"]
        self.reported = 0

    @task
    def visit(self) -> None:
        with self.client.get(
            f"/v1/me/assignments?date={self.date}",
            headers=self.headers,
            name="GET /v1/me/assignments",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            assignments = response.json()["assignments"]
        if not assignments:
            return
        stop = assignments[self.reported % len(assignments)]
        self.reported += 1
        # Mostly done, now and then failed with a reason, as a day's reports are.
        body: dict[str, str] = {"report_id": str(uuid.uuid4()), "outcome": "done"}
        if self.reported % 5 == 0:
            body = {**body, "outcome": "failed", "reason": _REASONS[self.reported % 4]}
        self.client.post(
            f"/v1/me/assignments/{stop['assignment_id']}/report",
            json=body,
            headers=self.headers,
            name="POST /v1/me/assignments/{id}/report",
        )
