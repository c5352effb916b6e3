"""Deprivation: every postcode's LSOA and deciles, where generated residents live, service by
decile in the KPIs, and the equity option on a hand-made day."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import spearmanr

from kst_match.check import Code, check_plan
from kst_match.dataset.generate import generate_day
from kst_match.geo.areas import Areas
from kst_match.inputs import read_day
from kst_match.model import Day, Plan
from kst_match.outputs import write_outputs
from kst_match.paths import DEFAULT_DAY_DIR, DEPRIVATION_FILE, GEO_DIR
from kst_match.plan import make_plan
from kst_match.scenarios import Scenario, VolunteersChange, apply
from kst_match.solve.stop import MaxIterations
from tests.test_plan import DATE, FOODBANK, HUB, PHARMACY, SMALL_DAY_RULE, TRAVEL, need, volunteer

# The index and its seven domains.
DOMAINS = ("imd", "income", "employment", "education", "health", "crime", "housing_services")
DECILES = [f"{d}_decile" for d in (*DOMAINS, "living_environment")]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """The deprivation table as bundled, by LSOA code."""
    return pd.read_csv(DEPRIVATION_FILE).set_index("lsoa11cd")


@pytest.fixture(scope="module")
def lsoas() -> gpd.GeoDataFrame:
    """The bundled LSOA polygons, read here without kst_match."""
    return gpd.read_file(GEO_DIR / "lsoa_2011.geojson")[["LSOA11CD", "geometry"]]


def lsoa_of(points: list[tuple[float, float]], lsoas: gpd.GeoDataFrame) -> list[str]:
    """Each point's LSOA by a plain point-in-polygon test; a point in a gap between the
    (generalised) polygons, a few metres wide, takes the nearest."""
    tree = shapely.STRtree(lsoas.geometry.values)
    shapes = shapely.points(np.array(points))
    hit_point, hit_poly = tree.query(shapes, predicate="intersects")
    found: dict[int, int] = {}
    for p, g in zip(hit_point, hit_poly, strict=True):
        found.setdefault(int(p), int(g))
    for i in set(range(len(points))) - set(found):
        found[i] = int(tree.query_nearest(shapes[i])[0])
    return [lsoas["LSOA11CD"].iloc[found[i]] for i in range(len(points))]


def test_every_bundled_postcode_has_an_lsoa_and_deciles(table: pd.DataFrame) -> None:
    postcodes = pd.read_csv(GEO_DIR / "postcodes.csv")
    assert len(postcodes) == 3497
    places = Areas.default().locate_many(postcodes["lon"], postcodes["lat"])
    assert all(p is not None and p.lsoa is not None for p in places)
    codes = [p.lsoa for p in places]  # type: ignore[union-attr]
    assert set(codes) <= set(table.index) and len(table) == 98
    # The decile each postcode gets is its LSOA's, and the LSOA has all seven domains' too.
    assert [p.imd_decile for p in places] == table.loc[codes, "imd_decile"].tolist()  # type: ignore[union-attr]
    deciles = table.loc[codes, DECILES].to_numpy()
    assert ((deciles >= 1) & (deciles <= 10)).all()


def test_generated_needs_follow_the_older_population(
    table: pd.DataFrame, lsoas: gpd.GeoDataFrame
) -> None:
    """On a x10 day, needs per LSOA rank with the LSOA's residents aged 60 and over."""
    day = generate_day(needs=4000, volunteers=1500, seed=0)
    counts = Counter(lsoa_of([(n.lon, n.lat) for n in day.needs], lsoas))
    per_lsoa = [counts.get(code, 0) for code in table.index]
    rho = spearmanr(per_lsoa, table["aged_60_plus_2015"]).statistic
    assert rho >= 0.5, rho


@pytest.fixture(scope="module")
def short_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Day, Plan, Path]:
    """The bundled day with 40% of its volunteers (many needs unserved), planned, and its
    plan.json as written."""
    day, issues = read_day(DEFAULT_DAY_DIR)
    assert issues == []
    short = apply(day, Scenario(name="40%", changes=(VolunteersChange(scale=0.4),)), seed=0)
    plan = make_plan(short, TRAVEL, MaxIterations(5))
    out = tmp_path_factory.mktemp("equity") / "out"
    return short, plan, write_outputs(short, plan, out, tiles=False)["plan"]


