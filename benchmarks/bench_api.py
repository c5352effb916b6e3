"""The HTTP API under 100 street champion apps: p50, p99, requests/s and errors, on SQLite and
on PostgreSQL.

For each database, a real server (``kst-match serve``) runs as its own process on 127.0.0.1;
the bundled day is uploaded, planned with a deterministic rule (``--iterations``) and
published, and a token is made for each of ``--users`` volunteers (those with the most stops
first). Then Locust runs headless as its own process for ``--seconds`` with ``--users``
concurrent apps (``locust_api.py``): each pulls ``/v1/me/assignments`` and reports the next
stop (a fresh report_id each time), with a think time of ``--wait`` seconds between visits.
This is repeated ``--runs`` times (at least 3) on the same server. Recorded per run: p50 and
p99 (ms; Locust's histogram, rounded to 2 significant figures above 100 ms), requests/s,
errors, and the load average before and after; also the commit, the database and its server
version. Written to ``benchmarks/results/api.json``.

The apps start ``--spawn-rate`` a second (20: the 100 apps over 5 s, as phones come on over a
few seconds). Locust itself starts ``floor(rate)`` users in the same instant once a second (its
dispatcher): at 20 a second, each of the first 5 seconds opens with 20 new apps within about
5 ms of each other, 20 requests at once and then 20 reports. ``--start even`` (the default)
has each app of such a group wait its turn, so that the apps start one every ``1/rate``
seconds (50 ms); ``--start batches`` keeps Locust's groups. ``--spawn-rate 100 --start
batches`` starts all 100 apps within a few milliseconds, so that a run opens with 100 requests
at once, then 100 reports: a stress figure. The run's figures (p50, p99) are over every
request, the start included;
``after_start`` gives the same figures, exact (from every request's time), for the requests
begun ``--settle`` seconds or more after the run's first, with how many took over 50 ms before
and after.

PostgreSQL: the server named by ``KST_MATCH_TEST_POSTGRES_URL`` (a fresh database on it), or
else a throwaway server started with ``scripts/pg-test-server start --durable`` (fsync on).

    python benchmarks/bench_api.py [--db sqlite postgresql] [--runs 3] [--seconds 60]
        [--users 100] [--spawn-rate 20] [--start even|batches] [--wait 1 2] [--workers 1]
        [--iterations 20] [--settle 5] [--out benchmarks/results/api.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "api.json"
LOCUSTFILE = ROOT / "benchmarks" / "locust_api.py"
PG_SCRIPT = ROOT / "scripts" / "pg-test-server"
KST_MATCH = (sys.executable, "-m", "kst_match.cli")
LOCUST = (sys.executable, "-m", "locust")
DAY_FILES = ("partners", "sites", "volunteers", "needs")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> str:
    """Run ``kst-match ARGS`` with this interpreter; its standard output."""
    done = subprocess.run(
        [*KST_MATCH, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database: on the test server if one is named, else on a new one."""
    sys.path.insert(0, str(ROOT))
    from tests.pg import URL_ENV, fresh_database

    server = os.environ.get(URL_ENV)
    if server:
        with fresh_database(server) as url:
            yield url
        return
    out = subprocess.run(
        [str(PG_SCRIPT), "start", "--durable"], capture_output=True, text=True, check=True
    ).stdout
    found = dict(re.findall(r"export (\w+)=(\S+)", out))
    try:
        with fresh_database(found[URL_ENV]) as url:
            yield url
    finally:
        subprocess.run([str(PG_SCRIPT), "stop", found["KST_MATCH_TEST_POSTGRES_DIR"]], check=False)


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """The SQLAlchemy URL of an empty database of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'kst-match.db'}"
    else:
        with postgres_database() as url:
            yield url


@contextmanager
def server(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """``kst-match serve`` as its own process; yields its base URL (once it answers) and
    process id."""
    port = free_port()
    command = [*KST_MATCH, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prepare_day(client: httpx.Client, day_dir: Path, iterations: int) -> tuple[str, list[str]]:
    """Upload the bundled day, plan it, publish it; the date and the volunteers by stops."""
    date = _day_date(day_dir)
    for name in DAY_FILES:
        r = client.post(
            f"/v1/days/{date}/{name}",
            content=(day_dir / f"{name}.csv").read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        r.raise_for_status()
    r = client.post(f"/v1/days/{date}/plans", json={"iterations": iterations})
    r.raise_for_status()
    job = _wait_for_job(client, r.json()["job_id"])
    version = job["plan_version"]
    client.post(f"/v1/days/{date}/plans/{version}/publish").raise_for_status()
    plan = client.get(f"/v1/days/{date}/plans/{version}").json()
    stops = {r["volunteer"]: len(r["stops"]) for r in plan["routes"]}
    volunteers = _volunteer_ids(day_dir)
    volunteers.sort(key=lambda v: -stops.get(v, 0))
    return date, volunteers


def _day_date(day_dir: Path) -> str:
    with (day_dir / "needs.csv").open(encoding="utf-8") as f:
        return next(csv.DictReader(f))["date"]


def _volunteer_ids(day_dir: Path) -> list[str]:
    with (day_dir / "volunteers.csv").open(encoding="utf-8") as f:
        return [row["id"] for row in csv.DictReader(f)]


def _wait_for_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] == "done":
            return job
        if job["state"] == "failed":
            raise RuntimeError(f"plan job failed: {job.get('reason')}")
        time.sleep(0.5)
    raise RuntimeError("plan job did not finish in 600 s")


def volunteer_tokens(client: httpx.Client, volunteers: list[str]) -> list[str]:
    """One token per volunteer, made by the coordinator."""
    tokens = []
    for v in volunteers:
        r = client.post(
            "/v1/tokens", json={"role": "volunteer", "volunteer_id": v, "name": f"bench {v}"}
        )
        r.raise_for_status()
        tokens.append(r.json()["token"])
    return tokens


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its descendants (the
    server's worker processes when ``--workers`` > 1); Linux's /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def run_locust(
    base: str, server_pid: int, setup: Path, args: argparse.Namespace, prefix: Path
) -> dict[str, Any]:
    """One headless Locust run as its own process; its figures from the CSV it writes, and
    the server's CPU time per request (which depends little on what else the machine does)."""
    env = {
        **os.environ,
        "KST_BENCH_TOKENS": str(setup),
        "KST_BENCH_WAIT_MIN": str(args.wait[0]),
        "KST_BENCH_WAIT_MAX": str(args.wait[1]),
        "KST_BENCH_TIMINGS": f"{prefix}_timings.json",
    }
    if args.start == "even":
        env["KST_BENCH_SPREAD_RATE"] = str(args.spawn_rate)
    load_before = os.getloadavg()
    cpu_before = cpu_seconds(server_pid)
    command = [
        *LOCUST,
        *("-f", str(LOCUSTFILE), "--headless", "--only-summary", "--loglevel", "WARNING"),
        *("-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.seconds}s"),
        *("--host", base, "--csv", str(prefix), "--exit-code-on-error", "0"),
    ]
    subprocess.run(
        command,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    load_after = os.getloadavg()
    cpu = cpu_seconds(server_pid) - cpu_before
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_name = {row["Name"]: _figures(row) for row in rows}
    total = by_name.pop("Aggregated")
    timings = json.loads(Path(f"{prefix}_timings.json").read_text(encoding="utf-8"))
    return {
        **total,
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, total["requests"]), 2),
        "after_start": after_start(timings, args.settle),
        "by_request": by_name,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }


