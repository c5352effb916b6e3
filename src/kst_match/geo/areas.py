"""Where a point is: its 2022 ward, the council's neighbourhood, and its LSOA with the LSOA's
deprivation deciles, from the bundled boundaries.

The 19 ward polygons of May 2022 are derived from 2011 output areas and postcodes
(``data/geo/wards_2022.geojson``, see ``kst_match.dataset.derive``); the four neighbourhoods are
groups of those wards (``data/geo/neighbourhoods.csv``). The 98 LSOAs of 2011
(``data/geo/lsoa_2011.geojson``) carry the English Indices of Deprivation 2019 and the mid-2015
population by age (``data/deprivation/imd2019_lsoa.csv``). A point is in the borough when it is
inside the borough outline (``data/geo/borough.geojson``). Coordinates are WGS84 lon/lat degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from kst_match.paths import DEPRIVATION_FILE, GEO_DIR

WARDS_FILE = "wards_2022.geojson"
BOROUGH_FILE = "borough.geojson"
NEIGHBOURHOODS_FILE = "neighbourhoods.csv"
LSOA_FILE = "lsoa_2011.geojson"


@dataclass(frozen=True)
class Place:
    """A point's 2022 ward and neighbourhood, and its LSOA (2011) with the LSOA's Index of
    Multiple Deprivation 2019 decile (1: the most deprived tenth of England's LSOAs), when the
    areas know the LSOAs."""

    ward_code: str
    ward_name: str
    neighbourhood: str
    lsoa: str | None = None
    imd_decile: int | None = None

    def need_fields(self) -> dict[str, object]:
        """The fields geography fills on a need placed here (``model.Need``)."""
        return {"ward": self.ward_code, "lsoa": self.lsoa, "imd_decile": self.imd_decile}


def imd_quintile(decile: int) -> int:
    """The IMD quintile (1: the most deprived fifth of England) of a decile."""
    return (decile + 1) // 2


class Areas:
    """Point-in-polygon lookup of wards, neighbourhoods and (when loaded) LSOAs with their
    IMD 2019 decile, inside the borough outline."""

    def __init__(
        self,
        wards: gpd.GeoDataFrame,
        borough: BaseGeometry,
        neighbourhoods: pd.DataFrame,
        lsoas: gpd.GeoDataFrame | None = None,
    ) -> None:
        """``wards`` has ward_code and geometry; ``neighbourhoods`` has ward_code, ward_name
        and neighbourhood (one row per ward); ``lsoas`` (optional) has lsoa11cd, imd_decile
        and geometry, with any other columns of the deprivation table."""
        table = neighbourhoods.set_index("ward_code")
        wards = wards.sort_values("ward_code").reset_index(drop=True)
        unknown = sorted(set(wards["ward_code"]) - set(table.index))
        if unknown:
            raise ValueError(f"ward(s) {', '.join(unknown)} belong to no neighbourhood")
        self._places: list[Place] = [
            Place(code, str(table.at[code, "ward_name"]), str(table.at[code, "neighbourhood"]))
            for code in wards["ward_code"]
        ]
        self._by_code = {p.ward_code: p for p in self._places}
        self._geoms = np.asarray(wards.geometry.values, dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        self.borough: BaseGeometry = borough
        shapely.prepare(self.borough)
        self.wards: dict[str, str] = {p.ward_code: p.ward_name for p in self._places}
        self.neighbourhoods: dict[str, list[str]] = {}
        for place in self._places:
            self.neighbourhoods.setdefault(place.neighbourhood, []).append(place.ward_code)
        # Indexed by ward code, so that its __geo_interface__ features carry the code as id.
        self.ward_geometries: gpd.GeoDataFrame = gpd.GeoDataFrame(
            {
                "ward_name": [p.ward_name for p in self._places],
                "neighbourhood": [p.neighbourhood for p in self._places],
            },
            geometry=list(self._geoms),
            index=pd.Index([p.ward_code for p in self._places], name="ward_code"),
            crs="EPSG:4326",
        )
        # The LSOAs with their deprivation, indexed by LSOA code (empty without them).
        self.lsoa_geometries: gpd.GeoDataFrame = gpd.GeoDataFrame(
            {"imd_decile": pd.Series(dtype=int)}, geometry=[], crs="EPSG:4326"
        )
        self._lsoa_tree: shapely.STRtree | None = None
        if lsoas is not None:
            frame = lsoas.sort_values("lsoa11cd").set_index("lsoa11cd")
            self.lsoa_geometries = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
            self._lsoa_codes = list(frame.index)
            self._lsoa_deciles = [int(d) for d in frame["imd_decile"]]
            self._lsoa_tree = shapely.STRtree(np.asarray(frame.geometry.values, dtype=object))

    @classmethod
    def from_dir(cls, geo_dir: Path, deprivation: Path | None = None) -> Areas:
        """Load the derived 2022 wards, the borough outline and the neighbourhood table, and,
        when ``deprivation`` (the IMD table by LSOA) is given and exists, the LSOAs."""
        wards = gpd.read_file(geo_dir / WARDS_FILE)[["ward_code", "geometry"]]
        borough = shapely.union_all(gpd.read_file(geo_dir / BOROUGH_FILE).geometry.values)
        neighbourhoods = pd.read_csv(geo_dir / NEIGHBOURHOODS_FILE, dtype=str)
        lsoas = None
        if deprivation is not None and deprivation.is_file():
            lsoas = load_lsoas(geo_dir / LSOA_FILE, deprivation)
        return cls(wards, borough, neighbourhoods, lsoas)

    @classmethod
    def default(cls) -> Areas:
        """The bundled Kingston areas (loaded once per process)."""
        return _default_areas()

    def place(self, ward_code: str) -> Place:
        """The ``Place`` of a 2022 ward code (``KeyError`` if unknown)."""
        return self._by_code[ward_code]

    def contains(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Whether each point is inside the borough outline (a boolean array)."""
        return shapely.contains_xy(
            self.borough, np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        )

    def locate(self, lon: float, lat: float) -> Place | None:
        """The ward and neighbourhood of one point; ``None`` outside the borough."""
        return self.locate_many([lon], [lat])[0]

    def locate_many(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> list[Place | None]:
        """The ``Place`` of each point (vectorised); ``None`` for points outside the borough.

        A point inside the outline but in a gap between the (generalised) ward polygons goes
        to the nearest ward. A point on the edge of two wards goes to the lower ward code. The
        LSOA is found the same way against the LSOA polygons.
        """
        codes = self.ward_index(lons, lats)
        if self._lsoa_tree is None:
            return [None if i < 0 else self._places[i] for i in codes]
        lsoas = self.lsoa_index(lons, lats)
        return [
            None
            if i < 0
            else replace(
                self._places[i],
                lsoa=self._lsoa_codes[j] if j >= 0 else None,
                imd_decile=self._lsoa_deciles[j] if j >= 0 else None,
            )
            for i, j in zip(codes, lsoas, strict=True)
        ]

    def lsoa_index(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Index (into ``self.lsoa_geometries``) of each point's LSOA; -1 outside the borough
        or without LSOAs."""
        x = np.asarray(lons, dtype=float).ravel()
        y = np.asarray(lats, dtype=float).ravel()
        if self._lsoa_tree is None:
            return np.full(x.shape, -1, dtype=np.int64)
        return self._index_in(self._lsoa_tree, x, y)

    def ward_index(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Index (into ``list(self.wards)``) of each point's ward; -1 outside the borough."""
        x = np.asarray(lons, dtype=float).ravel()
        y = np.asarray(lats, dtype=float).ravel()
        return self._index_in(self._tree, x, y)

    def _index_in(self, tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the polygon of ``tree`` holding each point inside the borough (the lowest
        on a shared edge, the nearest in a gap between polygons); -1 outside the borough."""
        if x.shape != y.shape:
            raise ValueError("lons and lats must have the same length")
        result = np.full(x.shape, -1, dtype=np.int64)
        inside = np.flatnonzero(self.contains(x, y))
        if inside.size == 0:
            return result
        points = shapely.points(x[inside], y[inside])
        hit_point, hit_ward = tree.query(points, predicate="intersects")
        # Several hits (a point on a shared edge): np.minimum.at keeps the lowest ward index.
        found = np.full(inside.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(found, hit_point, hit_ward)
        gaps = np.flatnonzero(found == np.iinfo(np.int64).max)
        if gaps.size:
            # Nearest in degrees: the gaps are metres wide, so the distortion cannot matter.
            near_point, near_ward = tree.query_nearest(points[gaps], all_matches=True)
            nearest = np.full(gaps.size, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(nearest, near_point, near_ward)
            found[gaps] = nearest
        result[inside] = found
        return result


def load_lsoas(boundaries: Path, deprivation: Path) -> gpd.GeoDataFrame:
    """The LSOA polygons (``lsoa11cd``, geometry) joined to their row of the deprivation table
    (every column of ``data/deprivation/imd2019_lsoa.csv``); an LSOA missing from either file
    is an error."""
    shapes = gpd.read_file(boundaries)[["LSOA11CD", "geometry"]]
    shapes = shapes.rename(columns={"LSOA11CD": "lsoa11cd"})
    table = load_deprivation(deprivation)
    unmatched = sorted(set(shapes["lsoa11cd"]) ^ set(table["lsoa11cd"]))
    if unmatched:
        raise ValueError(
            f"LSOA(s) {', '.join(unmatched)} not in both {boundaries} and {deprivation}"
        )
    return shapes.merge(table, on="lsoa11cd")


def load_deprivation(path: Path = DEPRIVATION_FILE) -> pd.DataFrame:
    """The deprivation table: one row per LSOA, IMD 2019 ranks and deciles of the index and its
    seven domains (1: the most deprived in England), and the mid-2015 population by age band."""
    return pd.read_csv(path, dtype={"lsoa11cd": str, "lsoa11nm": str, "lad19cd": str})


@cache
def _default_areas() -> Areas:
    return Areas.from_dir(GEO_DIR, DEPRIVATION_FILE)
