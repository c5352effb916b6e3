"""A real kst-match HTTP server for the API tests: ``kst-match serve`` as a subprocess on a
free port of 127.0.0.1, and helpers to drive it with httpx."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.store import Store, auth

KINDS = ("partners", "sites", "volunteers", "needs")  # referenced files first
HANG_S = 180  # a guard against a hung server or job, never a measure of speed


def bundled_date() -> str:
    """The date of the bundled day's needs."""
    with (DEFAULT_DAY_DIR / "needs.csv").open(newline="", encoding="utf-8") as f:
        return next(csv.DictReader(f))["date"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_token(url: str, role: str, volunteer: str | None = None, partner: str | None = None) -> str:
    """A token for a new user, made in the database as ``kst-match users add`` makes it."""
    store = Store(url)
    try:
        with store.write() as session:
            return auth.add(session, role, "", volunteer, partner)[1]
    finally:
        store.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Server:
    """``kst-match serve`` on a free port, with the database at ``url``."""

    def __init__(self, url: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.url = url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "KST_MATCH_DATABASE_URL": url, **(env or {})}
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kst_match.cli", "serve", "--port", str(self.port)],
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not become healthy")

    def children(self) -> list[int]:
        """The server's child processes (its job workers)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=HANG_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@contextmanager
def serving(url: str, log: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(url, log, env)
    try:
        yield server
    finally:
        server.stop()


def upload_day(client: httpx.Client, token: str, date: str) -> dict[str, Any]:
    """Upload the bundled day's four files as CSV; the responses by kind."""
    results = {}
    for kind in KINDS:
        response = client.post(
            f"/v1/days/{date}/{kind}",
            content=(DEFAULT_DAY_DIR / f"{kind}.csv").read_bytes(),
            headers={**bearer(token), "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        results[kind] = response.json()
    return results


def upload_small_day(client: httpx.Client, token: str, date: str, needs: int = 60) -> None:
    """The bundled volunteers, and the bundled day's first ``needs`` needs moved to ``date``:
    a quick day to plan (the bundled partners and sites serve it)."""
    lines = (DEFAULT_DAY_DIR / "needs.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    first = bundled_date()
    rows = "".join([lines[0], *(line.replace(first, date, 1) for line in lines[1 : needs + 1])])
    for kind, body in (
        ("volunteers", (DEFAULT_DAY_DIR / "volunteers.csv").read_bytes()),
        ("needs", rows.encode()),
    ):
        response = client.post(
            f"/v1/days/{date}/{kind}",
            content=body,
            headers={**bearer(token), "Content-Type": "text/csv"},
        )
        assert (response.status_code, response.json()["rejected"]) == (200, [])


def wait_job(client: httpx.Client, token: str, job_id: str) -> dict[str, Any]:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=bearer(token)).json()
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']} after {HANG_S} s")


def wait_gone(pids: list[int]) -> list[int]:
    """Wait for processes to exit; those still alive at the end."""
    deadline = time.monotonic() + 30
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and not _zombie(p)]
        time.sleep(0.1)
    return alive


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True
