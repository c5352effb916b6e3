"""The day's distinct places and the travel between them, per mode, computed once."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from kst_match.geo.travel import LonLat, Matrix, TravelModel
from kst_match.model import Day, Need, Transport
from kst_match.solve.vehicles import Vehicle, fresh_vehicles


class Places:
    """Distinct lon/lat points (homes, sites, residents) indexed 0..n-1, with travel matrices.

    Residents sharing a postcode centroid share a place, so the matrices stay as small as the
    day's geography allows. Matrices are computed on first use for each mode.
    """

    def __init__(self, travel: TravelModel, points: Iterable[LonLat] = ()) -> None:
        self.travel = travel
        self._index: dict[LonLat, int] = {}
        self._matrices: dict[Transport, Matrix] = {}
        for p in points:
            self.add(p)

    @classmethod
    def of(
        cls, travel: TravelModel, day: Day, needs: Iterable[Need], vehicles: Iterable[Vehicle]
    ) -> Places:
        """Places of some needs and vehicles (start and end), with every site of the day
        (deliveries collect anywhere)."""
        places = cls(travel)
        for v in vehicles:
            places.add(v.start)
            places.add(v.end)
        for s in day.sites:
            places.add((s.lon, s.lat))
        for n in needs:
            places.add((n.lon, n.lat))
        return places

    @classmethod
    def of_day(cls, day: Day, travel: TravelModel) -> Places:
        """Places of the whole day: every volunteer's home, site and need."""
        return cls.of(travel, day, day.needs, fresh_vehicles(day))

    def add(self, point: LonLat) -> int:
        key = (float(point[0]), float(point[1]))
        if key not in self._index:
            if self._matrices:
                raise RuntimeError("places cannot be added once travel has been computed")
            self._index[key] = len(self._index)
        return self._index[key]

    def __getitem__(self, point: LonLat) -> int:
        return self._index[(float(point[0]), float(point[1]))]

    def __len__(self) -> int:
        return len(self._index)

    @property
    def points(self) -> np.ndarray:
        """The places' lon/lat as an (n, 2) array (made once the places are all known)."""
        cached = getattr(self, "_points", None)
        if cached is None or len(cached) != len(self._index):
            cached = np.array(list(self._index), dtype=float).reshape(-1, 2)
            self._points = cached
        return cached

    def detached(self, modes: Iterable[Transport]) -> Places:
        """These places with the matrices of ``modes`` computed now and the travel model let
        go, so they travel cheaply to worker processes (a street network stays here)."""
        for mode in modes:
            self.matrix(mode)
        out = Places.__new__(Places)
        out.travel = None  # type: ignore[assignment]
        out._index = self._index
        out._matrices = dict(self._matrices)
        return out

    def matrix(self, mode: Transport) -> Matrix:
        mode = Transport(mode)
        if mode not in self._matrices:
            self._matrices[mode] = self.travel.matrix(self.points, mode)
        return self._matrices[mode]

    def seconds(self, mode: Transport, a: int, b: int) -> float:
        return float(self.matrix(mode).seconds[a, b])

    def metres(self, mode: Transport, a: int, b: int) -> float:
        return float(self.matrix(mode).metres[a, b])
