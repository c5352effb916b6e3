"""The bundled Kingston dataset, the derived 2022 wards and the day generator."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.dataset import generate
from kst_match.dataset.derive import (
    assign_output_areas,
    derive_wards_2022,
    write_wards,
)
from kst_match.dataset.generate import (
    DEFAULT_DATE,
    KIND_SHARES,
    SHIFTS,
    STREETS,
    SURNAMES,
    TRANSPORT_CAPACITY,
    exact_counts,
    generate_day,
    write_day,
)
from kst_match.dataset.kingston import load_partners, load_postcodes, load_sites
from kst_match.geo.areas import Areas
from kst_match.model import (
    KIND_SKILLS,
    Day,
    Need,
    Priority,
    ServiceKind,
    SiteKind,
    Skill,
    Transport,
    Volunteer,
)
from kst_match.paths import DEFAULT_DAY_DIR, GEO_DIR

TASK_FORCE = {
    "Achieving for Children",
    "Kingston Council",
    "Citizens Advice Kingston",
    "Community Brain",
    "Creative Youth",
    "Groundwork",
    "Healthwatch Kingston",
    "Kingston Charitable Foundation",
    "Kingston Churches Against Homelessness",
    "Kingston Environment Forum",
    "Kingston Foodbank",
    "Kingston Institute of Tamil Culture",
    "Kingston Race and Equalities Council",
    "Kingston Voluntary Action",
    "Korean British Cultural Exchange",
    "SW London CCG",
}
SITE_KINDS = {
    ServiceKind.food_parcel: {SiteKind.food_bank, SiteKind.community_centre},
    ServiceKind.prescription: {SiteKind.pharmacy},
    ServiceKind.shopping: {SiteKind.supermarket},
}


@pytest.fixture(scope="module")
def day() -> Day:
    return generate_day()


@pytest.fixture(scope="module")
def areas() -> Areas:
    return Areas.default()


def _can_serve(day: Day, need: Need, vol: Volunteer) -> bool:
    """Static eligibility, written independently of the generator's own helper."""
    partners = {p.id: p for p in day.partners}
    offered = any(
        need.kind in partners[pid].services and partners[pid].covers(need.ward)
        for pid in vol.partners
        if pid in partners
    )
    return (
        offered
        and need.required_skills <= vol.skills
        and (not need.language_required or vol.speaks(need.language))
        and vol.shift_start < need.window_end
        and need.window_start < vol.shift_end
        and vol.capacity >= need.load
    )


# --- bundled files ------------------------------------------------------------------------------
def test_postcodes_are_the_3497_kingston_centroids() -> None:
    pc = load_postcodes()
    assert len(pc) == 3497
    assert pc["postcode"].is_unique
    assert pc["ward_code_2022"].nunique() == 19
    assert (pc["lad_code"] == "E09000021").all()


def test_partners_are_the_task_force_and_the_hub() -> None:
    partners = load_partners()
    assert {p.name for p in partners} == TASK_FORCE | {"Kingston Council hub team"}
    assert len({p.id for p in partners}) == 17
    by_id = {p.id: p for p in partners}
    assert by_id["council_hub"].services == frozenset(ServiceKind)
    assert by_id["kingston_foodbank"].services == {ServiceKind.food_parcel}
    assert by_id["citizens_advice_kingston"].services == {ServiceKind.benefits_advice}
    wards = set(Areas.default().wards)
    sites = {s.id for s in load_sites()}
    for p in partners:
        assert p.wards <= wards, p.id
        assert p.sites <= sites, p.id
        assert set(p.capacity) == set(p.services), p.id  # every service has a stated capacity
    # Every kind offered somewhere across the whole borough, with capacity above the default
    # day's demand.
    for kind, share in KIND_SHARES.items():
        total = sum(p.capacity.get(kind, 0) for p in partners)
        assert total >= share * 400, kind


