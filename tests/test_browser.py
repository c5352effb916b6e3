"""The outputs of a planned day as a coordinator and a volunteer use them, in headless Chromium
driven by Playwright (Debian's chromium through ``executable_path``; no browser is downloaded).

The day is a generated one (60 needs, 14 volunteers, seed 1) with a unique name, address and
phone for every resident, planned with a fixed number of iterations (the same plan on any
machine): it has site visits with several collections, a volunteer who only makes calls and
needs left unserved.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kst_match.dataset.generate import generate_day
from kst_match.geo.travel import RoadEstimate
from kst_match.model import Day, Hub, Plan, Route, StopKind, format_clock
from kst_match.outputs import write_outputs
from kst_match.outputs.plan_json import read_plan
from kst_match.outputs.runsheets import build_rows
from kst_match.plan import make_plan
from kst_match.solve.stop import MaxIterations

HUB = Hub(name="Kingston Hub", phone="020 8547 1234")


@dataclass(frozen=True)
class Planned:
    day: Day
    plan: Plan
    out: Path
    paths: dict[str, Path]


def contact_day() -> Day:
    """The generated day with a unique name, address and phone per resident (fixed width, so
    that no value is part of another; phones above the volunteers' 07700 900000-900199)."""
    day = generate_day(60, 14, seed=1)
    needs = tuple(
        n.model_copy(
            update={
                "name": f"Name{i:03d} Resident",
                "address": f"{i:03d} Test Street",
                "phone": f"07700 900{200 + i:03d}",
            }
        )
        for i, n in enumerate(day.needs)
    )
    return day.model_copy(update={"needs": needs})


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Planned:
    day = contact_day()
    plan = make_plan(day, RoadEstimate(), MaxIterations(100))
    out = tmp_path_factory.mktemp("browser") / "out"
    paths = write_outputs(day, plan, out, hub=HUB, pdf=True)
    # The plan as published is the one the pages are checked against.
    return Planned(day, read_plan(out / "plan.json"), out, paths)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser: Any, page: Path) -> Any:
    """A tab showing ``page`` with every request off this machine refused (no network)."""
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    refused: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    tab.route("**/*", offline)
    tab.goto(page.resolve().as_uri())
    tab.wait_for_function("window.KST !== undefined || !document.getElementById('kst-picker')")
    return tab


# ---------------------------------------------------------------------------------------------
# Privacy on a planned day
# ---------------------------------------------------------------------------------------------
def _calls_only(route: Route) -> bool:
    return all(s.kind in (StopKind.start, StopKind.end, StopKind.call) for s in route.stops)


def test_the_day_has_what_the_browser_tests_need(planned: Planned) -> None:
    plan = planned.plan
    assert plan.unserved and any(_calls_only(r) for r in plan.routes)
    assert any(len(r.items) > 1 for route in plan.routes for r in build_rows(planned.day, route))


def test_contacts_are_only_on_their_own_volunteers_sheet(planned: Planned) -> None:
    import html

    out, day = planned.out, planned.day
    sheets = {
        p.stem: html.unescape(p.read_text(encoding="utf-8"))
        for p in (out / "runsheets").glob("V*.html")
    }
    shared = [
        html.unescape((out / name).read_text(encoding="utf-8"))
        for name in ("map.html", "routes.geojson", "runsheets/index.html", "kpis.md")
    ]
    assert len(sheets) == len(planned.plan.routes)
    served = set()
    for route in planned.plan.routes:
        for stop in route.stops:
            if stop.need is None:
                continue
            need = day.need(stop.need)
            served.add(need.id)
            wanted = [need.name, need.phone]
            if stop.kind != StopKind.call:
                wanted.append(need.address)
            for value in wanted:
                assert value in sheets[route.volunteer], (route.volunteer, value)
    for need in day.needs:
        own = {r.volunteer for r in planned.plan.routes for s in r.stops if s.need == need.id}
        for value in (need.name, need.phone, need.address):
            assert all(value not in page for page in shared), value
            assert all(value not in page for v, page in sheets.items() if v not in own), value
    assert served and served | {u.need for u in planned.plan.unserved} == {n.id for n in day.needs}


# ---------------------------------------------------------------------------------------------
# The map
# ---------------------------------------------------------------------------------------------
def _route_opacities(tab: Any) -> dict[str, float]:
    return tab.evaluate(
        "Object.fromEntries(Object.entries(KST.routes)"
        ".map(([v, r]) => [v, r.line.options.opacity]))"
    )


