"""A plan's outputs are published whole or not at all: a run that fails, fills the disk or is
killed leaves the previous outputs as they were; a re-run leaves nothing of the earlier plan;
no symlink is followed; everything is private (0700 folders, 0600 files); a plan that fails its
check publishes only a report of its violations, beside the outputs.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import kst_match.outputs
from kst_match.cli import _finish, app
from kst_match.dataset.generate import generate_day, write_day
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.model import Day, Plan
from kst_match.outputs import OutputError, violations_path, write_outputs
from kst_match.outputs.publish import staged
from tests.test_outputs import FakeAreas, make_day, make_plan

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def day() -> Day:
    return make_day()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan()


def _write(day: Day, plan: Plan, out: Path) -> dict[str, Path]:
    return write_outputs(day, plan, out, areas=FakeAreas(), tiles=False)


def snapshot(folder: Path) -> dict[str, Any]:
    """Every path under ``folder``: a file's SHA-256 and mode, a link's target, a folder's mode."""
    found: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            found[key] = ("link", os.readlink(path))
        elif path.is_file():
            found[key] = (hashlib.sha256(path.read_bytes()).hexdigest(), mode)
        else:
            found[key] = ("dir", mode)
    return found


def _version(plan: Plan, version: int) -> Plan:
    return plan.model_copy(update={"version": version})


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------------------
# Private files
# ---------------------------------------------------------------------------------------------
def test_outputs_are_private_whatever_the_umask(tmp_path: Path, day: Day, plan: Plan) -> None:
    out = tmp_path / "out"
    old = os.umask(0o002)  # group and others may read and write by default
    try:
        _write(day, plan, out)
    finally:
        os.umask(old)
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*")}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert modes["runsheets"] == modes["coordinator"] == 0o700
    files = {name: mode for name, mode in modes.items() if name not in ("runsheets", "coordinator")}
    assert len(files) == 11 and set(files.values()) == {0o600}


