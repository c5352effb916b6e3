"""What is handed out: contacts on the right sheet only, grouped pick-ups, call lists, the hub's
details, the coordinator's pack and list of what was not done, and route colours.

The day is the hand-made one of ``tests.test_outputs`` with residents' names, addresses and
phones, one more parcel collected at the food bank in the same visit as N1's (the plan gives
both collections the visit's times), and a third volunteer, V3, who only makes calls.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from pathlib import Path
from typing import Any

import pytest

from kst_match.model import (
    Assignment,
    Day,
    Hub,
    Need,
    Plan,
    Reason,
    Rejected,
    Route,
    Stop,
    Unserved,
    Volunteer,
)
from kst_match.outputs import write_outputs
from kst_match.outputs._common import PALETTE, route_colours
from kst_match.outputs.runsheets import build_sheet
from tests.test_outputs import FOOD_BANK, R101, V1_HOME, FakeAreas, make_day, make_plan

HUB = Hub(name="Kingston Hub", phone="020 8547 1234")
R505 = (-0.2990, 51.4200)  # KT2, near R101
V3_HOME = (-0.2900, 51.4050)

# name, address, phone of each resident: every value unique, to find it in any file.
CONTACTS = {
    "N1": ("Ada Lovelace", "12 Canbury Park Road", "07700 900101"),
    "N2": ("Bertha Benz", "3 Ewell Road", "07700 900202"),
    "N3": ("Cyril Ramaphosa", "9 Fairfield West", "07700 900303"),
    "N4": ("Dora Maar", "77 Burlington Road", "07700 900404"),
    "N5": ("Edith Piaf", "5 Queens Road", "07700 900505"),
    "N6": ("Fela Kuti", "41 Villiers Avenue", "07700 900606"),
    "N7": ("Gita Sahgal", "2 Penrhyn Road", "07700 900707"),
}
VOLUNTEER_OF = {"N1": "V1", "N5": "V1", "N3": "V1", "N2": "V2", "N6": "V3", "N7": "V3"}
CALLS = {"N3", "N6", "N7"}  # made by phone: no address is needed, so none is shown


def contact_day() -> Day:
    base = make_day()
    n1 = base.need("N1")
    extra = [
        n1.model_copy(
            update={"id": "N5", "resident": "R-505", "load": 3, "postcode": "KT2 7AA",
                    "access_notes": "", "priority": "normal", "lon": R505[0], "lat": R505[1]}
        ),
        base.need("N3").model_copy(
            update={"id": "N6", "resident": "R-606", "postcode": "KT1 2XX",
                    "previous_volunteer": None, "language": None}
        ),
        base.need("N3").model_copy(
            update={"id": "N7", "resident": "R-707", "kind": "benefits_advice",
                    "postcode": "KT1 2YY", "previous_volunteer": None, "language": None}
        ),
    ]  # fmt: skip
    needs = []
    for need in [*base.needs, *extra]:
        name, address, phone = CONTACTS[need.id]
        ward = "W2" if need.id == "N4" else "W1"
        needs.append(
            need.model_copy(update={"name": name, "address": address, "phone": phone, "ward": ward})
        )
    v3 = Volunteer(
        id="V3",
        name="Cleo Example",
        phone="07700 900999",
        partner="P2",
        skills="dbs_checked;advice_trained",
        shift_start="12:00",
        shift_end="16:00",
        lon=V3_HOME[0],
        lat=V3_HOME[1],
    )
    return base.model_copy(update={"needs": tuple(needs), "volunteers": (*base.volunteers, v3)})


def _stop(kind: str, at: tuple[float, float], times: tuple[str, str, str], **kw: Any) -> Stop:
    arrival, start, departure = times
    return Stop(
        kind=kind, lon=at[0], lat=at[1], arrival=arrival, start=start, departure=departure, **kw
    )


def contact_plan() -> Plan:
    base = make_plan()
    visit = ("09:40", "09:40", "09:48")  # one site visit: both collections share its times
    v1 = Route(
        volunteer="V1",
        transport="cycle",
        stops=[
            _stop("start", V1_HOME, ("09:30", "09:30", "09:30")),
            _stop("collect", FOOD_BANK, visit, need="N1", site="S1", load=2, travel_s=600.0),
            _stop("collect", FOOD_BANK, visit, need="N5", site="S1", load=5),
            _stop("deliver", R101, ("10:00", "10:00", "10:10"), need="N1", load=3, travel_s=700),
            _stop("deliver", R505, ("10:15", "10:15", "10:25"), need="N5", travel_s=300.0),
            _stop("call", R505, ("10:25", "12:00", "12:20"), need="N3"),
            _stop("end", V1_HOME, ("12:30", "12:30", "12:30"), travel_s=600.0),
        ],
    )
    v3 = Route(
        volunteer="V3",
        transport="walk",
        stops=[
            _stop("start", V3_HOME, ("12:00", "12:00", "12:00")),
            _stop("call", V3_HOME, ("12:00", "12:00", "12:20"), need="N6"),
            _stop("call", V3_HOME, ("12:20", "12:30", "12:50"), need="N7"),
            _stop("end", V3_HOME, ("12:50", "12:50", "12:50")),
        ],
    )
    assignments = [
        *base.assignments,
        Assignment(need="N5", partner="P1", volunteer="V1", start="10:15"),
        Assignment(need="N6", partner="P2", volunteer="V3", start="12:00"),
        Assignment(need="N7", partner="P2", volunteer="V3", start="12:30"),
    ]
    return base.model_copy(
        update={
            "routes": [v1, base.routes[1], v3],
            "assignments": assignments,
            "unserved": [
                Unserved(need="N4", reason=Reason.no_partner, detail="no partner offers it")
            ],
            "rejected": [
                Rejected(file="needs.csv", row=9, field="priority", reason="not a priority",
                         id="N9")
            ],
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def day() -> Day:
    return contact_day()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return contact_plan()


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, day: Day, plan: Plan) -> Path:
    folder = tmp_path_factory.mktemp("handout")
    write_outputs(
        day,
        plan,
        folder,
        areas=FakeAreas(),
        hub=HUB,
        generated=dt.datetime(2024, 3, 5, 7, 30, tzinfo=dt.UTC),
    )
    return folder


def _text(path: Path) -> str:
    return html.unescape(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Contacts where they are needed, and nowhere else
# ---------------------------------------------------------------------------------------------
def test_each_residents_contacts_are_on_their_volunteers_sheet_only(out: Path) -> None:
    sheets = {v: _text(out / "runsheets" / f"{v}.html") for v in ("V1", "V2", "V3")}
    shared = {
        "map.html": _text(out / "map.html"),
        "routes.geojson": _text(out / "routes.geojson"),
        "index.html": _text(out / "runsheets" / "index.html"),
        "kpis.md": _text(out / "kpis.md"),
        "kpis.json": _text(out / "kpis.json"),
    }
    for need, volunteer in VOLUNTEER_OF.items():
        address = CONTACTS[need][1]
        for value in CONTACTS[need]:
            if value == address and need in CALLS:
                assert all(address not in page for page in sheets.values())
            else:
                assert value in sheets[volunteer], (need, value)
            for other, page in sheets.items():
                if other != volunteer:
                    assert value not in page, (need, value, other)
            for name, page in shared.items():
                assert value not in page, (need, value, name)
    # The unserved resident's details are on no volunteer's sheet, but on the coordinator's list.
    for value in CONTACTS["N4"]:
        assert all(value not in page for page in [*sheets.values(), *shared.values()])
        assert value in _text(out / "coordinator" / "unserved.html")
    # The coordinator's pack holds every served resident's details.
    pack = _text(out / "coordinator" / "pack.html")
    assert all(v in pack for n in VOLUNTEER_OF for v in CONTACTS[n][:: 2 if n in CALLS else 1])


def test_nothing_for_volunteers_links_to_the_coordinators_files(out: Path) -> None:
    for page in (out / "runsheets").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "coordinator" not in text and "pack.html" not in text and "unserved" not in text
        assert not re.search(r'href="(?!V\d\.html|index\.html|V\d\.pdf|javascript:)', text)
    assert sorted(p.name for p in (out / "coordinator").iterdir()) == [
        "pack.html",
        "unserved.csv",
        "unserved.html",
    ]


def _plain(path: Path) -> str:
    """A page's text without its tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_sheets_show_the_hub_and_what_to_do_when_nobody_is_home(out: Path) -> None:
    v1 = _plain(out / "runsheets" / "V1.html")
    assert "Kingston Hub · phone 020 8547 1234" in v1
    assert f"If nobody is home: {HUB.nobody_home} (hub: 020 8547 1234)" in v1
    assert "Ring the doorbell and phone the resident; wait 5 minutes" in v1
    # A call list has no door to knock on.
    v3 = _plain(out / "runsheets" / "V3.html")
    assert "020 8547 1234" in v3 and "If nobody is home" not in v3
    for name in ("V1", "V2", "V3", "index"):
        page = _text(out / "runsheets" / f"{name}.html")
        assert "plan version 2 · made 2024-03-05 07:30 UTC" in page, name