def test_picking_a_volunteer_shows_only_their_route(planned: Planned, browser: Any) -> None:
    tab = _open(browser, planned.out / "map.html")
    volunteers = [r.volunteer for r in planned.plan.routes]
    options = tab.eval_on_selector_all("#kst-picker option", "os => os.map(o => o.value)")
    assert options == ["", *volunteers]
    assert set(_route_opacities(tab).values()) == {0.9}
    chosen = max(planned.plan.routes, key=lambda r: r.tasks).volunteer
    tab.select_option("#kst-picker", chosen)
    opacities = _route_opacities(tab)
    assert opacities[chosen] == 0.9
    assert all(o == 0.12 for v, o in opacities.items() if v != chosen)
    # As drawn: one route line at full strength, the others dimmed.
    drawn = tab.eval_on_selector_all(
        "path.kst-route", "ps => ps.map(p => p.getAttribute('stroke-opacity'))"
    )
    assert sorted(drawn) == sorted(["0.9"] + ["0.12"] * (len(volunteers) - 1))
    stops = tab.evaluate(
        "Object.fromEntries(Object.entries(KST.routes).map(([v, r]) =>"
        " [v, r.stops.map(m => m.options.fillOpacity)]))"
    )
    assert all(f == 0.95 for f in stops[chosen]) and stops[chosen]
    assert all(f == 0.08 for v, fs in stops.items() if v != chosen for f in fs)
    tab.select_option("#kst-picker", "")
    assert set(_route_opacities(tab).values()) == {0.9}
    tab.close()


def test_unserved_panel_lists_every_unserved_need_by_reason(planned: Planned, browser: Any) -> None:
    raw = json.loads((planned.out / "plan.json").read_text(encoding="utf-8"))
    tab = _open(browser, planned.out / "map.html")
    assert tab.locator(".kst-unserved-row").first.is_visible() is False  # closed at first
    tab.click("#kst-unserved-panel summary")
    rows = tab.locator(".kst-unserved-row")
    assert rows.count() == len(raw["unserved"])
    assert all(rows.nth(i).is_visible() for i in range(rows.count()))
    assert sorted(rows.all_inner_texts()) == sorted(u["need"] for u in raw["unserved"])
    shown = tab.eval_on_selector_all(
        ".kst-reason",
        "ds => ds.map(d => [d.dataset.reason, d.querySelectorAll('.kst-unserved-row').length])",
    )
    assert dict(shown) == Counter(u["reason"] for u in raw["unserved"])
    summary = tab.inner_text("#kst-unserved-panel summary")
    assert summary == f"Unserved needs ({len(raw['unserved'])})"
    tab.close()


def test_map_names_the_wards_and_keys_every_symbol_offline(planned: Planned, browser: Any) -> None:
    tab = _open(browser, planned.out / "map.html")
    labels = tab.eval_on_selector_all(".kst-label span", "ss => ss.map(s => s.textContent)")
    assert len(labels) == 19 and "Canbury Gardens" in labels and "Surbiton Hill" in labels
    key = tab.inner_text("#kst-key")
    symbols = ("food bank", "pharmacy", "supermarket", "community centre", "collect at a site")
    symbols += ("deliver to a resident", "visit a resident", "home", "need not served")
    for text in symbols:
        assert text in key
    # Each site letter drawn on the map is in the key.
    letters = set(tab.eval_on_selector_all(".kst-site div", "ds => ds.map(d => d.textContent)"))
    assert letters and letters <= {"F", "P", "S", "C"}
    # Drawn with no network: every route line and stop is there.
    assert tab.locator("path.kst-route").count() == len(planned.plan.routes)
    tab.close()


# ---------------------------------------------------------------------------------------------
# A run sheet printed to PDF
# ---------------------------------------------------------------------------------------------
def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return re.sub(r"\s+", " ", text)


def test_run_sheet_pdf_has_the_stops_in_order_the_pickup_total_and_the_phone(
    planned: Planned,
) -> None:
    day = planned.day
    # The route with the largest site visit (most collections at once).
    route, row = max(
        ((r, row) for r in planned.plan.routes for row in build_rows(day, r)),
        key=lambda pair: len(pair[1].items),
    )
    pdf = planned.out / "runsheets" / f"{route.volunteer}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = _pdf_text(pdf)
    assert f"Run sheet · {route.volunteer}" in text
    # The pick-up total, worked out from the needs collected in that visit.
    visit = [
        s
        for s in route.stops
        if s.kind == StopKind.collect and format_clock(s.arrival) == row.arrival
    ]
    loads = [day.need(s.need).load for s in visit if s.need]
    assert len(loads) == len(row.items) > 1
    assert f"Total to collect here: {sum(loads)}" in text
    # The stops in order: each row's number and task appear after the previous one's.
    position = 0
    for sheet_row in build_rows(day, route):
        found = text.find(sheet_row.task, position)
        assert found >= 0, (sheet_row.order, sheet_row.task, text[position : position + 300])
        position = found + len(sheet_row.task)
    # Every resident visited or delivered to: their phone, and the hub's.
    for stop in route.stops:
        if stop.kind in (StopKind.deliver, StopKind.visit) and stop.need:
            assert day.need(stop.need).phone in text
    assert "020 8547 1234" in text and "If nobody is home" in text


def test_every_volunteer_gets_a_pdf_linked_from_the_index(planned: Planned) -> None:
    folder = planned.out / "runsheets"
    assert planned.paths["pdfs"] == folder
    pdfs = sorted(p.stem for p in folder.glob("*.pdf"))
    assert pdfs == sorted(r.volunteer for r in planned.plan.routes)
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{v}.pdf"' in index for v in pdfs)
    caller = next(r for r in planned.plan.routes if _calls_only(r))
    text = _pdf_text(folder / f"{caller.volunteer}.pdf")
    assert f"Call list · {caller.volunteer}" in text and "Leave home" not in text
    for stop in caller.stops:
        if stop.need:
            assert planned.day.need(stop.need).phone in text