# ---------------------------------------------------------------------------------------------
# A failed run
# ---------------------------------------------------------------------------------------------
def test_a_full_disk_leaves_the_previous_outputs(
    tmp_path: Path, day: Day, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _write(day, plan, out)
    before = snapshot(out)

    def full_disk(_day: Day, _plan: Plan, path: Path, **_: object) -> Path:
        # Half a page reaches the disk, then the disk is full.
        Path(path).write_text("<!DOCTYPE html><html><head>", encoding="utf-8")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(kst_match.outputs, "write_map", full_disk)
    with pytest.raises(OSError) as caught:
        _write(day, _version(plan, 2), out)
    assert caught.value.errno == errno.ENOSPC
    assert snapshot(out) == before
    assert _leftovers(tmp_path) == []  # the half-written folder is gone


KILLED_RUN = """
import os, signal, sys
from pathlib import Path
import kst_match.outputs
from kst_match.model import Day, Plan
from tests.test_outputs import FakeAreas

def killed(_day, _plan, path, **_):
    Path(path).write_text("<!DOCTYPE html><html><head>", encoding="utf-8")
    os.kill(os.getpid(), signal.SIGKILL)

kst_match.outputs.write_map = killed
day = Day.model_validate_json(Path(sys.argv[1]).read_text())
plan = Plan.model_validate_json(Path(sys.argv[2]).read_text())
kst_match.outputs.write_outputs(day, plan, sys.argv[3], areas=FakeAreas(), tiles=False)
"""


def test_a_run_killed_half_way_leaves_the_previous_outputs(
    tmp_path: Path, day: Day, plan: Plan
) -> None:
    out = tmp_path / "outputs" / "out"
    _write(day, plan, out)
    before = snapshot(out)
    (tmp_path / "day.json").write_text(day.model_dump_json(), encoding="utf-8")
    (tmp_path / "plan.json").write_text(_version(plan, 2).model_dump_json(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, "day.json", "plan.json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert snapshot(out) == before
    # What the killed run had written stays in its own private folder beside the outputs.
    (partial,) = [p for p in out.parent.iterdir() if p.name.startswith(".out.partial-")]
    assert stat.S_IMODE(partial.stat().st_mode) == 0o700
    assert (partial / "runsheets" / "V1.html").is_file()
    # The next run clears what the killed one left; nothing holds its folder any more.
    _write(day, _version(plan, 3), out)
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_a_run_still_writing_keeps_its_folder(tmp_path: Path, day: Day, plan: Plan) -> None:
    out = tmp_path / "out"
    with staged(out) as stage:
        (stage / "plan.json").write_text("{}", encoding="utf-8")
        _write(day, plan, out)  # a second run, while the first is still writing
        assert stage.is_dir() and (stage / "plan.json").is_file()
    assert json.loads((out / "plan.json").read_text(encoding="utf-8")) == {}


# ---------------------------------------------------------------------------------------------
# Re-runs
# ---------------------------------------------------------------------------------------------
def test_a_rerun_with_fewer_volunteers_leaves_no_stale_sheet(
    tmp_path: Path, day: Day, plan: Plan
) -> None:
    out = tmp_path / "out"
    _write(day, plan, out)
    assert (out / "runsheets" / "V2.html").is_file()
    fewer = plan.model_copy(
        update={
            "version": 2,
            "routes": [r for r in plan.routes if r.volunteer == "V1"],
            "assignments": [a for a in plan.assignments if a.volunteer == "V1"],
        }
    )
    _write(day, fewer, out)
    sheets = sorted(p.name for p in (out / "runsheets").iterdir())
    assert sheets == ["V1.html", "index.html"]
    pack = (out / "coordinator" / "pack.html").read_text(encoding="utf-8")
    assert 'data-volunteer="V1"' in pack and 'data-volunteer="V2"' not in pack
    assert Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8")) == fewer
    assert "plan version 2 · made " in (out / "runsheets" / "V1.html").read_text(encoding="utf-8")
    assert _leftovers(tmp_path) == []


def test_a_symlink_in_the_old_outputs_is_not_followed(tmp_path: Path, day: Day, plan: Plan) -> None:
    out = tmp_path / "out"
    _write(day, plan, out)
    victims = {name: tmp_path / f"{name}.txt" for name in ("sheet", "plan", "folder")}
    for victim in victims.values():
        victim.write_text("not for overwriting\n", encoding="utf-8")
    (out / "runsheets" / "V1.html").unlink()
    (out / "runsheets" / "V1.html").symlink_to(victims["sheet"])
    (out / "plan.json").unlink()
    (out / "plan.json").symlink_to(victims["plan"])
    (tmp_path / "elsewhere").mkdir()
    (out / "runsheets").rename(tmp_path / "elsewhere" / "runsheets")
    (out / "runsheets").symlink_to(tmp_path / "elsewhere" / "runsheets")
    elsewhere = snapshot(tmp_path / "elsewhere")

    _write(day, _version(plan, 2), out)
    for victim in victims.values():
        assert victim.read_text(encoding="utf-8") == "not for overwriting\n"
    assert snapshot(tmp_path / "elsewhere") == elsewhere
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert (out / "runsheets" / "V1.html").is_file()


def test_an_out_that_is_a_symlink_is_refused(tmp_path: Path, day: Day, plan: Plan) -> None:
    real = tmp_path / "real"
    _write(day, plan, real)
    before = snapshot(real)
    (tmp_path / "out").symlink_to(real)
    with pytest.raises(OutputError, match="symlink"):
        _write(day, _version(plan, 2), tmp_path / "out")
    assert snapshot(real) == before
    assert _leftovers(tmp_path) == []


def test_a_folder_of_other_things_is_not_replaced(tmp_path: Path, day: Day, plan: Plan) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "letter.txt").write_text("keep me\n", encoding="utf-8")
    with pytest.raises(OutputError, match=r"no plan\.json"):
        _write(day, plan, out)
    assert [p.name for p in out.iterdir()] == ["letter.txt"]


def test_a_replan_kept_inside_the_outputs_survives_a_new_plan(
    tmp_path: Path, day: Day, plan: Plan
) -> None:
    out = tmp_path / "out"
    _write(day, plan, out)
    _write(day, _version(plan, 2), out / "replan")
    replan = snapshot(out / "replan")
    _write(day, _version(plan, 3), out)
    assert snapshot(out / "replan") == replan
    assert Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8")).version == 3


# ---------------------------------------------------------------------------------------------
# The command line: a plan that fails its check
# ---------------------------------------------------------------------------------------------
def test_a_plan_failing_its_check_is_not_published(tmp_path: Path) -> None:
    data, out = tmp_path / "day", tmp_path / "out"
    write_day(generate_day(20, 8, seed=5), data)
    args = ["plan", "--data", str(data), "--out", str(out), "--iterations", "50"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    before = snapshot(out)

    good = Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8"))
    broken = good.model_copy(update={"assignments": [*good.assignments, good.assignments[0]]})
    day, _ = read_day(data)
    with pytest.raises(typer.Exit) as caught:
        _finish(day, broken, RoadEstimate(), out)
    assert caught.value.exit_code == 2
    assert snapshot(out) == before
    report = violations_path(out)
    assert report == tmp_path / "out.violations.txt"
    text = report.read_text(encoding="utf-8")
    assert f"Need {good.assignments[0].need} is assigned twice." in text
    assert "was not published" in text
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day", "out", "out.violations.txt"]

    # The next plan that passes is published, and the report of the failed one goes.
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not report.exists()

    (tmp_path / "link").symlink_to(out)
    result = runner.invoke(app, [*args[:-4], "--out", str(tmp_path / "link"), *args[-2:]])
    assert result.exit_code == 1
    assert "is a symlink" in " ".join(result.output.split())
