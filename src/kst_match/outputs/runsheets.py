"""Printable run sheets: one HTML page per volunteer, an index, and all sheets in one document.

A volunteer's sheet lists their stops in order with arrival, start and leaving times (``HH:MM``),
travel from the previous stop (minutes, kilometres), what to collect where, what to deliver to
whom, visits, and calls with the time to call. A resident appears by pseudonymous id, postcode,
time window, access notes and load: nothing of any other volunteer's residents is on the page.
Every page shows the plan's date, version and time of generation. The templates are the
package's own files; the plan's text only ever comes in as values, HTML-escaped by Jinja2's
autoescaping, never as template source. Print CSS puts each volunteer on new pages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

import jinja2

from kst_match.model import Day, Need, Plan, Route, Stop, StopKind, Volunteer, format_clock
from kst_match.outputs._common import kind_label, stamp, stop_need, stop_site

INDEX_NAME = "index.html"
ALL_NAME = "all.html"


@dataclass(frozen=True)
class SheetRow:
    """One stop as printed: times are ``HH:MM``, travel minutes and kilometres."""

    order: int
    kind: str
    arrival: str
    start: str
    departure: str
    wait_min: int
    travel_min: int
    distance_km: float
    task: str
    place: str
    details: list[tuple[str, str]] = field(default_factory=list)
    load: int = 0
    priority: str | None = None


@dataclass(frozen=True)
class Sheet:
    """One volunteer's day as printed."""

    volunteer: str
    name: str
    partner: str
    transport: str
    shift: str
    out: str
    back: str
    tasks: int
    travel_min: int
    distance_km: float
    capacity: int
    rows: list[SheetRow]
    filename: str


def _safe_filename(volunteer: str, taken: set[str]) -> str:
    """A file name for a volunteer id: letters, digits, ``-_.`` only, unique among ``taken``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", volunteer).strip(".") or "volunteer"
    name, n = f"{stem}.html", 1
    while name.lower() in taken or name in (INDEX_NAME, ALL_NAME):
        n += 1
        name = f"{stem}-{n}.html"
    taken.add(name.lower())
    return name


def _window(need: Need) -> str:
    return f"{format_clock(need.window_start)}–{format_clock(need.window_end)}"


def _resident_details(need: Need) -> list[tuple[str, str]]:
    details = [
        ("Need", f"{need.id} · {kind_label(need.kind)} · {need.priority} priority"),
        ("Time window", _window(need)),
        ("Time needed", f"{need.duration} min"),
    ]
    if need.language and need.language != "english":
        required = " (required)" if need.language_required else ""
        details.append(("Language", f"{need.language}{required}"))
    return details


def _row(day: Day, order: int, stop: Stop) -> SheetRow:
    need = stop_need(day, stop)
    task, place = "", ""
    details: list[tuple[str, str]] = []
    if stop.kind == StopKind.start:
        task, place = "Leave home", "Home"
    elif stop.kind == StopKind.end:
        task, place = "Back home", "Home"
    elif need is not None and stop.kind == StopKind.collect:
        site = stop_site(day, stop)
        amount = f"{need.load} × " if need.load else ""
        task = f"Collect {amount}{kind_label(need.kind)}"
        place = site.name if site else "collection site"
        if site is not None:
            details.append(("Site", f"{site.postcode or site.id} · {kind_label(site.kind)}"))
            details.append(("Open", f"{format_clock(site.opens)}–{format_clock(site.closes)}"))
        details.append(
            ("For", f"need {need.id}: resident {need.resident}, {need.postcode or 'no postcode'}")
        )
    elif need is not None and stop.kind == StopKind.deliver:
        amount = f"{need.load} × " if need.load else ""
        task = f"Deliver {amount}{kind_label(need.kind)}"
        place = f"Resident {need.resident}, {need.postcode or 'no postcode'}"
        details = _resident_details(need)
        if need.access_notes:
            details.append(("Access", need.access_notes))
    elif need is not None and stop.kind == StopKind.visit:
        task = kind_label(need.kind).capitalize()
        place = f"Resident {need.resident}, {need.postcode or 'no postcode'}"
        details = _resident_details(need)
        if need.access_notes:
            details.append(("Access", need.access_notes))
    elif need is not None and stop.kind == StopKind.call:
        task = f"Call at {format_clock(stop.start)}: {kind_label(need.kind)}"
        place = f"Resident {need.resident} (by phone)"
        details = _resident_details(need)
    else:
        task = str(stop.kind)
    return SheetRow(
        order=order,
        kind=str(stop.kind),
        arrival=format_clock(stop.arrival),
        start=format_clock(stop.start),
        departure=format_clock(stop.departure),
        wait_min=max(int(stop.start) - int(stop.arrival), 0),
        travel_min=round(stop.travel_s / 60),
        distance_km=round(stop.distance_m / 1000, 1),
        task=task,
        place=place,
        details=details,
        load=stop.load,
        priority=str(need.priority) if need is not None else None,
    )


def build_sheet(day: Day, route: Route, filename: str = "") -> Sheet:
    """The printed form of one volunteer's route."""
    try:
        volunteer: Volunteer | None = day.volunteer(route.volunteer)
    except KeyError:
        volunteer = None
    partner = ""
    if volunteer is not None:
        try:
            partner = day.partner(volunteer.partner).name
        except KeyError:
            partner = volunteer.partner
    stops = route.stops
    return Sheet(
        volunteer=route.volunteer,
        name=volunteer.name if volunteer else "",
        partner=partner,
        transport=str(route.transport),
        shift=(
            f"{format_clock(volunteer.shift_start)}–{format_clock(volunteer.shift_end)}"
            if volunteer
            else ""
        ),
        out=format_clock(stops[0].departure) if stops else "",
        back=format_clock(stops[-1].arrival) if stops else "",
        tasks=route.tasks,
        travel_min=round(route.travel_s / 60),
        distance_km=round(route.distance_m / 1000, 1),
        capacity=volunteer.capacity if volunteer else 0,
        rows=[_row(day, i, s) for i, s in enumerate(stops)],
        filename=filename,
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kst_match.outputs", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_sheets(
    date: dt.date, sheets: list[Sheet], *, title: str, version: int = 1, generated: str = ""
) -> str:
    """One HTML document holding ``sheets``, each starting on a new printed page.

    ``version`` is the plan's, ``generated`` its time of generation as printed (see ``stamp``).
    """
    template = _environment().get_template("runsheet.html.j2")
    return template.render(
        date=date.isoformat(),
        sheets=sheets,
        title=title,
        version=version,
        generated=generated or stamp(),
    )