def test_kpis_by_decile_add_up_and_match_a_recount_from_plan_json(
    short_day: tuple[Day, Plan, Path], table: pd.DataFrame, lsoas: gpd.GeoDataFrame
) -> None:
    day, plan, plan_json = short_day
    written = json.loads(plan_json.read_text())
    kpis, equity = written["kpis"], written["kpis"]["equity"]
    # Recount: each need's LSOA found here, its decile from the CSV; served and unserved from
    # plan.json's assignments and unserved list.
    served = {a["need"] for a in written["assignments"]}
    reason = {u["need"]: u["reason"] for u in written["unserved"]}
    assert len(served) + len(reason) == len(day.needs) == kpis["needs"]
    where = lsoa_of([(n.lon, n.lat) for n in day.needs], lsoas)
    decile = {n.id: int(table.at[c, "imd_decile"]) for n, c in zip(day.needs, where, strict=True)}
    urgent = {n.id for n in day.needs if n.priority == "urgent"}
    for name, group_of, groups in (
        ("by_imd_decile", lambda d: d, range(1, 11)),
        ("by_imd_quintile", lambda d: math.ceil(d / 2), range(1, 6)),
    ):
        rows = equity[name]
        assert list(rows) == [str(g) for g in groups]
        for g in groups:
            mine = [n for n in decile if group_of(decile[n]) == g]
            row = rows[str(g)]
            assert row["needs"] == len(mine)
            assert row["served"] == sum(1 for n in mine if n in served)
            assert row["unserved"] == sum(1 for n in mine if n in reason)
            assert row["urgent"] == sum(1 for n in mine if n in urgent)
            assert row["urgent_served"] == sum(1 for n in mine if n in urgent & served)
            for r in set(reason.values()):
                assert row[r] == sum(1 for n in mine if reason.get(n) == r)
        # They add up to the totals.
        for cell, total in (("needs", kpis["needs"]), ("served", kpis["served"])):
            assert sum(row[cell] for row in rows.values()) == total
        assert sum(row["unserved"] for row in rows.values()) == kpis["unserved"]
        assert (
            sum(row["urgent_served"] for row in rows.values())
            == (kpis["served_by_priority"]["urgent"]["served"])
        )
        for r, count in kpis["unserved_by_reason"].items():
            assert sum(row[r] for row in rows.values()) == count
    by_ward = equity["by_ward"]
    assert sum(row["needs"] for row in by_ward.values()) == kpis["needs"]
    assert sum(row["served"] for row in by_ward.values()) == kpis["served"]
    # The recount means something only with many needs unserved, in several quintiles.
    assert (
        kpis["unserved"] >= 40
        and sum(1 for r in equity["by_imd_quintile"].values() if r["unserved"]) >= 3
    )
    # The validator recounts them too: a figure moved from one decile to another is caught.
    assert check_plan(day, plan, TRAVEL) == []
    wrong = plan.model_copy(deep=True)
    rows = wrong.kpis["equity"]["by_imd_decile"]  # type: ignore[index]
    rows["9"]["served"] += 1
    rows["6"]["served"] -= 1
    found = [v for v in check_plan(day, wrong, TRAVEL) if v.code == Code.kpi_mismatch]
    assert {v.message.split(" is ")[0] for v in found} >= {
        "KPI equity.by_imd_decile.9.served",
        "KPI equity.by_imd_decile.6.served",
    }


def one_place_day(*needs) -> Day:
    """One DBS-checked walker with room for one task, at the origin."""
    walker = volunteer("v", 0, 0, skills="dbs_checked", max_tasks=1)
    return Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=(walker,),
        partners=(HUB,),
        sites=(FOODBANK, PHARMACY),
    )


def test_equity_serves_the_more_deprived_need_but_never_before_an_urgent_one() -> None:
    # Two welfare visits 300 m east and 300 m west of the volunteer: the same travel there and
    # back. The deciles are set as geography would set them from an LSOA in decile 9 (east)
    # and one in decile 2 (west). Only one can be served.
    visit = {"kind": "welfare_visit", "duration": 30}
    affluent = need("a", 3, 0, imd_decile=9, **visit)
    deprived = need("b", -3, 0, imd_decile=2, **visit)
    points = np.array([[p.lon, p.lat] for p in (volunteer("v", 0, 0), affluent, deprived)])
    seconds = TRAVEL.matrix(points, "walk").seconds
    assert seconds[0, 1] == seconds[0, 2] and seconds[1, 0] == seconds[2, 0]

    day = one_place_day(affluent, deprived)
    plan = make_plan(day, TRAVEL, SMALL_DAY_RULE, equity=True)
    assert check_plan(day, plan, TRAVEL) == []
    assert [a.need for a in plan.assignments] == ["b"]
    assert plan.kpis["equity"]["by_imd_decile"]["2"]["served"] == 1  # type: ignore[index]

    # An urgent need in the least deprived decile still comes first.
    urgent = need("c", 3, 0, imd_decile=10, priority="urgent", resident="r-c", **visit)
    day = one_place_day(affluent, deprived, urgent)
    plan = make_plan(day, TRAVEL, SMALL_DAY_RULE, equity=True)
    assert check_plan(day, plan, TRAVEL) == []
    assert [a.need for a in plan.assignments] == ["c"]
