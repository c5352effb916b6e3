"""Printable run sheets: one HTML page (and optionally a PDF) per volunteer, an index for the
volunteers, and the coordinator's pack of every sheet in one document.

A volunteer's sheet lists their stops in order with arrival, start and leaving times (``HH:MM``)
and travel from the previous stop (minutes, kilometres). Consecutive collections at one site
(one visit, sharing its times) are one row listing what to collect there, for whom, and the
total. Deliveries and visits show the resident's name, address, postcode, phone, time window
and access notes, and the sheet says what to do when nobody is home and how to reach the hub.
Calls show the number and what the call is for, never a place; a volunteer who only makes calls
gets a call list instead of a route. Nothing of any other volunteer's residents is on the page.
Every page shows the plan's date, version and time of generation.

The volunteers' folder holds only their own pages and an index naming volunteers; the pack
(every sheet, every resident's details) is written elsewhere, for the coordinator, and no
volunteer's page links to it. The templates are the package's own files; the plan's text only
ever comes in as values, HTML-escaped by Jinja2's autoescaping, never as template source.
Print CSS puts each volunteer on new pages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

import jinja2

from kst_match.model import (
    Day,
    Hub,
    Need,
    Plan,
    Route,
    Stop,
    StopKind,
    Volunteer,
    format_clock,
)
from kst_match.outputs._common import kind_label, stamp, stop_need, stop_site

log = logging.getLogger(__name__)

INDEX_NAME = "index.html"
PACK_NAME = "pack.html"
# Chromium processes printing PDFs at once (each is single-threaded for a small page).
PDF_WORKERS = 2
HOME_STOPS = frozenset({StopKind.deliver, StopKind.visit})


@dataclass(frozen=True)
class SheetRow:
    """One row as printed (a stop, or one site visit's collections): times are ``HH:MM``,
    travel minutes and kilometres. ``order`` counts rows from 0 (leaving home)."""

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
    items: list[str] = field(default_factory=list)
    total: int = 0
    load: int = 0
    priority: str | None = None
    need: str | None = None


@dataclass(frozen=True)
class CallRow:
    """One call of a call list: when, whom, on which number, and what it is for."""

    order: int
    start: str
    end: str
    who: str
    phone: str
    purpose: str
    details: list[tuple[str, str]]
    priority: str
    need: str


@dataclass(frozen=True)
class Sheet:
    """One volunteer's day as printed. ``calls_only``: the day is a call list, not a route."""

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
    calls_only: bool = False
    phone: str = ""  # the volunteer's own
    calls: list[CallRow] = field(default_factory=list)
    home_stops: int = 0

    @property
    def pdf_name(self) -> str:
        return self.filename.removesuffix(".html") + ".pdf"


def _safe_filename(volunteer: str, taken: set[str]) -> str:
    """A file name for a volunteer id: letters, digits, ``-_.`` only, unique among ``taken``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", volunteer).strip(".") or "volunteer"
    name, n = f"{stem}.html", 1
    while name.lower() in taken or name == INDEX_NAME:
        n += 1
        name = f"{stem}-{n}.html"
    taken.add(name.lower())
    return name


def _window(need: Need) -> str:
    return f"{format_clock(need.window_start)}–{format_clock(need.window_end)}"


def _who(need: Need) -> str:
    """The resident as the volunteer knows them: their name, else the pseudonymous id."""
    return need.name or f"Resident {need.resident}"


def _where(need: Need) -> str:
    return ", ".join(part for part in (need.address, need.postcode) if part) or "no postcode"


def _need_details(need: Need) -> list[tuple[str, str]]:
    details = [
        ("Need", f"{need.id} · {kind_label(need.kind)} · {need.priority} priority"),
        ("Resident id", need.resident),
        ("Time window", _window(need)),
        ("Time needed", f"{need.duration} min"),
    ]
    if need.language and need.language != "english":
        required = " (required)" if need.language_required else ""
        details.append(("Language", f"{need.language}{required}"))
    return details


def _home_details(need: Need) -> list[tuple[str, str]]:
    """A delivery's or visit's details: who, where, how to reach them, when, how to get in."""
    details = [("Phone", need.phone or "not given: ask the hub")]
    details += _need_details(need)
    if need.access_notes:
        details.append(("Access", need.access_notes))
    return details


def _times(first: Stop, last: Stop) -> dict[str, object]:
    return {
        "arrival": format_clock(first.arrival),
        "start": format_clock(first.start),
        "departure": format_clock(last.departure),
        "wait_min": max(int(first.start) - int(first.arrival), 0),
        "travel_min": round(first.travel_s / 60),
        "distance_km": round(first.distance_m / 1000, 1),
        "load": last.load,
    }


def _collect_row(day: Day, order: int, stops: list[Stop]) -> SheetRow:
    """One row for a site visit: every collection made there, for whom, and the total."""
    needs = [n for n in (stop_need(day, s) for s in stops) if n is not None]
    site = stop_site(day, stops[0])
    total = sum(n.load for n in needs)
    items = [
        f"{n.load} × {kind_label(n.kind)} for {_who(n)} (need {n.id})"
        if n.load
        else f"{kind_label(n.kind)} for {_who(n)} (need {n.id})"
        for n in needs
    ]
    if len(needs) == 1:
        need = needs[0]
        amount = f"{need.load} × " if need.load else ""
        task = f"Collect {amount}{kind_label(need.kind)}"
    else:
        task = f"Collect {total} item{'' if total == 1 else 's'} for {len(needs)} residents"
    details: list[tuple[str, str]] = []
    if site is not None:
        details.append(("Site", f"{site.postcode or site.id} · {kind_label(site.kind)}"))
        details.append(("Open", f"{format_clock(site.opens)}–{format_clock(site.closes)}"))
    urgent = any(str(n.priority) == "urgent" for n in needs)
    return SheetRow(
        order=order,
        kind=str(StopKind.collect),
        task=task,
        place=site.name if site else "collection site",
        details=details,
        items=items,
        total=total,
        priority="urgent" if urgent else None,
        need=needs[0].id if len(needs) == 1 else None,
        **_times(stops[0], stops[-1]),  # type: ignore[arg-type]
    )


def _row(day: Day, order: int, stop: Stop) -> SheetRow:
    need = stop_need(day, stop)
    task, place = "", ""
    details: list[tuple[str, str]] = []
    if stop.kind == StopKind.start:
        task, place = "Leave home", "Home"
    elif stop.kind == StopKind.end:
        task, place = "Back home", "Home"
    elif need is not None and stop.kind == StopKind.deliver:
        amount = f"{need.load} × " if need.load else ""
        task = f"Deliver {amount}{kind_label(need.kind)}"
        place = f"{_who(need)}, {_where(need)}"
        details = _home_details(need)
    elif need is not None and stop.kind == StopKind.visit:
        task = kind_label(need.kind).capitalize()
        place = f"{_who(need)}, {_where(need)}"
        details = _home_details(need)
    elif need is not None and stop.kind == StopKind.call:
        # A call is made wherever the volunteer is: it has a number, never a place.
        task = f"Call at {format_clock(stop.start)}: {kind_label(need.kind)}"
        place = f"{_who(need)} · phone {need.phone or 'not given: ask the hub'}"
        details = _need_details(need)
    else:
        task = str(stop.kind)
    return SheetRow(
        order=order,
        kind=str(stop.kind),
        task=task,
        place=place,
        details=details,
        priority=str(need.priority) if need is not None else None,
        need=need.id if need is not None else None,
        **_times(stop, stop),  # type: ignore[arg-type]
    )


def _visit_groups(day: Day, stops: list[Stop]) -> list[list[Stop]]:
    """Stops grouped by visit: consecutive collections at one site are one group."""

    def key(pair: tuple[int, Stop]) -> tuple[object, ...]:
        i, stop = pair
        if stop.kind != StopKind.collect:
            return ("stop", i)
        site = stop_site(day, stop)
        return ("collect", site.id if site else None)

    return [[s for _, s in group] for _, group in itertools.groupby(enumerate(stops), key)]


def build_rows(day: Day, route: Route) -> list[SheetRow]:
    """The rows of a route's sheet, one per stop but one per site visit for collections."""
    rows = []
    for order, group in enumerate(_visit_groups(day, route.stops)):
        if group[0].kind == StopKind.collect:
            rows.append(_collect_row(day, order, group))
        else:
            rows.append(_row(day, order, group[0]))
    return rows


def build_calls(day: Day, route: Route) -> list[CallRow]:
    """The route's calls as a call list, in order."""
    calls = []
    for stop in route.stops:
        need = stop_need(day, stop)
        if stop.kind != StopKind.call or need is None:
            continue
        calls.append(
            CallRow(
                order=len(calls) + 1,
                start=format_clock(stop.start),
                end=format_clock(stop.departure),
                who=_who(need),
                phone=need.phone or "not given: ask the hub",
                purpose=kind_label(need.kind).capitalize(),
                details=_need_details(need),
                priority=str(need.priority),
                need=need.id,
            )
        )
    return calls


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
    served = [s for s in stops if s.kind not in (StopKind.start, StopKind.end)]
    calls_only = bool(served) and all(s.kind == StopKind.call for s in served)
    return Sheet(
        volunteer=route.volunteer,
        name=volunteer.name if volunteer else "",
        phone=volunteer.phone if volunteer else "",
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
        rows=[] if calls_only else build_rows(day, route),
        filename=filename,
        calls_only=calls_only,
        calls=build_calls(day, route),
        home_stops=sum(1 for s in stops if s.kind in HOME_STOPS),
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
    date: dt.date,
    sheets: list[Sheet],
    *,
    title: str,
    version: int = 1,
    generated: str = "",
    hub: Hub | None = None,
    index_link: bool = True,
) -> str:
    """One HTML document holding ``sheets``, each starting on a new printed page.

    ``version`` is the plan's, ``generated`` its time of generation as printed (see ``stamp``);
    ``index_link`` links the page to the volunteers' index beside it.
    """
    template = _environment().get_template("runsheet.html.j2")
    return template.render(
        date=date.isoformat(),
        sheets=sheets,
        title=title,
        version=version,
        generated=generated or stamp(),
        hub=hub or Hub(),
        index_link=index_link,
    )


def render_index(
    plan: Plan, sheets: list[Sheet], generated: str = "", pdfs: bool = False, hub: Hub | None = None
) -> str:
    """The volunteers' index: every volunteer's sheet (and PDF), by id; no names, no residents."""
    template = _environment().get_template("runsheet_index.html.j2")
    return template.render(
        date=plan.date.isoformat(),
        version=plan.version,
        generated=generated or stamp(),
        sheets=sheets,
        pdfs=pdfs,
        hub=hub or Hub(),
    )


class RunSheetPaths(NamedTuple):
    """Where the run sheets were written (``pdfs`` empty when none were printed)."""

    index: Path
    pack: Path
    volunteers: dict[str, Path]
    pdfs: dict[str, Path]


def write_runsheets(
    day: Day,
    plan: Plan,
    out_dir: str | Path,
    generated: dt.datetime | None = None,
    *,
    hub: Hub | None = None,
    pack_dir: str | Path | None = None,
    chromium: str | None = None,
) -> RunSheetPaths:
    """Write ``index.html`` and one page per volunteer into ``out_dir``, and the coordinator's
    pack of every sheet into ``pack_dir/pack.html`` (default: ``out_dir``'s sibling
    ``coordinator``). With ``chromium`` (a binary's path), each volunteer's page is printed to a
    PDF beside it. ``generated`` is the time of generation printed on every page (default: now).
    """
    made = stamp(generated)
    hub = hub or Hub()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pack_folder = Path(pack_dir) if pack_dir is not None else out_dir.parent / "coordinator"
    pack_folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    sheets = [build_sheet(day, r, _safe_filename(r.volunteer, taken)) for r in plan.routes]
    paths: dict[str, Path] = {}
    for sheet in sheets:
        path = out_dir / sheet.filename
        title = f"Run sheet {sheet.volunteer} · {plan.date.isoformat()}"
        page = render_sheets(
            plan.date, [sheet], title=title, version=plan.version, generated=made, hub=hub
        )
        path.write_text(page, encoding="utf-8")
        paths[sheet.volunteer] = path
    pack_path = pack_folder / PACK_NAME
    pack_title = f"Coordinator's pack: every run sheet · {plan.date.isoformat()}"
    pack_page = render_sheets(
        plan.date,
        sheets,
        title=pack_title,
        version=plan.version,
        generated=made,
        hub=hub,
        index_link=False,
    )
    pack_path.write_text(pack_page, encoding="utf-8")
    pdfs = _print_pdfs(paths, chromium) if chromium else {}
    index_path = out_dir / INDEX_NAME
    index_path.write_text(render_index(plan, sheets, made, bool(pdfs), hub), encoding="utf-8")
    return RunSheetPaths(index=index_path, pack=pack_path, volunteers=paths, pdfs=pdfs)


def _print_pdfs(pages: dict[str, Path], chromium: str) -> dict[str, Path]:
    """Each volunteer's page printed to a PDF beside it, a few Chromium processes at a time."""
    from kst_match.outputs.browser import print_pdf

    def one(page: Path) -> Path:
        return print_pdf(page, page.with_suffix(".pdf"), chromium=chromium)

    with ThreadPoolExecutor(max_workers=PDF_WORKERS) as pool:
        printed = list(pool.map(one, pages.values()))
    return dict(zip(pages, printed, strict=True))
