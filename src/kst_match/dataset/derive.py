"""Derive polygons for Kingston's 19 wards of May 2022, which have no published boundary here.

Method (the result is marked ``derived: true``):

1. Each 2011 output area (OA) takes the 2022 ward of most of the postcode centroids inside it.
   A tie goes to the tied ward with the postcode nearest the OA's representative point.
2. An OA with no postcode inside takes the ward of the postcode nearest its representative point.
3. The OAs of each ward are dissolved into one (multi)polygon.

Inputs are the bundled files in ``data/geo`` (``oa_2011.geojson``, ``postcodes.csv``,
``neighbourhoods.csv``); the output is ``data/geo/wards_2022.geojson``. Run it with
``python -m kst_match.dataset.derive``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from kst_match.paths import GEO_DIR

WARDS_2022_FILE = "wards_2022.geojson"
COORD_DECIMALS = 6  # about 0.1 m at Kingston's latitude: finer than the generalised boundaries


def read_postcodes(geo_dir: Path = GEO_DIR) -> gpd.GeoDataFrame:
    """The bundled postcode centroids as points (WGS84), with their 2022 ward."""
    frame = pd.read_csv(geo_dir / "postcodes.csv", dtype={"ward_code_2022": str})
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    )


def assign_output_areas(oa: gpd.GeoDataFrame, postcodes: gpd.GeoDataFrame) -> pd.Series:
    """The 2022 ward code of each output area (indexed by ``OA11CD``), by majority of postcodes."""
    # Nearest-point work is done in British National Grid so that distances are metres.
    oa_bng = oa.to_crs(27700)
    pc_bng = postcodes.to_crs(27700)
    inside = gpd.sjoin(pc_bng, oa_bng[["OA11CD", "geometry"]], predicate="within", how="inner")
    counts = inside.groupby(["OA11CD", "ward_code_2022"]).size().unstack(fill_value=0)

    anchors = oa_bng.set_index("OA11CD").geometry.representative_point()
    pc_xy = np.column_stack([pc_bng.geometry.x, pc_bng.geometry.y])
    pc_ward = pc_bng["ward_code_2022"].to_numpy()

    result: dict[str, str] = {}
    for code, anchor in anchors.items():
        if code in counts.index:
            row = counts.loc[code]
            tied = row.index[row == row.max()].tolist()
        else:
            tied = list(np.unique(pc_ward))  # no postcode inside: any ward, nearest wins
        if len(tied) == 1:
            result[code] = tied[0]
            continue
        mask = np.isin(pc_ward, tied)
        dist = np.hypot(pc_xy[mask, 0] - anchor.x, pc_xy[mask, 1] - anchor.y)
        result[code] = str(pc_ward[mask][np.argmin(dist)])
    return pd.Series(result, name="ward_code").sort_index()


def derive_wards_2022(geo_dir: Path = GEO_DIR) -> gpd.GeoDataFrame:
    """The 19 derived 2022 ward polygons (WGS84), with ward_code, ward_name, neighbourhood."""
    oa = gpd.read_file(geo_dir / "oa_2011.geojson")
    postcodes = read_postcodes(geo_dir)
    names = pd.read_csv(geo_dir / "neighbourhoods.csv", dtype=str).set_index("ward_code")

    oa = oa.assign(ward_code=oa["OA11CD"].map(assign_output_areas(oa, postcodes)))
    wards = oa.dissolve(by="ward_code", as_index=False)[["ward_code", "geometry"]]
    # Snap to the output grid now so that the file written is valid as written.
    wards["geometry"] = shapely.make_valid(
        shapely.set_precision(wards.geometry.values, 10.0**-COORD_DECIMALS)
    )
    wards["ward_name"] = wards["ward_code"].map(names["ward_name"])
    wards["neighbourhood"] = wards["ward_code"].map(names["neighbourhood"])
    wards["derived"] = True
    missing = sorted(set(names.index) - set(wards["ward_code"]))
    if missing:
        raise ValueError(f"no output area was assigned to ward(s) {', '.join(missing)}")
    wards = wards.sort_values("ward_code").reset_index(drop=True)
    return gpd.GeoDataFrame(
        wards[["ward_code", "ward_name", "neighbourhood", "derived", "geometry"]],
        geometry="geometry",
        crs="EPSG:4326",
    )


def ward_agreement(wards: gpd.GeoDataFrame, postcodes: gpd.GeoDataFrame) -> float:
    """Share (0–1) of postcode centroids that fall inside the polygon of their own 2022 ward."""
    joined = gpd.sjoin(postcodes, wards[["ward_code", "geometry"]], predicate="within", how="left")
    hit = joined["ward_code"] == joined["ward_code_2022"]
    # A point on a shared edge joins twice; it agrees if either ward is its own.
    return float(hit.groupby(level=0).any().mean())


def _round_coords(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, COORD_DECIMALS)
    if isinstance(value, list | tuple):
        return [_round_coords(v) for v in value]
    return value


def write_wards(wards: gpd.GeoDataFrame, path: Path) -> None:
    """Write the derived wards as compact, byte-stable GeoJSON (one feature per line)."""
    features = []
    for row in wards.itertuples(index=False):
        geometry = mapping(row.geometry)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "ward_code": row.ward_code,
                    "ward_name": row.ward_name,
                    "neighbourhood": row.neighbourhood,
                    "derived": bool(row.derived),
                },
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": _round_coords(geometry["coordinates"]),
                },
            }
        )
    lines = [json.dumps(f, separators=(",", ":"), ensure_ascii=False) for f in features]
    text = (
        '{"type":"FeatureCollection","name":"kingston_wards_2022_derived","features":[\n'
        + ",\n".join(lines)
        + "\n]}\n"
    )
    path.write_text(text, encoding="utf-8")


def main(geo_dir: Path = GEO_DIR) -> None:
    """Derive the 2022 wards, write them into ``geo_dir`` and print the postcode agreement."""
    wards = derive_wards_2022(geo_dir)
    out = geo_dir / WARDS_2022_FILE
    write_wards(wards, out)
    agreement = ward_agreement(gpd.read_file(out), read_postcodes(geo_dir))
    print(f"wrote {out} ({len(wards)} wards); postcodes in their own ward: {agreement:.2%}")


if __name__ == "__main__":
    main()