# ---------------------------------------------------------------------------------------------
# Run sheets
# ---------------------------------------------------------------------------------------------
def test_collections_of_one_site_visit_are_one_row_with_their_total(out: Path) -> None:
    page = (out / "runsheets" / "V1.html").read_text(encoding="utf-8")
    assert re.findall(r'data-kind="(\w+)"', page) == [
        "start", "collect", "deliver", "deliver", "call", "end",
    ]  # fmt: skip
    assert [int(o) for o in re.findall(r'data-order="(\d+)"', page)] == [0, 1, 2, 3, 4, 5]
    collect = html.unescape(page.split('class="stop ')[2])
    assert "Collect 5 items for 2 residents" in collect and "Food bank (central)" in collect
    assert "2 × food parcel for Ada Lovelace (need N1)" in collect
    assert "3 × food parcel for Edith Piaf (need N5)" in collect
    assert "Total to collect here: 5" in collect
    assert "arrive 09:40" in collect and "leave 09:48" in collect
    assert "carrying 5 after this stop" in collect


def test_a_call_has_a_number_and_no_place(out: Path, day: Day, plan: Plan) -> None:
    page = _text(out / "runsheets" / "V1.html")
    call = page.split('class="stop ')[5]
    assert "Call at 12:00: befriending call" in call
    assert "Cyril Ramaphosa · phone 07700 900303" in call
    # The call is listed where the volunteer happens to be (N5's door): nothing of it shows.
    for value in ("KT2 7AA", "Queens Road", "Edith", "9 Fairfield West", "KT1 3AA"):
        assert value not in call


