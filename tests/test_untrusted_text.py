"""Text from the input files is data: template syntax, HTML, JavaScript and console markup in
every text field of every file come out literally in every output, run nothing and change
nothing outside the output folder, and execute nothing when the map and run sheets are opened
in a browser.

The day is a small generated one (30 needs, 12 volunteers) planned through the command line in
a subprocess, as a coordinator would; each text field of each row carries one of the payloads
(cycled over rows and fields so that every field meets every payload), ids included. Postcodes
and phone numbers are checked against their formats when read, so they carry none.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kst_match.dataset.generate import generate_day, write_day
from kst_match.model import Day, Need, Plan
from kst_match.outputs.browser import dump_dom
from kst_match.outputs.map import build_map
from tests.test_outputs import FakeAreas, make_day, make_plan

ROOT = Path(__file__).resolve().parents[1]
# Run as a template, this runs ``touch pwned`` in the working folder (the test's root): it has no
# quotes, which the JSON and HTML escaping would turn into syntax errors before it ran.
SHELL = (
    "{{ lipsum.__globals__.os.system(dict(touch=0)|join ~ (range(2)|list|string)[3]"
    " ~ dict(pwned=0)|join) }}"
)
PAYLOADS = (
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{% for %}",
    "{{2}",
    "{# a comment #}",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"'><svg onload=alert(1)>",
    "[/yellow]",
    "[link=http://x]y[/link]",
    "[bold]",
    ":smile:",
    SHELL,
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
)
BAD_PRIORITY = "[/yellow][link=http://x]y[/link]"
HUB_PAYLOAD = "{{ 7*7 }} <script>alert(1)</script> [bold]"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


@dataclass(frozen=True)
class Run:
    """A payload day planned by the command line: where things are and what it printed."""

    root: Path
    data: Path
    out: Path
    canary: Path
    day: Day
    before: dict[str, str]
    plan: subprocess.CompletedProcess[str]
    check: subprocess.CompletedProcess[str]

    @property
    def plan_text(self) -> str:
        """What ``plan`` printed, colours and links taken out."""
        return ANSI.sub("", self.plan.stdout + self.plan.stderr)

    @property
    def check_text(self) -> str:
        return ANSI.sub("", self.check.stdout + self.check.stderr)

    def result(self) -> Plan:
        return Plan.model_validate_json((self.out / "plan.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# The payload day
# ---------------------------------------------------------------------------------------------
def _payload(k: int) -> str:
    """Two payloads, so that a field of 7 rows or more meets all 14."""
    return f"{PAYLOADS[k % len(PAYLOADS)]} {PAYLOADS[(k + 7) % len(PAYLOADS)]}"


# Ids are at most 100 characters (an input bound), so they carry one payload at a time, and not
# the longest one (the shell payload still reaches every other text field).
ID_PAYLOADS = tuple(p for p in PAYLOADS if len(p) <= 90)


def _id_payload(k: int) -> str:
    """Two payloads when they fit in an id (with its 6-character base), else one."""
    one, two = ID_PAYLOADS[k % len(ID_PAYLOADS)], ID_PAYLOADS[(k + 6) % len(ID_PAYLOADS)]
    return f"{one} {two}" if len(one) + len(two) <= 90 else one


def payload_day() -> Day:
    """A generated day with a payload appended to every text field of every row, ids included
    (references renamed to match)."""
    day = generate_day(30, 12, seed=3)
    sites = {s.id: f"{s.id}{_id_payload(i)}" for i, s in enumerate(day.sites)}
    partners = {p.id: f"{p.id}{_id_payload(i + 1)}" for i, p in enumerate(day.partners)}
    vols = {v.id: f"{v.id}{_id_payload(i + 2)}" for i, v in enumerate(day.volunteers)}
    new_sites = [
        s.model_copy(
            update={
                "id": sites[s.id],
                "name": f"{s.name} {_payload(i + 3)}",
            }
        )
        for i, s in enumerate(day.sites)
    ]
    new_partners = [
        p.model_copy(
            update={
                "id": partners[p.id],
                "name": f"{p.name} {_payload(i + 5)}",
                "sites": frozenset(sites[s] for s in p.sites),
            }
        )
        for i, p in enumerate(day.partners)
    ]
    new_vols = [
        v.model_copy(
            update={
                "id": vols[v.id],
                "name": f"{v.name or 'Volunteer'} {_payload(i + 6)}",
                # Phones are checked (digits only), so they carry no payload: fictitious
                # numbers from Ofcom's drama range, each unique.
                "phone": f"07700 900{i:03d}",
                "partner": partners[v.partner],
                "shared_with": frozenset(partners[p] for p in v.shared_with),
            }
        )
        for i, v in enumerate(day.volunteers)
    ]
    new_needs = [
        n.model_copy(
            update={
                "id": f"{n.id}{_id_payload(i + 7)}",
                "resident": f"{n.resident} {_payload(i + 8)}",
                "access_notes": f"{n.access_notes} {_payload(i + 10)}".strip(),
                # Fixed-width tokens: no value is part of another.
                "name": f"NAME-{i:03d} {_payload(i + 12)}",
                "address": f"ADDRESS-{i:03d} High Street {_payload(i + 13)}",
                "phone": f"07700 900{500 + i:03d}",
                "site": sites[n.site] if n.site else None,
                "previous_volunteer": vols.get(n.previous_volunteer or ""),
            }
        )
        for i, n in enumerate(day.needs)
    ]
    return day.model_copy(
        update={
            "needs": tuple(new_needs),
            "volunteers": tuple(new_vols),
            "partners": tuple(new_partners),
            "sites": tuple(new_sites),
        }
    )


def _snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every path under ``root`` but ``skip`` and what is in it (a file's SHA-256)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = f"link:{os.readlink(path)}"
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[key] = "dir"
    return found


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess, with colour and hyperlinks on as in a terminal."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "FORCE_COLOR": "1",
        "COLUMNS": "2000",
    }
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "kst_match.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("untrusted")
    canary = root / "canary.txt"
    canary.write_text("the canary\n", encoding="utf-8")
    day = payload_day()
    data = root / "day"
    write_day(day, data)
    # One more need, rejected for its priority: its value is printed in the terminal.
    with (data / "needs.csv").open("a", encoding="utf-8", newline="") as f:
        f.write(f"-0.30,51.41,NBAD,{day.date},RBAD,wellbeing_check,{BAD_PRIORITY},10:00,12:00\n")
    out = root / "out"
    before = _snapshot(root, out)
    hub = ["--hub-name", f"Hub {HUB_PAYLOAD}", "--hub-phone", f"020 {HUB_PAYLOAD}"]
    plan = _cli(["plan", "--data", str(data), "--out", str(out), "--iterations", "50", *hub], root)
    check = _cli(["data", "check", str(data)], root)
    return Run(root, data, out, canary, day, before, plan, check)


def _every_field_meets_every_payload(day: Day) -> None:
    """The day really carries each payload in each text field (a guard on the test itself)."""
    fields: dict[str, list[str]] = {
        "site.id": [s.id for s in day.sites],
        "site.name": [s.name for s in day.sites],
        "partner.id": [p.id for p in day.partners],
        "partner.name": [p.name for p in day.partners],
        "volunteer.id": [v.id for v in day.volunteers],
        "volunteer.name": [v.name for v in day.volunteers],
        "need.id": [n.id for n in day.needs],
        "need.resident": [n.resident for n in day.needs],
        "need.access_notes": [n.access_notes for n in day.needs],
        "need.name": [n.name for n in day.needs],
        "need.address": [n.address for n in day.needs],
    }
    for name, values in fields.items():
        for payload in ID_PAYLOADS if name.endswith(".id") else PAYLOADS:
            assert any(payload in v for v in values), (name, payload)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------
def test_payload_day_reaches_every_field_and_is_planned(run: Run) -> None:
    _every_field_meets_every_payload(run.day)
    assert run.plan.returncode == 0, run.plan_text[-3000:]
    assert "every constraint holds" in run.plan_text
    plan = run.result()
    assert len(plan.routes) >= 3 and len(plan.assignments) >= 10
    # Needs are served and carry their ids as written.
    needs = {n.id for n in run.day.needs}
    assert {a.need for a in plan.assignments} | {u.need for u in plan.unserved} == needs


def test_terminal_shows_markup_literally(run: Run) -> None:
    for result in (run.plan, run.check):
        raw = result.stdout + result.stderr
        assert "MarkupError" not in raw and "Traceback" not in raw
        assert "\x1b]8;" not in raw  # no terminal hyperlink made from a value
        assert "\x1b[" in raw  # colour was on: markup would have been interpreted
    assert run.check.returncode == 1  # the one bad row
    for text in (run.plan_text, run.check_text):
        assert BAD_PRIORITY in text
    # The KPI tables name volunteers by their ids, printed as they are.
    shown = [v for v in run.result().kpis.get("travel_per_volunteer_min", {})]  # type: ignore[union-attr]
    assert shown and all(v in run.plan_text for v in shown)


def test_nothing_outside_the_output_folder_changes(run: Run) -> None:
    assert run.plan.returncode == 0
    assert _snapshot(run.root, run.out) == run.before
    assert run.canary.read_text(encoding="utf-8") == "the canary\n"
    assert sorted(p.name for p in run.root.iterdir()) == ["canary.txt", "day", "out"]


# ---------------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------------
def _served(run: Run, *, calls: bool = True) -> list[Need]:
    """The needs of the plan's stops (``calls=False``: but calls, which the map leaves out)."""
    plan = run.result()
    return [
        run.day.need(s.need)
        for r in plan.routes
        for s in r.stops
        if s.need is not None and (calls or s.kind.value != "call")
    ]


