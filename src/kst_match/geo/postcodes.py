"""Kingston's postcodes: where a postcode is (its centroid), and why one that is not found is
not found. Read from the bundled ``geo/postcodes.csv`` (OS Code-Point Open, every postcode of
the borough), with the ``csv`` module only: reading a day needs no data-frame library for this.

Distances are metres, lon/lat WGS84 degrees.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from kst_match import paths
from kst_match.model import normalise_postcode

# Coordinates further than this from their postcode's centroid are worth a second look: a
# postcode covers about 15 households, rarely more than a street or two.
NEAR_M = 300.0
EARTH_RADIUS_M = 6_371_008.8  # mean radius
BOROUGH = "the Royal Borough of Kingston upon Thames"


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance between two lon/lat points, metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlam = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def district(postcode: str) -> str:
    """The outward code of a normalised postcode: ``KT1`` of ``KT1 2EE``."""
    return postcode.split(" ", 1)[0]


@dataclass(frozen=True)
class Postcodes:
    """Postcode -> centroid (lon, lat) for every postcode of the borough."""

    centroids: dict[str, tuple[float, float]]

    @classmethod
    def read(cls, path: Path) -> Postcodes:
        """Read a file with ``postcode``, ``lon`` and ``lat`` columns."""
        with path.open(newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f)
            return cls({r["postcode"]: (float(r["lon"]), float(r["lat"])) for r in rows})

    @classmethod
    def default(cls) -> Postcodes:
        """The bundled postcodes, read once."""
        return _bundled()

    def find(self, postcode: str) -> tuple[float, float] | None:
        """The centroid of ``postcode`` (any spacing or case), or None if it is not Kingston's."""
        try:
            code = normalise_postcode(postcode)
        except ValueError:
            return None
        return self.centroids.get(code) if isinstance(code, str) else None

    @cached_property
    def districts(self) -> frozenset[str]:
        """The outward codes the borough's postcodes are in (``KT1``, ``SW20``, ...)."""
        return frozenset(district(code) for code in self.centroids)

    def why_unknown(self, postcode: str) -> str:
        """Why a well-formed, normalised ``postcode`` is not found, in words."""
        outward = district(postcode)
        if outward not in self.districts:
            known = ", ".join(sorted(self.districts, key=_district_order))
            return (
                f"{postcode!r} is outside {BOROUGH}: none of the borough's postcodes is in"
                f" {outward} (they are in {known}), or it does not exist"
            )
        return (
            f"{postcode!r} is not a postcode of {BOROUGH}: the borough has postcodes in"
            f" {outward}, but not this one (of {len(self.centroids):,} in all); it does not"
            " exist, is just outside the borough, or is mistyped"
        )


def _district_order(outward: str) -> tuple[str, int]:
    letters = outward.rstrip("0123456789")
    number = outward[len(letters) :]
    return letters, int(number) if number.isdigit() else 0


@cache
def _bundled() -> Postcodes:
    return Postcodes.read(paths.GEO_DIR / "postcodes.csv")
