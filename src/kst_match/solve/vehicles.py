"""A volunteer's remaining day as the solver sees it: where and when they start, what is left."""

from __future__ import annotations

from dataclasses import dataclass

from kst_match.geo.travel import LonLat
from kst_match.model import Day, Transport, Volunteer


@dataclass(frozen=True)
class Vehicle:
    """One volunteer's day (or the rest of it, when re-planning). Times in seconds after midnight.

    ``onboard``: needs already collected and not yet delivered; they must be delivered by this
    volunteer. ``tasks_left`` and ``travel_left_s`` are what remains of the daily limits.
    """

    volunteer: Volunteer
    start: LonLat
    start_s: int
    end: LonLat
    end_s: int
    tasks_left: int
    travel_left_s: int
    onboard: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.volunteer.id

    @property
    def transport(self) -> Transport:
        return self.volunteer.transport

    @classmethod
    def fresh(cls, volunteer: Volunteer) -> Vehicle:
        """A whole day: from home at the start of the shift, back home by its end."""
        home = (volunteer.lon, volunteer.lat)
        return cls(
            volunteer=volunteer,
            start=home,
            start_s=volunteer.shift_start * 60,
            end=home,
            end_s=volunteer.shift_end * 60,
            tasks_left=volunteer.max_tasks,
            travel_left_s=volunteer.max_travel * 60,
        )


def fresh_vehicles(day: Day) -> list[Vehicle]:
    return [Vehicle.fresh(v) for v in day.volunteers]
