"""The worker processes that run jobs (plans, re-plans, scenarios), apart from the requests.

Workers are spawned (a fresh interpreter: no state forked from the server) and exit when the
server process does (``watch_parent``). A worker that dies fails its job with the reason."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
from concurrent.futures.process import BrokenProcessPool

from kst_match.store import Store, jobs

TASKS_PER_WORKER = 8  # a plan leaves memory behind in its process: fresh workers now and then


class JobRunner:
    """Runs queued jobs in ``workers`` processes."""

    def __init__(self, store: Store, workers: int = 1) -> None:
        self.store = store
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self._pool = self._new_pool()
        self._warm = False

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=jobs.watch_parent,
            initargs=(os.getpid(),),
            max_tasks_per_child=TASKS_PER_WORKER,
        )

    def warm(self) -> None:
        """Start a worker and import what a plan needs, once: called when inputs arrive, so
        that the plan asked for next starts at once."""
        with self._lock:
            if not self._warm:
                self._warm = True
                self._pool.submit(jobs.warm_up)

    def submit(self, job_id: str) -> None:
        with self._lock:
            try:
                future = self._pool.submit(jobs.run, self.store.url, job_id)
            except BrokenProcessPool:
                self._pool = self._new_pool()
                future = self._pool.submit(jobs.run, self.store.url, job_id)
        future.add_done_callback(lambda f: self._done(job_id, f))

    def _done(self, job_id: str, future: cf.Future[str]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            return
        jobs.fail(self.store, job_id, f"the worker process stopped: {exc or type(exc).__name__}")
        if isinstance(exc, BrokenProcessPool):
            with self._lock:
                self._pool = self._new_pool()

    def shutdown(self) -> None:
        """Stop taking jobs; jobs still active are failed (their workers exit with us)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        jobs.fail_owned(self.store)
