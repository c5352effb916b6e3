"""The kst-match command end to end: plan the bundled day, then re-plan it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.inputs import write_records
from kst_match.model import Need, Plan, format_clock

runner = CliRunner()


def _output(result: object) -> str:
    return result.output + (getattr(result, "stderr", "") or "")  # type: ignore[attr-defined]


def test_plan_then_replan_with_new_needs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "--iterations", "50", "--out", str(out)])
    assert result.exit_code == 0, _output(result)
    assert "every constraint holds" in _output(result)
    for name in ("plan.json", "routes.geojson", "map.html", "kpis.json"):
        assert (out / name).is_file()
    morning = Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8"))
    assert len(morning.assignments) + len(morning.unserved) == 400

    route = max(morning.routes, key=lambda r: r.tasks)
    first = next(s for s in route.stops if s.kind.value in ("deliver", "visit", "call"))
    events = tmp_path / "events.json"
    now = format_clock(max(first.start, 12 * 60))  # a stop done must have started by now
    events.write_text(
        json.dumps({"now": now, "done": [first.need], "dropped": [morning.routes[0].volunteer]})
    )
    base = {"date": morning.date, "window_start": "13:00", "window_end": "17:00"}
    new = [
        Need(id="NEW1", resident="RN1", kind="wellbeing_check", lon=-0.3005, lat=51.4105, **base),
        Need(id="NEW2", resident="RN2", kind="befriending_call", lon=-0.1278, lat=51.5074, **base),
    ]
    new_csv = tmp_path / "new.csv"
    write_records(new_csv, new, Need)
    replanned = tmp_path / "replan"
    result = runner.invoke(
        app,
        ["replan", "--plan", str(out / "plan.json"), "--events", str(events),
         "--new-needs", str(new_csv), "--iterations", "50", "--out", str(replanned)],
    )  # fmt: skip
    assert result.exit_code == 0, _output(result)
    assert "need NEW2, lon/lat: outside the borough" in _output(result)
    plan = Plan.model_validate_json((replanned / "plan.json").read_text(encoding="utf-8"))
    assert plan.version == 2
    needs = {a.need for a in plan.assignments} | {u.need for u in plan.unserved}
    assert "NEW1" in needs and "NEW2" not in needs
    assert len(needs) == 401
    done = {a.need: a.volunteer for a in plan.assignments}
    assert done[first.need] == route.volunteer