def _no_live_markup(page: str) -> None:
    """No payload's HTML is in the page as HTML (it may be there escaped)."""
    for raw in ("<script>alert", "<img src=x", "<svg onload", "'><svg"):
        assert raw not in page


def test_plan_json_and_geojson_hold_the_text_as_written(run: Run) -> None:
    plan = run.result()
    vols, partners = {v.id for v in run.day.volunteers}, {p.id for p in run.day.partners}
    sites = {s.id for s in run.day.sites}
    assert {r.volunteer for r in plan.routes} <= vols
    assert {a.partner for a in plan.assignments} <= partners
    assert {s.site for r in plan.routes for s in r.stops if s.site} <= sites
    geojson = json.loads((run.out / "routes.geojson").read_text(encoding="utf-8"))
    lines = {f["properties"]["volunteer"] for f in geojson["features"]}
    assert lines == {r.volunteer for r in plan.routes}


def _map_texts(page: str) -> list[str]:
    """Every popup and tooltip of the map as the browser is given it (JSON, then HTML, decoded)."""
    literals = re.findall(r"\.bind(?:Popup|Tooltip)\((\"(?:[^\"\\]|\\.)*\")", page)
    return [html.unescape(json.loads(literal)) for literal in literals]


def test_map_shows_the_text_literally(run: Run) -> None:
    page = (run.out / "map.html").read_text(encoding="utf-8")
    _no_live_markup(page)
    texts = "\n".join(_map_texts(page))
    plan = run.result()
    for need in _served(run, calls=False):
        for value in (need.id, need.resident, need.postcode):
            assert value in texts, value
    # Residents' contact details are never on the map, in any form.
    shown = html.unescape(page) + texts
    for need in run.day.needs:
        assert need.name not in shown and need.address not in shown and need.phone not in shown
    for site in run.day.sites:
        assert site.name in texts
    legend = html.unescape(page[page.index("id='kst-legend'") :])
    for route in plan.routes:
        assert route.volunteer in texts and route.volunteer in legend
    assert f"(v{plan.version}, made " in legend


