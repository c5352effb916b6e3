"""Loaders for the bundled Kingston data: postcode centroids, partners and sites.

Files (see ``data/README.md`` for sources, licences and assumptions):
``data/geo/postcodes.csv`` (OS Code-Point Open, with each postcode's May-2022 ward),
``data/partners.csv`` and ``data/sites.csv`` (in the CSV conventions of ``kst_match.inputs``).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pandas as pd

from kst_match.model import Partner, Site
from kst_match.paths import DATA_DIR, GEO_DIR

POSTCODES_FILE = GEO_DIR / "postcodes.csv"
PARTNERS_FILE = DATA_DIR / "partners.csv"
SITES_FILE = DATA_DIR / "sites.csv"


def load_postcodes(path: Path = POSTCODES_FILE) -> pd.DataFrame:
    """Every Kingston postcode centroid: postcode, lon, lat (WGS84 degrees), easting,
    northing (British National Grid metres), ward_code_2022, ward_name_2022, in file order."""
    return _postcodes(Path(path)).copy()


@cache
def _postcodes(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path,
        dtype={"postcode": str, "lad_code": str, "ward_code_2022": str, "ward_name_2022": str},
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_partners(path: Path = PARTNERS_FILE) -> list[Partner]:
    """The Communities Task Force members and the council hub team, in file order."""
    return [Partner.model_validate(row) for row in _rows(path)]


def load_sites(path: Path = SITES_FILE) -> list[Site]:
    """The collection sites (food bank and its distribution points, pharmacies, supermarkets)."""
    return [Site.model_validate(row) for row in _rows(path)]
