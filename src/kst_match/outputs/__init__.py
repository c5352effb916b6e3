"""The plan's outputs: plan JSON, routes GeoJSON, an HTML map, run sheets and KPI tables.

``write_outputs`` writes them all into one folder::

    out/
      plan.json        the plan (docs/plan-json.md)
      routes.geojson   one line per route and one point per stop
      map.html         wards, sites, routes, stops and unserved needs (renders offline)
      runsheets/       index.html, all.html (to print) and one page per volunteer
      kpis.json        the planner's KPIs as they are
      kpis.md          the same as tables

They are written into a private folder beside ``out`` and swapped into place only when all are
written (``kst_match.outputs.publish``): a failed run leaves the previous outputs as they were,
and no file of an earlier plan survives. Folders are 0700 and files 0600.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kst_match.model import Day, Plan
from kst_match.outputs.geojson import routes_geojson, write_geojson
from kst_match.outputs.kpis import print_kpis, write_kpis
from kst_match.outputs.map import build_map, write_map
from kst_match.outputs.plan_json import read_plan, write_plan
from kst_match.outputs.publish import OutputError, staged, violations_path, write_violations
from kst_match.outputs.runsheets import write_runsheets

__all__ = [
    "OutputError",
    "build_map",
    "print_kpis",
    "read_plan",
    "routes_geojson",
    "violations_path",
    "write_geojson",
    "write_kpis",
    "write_map",
    "write_outputs",
    "write_plan",
    "write_runsheets",
    "write_violations",
]


def write_outputs(
    day: Day,
    plan: Plan,
    out_dir: str | Path,
    *,
    areas: object | None = None,
    tiles: bool = True,
    screenshot: bool = False,
    generated: dt.datetime | None = None,
) -> dict[str, Path]:
    """Write every output of ``plan`` into ``out_dir``, all at once; returns the paths by name.

    Names: ``plan``, ``geojson``, ``map``, ``runsheets`` (the index page), ``runsheets_all``,
    ``kpis_json``, ``kpis_md``, and ``map_png`` when ``screenshot`` is asked for and a Chromium
    binary is found. ``areas`` gives the map its wards (default: the bundled 2022 wards);
    ``tiles`` adds the OpenStreetMap background, which shows only where there is a network;
    ``generated`` is the time of generation shown on the run sheets, map and KPIs (default:
    now). ``out_dir`` is replaced as a whole; :class:`OutputError` if it may not be (a
    symlink, a file, a folder of something else).
    """
    generated = generated or dt.datetime.now(dt.UTC)
    target = Path(out_dir)
    with staged(target) as stage:
        written = _write_all(day, plan, stage, areas, tiles, screenshot, generated)
        relative = {name: path.relative_to(stage) for name, path in written.items()}
    return {name: target / path for name, path in relative.items()}


def _write_all(
    day: Day,
    plan: Plan,
    out: Path,
    areas: object | None,
    tiles: bool,
    screenshot: bool,
    generated: dt.datetime,
) -> dict[str, Path]:
    sheets = write_runsheets(day, plan, out / "runsheets", generated)
    kpis_json, kpis_md = write_kpis(plan, out, generated)
    paths = {
        "plan": write_plan(plan, out / "plan.json"),
        "geojson": write_geojson(day, plan, out / "routes.geojson"),
        "map": write_map(
            day, plan, out / "map.html", areas=areas, tiles=tiles, generated=generated
        ),
        "runsheets": sheets.index,
        "runsheets_all": sheets.all,
        "kpis_json": kpis_json,
        "kpis_md": kpis_md,
    }
    if screenshot:
        from kst_match.outputs import browser

        if browser.find_chromium() is not None:
            paths["map_png"] = browser.screenshot(paths["map"], out / "map.png")
    return paths