def test_a_volunteer_who_only_calls_gets_a_call_list(out: Path, day: Day, plan: Plan) -> None:
    page = _text(out / "runsheets" / "V3.html")
    assert "Call list · V3 · Cleo Example" in page
    for absent in ("Leave home", "Back home", "leave ", "out ", "travel ", "Where"):
        assert absent not in page, absent
    rows = page.split('<tr class="call"')[1:]
    assert len(rows) == 2
    assert "12:00–12:20" in rows[0] and "Fela Kuti" in rows[0] and "07700 900606" in rows[0]
    assert "Befriending call" in rows[0]
    assert "12:30–12:50" in rows[1] and "Gita Sahgal" in rows[1] and "07700 900707" in rows[1]
    assert "Benefits advice" in rows[1]
    sheet = build_sheet(day, plan.routes[2])
    assert sheet.calls_only and sheet.rows == [] and [c.need for c in sheet.calls] == ["N6", "N7"]
    assert not build_sheet(day, plan.routes[0]).calls_only
    index = _text(out / "runsheets" / "index.html")
    assert "2 calls" in index


def test_a_resident_without_contacts_is_shown_by_id(tmp_path: Path, plan: Plan) -> None:
    day = make_day()
    v2 = build_sheet(day, make_plan().routes[1])
    visit = v2.rows[1]
    assert visit.place == "Resident R-202, KT5 8AB"
    assert ("Phone", "not given: ask the hub") in visit.details


# ---------------------------------------------------------------------------------------------
# The coordinator's list of what was not done
# ---------------------------------------------------------------------------------------------
def test_unserved_list_gives_every_need_and_rejected_row_with_what_to_do(
    out: Path, plan: Plan
) -> None:
    rows = list(csv.DictReader(io.StringIO((out / "coordinator" / "unserved.csv").read_text())))
    assert len(rows) == len(plan.unserved) + len(plan.rejected) == 2
    need, rejected = rows
    assert (need["source"], need["need"], need["reason"]) == ("unserved", "N4", "no_partner")
    assert (need["name"], need["phone"], need["ward"]) == (
        "Dora Maar",
        "07700 900404",
        "Surbiton Hill",
    )
    assert (
        need["action"] == "no partner offers shopping in Surbiton Hill: ask a partner to cover it"
    )
    assert need["reason_text"] == "No partner offers this service in the resident's ward."
    assert (rejected["source"], rejected["need"], rejected["detail"]) == (
        "rejected",
        "N9",
        "needs.csv row 9",
    )
    assert rejected["action"] == "correct priority in needs.csv row 9 and plan again"
    page = _text(out / "coordinator" / "unserved.html")
    assert "no partner offers shopping in Surbiton Hill: ask a partner to cover it" in page
    assert "Rejected input rows (1)" in page and "not a priority" in page


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (Reason.no_time, "no volunteer free in the window: widen the window or find a volunteer"),
        (
            Reason.partner_capacity,
            "partner capacity used up: raise Kingston Foodbank's capacity for shopping",
        ),
        (Reason.crowded_out, "crowded out: more volunteers near Surbiton Hill"),
        (
            Reason.not_planned_in_time,
            "not planned in time: re-run with a longer --time-limit (or more --iterations)",
        ),
        (Reason.no_skill, "no volunteer today has nothing: find one who has"),
    ],
)  # fmt: skip
def test_each_reason_says_what_a_coordinator_could_do(
    day: Day, reason: Reason, expected: str
) -> None:
    from kst_match.outputs.unserved import action

    need: Need = day.need("N4")
    names = {"W2": "Surbiton Hill"}.get
    if reason is Reason.no_skill:
        expected = expected.replace("nothing", "dbs_checked, wellbeing_trained")
        need = need.model_copy(update={"skills": frozenset({"dbs_checked", "wellbeing_trained"})})
    assert action(day, need, reason, names) == expected


