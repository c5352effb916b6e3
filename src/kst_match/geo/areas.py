"""Where a point is: its 2022 ward and the council's neighbourhood, from the bundled boundaries.

The 19 ward polygons of May 2022 are derived from 2011 output areas and postcodes
(``data/geo/wards_2022.geojson``, see ``kst_match.dataset.derive``); the four neighbourhoods are
groups of those wards (``data/geo/neighbourhoods.csv``). A point is in the borough when it is
inside the borough outline (``data/geo/borough.geojson``). Coordinates are WGS84 lon/lat degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from kst_match.paths import GEO_DIR

WARDS_FILE = "wards_2022.geojson"
BOROUGH_FILE = "borough.geojson"
NEIGHBOURHOODS_FILE = "neighbourhoods.csv"


@dataclass(frozen=True)
class Place:
    """A point's 2022 ward and neighbourhood."""

    ward_code: str
    ward_name: str
    neighbourhood: str


class Areas:
    """Point-in-polygon lookup of wards and neighbourhoods, inside the borough outline."""

    def __init__(
        self, wards: gpd.GeoDataFrame, borough: BaseGeometry, neighbourhoods: pd.DataFrame
    ) -> None:
        """``wards`` has ward_code and geometry; ``neighbourhoods`` has ward_code, ward_name
        and neighbourhood (one row per ward)."""
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

    @classmethod
    def from_dir(cls, geo_dir: Path) -> Areas:
        """Load the derived 2022 wards, the borough outline and the neighbourhood table."""
        wards = gpd.read_file(geo_dir / WARDS_FILE)[["ward_code", "geometry"]]
        borough = shapely.union_all(gpd.read_file(geo_dir / BOROUGH_FILE).geometry.values)
        neighbourhoods = pd.read_csv(geo_dir / NEIGHBOURHOODS_FILE, dtype=str)
        return cls(wards, borough, neighbourhoods)

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
        to the nearest ward. A point on the edge of two wards goes to the lower ward code.
        """
        codes = self.ward_index(lons, lats)
        return [None if i < 0 else self._places[i] for i in codes]

    def ward_index(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Index (into ``list(self.wards)``) of each point's ward; -1 outside the borough."""
        x = np.asarray(lons, dtype=float).ravel()
        y = np.asarray(lats, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError("lons and lats must have the same length")
        result = np.full(x.shape, -1, dtype=np.int64)
        inside = np.flatnonzero(self.contains(x, y))
        if inside.size == 0:
            return result
        points = shapely.points(x[inside], y[inside])
        hit_point, hit_ward = self._tree.query(points, predicate="intersects")
        # Several hits (a point on a shared edge): np.minimum.at keeps the lowest ward index.
        found = np.full(inside.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(found, hit_point, hit_ward)
        gaps = np.flatnonzero(found == np.iinfo(np.int64).max)
        if gaps.size:
            # Nearest in degrees: the gaps are metres wide, so the distortion cannot matter.
            near_point, near_ward = self._tree.query_nearest(points[gaps], all_matches=True)
            nearest = np.full(gaps.size, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(nearest, near_point, near_ward)
            found[gaps] = nearest
        result[inside] = found
        return result


@cache
def _default_areas() -> Areas:
    return Areas.from_dir(GEO_DIR)