def test_run_sheets_show_the_text_literally(run: Run) -> None:
    plan = run.result()
    folder = run.out / "runsheets"
    pages = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}
    pack = (run.out / "coordinator" / "pack.html").read_text(encoding="utf-8")
    for page in [*pages.values(), pack]:
        _no_live_markup(page)
        assert f"plan version {plan.version} · made " in page
    index = html.unescape(pages["index.html"])
    assert f"Hub {HUB_PAYLOAD} · 020 {HUB_PAYLOAD}" in index
    sheets = {
        r.volunteer: html.unescape(pages[_sheet_name(pages, r.volunteer)]) for r in plan.routes
    }
    for text in [*sheets.values(), html.unescape(pack)]:
        assert f"Hub: Hub {HUB_PAYLOAD}" in re.sub("</?b>", "", text)
        assert f'phone <b class="hub-phone">020 {HUB_PAYLOAD}</b>' in text
    text = html.unescape(pack)
    for route in plan.routes:
        volunteer = run.day.volunteer(route.volunteer)
        assert volunteer.id in text and volunteer.name in text and volunteer.id in index
        assert run.day.partner(volunteer.partner).name in text
        own = sheets[route.volunteer]
        for stop in route.stops:
            if stop.need is None:
                continue
            need = run.day.need(stop.need)
            for page in (text, own):
                assert need.id in page and need.resident in page
                assert need.name in page and need.phone in page
                if stop.kind.value != "call":  # a call shows no address
                    assert (need.postcode or "") in page and need.address in page
                if stop.kind.value in ("deliver", "visit"):
                    assert need.access_notes in page
                if stop.kind.value == "collect":
                    assert run.day.site(need.site or "").name in page
    assert len(pages) == len(plan.routes) + 1