def test_csv_cells_are_never_formulas(tmp_path: Path, day: Day, plan: Plan) -> None:
    from kst_match.outputs.unserved import write_unserved

    n4 = day.need("N4").model_copy(update={"name": '=HYPERLINK("http://x")', "phone": "+44 7700"})
    bad = day.model_copy(update={"needs": (*day.needs[:3], n4, *day.needs[4:])})
    _, table = write_unserved(bad, plan, tmp_path)
    row = next(csv.DictReader(io.StringIO(table.read_text())))
    assert row["name"] == '\'=HYPERLINK("http://x")' and row["phone"] == "'+44 7700"


# ---------------------------------------------------------------------------------------------
# Route colours
# ---------------------------------------------------------------------------------------------
def _route(volunteer: str, lon: float, lat: float) -> Route:
    at = (lon, lat)
    return Route(
        volunteer=volunteer,
        transport="walk",
        stops=[
            _stop("start", at, ("09:00",) * 3),
            _stop("end", (lon + 0.002, lat), ("10:00",) * 3),
        ],
    )


def test_neighbouring_routes_never_share_a_colour_while_the_palette_lasts(plan: Plan) -> None:
    # 16 routes side by side (each overlaps the next two), and 4 far away.
    near = [_route(f"A{i:02d}", -0.30 + 0.001 * i, 51.40) for i in range(16)]
    far = [_route(f"B{i}", -0.20, 51.30 + 0.1 * i) for i in range(4)]
    colours = route_colours(plan.model_copy(update={"routes": near + far}))
    assert len({colours[r.volunteer] for r in near}) == 16  # all overlap: all differ
    assert set(colours.values()) <= set(PALETTE)
    # Far routes take colours too, and those least used: no colour is used three times.
    assert max(list(colours.values()).count(c) for c in PALETTE) == 2
    # More neighbours than colours: each colour is used, none more than twice among 20.
    crowd = [_route(f"C{i:02d}", -0.30 + 0.0001 * i, 51.40) for i in range(20)]
    crowded = list(route_colours(plan.model_copy(update={"routes": crowd})).values())
    assert set(crowded) == set(PALETTE) and max(crowded.count(c) for c in PALETTE) == 2


def test_a_volunteers_own_phone_is_on_their_sheet_and_the_pack_only(out: Path) -> None:
    phone = "07700 900999"  # V3's
    assert phone in _text(out / "runsheets" / "V3.html")
    assert phone in _text(out / "coordinator" / "pack.html")
    for name in ("V1.html", "V2.html", "index.html"):
        assert phone not in _text(out / "runsheets" / name)
    assert phone not in _text(out / "map.html") and phone not in _text(out / "routes.geojson")


def test_no_pdfs_and_a_warning_when_there_is_no_chromium(
    tmp_path: Path, day: Day, plan: Plan, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no browser on it
    with caplog.at_level("WARNING", logger="kst_match.outputs"):
        paths = write_outputs(day, plan, tmp_path / "out", areas=FakeAreas(), pdf=True)
    assert "pdfs" not in paths
    assert list((tmp_path / "out" / "runsheets").glob("*.pdf")) == []
    assert "no PDF run sheets: no Chromium binary found" in caplog.text
    assert (tmp_path / "out" / "runsheets" / "V1.html").is_file()