def test_sites_sit_at_their_postcode_centroid() -> None:
    pc = load_postcodes().set_index("postcode")
    sites = load_sites()
    assert len({s.id for s in sites}) == len(sites)
    assert {s.kind for s in sites} == set(SiteKind)
    for s in sites:
        assert s.postcode in pc.index, s.id
        assert (s.lon, s.lat) == (pc.at[s.postcode, "lon"], pc.at[s.postcode, "lat"]), s.id
    real = {s.id for s in sites if not s.address_assumed}
    assert real == {"kfb_malden_centre"}  # the only address known with confidence


# --- derived 2022 wards -------------------------------------------------------------------------
def test_assign_output_areas_by_majority_tie_and_nearest() -> None:
    oa = gpd.GeoDataFrame(
        {"OA11CD": ["A", "B", "C"]},
        geometry=[
            box(0, 0, 0.001, 0.001),
            box(0.001, 0, 0.002, 0.001),
            box(0.002, 0, 0.003, 0.001),
        ],
        crs="EPSG:4326",
    )
    pts = [
        (0.0002, 0.0005, "W1"),  # A: W1 twice, W2 once -> W1
        (0.0004, 0.0005, "W1"),
        (0.0006, 0.0005, "W2"),
        (0.0011, 0.0005, "W2"),  # B: one each -> the one nearer B's middle: W3
        (0.0015, 0.0005, "W3"),
    ]  # C: no postcode -> the nearest postcode, which is W3's
    frame = pd.DataFrame(pts, columns=["lon", "lat", "ward_code_2022"])
    postcodes = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs="EPSG:4326"
    )
    assert assign_output_areas(oa, postcodes).to_dict() == {"A": "W1", "B": "W3", "C": "W3"}


def test_committed_wards_match_the_derivation(tmp_path: Path) -> None:
    wards = derive_wards_2022()
    assert len(wards) == 19 and wards["derived"].all()
    assert wards.is_valid.all()
    write_wards(wards, tmp_path / "w.geojson")
    fresh = gpd.read_file(tmp_path / "w.geojson")
    committed = gpd.read_file(GEO_DIR / "wards_2022.geojson")
    columns = ["ward_code", "ward_name", "neighbourhood", "derived"]
    assert fresh[columns].equals(committed[columns])
    # Same shapes (compared by area, so that another GEOS build's vertex order cannot matter).
    differ = fresh.geometry.symmetric_difference(committed.geometry, align=False)
    assert (differ.to_crs(27700).area < 1.0).all()  # m²


# --- the generator ------------------------------------------------------------------------------
def test_exact_counts() -> None:
    assert exact_counts([0.5, 0.3, 0.2], 10).tolist() == [5, 3, 2]
    assert exact_counts([1, 1, 1], 4).tolist() == [2, 1, 1]
    assert exact_counts([0.35, 0.65], 0).tolist() == [0, 0]


