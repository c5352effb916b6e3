"""Capacity scenarios on small hand-made days whose effect is worked out here."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.geo.areas import Areas
from kst_match.model import Day, Partner, Reason, Site
from kst_match.outputs.scenarios import failing_level
from kst_match.scenarios import (
    BASE,
    ScenarioError,
    apply,
    comparison,
    parse_scenario,
    read_scenario,
    run_one,
    sweep,
)
from tests.test_plan import (
    DATE,
    FOODBANK,
    HUB,
    PHARMACY,
    SMALL_DAY_RULE,
    TRAVEL,
    at,
    need,
    volunteer,
)

CENTRE = Site(
    id="cc", name="Centre", kind="community_centre", opens="08:00", closes="18:00", **at(4, 0)
)


def day_of(needs, volunteers, partners=(HUB,), sites=(FOODBANK, PHARMACY)) -> Day:
    return Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=tuple(volunteers),
        partners=tuple(partners),
        sites=tuple(sites),
    )


def scenario(text: str):
    return parse_scenario(text, "test.yaml")


def test_removing_the_only_tamil_speaker_leaves_exactly_that_need_unserved() -> None:
    dbs = {"skills": "dbs_checked"}
    day = day_of(
        [
            need("tamil", 1, 1, kind="befriending_call", language="tamil", language_required=True),
            need("call", 1, 2, kind="befriending_call"),
        ],
        [volunteer("t", 0, 0, languages="tamil", **dbs), volunteer("e", 0, 1, **dbs)],
    )
    base = run_one(day, BASE, 0, TRAVEL, SMALL_DAY_RULE)
    assert base.unserved_ids == ()
    gone = scenario("name: t away\nchanges:\n  - volunteers: {remove: [t]}\n")
    result = run_one(day, gone, 0, TRAVEL, SMALL_DAY_RULE)
    assert result.unserved_ids == ("tamil",)
    assert result.unserved_by_reason == {Reason.no_language.value: 1}
    assert result.volunteers_available == 1


def test_halving_a_partners_capacity_halves_what_it_takes() -> None:
    # Six parcels, room for four at the partner: four served; at half capacity, two.
    hub = Partner(id="hub", name="Hub", services="food_parcel", capacity="food_parcel:4")
    parcels = [need(f"p{i}", 1, i % 3, kind="food_parcel", site="fb", load=1) for i in range(6)]
    day = day_of(parcels, [volunteer("v", 0, 0, transport="car", capacity=8, max_tasks=10)], (hub,))
    base = run_one(day, BASE, 0, TRAVEL, SMALL_DAY_RULE)
    assert base.served == 4
    half = scenario(
        "name: half\nchanges:\n  - capacity: {partner: hub, service: food_parcel, scale: 0.5}\n"
    )
    assert apply(day, half).partner("hub").capacity["food_parcel"] == 2
    result = run_one(day, half, 0, TRAVEL, SMALL_DAY_RULE)
    assert result.served == 2
    assert result.unserved_by_reason == {Reason.partner_capacity.value: 4}


def test_doubling_demand_in_one_ward_shows_up_in_that_ward() -> None:
    # Two visits in central Kingston's ward; one volunteer with room for exactly two tasks.
    dbs = {"skills": "dbs_checked"}
    day = day_of(
        [need("a", 1, 1, kind="welfare_visit"), need("b", 1, 2, kind="welfare_visit")],
        [volunteer("v", 0, 0, max_tasks=2, max_travel=600, **dbs)],
    )
    ward = Areas.default().locate(*at(1, 1).values()).ward_code
    double = scenario(f"name: double\nchanges:\n  - demand: {{ward: {ward}, scale: 2}}\n")
    changed = apply(day, double, seed=3)
    assert len(changed.needs) == 4
    new = [n for n in changed.needs if n.id not in ("a", "b")]
    assert {n.kind.value for n in new} == {"welfare_visit"}
    assert {Areas.default().locate(n.lon, n.lat).ward_code for n in new} == {ward}
    assert apply(day, double, seed=3) == changed  # seeded: the same day again
    outcomes = sweep(day, [(BASE, 0), (double, 3)], TRAVEL, SMALL_DAY_RULE, workers=1)
    assert outcomes[0].unserved_by_ward == {}
    assert outcomes[1].needs == 4 and outcomes[1].served == 2
    assert outcomes[1].unserved_by_ward == {ward: 2}
    rows = {r["scenario"]: r for r in comparison(outcomes)}
    assert rows["double"]["ward_hit_hardest"].startswith(f"{ward} (")
    assert rows["double"]["ward_unserved_more"] == 2
    # By IMD decile: "a" and "b" are in LSOA E01002968 (Kingston upon Thames 009C), decile 6;
    # the two new needs wherever the draw put them. Every decile with a need in either run
    # has its columns in both rows.
    columns = {f"needs_imd{n.imd_decile}" for n in changed.needs}
    assert {k for k in rows["base"] if k.startswith("needs_imd")} == columns
    assert {k: v for k, v in rows["base"].items() if k.startswith("needs_imd") and v} == {
        "needs_imd6": 2
    }
    assert rows["base"]["served_imd6"] == 2
    assert sum(rows["double"][k] for k in columns) == 4
    assert sum(rows["double"][k.replace("needs", "served")] for k in columns) == 2


def test_closing_a_site_moves_its_collections_or_says_why_not() -> None:
    # Food parcels may also be collected at the community centre; prescriptions only at the
    # one pharmacy, so closing it leaves the prescription unserved, site closed. The parcel
    # is next to the food bank: only its closing sends it to the centre, 400 m away.
    dbs = {"skills": "dbs_checked"}
    day = day_of(
        [
            need("food", 0, 1, kind="food_parcel", site="fb"),
            need("rx", 3, 1, kind="prescription", site="ph"),
        ],
        [volunteer("v", 0, 0, **dbs)],
        sites=(FOODBANK, PHARMACY, CENTRE),
    )
    closed = scenario(
        "name: closed\nchanges:\n"
        "  - site: {id: fb, closed: true}\n"
        "  - site: {id: ph, closed: true}\n"
    )
    changed = apply(day, closed)
    assert changed.need("food").site == "cc"
    assert changed.need("rx").site == "ph"
    result = run_one(day, closed, 0, TRAVEL, SMALL_DAY_RULE)
    assert result.unserved_ids == ("rx",)
    assert result.unserved_by_reason == {Reason.site_closed.value: 1}


def test_volunteer_removals_are_seeded_and_count_exactly() -> None:
    vols = [volunteer(f"v{i}", 0, i, skills="driver" if i < 5 else "") for i in range(10)]
    day = day_of([need("a", 1, 1, kind="food_parcel", site="fb")], vols)
    twenty = scenario("name: drivers\nchanges:\n  - volunteers: {skill: driver, scale: 0.8}\n")
    one, again, other = apply(day, twenty, 1), apply(day, twenty, 1), apply(day, twenty, 2)
    assert len(one.volunteers) == 9  # round(5 * 0.2) = 1 driver removed, no one else
    assert {v.id for v in day.volunteers} - {v.id for v in one.volunteers} <= {
        f"v{i}" for i in range(5)
    }
    assert one == again
    assert [apply(day, twenty, s).volunteers for s in range(6)].count(one.volunteers) < 6
    assert other.volunteers  # another seed may remove another driver


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nchanges:\n  - volunteers: {scale: 1.5}\n",
            "test.yaml, change 1 (volunteers), scale",
        ),
        (
            "name: x\nchanges:\n  - volunteers: {}\n  - holiday: {}\n",
            "test.yaml, change 2: unknown change 'holiday'",
        ),
        ("name: x\nchanges:\n  - site: {id: fb, opens: '25:00'}\n", "test.yaml, change 1 (site)"),
        ("name: x\nchanges:\n  - demand: {kind: parcels, add: 3}\n", "change 1 (demand), kind"),
        ("name: [unclosed\n", "test.yaml, line"),
        ("changes: []\n", "test.yaml, name: a scenario needs a name"),
    ],
)
def test_a_bad_scenario_is_named_precisely(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario(text)
    assert expected in str(err.value)


def test_a_change_the_day_cannot_take_is_named() -> None:
    day = day_of([need("a", 1, 1, kind="food_parcel", site="fb")], [volunteer("v", 0, 0)])
    bad = scenario("name: x\nchanges:\n  - site: {id: nowhere, closed: true}\n")
    with pytest.raises(ScenarioError, match=r"test\.yaml, change 1, id: no site 'nowhere'"):
        apply(day, bad)


def test_the_cli_reports_a_bad_file_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nchanges:\n  - volunteers: {scale: -1}\n")
    result = CliRunner().invoke(app, ["scenario", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "bad.yaml, change 1 (volunteers), scale" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def sweep_day() -> Day:
    vols = [volunteer(f"v{i}", 0, i, transport="cycle", skills="dbs_checked") for i in range(4)]
    needs = [need(f"n{i}", i % 4, 1 + i // 4, kind="welfare_visit", duration=60) for i in range(12)]
    return day_of(needs, vols)


HALF = "name: half\nchanges:\n  - volunteers: {scale: 0.5}\n"


def test_in_process_sweep_gives_the_sequential_results() -> None:
    day, half = sweep_day(), scenario(HALF)
    runs = [(BASE, 0), (half, 0), (half, 1), (half, 2)]
    parallel = sweep(day, runs, TRAVEL, SMALL_DAY_RULE, workers=2)
    assert parallel == [run_one(day, s, seed, TRAVEL, SMALL_DAY_RULE) for s, seed in runs]
    assert [o.volunteers_available for o in parallel] == [4, 2, 2, 2]


def live_routing_models() -> int:
    from ortools.constraint_solver import pywrapcp

    gc.collect()
    return sum(isinstance(o, pywrapcp.RoutingModel) for o in gc.get_objects())


def test_a_sweep_workers_plans_leave_no_routing_model_behind() -> None:
    # The routing model holds the search's callbacks; were the search to hold the model, the
    # cycle would run through C++ and every plan would stay in its worker's memory.
    day = sweep_day()
    before = live_routing_models()
    for seed in range(3):
        run_one(day, scenario(HALF), seed, TRAVEL, SMALL_DAY_RULE)
    assert live_routing_models() == before


def seeded_day() -> Day:
    """Four volunteers taking at most 1, 2, 3 and 4 visits, and more visits than all four can
    make: a plan serves exactly the visits its volunteers can take."""
    vols = [
        volunteer(f"v{i}", 0, i, transport="cycle", skills="dbs_checked", max_tasks=i + 1)
        for i in range(4)
    ]
    needs = [need(f"n{i}", i % 4, 1 + i // 4, kind="welfare_visit", duration=60) for i in range(12)]
    return day_of(needs, vols)


def processes_tagged(tag: str) -> list[int]:
    """Processes, other than this one, started with ``tag`` in their environment (Linux)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if tag.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def test_ray_sweep_gives_the_in_process_results(monkeypatch: pytest.MonkeyPatch) -> None:
    # A local Ray cluster started by the sweep and shut down by it: every process it started
    # (its servers, and the workers under them) inherits this tag, and none may outlive it.
    tag = f"KST_MATCH_RAY_TEST={uuid.uuid4().hex}"
    monkeypatch.setenv(*tag.split("="))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    day, half = seeded_day(), scenario(HALF)
    runs = [(BASE, 0), (half, 0), (half, 1), (half, 3)]
    on_ray = sweep(day, runs, TRAVEL, SMALL_DAY_RULE, engine="ray")
    # The base keeps all four (1 + 2 + 3 + 4 visits); seeds 0, 1, 3 keep v1 and v2, v1 and v3,
    # v2 and v3 (2 + 3, 2 + 4, 3 + 4).
    assert [o.served for o in on_ray] == [10, 5, 6, 7]
    assert on_ray == sweep(day, runs, TRAVEL, SMALL_DAY_RULE, workers=1)
    left = processes_tagged(tag)
    for _ in range(60):  # shutting down stops the servers; their workers follow within moments
        if not left:
            break
        time.sleep(0.5)
        left = processes_tagged(tag)
    assert left == [], f"Ray processes left running: {left}"