def _figures(row: dict[str, str]) -> dict[str, Any]:
    return {
        "requests": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "max_ms": float(row["Max Response Time"]),
        "requests_per_s": round(float(row["Requests/s"]), 1),
    }


SLOW_MS = 50.0


def _rank(sorted_ms: list[float], q: float) -> float:
    """The ``q`` quantile by nearest rank (ms)."""
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


def after_start(timings: list[list[Any]], settle: float) -> dict[str, Any]:
    """Exact figures of the requests begun ``settle`` seconds or more after the run's first
    (``timings``: start in s, response time in ms, name, success), and how many requests took
    over 50 ms before and after that moment."""
    first = min(t[0] for t in timings)
    later = sorted(t[1] for t in timings if t[0] - first >= settle)
    early = [t[1] for t in timings if t[0] - first < settle]
    return {
        "settle_s": settle,
        "requests": len(later),
        "errors": sum(1 for t in timings if t[0] - first >= settle and not t[3]),
        "p50_ms": round(_rank(later, 0.5), 1),
        "p99_ms": round(_rank(later, 0.99), 1),
        "max_ms": round(later[-1], 1),
        "over_50ms": sum(1 for ms in later if ms > SLOW_MS),
        "over_50ms_in_start": sum(1 for ms in early if ms > SLOW_MS),
        "requests_in_start": len(early),
    }