def _sheet_name(pages: dict[str, str], volunteer: str) -> str:
    """The file of ``volunteer``'s sheet, found by its ``data-volunteer`` attribute."""
    mark = f'data-volunteer="{volunteer}"'
    (name,) = [n for n, page in pages.items() if mark in html.unescape(page)]
    return name


def test_unserved_list_shows_the_text_literally(run: Run) -> None:
    plan = run.result()
    page = (run.out / "coordinator" / "unserved.html").read_text(encoding="utf-8")
    _no_live_markup(page)
    text = html.unescape(page)
    rows = list(csv.DictReader(io.StringIO((run.out / "coordinator" / "unserved.csv").read_text())))
    assert len(rows) == len(plan.unserved) + len(plan.rejected) >= 1
    for item in plan.unserved:
        need = run.day.need(item.need)
        for value in (need.id, need.name, need.address, need.phone):
            assert value in text
    by_id = {r["need"]: r for r in rows}
    for item in plan.unserved:
        need = run.day.need(item.need)
        row = by_id[need.id]
        # Cells that a spreadsheet would read as a formula start with a quote; none here does.
        assert (row["name"], row["address"], row["phone"]) == (need.name, need.address, need.phone)
    assert BAD_PRIORITY in text  # the rejected row's reason quotes the value


def test_kpis_show_the_ids_literally(run: Run) -> None:
    kpis = json.loads((run.out / "kpis.json").read_text(encoding="utf-8"))
    # Markdown escapes a table's "|" and "\\"; rendered, they show as they were.
    md = (run.out / "kpis.md").read_text(encoding="utf-8").replace("\\|", "|")
    ids = list(kpis["travel_per_volunteer_min"])
    assert ids and all(v in {v.id for v in run.day.volunteers} for v in ids)
    assert all(v in md for v in ids)


def test_ward_names_are_not_templates_either() -> None:
    """Ward names come from the areas' data, not the input files, and are still only text."""
    areas = FakeAreas()
    areas.ward_names = {"W1": "{{ 7*7 }} <b>", "W2": "{{2}"}  # type: ignore[misc]
    page = build_map(make_day(), make_plan(), areas=areas, tiles=False).get_root().render()
    texts = _map_texts(page)
    assert "{{ 7*7 }} <b> ward" in texts and "{{2} ward" in texts
    assert "}} <b>" not in page  # escaped wherever it went


