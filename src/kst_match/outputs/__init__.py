"""The plan's outputs: plan JSON, routes GeoJSON, an HTML map, run sheets and KPI tables.

``write_outputs`` writes them all into one folder::

    out/
      plan.json        the plan (docs/plan-json.md)
      routes.geojson   one line per route and one point per stop
      map.html         wards, sites, routes, stops and unserved needs (renders offline)
      runsheets/       for volunteers: index.html and one page (and PDF) per volunteer
      coordinator/     for the coordinator only: pack.html (every sheet), unserved.html and
                       unserved.csv (what was not done, and what to do about it)
      kpis.json        the planner's KPIs as they are
      kpis.md          the same as tables

Residents' names, addresses and phone numbers are only on their own volunteer's sheet and in
``coordinator/``; the map, ``routes.geojson`` and the volunteers' index carry none.

They are written into a private folder beside ``out`` and swapped into place only when all are
written (``kst_match.outputs.publish``): a failed run leaves the previous outputs as they were,
and no file of an earlier plan survives. Folders are 0700 and files 0600.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from kst_match.model import Day, Hub, Plan
from kst_match.outputs.geojson import routes_geojson, write_geojson
from kst_match.outputs.kpis import print_kpis, write_kpis
from kst_match.outputs.map import build_map, write_map
from kst_match.outputs.plan_json import read_plan, write_plan
from kst_match.outputs.publish import OutputError, staged, violations_path, write_violations
from kst_match.outputs.runsheets import write_runsheets
from kst_match.outputs.unserved import write_unserved

log = logging.getLogger(__name__)

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
    "write_unserved",
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
    hub: Hub | None = None,
    pdf: bool = False,
) -> dict[str, Path]:
    """Write every output of ``plan`` into ``out_dir``, all at once; returns the paths by name.

    Names: ``plan``, ``geojson``, ``map``, ``runsheets`` (the volunteers' index page),
    ``pack`` (the coordinator's pack), ``unserved_html``, ``unserved_csv``, ``kpis_json``,
    ``kpis_md``; ``map_png`` when ``screenshot`` is asked for, and ``pdfs`` (the run sheets'
    folder, a PDF beside each page) when ``pdf`` is, each only when a Chromium binary is found
    (else a warning is logged). ``hub`` is printed on the run sheets (default: ``Hub()``, no phone).
    ``areas`` gives the map its wards (default: the bundled 2022 wards); ``tiles`` adds the
    OpenStreetMap background, which shows only where there is a network;
    ``generated`` is the time of generation shown on the run sheets, map and KPIs (default:
    now). ``out_dir`` is replaced as a whole; :class:`OutputError` if it may not be (a
    symlink, a file, a folder of something else).
    """
    generated = generated or dt.datetime.now(dt.UTC)
    target = Path(out_dir)
    with staged(target) as stage:
        options = _Options(areas, tiles, screenshot, generated, hub or Hub(), pdf)
        written = _write_all(day, plan, stage, options)
        relative = {name: path.relative_to(stage) for name, path in written.items()}
    return {name: target / path for name, path in relative.items()}


@dataclass(frozen=True)
class _Options:
    areas: object | None
    tiles: bool
    screenshot: bool
    generated: dt.datetime
    hub: Hub
    pdf: bool


def _chromium(wanted: bool, what: str) -> str | None:
    """A Chromium binary when ``wanted`` and one is found; a warning when it is not."""
    if not wanted:
        return None
    from kst_match.outputs import browser

    found = browser.find_chromium()
    if found is None:
        log.warning("no %s: no Chromium binary found (install Debian's chromium)", what)
    return found


def _write_all(day: Day, plan: Plan, out: Path, options: _Options) -> dict[str, Path]:
    from kst_match.outputs.map import resolve_areas, ward_name_lookup

    areas = resolve_areas(options.areas)
    generated = options.generated
    coordinator = out / "coordinator"
    sheets = write_runsheets(
        day,
        plan,
        out / "runsheets",
        generated,
        hub=options.hub,
        pack_dir=coordinator,
        chromium=_chromium(options.pdf, "PDF run sheets"),
    )
    names = ward_name_lookup(areas) if areas is not None else None
    unserved_html, unserved_csv = write_unserved(day, plan, coordinator, generated, names)
    kpis_json, kpis_md = write_kpis(plan, out, generated)
    paths = {
        "plan": write_plan(plan, out / "plan.json"),
        "geojson": write_geojson(day, plan, out / "routes.geojson"),
        "map": write_map(
            day, plan, out / "map.html", areas=areas, tiles=options.tiles, generated=generated
        ),
        "runsheets": sheets.index,
        "pack": sheets.pack,
        "unserved_html": unserved_html,
        "unserved_csv": unserved_csv,
        "kpis_json": kpis_json,
        "kpis_md": kpis_md,
    }
    if sheets.pdfs:  # one PDF beside each volunteer's page
        paths["pdfs"] = sheets.index.parent
    chromium = _chromium(options.screenshot, "map screenshot")
    if chromium is not None:
        from kst_match.outputs import browser

        paths["map_png"] = browser.screenshot(paths["map"], out / "map.png", chromium=chromium)
    return paths
