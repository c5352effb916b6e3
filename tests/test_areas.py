"""Areas: wards and neighbourhoods of points, from the bundled (derived) 2022 wards."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from kst_match.dataset.kingston import load_postcodes
from kst_match.geo.areas import Areas, Place

# Measured when the 2022 wards were derived: 3,366 of 3,497 postcode centroids (96.25%) fall
# in the polygon of their own 2022 ward. The floor sits just under it.
AGREEMENT_FLOOR = 0.96


@pytest.fixture(scope="module")
def areas() -> Areas:
    return Areas.default()


@pytest.fixture(scope="module")
def postcodes() -> pd.DataFrame:
    return load_postcodes().set_index("postcode")


def test_guildhall_is_in_kingston_town(areas: Areas, postcodes: pd.DataFrame) -> None:
    guildhall = postcodes.loc["KT1 1EU"]  # Kingston Guildhall, High Street
    place = areas.locate(guildhall.lon, guildhall.lat)
    assert place is not None
    assert (place.ward_code, place.ward_name, place.neighbourhood) == (
        "E05013938",
        "Kingston Town",
        "Kingston Town",
    )


@pytest.mark.parametrize(
    ("postcode", "ward_code", "neighbourhood"),
    [
        ("KT3 4TA", "E05013940", "Maldens and Coombe"),  # New Malden Village
        ("KT9 2LB", "E05013931", "South of the Borough"),  # Chessington South & Malden Rushett
        ("KT2 7QB", "E05013932", "Maldens and Coombe"),  # Coombe Hill
        ("KT5 8AX", "E05013929", "Surbiton"),  # Berrylands
        ("KT1 3QP", "E05013941", "Kingston Town"),  # Norbiton
        ("KT9 1AR", "E05013935", "South of the Borough"),  # Hook & Chessington North
        ("KT6 4LJ", "E05013943", "Surbiton"),  # St. Mark's & Seething Wells
    ],
)
def test_known_postcodes_land_in_their_ward(
    areas: Areas, postcodes: pd.DataFrame, postcode: str, ward_code: str, neighbourhood: str
) -> None:
    row = postcodes.loc[postcode]
    assert row.ward_code_2022 == ward_code  # the postcode file's own 2022 ward
    place = areas.locate(row.lon, row.lat)
    assert place is not None
    assert (place.ward_code, place.ward_name, place.neighbourhood) == (
        ward_code,
        row.ward_name_2022,
        neighbourhood,
    )


def test_share_of_postcodes_in_their_own_ward(areas: Areas, postcodes: pd.DataFrame) -> None:
    places = areas.locate_many(postcodes["lon"], postcodes["lat"])
    assert all(p is not None for p in places)  # every postcode is in the borough
    own = np.mean(
        [p.ward_code == w for p, w in zip(places, postcodes["ward_code_2022"], strict=True)]
    )
    assert own >= AGREEMENT_FLOOR


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (-0.1276, 51.5072),  # Trafalgar Square, central London
        (-0.2700, 51.4450),  # Richmond Park, just north of the borough
        (-0.3500, 51.3900),  # Hampton Court side of the Thames (Elmbridge / Richmond)
        (0.0, 0.0),
    ],
)
def test_points_outside_the_borough_are_none(areas: Areas, lon: float, lat: float) -> None:
    assert areas.locate(lon, lat) is None


def test_neighbourhoods_cover_every_ward_once(areas: Areas) -> None:
    assert set(areas.neighbourhoods) == {
        "Kingston Town",
        "Maldens and Coombe",
        "Surbiton",
        "South of the Borough",
    }
    listed = [code for codes in areas.neighbourhoods.values() for code in codes]
    assert len(listed) == len(set(listed)) == 19
    assert set(listed) == set(areas.wards)
    assert areas.wards["E05013936"] == "King George's & Sunray"
    assert "E05013936" in areas.neighbourhoods["South of the Borough"]


def test_ward_geometries_are_the_19_derived_wards(areas: Areas) -> None:
    wards = areas.ward_geometries
    assert list(wards.index) == sorted(areas.wards)
    assert wards.crs.to_epsg() == 4326
    assert wards.geometry.is_valid.all()
    # The derived wards tile the borough: their area is within 0.5% of the outline's.
    area = wards.to_crs(27700).area.sum()
    union = shapely.union_all(wards.geometry.values)
    assert abs(shapely.area(union) / shapely.area(areas.borough) - 1) < 0.005
    assert 36.5e6 < area < 38.0e6  # m²; the borough is about 37.25 km²


def test_gap_between_wards_goes_to_nearest_and_overhang_is_outside(areas: Areas) -> None:
    union = shapely.union_all(areas.ward_geometries.geometry.values)
    gaps = areas.borough.difference(union)
    gap = max(getattr(gaps, "geoms", [gaps]), key=lambda g: g.area).representative_point()
    place = areas.locate(gap.x, gap.y)
    assert place is not None
    wards = areas.ward_geometries
    nearest = wards.index[np.argmin(shapely.distance(wards.geometry.values, gap))]
    assert place.ward_code == nearest
    over = union.difference(areas.borough)
    overhang = max(getattr(over, "geoms", [over]), key=lambda g: g.area).representative_point()
    assert areas.locate(overhang.x, overhang.y) is None  # the outline decides


def test_locate_many_matches_locate_on_random_points(areas: Areas) -> None:
    rng = np.random.default_rng(7)
    lons = rng.uniform(-0.34, -0.23, 300)
    lats = rng.uniform(51.32, 51.44, 300)
    many = areas.locate_many(lons, lats)
    assert many == [areas.locate(x, y) for x, y in zip(lons, lats, strict=True)]
    assert any(p is None for p in many) and any(p is not None for p in many)


def test_locate_many_handles_ten_thousand_points(areas: Areas) -> None:
    rng = np.random.default_rng(1)
    lons = rng.uniform(-0.34, -0.23, 10_000)
    lats = rng.uniform(51.32, 51.44, 10_000)
    places = areas.locate_many(lons, lats)
    inside = areas.contains(lons, lats)
    assert len(places) == 10_000
    assert [p is not None for p in places] == inside.tolist()


# --- a small hand-made map: two square wards in a borough that is a little larger ----------
@pytest.fixture()
def toy() -> Areas:
    wards = pd.DataFrame(
        {"ward_code": ["W2", "W1"], "geometry": [box(1, 0, 2, 1), box(0, 0, 1, 1)]}
    )
    table = pd.DataFrame(
        {"ward_code": ["W1", "W2"], "ward_name": ["West", "East"], "neighbourhood": ["A", "B"]}
    )
    borough = Polygon([(0, 0), (2.5, 0), (2.5, 1), (0, 1)])
    return Areas(gpd.GeoDataFrame(wards, geometry="geometry"), borough, table)


def test_toy_locate(toy: Areas) -> None:
    west, east = Place("W1", "West", "A"), Place("W2", "East", "B")
    assert toy.locate(0.5, 0.5) == west
    assert toy.locate(1.5, 0.5) == east
    assert toy.locate(2.2, 0.5) == east  # in the outline, in no ward: the nearest ward
    assert toy.locate(1.0, 0.5) == west  # on the shared edge: the lower ward code
    assert toy.locate(3.0, 0.5) is None
    assert toy.locate(0.5, 1.5) is None
    assert toy.locate_many([], []) == []
    assert toy.wards == {"W1": "West", "W2": "East"}
    assert toy.neighbourhoods == {"A": ["W1"], "B": ["W2"]}
    assert toy.place("W2") == east


def test_toy_rejects_ward_without_neighbourhood() -> None:
    wards = gpd.GeoDataFrame({"ward_code": ["W1"], "geometry": [box(0, 0, 1, 1)]})
    table = pd.DataFrame({"ward_code": ["W9"], "ward_name": ["X"], "neighbourhood": ["A"]})
    with pytest.raises(ValueError, match="W1"):
        Areas(wards, box(0, 0, 1, 1), table)


def test_mismatched_lengths_raise(toy: Areas) -> None:
    with pytest.raises(ValueError, match="same length"):
        toy.locate_many([0.5, 0.6], [0.5])
