"""A stop of a route while it is being planned: seconds, not yet whole minutes."""

from __future__ import annotations

from dataclasses import dataclass

from kst_match.model import StopKind


@dataclass
class Timed:
    """A stop of a route, timed in seconds after midnight; travel is from the previous stop."""

    kind: StopKind
    place: int  # index into the solve's ``Places``
    lon: float
    lat: float
    need: str | None = None
    site: str | None = None
    arrival: float = 0.0
    start: float = 0.0
    departure: float = 0.0
    load: int = 0
    travel_s: float = 0.0
    distance_m: float = 0.0

    def copy(self) -> Timed:
        return Timed(**vars(self))