def test_same_seed_same_bytes_other_seed_other_files(tmp_path: Path) -> None:
    write_day(generate_day(seed=5), tmp_path / "a")
    write_day(generate_day(seed=5), tmp_path / "b")
    write_day(generate_day(seed=6), tmp_path / "c")
    for name in ("needs.csv", "volunteers.csv", "partners.csv", "sites.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for name in ("needs.csv", "volunteers.csv"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_bundled_default_day_is_the_seed_0_day(tmp_path: Path) -> None:
    write_day(generate_day(), tmp_path)
    for name in ("needs.csv", "volunteers.csv", "partners.csv", "sites.csv"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_DAY_DIR / name).read_bytes(), name


def test_every_row_validates_from_csv() -> None:
    with (DEFAULT_DAY_DIR / "needs.csv").open(newline="") as f:
        needs = [Need.model_validate(row) for row in csv.DictReader(f)]
    with (DEFAULT_DAY_DIR / "volunteers.csv").open(newline="") as f:
        volunteers = [Volunteer.model_validate(row) for row in csv.DictReader(f)]
    assert len(needs) == 400 and len(volunteers) == 150
    assert {n.date for n in needs} == {DEFAULT_DATE}


def test_mix_matches_the_stated_shares(day: Day) -> None:
    kinds = Counter(n.kind for n in day.needs)
    for kind, share in KIND_SHARES.items():
        assert abs(kinds[kind] - share * 400) <= 1, kind
    prio = Counter(n.priority for n in day.needs)
    assert abs(prio[Priority.urgent] / 400 - 0.10) < 0.04
    assert abs(prio[Priority.high] / 400 - 0.30) < 0.06
    residents = Counter(n.resident for n in day.needs)
    assert set(residents.values()) == {1, 2}
    assert 0.05 < sum(v == 2 for v in residents.values()) / len(residents) < 0.15
    first = {}
    for n in day.needs:
        first.setdefault(n.resident, n)
    speaking = [n for n in first.values() if n.language]
    assert abs(len(speaking) / len(first) - 0.08) < 0.01
    top = Counter(n.language for n in speaking).most_common(2)
    assert {lang for lang, _ in top} == {"tamil", "korean"}
    assert any(n.language_required for n in day.needs)
    continuity = {n.resident for n in day.needs if n.previous_volunteer}
    assert 0.10 < len(continuity) / len(first) <= 0.15


def test_needs_are_well_formed(day: Day, areas: Areas) -> None:
    sites = {s.id: s for s in day.sites}
    volunteers = {v.id for v in day.volunteers}
    for n in day.needs:
        assert 8 * 60 <= n.window_start < n.window_end <= 20 * 60
        assert n.window_end - n.window_start in (120, 180, 240)
        if n.priority is Priority.urgent:
            assert n.window_end - n.window_start == 120
        if n.kind.is_delivery:
            site = sites[n.site]
            assert site.kind in SITE_KINDS[n.kind]
            assert n.window_start >= site.opens
            assert 1 <= n.load <= 3
        else:
            assert n.site is None and n.load == 0
        assert n.previous_volunteer is None or n.previous_volunteer in volunteers
        if n.language_required:
            assert n.language and not n.kind.is_delivery
    food_load = Counter(n.load for n in day.needs if n.kind is ServiceKind.food_parcel)
    assert set(food_load) == {1, 2, 3}


def test_residents_are_inside_and_distinct(day: Day, areas: Areas) -> None:
    needs = day.needs
    places = areas.locate_many([n.lon for n in needs], [n.lat for n in needs])
    assert all(p is not None for p in places)
    assert [p.ward_code for p in places] == [n.ward for n in needs]
    by_resident: dict[str, set[tuple[float, float, str]]] = {}
    for n in needs:
        by_resident.setdefault(n.resident, set()).add((n.lon, n.lat, n.postcode))
    assert all(len(v) == 1 for v in by_resident.values())  # one home per resident
    homes = [next(iter(v))[:2] for v in by_resident.values()]
    assert len(set(homes)) == len(homes)  # two residents never share a point
    pc = load_postcodes().set_index("postcode")
    for lon, lat, postcode in (next(iter(v)) for v in by_resident.values()):
        d_m = np.hypot(
            (lon - pc.at[postcode, "lon"]) * 111_195 * np.cos(np.radians(lat)),
            (lat - pc.at[postcode, "lat"]) * 111_195,
        )
        assert d_m < 13  # at the centroid, or jittered by at most 12 m


def test_volunteers_are_well_formed(day: Day, areas: Areas) -> None:
    vols = day.volunteers
    assert all(
        p is not None for p in areas.locate_many([v.lon for v in vols], [v.lat for v in vols])
    )
    shifts = set(SHIFTS[0])
    partners = Counter(v.partner for v in vols)
    assert partners.most_common(2) == [("council_hub", 30), ("kingston_foodbank", 22)]
    for v in vols:
        assert v.capacity == TRANSPORT_CAPACITY[v.transport]
        assert (v.transport is Transport.car) == (Skill.driver in v.skills)
        assert (v.shift_start, v.shift_end) in shifts
        assert 6 <= v.max_tasks <= 12 and 60 <= v.max_travel <= 180
    dbs = sum(Skill.dbs_checked in v.skills for v in vols) / len(vols)
    drivers = sum(Skill.driver in v.skills for v in vols) / len(vols)
    assert 0.5 < dbs < 0.7 and 0.25 < drivers < 0.45
    assert {"tamil", "korean"} <= {lang for v in vols for lang in v.languages}
    kbce = [v for v in vols if v.partner == "kbce"]
    assert kbce and all("korean" in v.languages for v in kbce)


def test_nearly_every_need_has_someone_who_could_serve_it(day: Day) -> None:
    servable = [any(_can_serve(day, n, v) for v in day.volunteers) for n in day.needs]
    assert sum(servable) / len(servable) >= 0.99
    for kind in ServiceKind:  # and never trivially: each kind has needs few can serve
        counts = [
            sum(_can_serve(day, n, v) for v in day.volunteers) for n in day.needs if n.kind is kind
        ]
        assert min(counts) < len(day.volunteers) / 2, kind
    assert all(
        KIND_SKILLS[n.kind] <= n.required_skills for n in day.needs
    )  # kind skills always apply


def test_continuity_points_to_someone_who_could_serve(day: Day) -> None:
    vols = {v.id: v for v in day.volunteers}
    first: dict[str, Need] = {}
    for n in day.needs:
        first.setdefault(n.resident, n)
    for n in first.values():
        if n.previous_volunteer:
            assert _can_serve(day, n, vols[n.previous_volunteer]), n.id


def test_scale_day_of_4000_needs() -> None:
    big = generate_day(needs=4000, volunteers=1500, seed=2)
    assert len(big.needs) == 4000 and len(big.volunteers) == 1500
    assert len({n.id for n in big.needs}) == 4000
    assert len({v.id for v in big.volunteers}) == 1500
    base = {p.id: p for p in load_partners()}
    for p in big.partners:
        assert p.capacity == {k: c * 10 for k, c in base[p.id].capacity.items()}
    kinds = Counter(n.kind for n in big.needs)
    assert kinds[ServiceKind.food_parcel] == 1400
    areas = Areas.default()
    assert all(
        p is not None
        for p in areas.locate_many([n.lon for n in big.needs], [n.lat for n in big.needs])
    )


def test_volunteers_do_not_depend_on_the_number_of_needs() -> None:
    a = generate_day(needs=50, volunteers=20, seed=3)
    b = generate_day(needs=80, volunteers=20, seed=3)
    assert a.volunteers == b.volunteers


def test_cli_generate(tmp_path: Path) -> None:
    out = tmp_path / "day"
    result = CliRunner().invoke(
        app,
        ["data", "generate", "--needs", "40", "--volunteers", "15", "--seed", "3",
         "--date", "2026-12-01", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with (out / "needs.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40 and {r["date"] for r in rows} == {"2026-12-01"}
    assert (out / "volunteers.csv").read_text().count("\n") == 16


def test_contact_details_are_fictitious_on_their_face(day: Day) -> None:
    drama = {f"07700 {n}" for n in range(900000, 901000)}  # Ofcom's numbers for drama
    residents = {n.resident: n for n in day.needs}
    people = [*residents.values(), *day.volunteers]
    assert all(p.phone in drama for p in people)
    assert len({p.phone for p in people}) == len(people)  # 150 + under 800 residents
    assert all(p.name.split()[-1] in SURNAMES for p in people)
    for need in day.needs:
        number, *street, road = need.address.split()
        assert 1 <= int(number) <= 150 and " ".join(street) in STREETS and road == "Road"
        assert residents[need.resident].phone == need.phone  # one resident, one number
    postcodes = set(load_postcodes()["postcode"])
    assert all(v.postcode in postcodes for v in day.volunteers)


def test_contact_details_change_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    with_contacts = generate_day(needs=60, volunteers=20, seed=5)
    monkeypatch.setattr(generate, "_volunteer_contacts", lambda rng, volunteers: list(volunteers))
    monkeypatch.setattr(generate, "_resident_contacts", lambda rng, needs: list(needs))
    without = generate_day(needs=60, volunteers=20, seed=5)
    assert all(n.phone == "" for n in without.needs)
    blank_need = {"name": "", "address": "", "phone": ""}
    assert [n.model_copy(update=blank_need) for n in with_contacts.needs] == list(without.needs)
    blank_volunteer = {"name": "", "phone": ""}
    assert [v.model_copy(update=blank_volunteer) for v in with_contacts.volunteers] == list(
        without.volunteers
    )