def render_index(plan: Plan, sheets: list[Sheet], generated: str = "") -> str:
    """The index page: every volunteer's sheet, with a link to print them all."""
    template = _environment().get_template("runsheet_index.html.j2")
    return template.render(
        date=plan.date.isoformat(),
        version=plan.version,
        generated=generated or stamp(),
        sheets=sheets,
        unserved=len(plan.unserved),
        all_name=ALL_NAME,
    )


class RunSheetPaths(NamedTuple):
    """Where the run sheets were written."""

    index: Path
    all: Path
    volunteers: dict[str, Path]


def write_runsheets(
    day: Day, plan: Plan, out_dir: str | Path, generated: dt.datetime | None = None
) -> RunSheetPaths:
    """Write ``index.html``, ``all.html`` and one page per volunteer into ``out_dir``.

    ``generated`` is the plan's time of generation printed on every page (default: now).
    """
    made = stamp(generated)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    sheets = [build_sheet(day, r, _safe_filename(r.volunteer, taken)) for r in plan.routes]
    paths: dict[str, Path] = {}
    for sheet in sheets:
        path = out_dir / sheet.filename
        title = f"Run sheet {sheet.volunteer} · {plan.date.isoformat()}"
        page = render_sheets(plan.date, [sheet], title=title, version=plan.version, generated=made)
        path.write_text(page, encoding="utf-8")
        paths[sheet.volunteer] = path
    all_path = out_dir / ALL_NAME
    all_title = f"Run sheets · {plan.date.isoformat()}"
    all_page = render_sheets(
        plan.date, sheets, title=all_title, version=plan.version, generated=made
    )
    all_path.write_text(all_page, encoding="utf-8")
    index_path = out_dir / INDEX_NAME
    index_path.write_text(render_index(plan, sheets, made), encoding="utf-8")
    return RunSheetPaths(index=index_path, all=all_path, volunteers=paths)
