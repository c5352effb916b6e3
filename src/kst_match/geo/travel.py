"""Travel times and distances between places, by mode, behind one interface.

Two implementations: ``RoadEstimate`` (the bundled default: great-circle distance times a
circuity factor, at a speed per mode) and ``StreetNetwork`` (shortest paths on an OpenStreetMap
graph loaded offline, in ``kst_match.geo.network``). ``CachedTravel`` wraps either and keeps
each matrix on disk, so the same day is not computed twice. Times are seconds, distances metres,
points WGS84 (lon, lat) degrees.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from kst_match.model import Transport
from kst_match.paths import CACHE_DIR

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), metres

LonLat = tuple[float, float]

log = logging.getLogger(__name__)


class Matrix(NamedTuple):
    """Square travel matrices between the same points, in order: ``seconds[i, j]`` from i to j."""

    seconds: np.ndarray
    metres: np.ndarray


class TravelModel(Protocol):
    """Anything that can give travel matrices and leg geometries by mode."""

    name: str

    def matrix(self, points: np.ndarray, mode: Transport) -> Matrix:
        """Travel between every pair of ``points`` (an ``(n, 2)`` array of lon, lat)."""
        ...

    def path(self, a: LonLat, b: LonLat, mode: Transport) -> list[LonLat]:
        """The line travelled from ``a`` to ``b``, as lon/lat points."""
        ...


def as_points(points: Any) -> np.ndarray:
    """Points as a C-contiguous ``(n, 2)`` float64 array of lon, lat degrees."""
    return np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 2))


def haversine_m(points: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Great-circle distances in metres between lon/lat points (all pairs)."""
    a = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    b = a if others is None else np.radians(np.asarray(others, dtype=float).reshape(-1, 2))
    dlon = b[None, :, 0] - a[:, None, 0]
    dlat = b[None, :, 1] - a[:, None, 1]
    h = (
        np.sin(dlat / 2) ** 2
        + np.cos(a[:, None, 1]) * np.cos(b[None, :, 1]) * np.sin(dlon / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def haversine_pairs_m(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres between ``points[i]`` and ``others[i]`` (row by row)."""
    a = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    b = np.radians(np.asarray(others, dtype=float).reshape(-1, 2))
    dlon = b[:, 0] - a[:, 0]
    dlat = b[:, 1] - a[:, 1]
    h = np.sin(dlat / 2) ** 2 + np.cos(a[:, 1]) * np.cos(b[:, 1]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


@dataclass(frozen=True)
class ModeProfile:
    """How one mode moves in the road-distance estimate."""

    circuity: float  # network distance / straight-line distance
    speed_kmh: float  # average door-to-door speed on the network

    @property
    def speed_ms(self) -> float:
        """The speed in metres per second."""
        return self.speed_kmh / 3.6


# Figures and their sources (the README's "Travel model" section says the same):
# - circuity (road distance / great-circle distance):
#   * Newell (1980), "Traffic Flow on Transportation Networks", MIT Press: about 1.2 between
#     random points in a city;
#   * O'Sullivan & Morrall (1996), "Walking distances to and from light-rail transit stations",
#     Transportation Research Record 1538: 1.21-1.23 for walking routes to stations;
#   * Wang, Bette, Schreckenberg & Guhr (2024), "How much longer do you have to drive than the
#     crow has to fly?" (arXiv:2406.06490): about 1.3 on road networks.
#   We take 1.32 for driving (short suburban trips: cul-de-sacs, one-way streets and few Thames
#   crossings push it to the top of that range) and 1.25 for walking and cycling (paths and
#   cut-throughs closed to cars, a little above the 1.2-1.23 measured for walking). Both are
#   assumptions within the published ranges, not Kingston measurements.
# - speeds:
#   * walking 4.8 km/h (3 mph): the walking speed of the DfT Journey Time Statistics;
#   * cycling 15 km/h: the DfT Journey Time Statistics cycle at 16 km/h (10 mph) on all roads;
#     volunteers carry parcels and stop at kerbs, so a little less;
#   * car 24 km/h door to door: TfL, Travel in London report 8 (2015), table 4.9: average traffic
#     speeds in outer London on weekdays of 27.4-33.9 km/h on main roads (2014/15), and the DfT
#     Journey Time Statistics' about 11.6 mph (18.7 km/h) on urban streets; 24 km/h lies between,
#     for trips that mix main roads and residential streets.
DEFAULT_PROFILES: dict[Transport, ModeProfile] = {
    Transport.walk: ModeProfile(circuity=1.25, speed_kmh=4.8),
    Transport.cycle: ModeProfile(circuity=1.25, speed_kmh=15.0),
    Transport.car: ModeProfile(circuity=1.32, speed_kmh=24.0),
}


@dataclass(frozen=True)
class RoadEstimate:
    """Road distance estimated as great-circle distance times a circuity factor per mode.

    ``metres = haversine × circuity`` and ``seconds = metres / speed``; legs are straight lines.
    """

    profiles: dict[Transport, ModeProfile] | None = None
    name: str = "road-estimate"

    def profile(self, mode: Transport) -> ModeProfile:
        """The circuity and speed of ``mode``."""
        return (self.profiles or DEFAULT_PROFILES)[Transport(mode)]

    @property
    def fingerprint(self) -> str:
        """Everything the matrices depend on, for ``CachedTravel``'s key."""
        profiles = self.profiles or DEFAULT_PROFILES
        figures = ";".join(
            f"{m.value}:{p.circuity!r}:{p.speed_kmh!r}"
            for m, p in sorted(profiles.items(), key=lambda item: item[0].value)
        )
        return f"{self.name}|{figures}"

    def matrix(self, points: np.ndarray, mode: Transport) -> Matrix:
        """Travel between every pair of ``points`` by ``mode`` (seconds, metres)."""
        profile = self.profile(mode)
        metres = haversine_m(points) * profile.circuity
        return Matrix(seconds=metres / profile.speed_ms, metres=metres)

    def path(self, a: LonLat, b: LonLat, mode: Transport) -> list[LonLat]:
        """A straight leg: the estimate knows no streets."""
        return [tuple(a), tuple(b)]  # type: ignore[list-item]


def fingerprint(model: TravelModel) -> str:
    """What identifies a model's matrices: its ``fingerprint`` if it has one, else its name."""
    value = getattr(model, "fingerprint", None)
    if callable(value):
        value = value()
    return str(value) if value else f"{type(model).__qualname__}|{model.name}"


class CachedTravel:
    """A travel model whose matrices are kept on disk, so the same day is not recomputed.

    Each matrix is one ``.npz`` file in ``cache_dir`` (default ``CACHE_DIR / "travel"``), named
    by the SHA-256 of the model's fingerprint, the mode and the points' bytes. When the folder
    grows past ``max_bytes``, the files least recently used are removed. A file that cannot be
    read or written is recomputed or skipped with a warning: the cache never fails a plan.
    Geometries (``path``) and anything else are passed to the wrapped model.
    """

    def __init__(
        self,
        model: TravelModel,
        cache_dir: Path | str | None = None,
        max_bytes: int | None = 512 * 2**20,
    ) -> None:
        self.model = model
        self.name = model.name
        self.cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR / "travel"
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.model)

    def key(self, points: np.ndarray, mode: Transport) -> str:
        """The cache key of the matrix of ``points`` by ``mode`` (hex SHA-256)."""
        pts = as_points(points)
        digest = hashlib.sha256()
        digest.update(fingerprint(self.model).encode())
        digest.update(f"|{Transport(mode).value}|{pts.shape[0]}|".encode())
        digest.update(pts.astype("<f8", copy=False).tobytes())
        return digest.hexdigest()

    def matrix(self, points: np.ndarray, mode: Transport) -> Matrix:
        """The wrapped model's matrix, from the cache when this exact request was seen before."""
        pts = as_points(points)
        file = self.cache_dir / f"{self.key(pts, mode)}.npz"
        try:
            with np.load(file) as stored:
                found = Matrix(seconds=stored["seconds"], metres=stored["metres"])
            if found.seconds.shape == (len(pts), len(pts)):
                self.hits += 1
                os.utime(file)  # recently used: pruned last
                return found
        except FileNotFoundError:
            pass
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            log.warning("travel cache file %s unreadable (%s); recomputing", file, exc)
        self.misses += 1
        result = self.model.matrix(pts, mode)
        self._store(file, result)
        return result

    def _store(self, file: Path, result: Matrix) -> None:
        # Write to a temporary file then rename, so a reader never sees half a file.
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    np.savez(out, seconds=result.seconds, metres=result.metres)
                os.replace(tmp, file)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._prune()
        except OSError as exc:
            log.warning("travel cache not written to %s (%s)", file, exc)

    def _prune(self) -> None:
        """Remove the least recently used files until the folder holds at most ``max_bytes``."""
        if self.max_bytes is None:
            return
        files = []
        for f in self.cache_dir.glob("*.npz"):
            try:
                files.append((f.stat(), f))
            except FileNotFoundError:  # removed meanwhile by another process
                continue
        total = sum(st.st_size for st, _ in files)
        for st, f in sorted(files, key=lambda item: item[0].st_mtime):
            if total <= self.max_bytes:
                break
            f.unlink(missing_ok=True)
            total -= st.st_size

    def path(self, a: LonLat, b: LonLat, mode: Transport) -> list[LonLat]:
        """The wrapped model's leg geometry (not cached: it is cheap next to a matrix)."""
        return self.model.path(a, b, mode)

    def __getattr__(self, attr: str) -> Any:
        # Only called for attributes not found here: pass them to the wrapped model.
        if attr == "model":
            raise AttributeError(attr)
        return getattr(self.model, attr)