def test_read_scenario_names_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot be read"):
        read_scenario(tmp_path / "missing.yaml")
    assert dataclasses.is_dataclass(BASE)


def test_the_cli_compares_writes_and_plots(tmp_path: Path) -> None:
    from PIL import Image

    from kst_match.dataset.generate import write_day

    # Two visits, two volunteers: one fewer volunteer (max two tasks each) leaves... none
    # unserved at 50%, since the one left can do both; at a quarter share nobody is left.
    dbs = {"skills": "dbs_checked"}
    day = day_of(
        [
            need("a", 1, 1, kind="welfare_visit", priority="urgent"),
            need("b", 1, 2, kind="welfare_visit"),
        ],
        [volunteer("v1", 0, 0, **dbs), volunteer("v2", 0, 1, **dbs)],
    )
    write_day(day, tmp_path / "day")
    (tmp_path / "half.yaml").write_text("name: half\nchanges:\n  - volunteers: {scale: 0.5}\n")
    out = tmp_path / "out"
    args = ["scenario", str(tmp_path / "half.yaml"), "--data", str(tmp_path / "day")]
    args += ["--iterations", "50", "--seeds", "2", "--out", str(out), "--curve", "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "capacity_curve.png",
        "comparison.csv",
        "comparison.json",
        "unserved_by_ward.png",
    ]
    doc = json.loads((out / "comparison.json").read_text())
    rows = {r["scenario"]: r for r in doc["comparison"]}
    assert rows["base"]["served"] == 2 and rows["half"]["served"] == 2
    assert rows["half"]["volunteers_available"] == 1
    # One volunteer serves both; at 40% of two volunteers (round(2 * 0.6) = 1 removed) too;
    # at 20% none is left (round(1.6) = 2 removed): the urgent visit fails from 20% down.
    curve = {p["level"]: p for p in doc["capacity_curve"]}
    assert curve[1.0]["urgent_served"] == 1 and curve[0.3]["urgent_served"] == 1
    assert curve[0.2]["volunteers"] == 0 and curve[0.2]["urgent_served"] == 0
    assert doc["volunteers_needed"]["volunteers_needed"] == 1
    assert "urgent needs start failing at 20%" in result.output
    for png in ("capacity_curve.png", "unserved_by_ward.png"):
        with Image.open(out / png) as image:
            assert image.format == "PNG" and image.width > 300
    header = (out / "comparison.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["scenario", "seeds", "needs", "served"]


def test_a_scenario_name_is_drawn_as_written_not_read_as_a_formula() -> None:
    from kst_match.outputs.scenarios import render_plots
    from kst_match.scenarios import Outcome

    # Read as mathtext, "$\frac{$" is a formula that does not parse: the drawing would fail.
    name = r"$\frac{$ <script>alert(1)</script> {{ 7*7 }}"
    ran = Outcome(
        scenario=name,
        seed=0,
        needs=3,
        served=1,
        volunteers_available=1,
        volunteers_used=1,
        served_by_priority={},
        served_by_kind={},
        unserved_by_reason={"no_time": 2},
        unserved_by_ward={"E05013941": 2},
        travel_total_min=10.0,
        tasks_mean=1.0,
        tasks_max=1,
    )
    plots = render_plots([ran])
    assert list(plots) == ["unserved_by_ward"]  # no capacity curve without its points
    assert plots["unserved_by_ward"].startswith(b"\x89PNG\r\n\x1a\n")


def test_urgent_needs_nobody_can_serve_do_not_make_the_hub_fail_at_every_level() -> None:
    # 3 urgent needs, one out of every volunteer's reach: 2 served down to 50%, 1 at 30%.
    curve = [
        {"level": 1.0, "urgent_needs": 3, "urgent_served": 2},
        {"level": 0.5, "urgent_needs": 3, "urgent_served": 2},
        {"level": 0.3, "urgent_needs": 3, "urgent_served": 1},
        {"level": 0.2, "urgent_needs": 3, "urgent_served": 0},
    ]
    assert failing_level(curve) == 0.3
    assert failing_level(curve[:2]) is None
    assert failing_level([]) is None


def test_volunteers_needed_when_even_all_leave_an_urgent_need_nobody_can_reach() -> None:
    from kst_match.scenarios import volunteers_needed

    # "early" wants a visit before anyone's shift starts: no number of volunteers serves it.
    # "a" needs one volunteer: of the two, one is enough to serve all that can be served.
    dbs = {"skills": "dbs_checked"}
    day = day_of(
        [
            need(
                "early",
                1,
                1,
                kind="welfare_visit",
                priority="urgent",
                window_start="06:00",
                window_end="07:00",
            ),
            need("a", 1, 2, kind="welfare_visit", priority="urgent"),
        ],
        [volunteer("v1", 0, 0, **dbs), volunteer("v2", 0, 1, **dbs)],
    )
    needed = volunteers_needed(day, TRAVEL, SMALL_DAY_RULE)
    assert needed["enough_today"] is False
    assert needed["unserved_with_all"] == 1
    assert needed["volunteers_needed"] == 1
    assert needed["share"] == 0.5