def server_version(url: str) -> str:
    """The database engine and its version, as the server reports it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.execute(text("select sqlite_version()")).scalar_one()
            return conn.execute(text("select version()")).scalar_one().split(" on ")[0]
    finally:
        engine.dispose()


def commit() -> str:
    """The commit measured, with "+changes" when the work tree differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head + ("+changes" if dirty else "")


def bench_database(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """All the runs against one database."""
    from kst_match.paths import DEFAULT_DAY_DIR

    with database(kind, folder) as url:
        # 100 tokens are made in a row by one coordinator: above the token endpoint's limit.
        env = {
            **os.environ,
            "KST_MATCH_DATABASE_URL": url,
            "KST_MATCH_TOKEN_RATE_LIMIT": "1000/minute",
        }
        coordinator = _coordinator_token(env)
        with server(env, args.workers, folder / f"server-{kind}.log") as (base, pid):
            headers = {"Authorization": f"Bearer {coordinator}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                date, volunteers = prepare_day(client, DEFAULT_DAY_DIR, args.iterations)
                tokens = volunteer_tokens(client, volunteers[: args.users])
            setup = folder / f"tokens-{kind}.json"
            setup.write_text(json.dumps({"date": date, "tokens": tokens}))
            runs = [
                run_locust(base, pid, setup, args, folder / f"{kind}-{i}") for i in range(args.runs)
            ]
        version = server_version(url)
    return {
        "database": kind,
        "server": version,
        "runs": runs,
        "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
        "p99_ms_max": max(r["p99_ms"] for r in runs),
        "after_start_p99_ms_median": statistics.median(r["after_start"]["p99_ms"] for r in runs),
        "after_start_p99_ms_max": max(r["after_start"]["p99_ms"] for r in runs),
        "requests_per_s_median": statistics.median(r["requests_per_s"] for r in runs),
        "server_cpu_ms_per_request_median": statistics.median(
            r["server_cpu_ms_per_request"] for r in runs
        ),
        "errors": sum(r["errors"] for r in runs),
    }


def _coordinator_token(env: dict[str, str]) -> str:
    out = cli("users", "add", "--role", "coordinator", "--name", "bench", env=env)
    return out.strip().split()[-1]


def report(result: dict[str, Any]) -> None:
    title = (
        f"API under {result['users']} street champion apps, started"
        f" {result['spawn_rate_per_s']:g} a second, {result['start']} ({result['commit']})"
    )
    table = Table(title=title)
    columns = ("database", "run", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors")
    for col in (*columns, "after start: p50 / p99 / max ms", "server CPU ms/req"):
        table.add_column(col, justify="right" if col not in ("database",) else "left")
    table.add_column("load before/after")
    for db in result["databases"]:
        for i, r in enumerate(db["runs"], 1):
            table.add_row(
                db["database"],
                str(i),
                str(r["requests"]),
                f"{r['requests_per_s']:.1f}",
                f"{r['p50_ms']:.0f}",
                f"{r['p99_ms']:.0f}",
                f"{r['max_ms']:.0f}",
                str(r["errors"]),
                "{p50_ms:.0f} / {p99_ms:.0f} / {max_ms:.0f}".format(**r["after_start"]),
                f"{r['server_cpu_ms_per_request']:.2f}",
                f"{r['load_before'][0]:.2f} / {r['load_after'][0]:.2f}",
            )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=20.0,
        help="apps started per second (Locust's -r); 100 with --start batches: all at once",
    )
    parser.add_argument(
        "--start",
        choices=("even", "batches"),
        default="even",
        help="even: one app every 1/rate s; batches: Locust's floor(rate) apps at once a second",
    )
    parser.add_argument("--wait", type=float, nargs=2, default=[1.0, 2.0], metavar=("MIN", "MAX"))
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--iterations", type=int, default=20, help="the plan's stopping rule")
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds of each run's start left out of the after_start figures",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    databases = []
    with tempfile.TemporaryDirectory(prefix="kst-bench-api-") as tmp:
        for kind in args.db:
            folder = Path(tmp) / kind
            folder.mkdir()
            databases.append(bench_database(kind, args, folder))
    result = {
        "what": "street champion apps: GET /v1/me/assignments, then POST a report",
        "commit": commit(),
        "users": args.users,
        "spawn_rate_per_s": args.spawn_rate,
        "start": args.start,
        "seconds_per_run": args.seconds,
        "wait_s": args.wait,
        "server_workers": args.workers,
        "plan_iterations": args.iterations,
        "target": {"p99_ms": 50, "errors": 0},
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "databases": databases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(args.out)
    report(result)


if __name__ == "__main__":
    main()