# ---------------------------------------------------------------------------------------------
# In the browser
# ---------------------------------------------------------------------------------------------
HOOK = (
    "<script>window.__calls = [];"
    "['alert', 'confirm', 'prompt'].forEach(function (name) {"
    " window[name] = function (message) { window.__calls.push(name + ':' + String(message)); };"
    "});</script>"
)
REPORT = """<script>
window.addEventListener('load', function () {
  var texts = [];
  try { EXTRA } catch (e) { texts.push('error: ' + e); }
  setTimeout(function () {
    var pre = document.createElement('pre');
    pre.id = 'kst-report';
    pre.textContent = JSON.stringify(
      {calls: window.__calls, texts: texts, body: document.body.textContent});
    document.body.appendChild(pre);
  }, 1500);
});
</script>"""
OPEN_EVERYTHING = """
MAP.eachLayer(function (layer) {
  [['getPopup', 'openPopup'], ['getTooltip', 'openTooltip']].forEach(function (m) {
    if (layer[m[0]] && layer[m[0]]()) {
      try {
        layer[m[1]]();
        var element = layer[m[0]]().getElement();
        texts.push(element ? element.textContent : 'not open');
      } catch (e) { texts.push('error: ' + e); }
    }
  });
});
"""


def browse(page: Path, workdir: Path, chromium: str, extra: str = "") -> dict[str, Any]:
    """Open a copy of ``page`` in headless Chromium with ``alert``, ``confirm`` and ``prompt``
    recorded from the start, run ``extra`` once loaded (``texts.push`` keeps what it finds),
    and return ``calls``, ``texts`` and the page's ``body`` text."""
    source = page.read_text(encoding="utf-8")
    assert source.count("<head>") == 1 and source.rstrip().endswith("</html>")
    hooked = source.replace("<head>", "<head>" + HOOK, 1)
    end = hooked.rindex("</html>")
    hooked = hooked[:end] + REPORT.replace("EXTRA", extra) + hooked[end:]
    copy = workdir / f"hooked-{page.name}"
    copy.write_text(hooked, encoding="utf-8")
    dom = dump_dom(copy, chromium=chromium)
    found = re.search(r'<pre id="kst-report">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def _map_name(page: str) -> str:
    found = re.search(r"var (map_[0-9a-f]+) = L\.map\(", page)
    assert found
    return found.group(1)


def test_nothing_runs_when_the_map_is_opened(run: Run, chromium: str, tmp_path: Path) -> None:
    page = run.out / "map.html"
    opener = OPEN_EVERYTHING.replace("MAP", _map_name(page.read_text(encoding="utf-8")))
    seen = browse(page, tmp_path, chromium, opener)
    assert seen["calls"] == []
    texts = "\n".join(seen["texts"])
    for need in _served(run, calls=False):
        assert need.resident in texts and (need.postcode or "") in texts
    for route in run.result().routes:
        assert route.volunteer in texts and route.volunteer in seen["body"]  # legend


def test_nothing_runs_when_the_run_sheets_are_opened(
    run: Run, chromium: str, tmp_path: Path
) -> None:
    pack = run.out / "coordinator" / "pack.html"
    for page in (pack, run.out / "runsheets" / "index.html"):
        seen = browse(page, tmp_path, chromium)
        assert seen["calls"] == [], page.name
        for route in run.result().routes:
            assert route.volunteer in seen["body"]
    seen = browse(pack, tmp_path, chromium)
    for need in _served(run):
        assert need.resident in seen["body"] and need.name in seen["body"]
    seen = browse(run.out / "coordinator" / "unserved.html", tmp_path, chromium)
    assert seen["calls"] == []
    for item in run.result().unserved:
        assert run.day.need(item.need).phone in seen["body"]


def test_the_browser_check_sees_a_script_that_runs(run: Run, chromium: str, tmp_path: Path) -> None:
    """The check above would see a payload run: raw HTML in a popup and in a page does."""
    page = run.out / "map.html"
    name = _map_name(page.read_text(encoding="utf-8"))
    planted = f"L.marker([51.41, -0.30]).addTo({name}).bindPopup('<img src=x onerror=alert(2)>');"
    seen = browse(page, tmp_path, chromium, planted + OPEN_EVERYTHING.replace("MAP", name))
    assert seen["calls"] == ["alert:2"]
    sheet = tmp_path / "sheet.html"
    sheet.write_text(
        "<!DOCTYPE html><html><head></head><body><img src=x onerror=alert(3)></body></html>"
    )
    assert browse(sheet, tmp_path, chromium)["calls"] == ["alert:3"]
