"""Solomon VRPTW instances as kst-match days, and a full-precision check of any solution.

Conventions (the literature's): distances are Euclidean in double precision, travel time equals
distance, a customer's service starts between its ready time and its due date, every route
leaves the depot and is back by the depot's due date, and the load of a route is at most the
vehicle's capacity. The figure compared is the total distance at full precision, summed from
the routes' customer order: never a solver's own (rounded) objective.

As a kst-match day (``solomon_day``): each customer is a food-parcel need collected at a site at
the depot and delivered in the customer's window (``window_end`` = due date + service, since a
need's service must end by the end of its window); one partner offers it everywhere; 25
volunteers (the instance's fleet) start and end at the depot with the depot's hours as their
shift, the fleet's capacity, no task or travel limit that binds, a car. One Solomon time unit is
one minute, except on C2 instances whose horizon (3,390) is longer than a day: there one unit is
20 seconds, and each window is rounded inwards to whole minutes (a stricter instance: a plan
for it holds on the original). The travel model is ``SolomonTravel``: Euclidean distance in
units times the seconds of one unit, exact; kst-match's solver rounds travel up to whole
seconds, so its routes always hold at full precision (``check_routes`` tests them).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kst_match.geo.travel import LonLat, Matrix
from kst_match.model import Day, Need, Partner, ServiceKind, Site, Transport, Volunteer

SOLOMON_DIR = Path(__file__).resolve().parent / "solomon"
# Coordinates become lon/lat divided by a power of two, so they convert back exactly.
COORD_SCALE = 64.0
DATE = dt.date(2026, 11, 26)


@dataclass(frozen=True)
class Customer:
    id: int
    x: float
    y: float
    demand: int
    ready: int
    due: int
    service: int


@dataclass(frozen=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    depot: Customer
    customers: tuple[Customer, ...]

    @property
    def family(self) -> str:
        return self.name[:-2]  # C1, C2, R1, R2, RC1, RC2

    @property
    def unit_s(self) -> int:
        """Seconds of one time unit in the kst-match day."""
        return 60 if self.depot.due <= 24 * 60 else 20

    def coords(self) -> np.ndarray:
        """(x, y) of the depot (row 0) and the customers (row = customer id)."""
        return np.array([(c.x, c.y) for c in (self.depot, *self.customers)], dtype=float)


def read_instance(name: str, folder: Path = SOLOMON_DIR) -> Instance:
    """A Solomon instance from its text file (``C101.txt`` ...)."""
    lines = (folder / f"{name}.txt").read_text().splitlines()
    fleet = next(i for i, line in enumerate(lines) if line.strip().startswith("NUMBER"))
    vehicles, capacity = (int(x) for x in lines[fleet + 1].split())
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    found = [
        Customer(int(r[0]), *map(float, r[1:3]), *map(int, r[3:7])) for r in rows if len(r) == 7
    ]
    return Instance(name, vehicles, capacity, found[0], tuple(found[1:]))


def read_bks(folder: Path = SOLOMON_DIR) -> dict[str, dict[str, float]]:
    """Best-known solutions by instance: ``distance_only`` (the figure gaps are taken to),
    ``distance_only_vehicles``, and the hierarchical ``vehicles`` and ``distance``."""
    with (folder / "bks.csv").open() as f:
        return {
            row["instance"]: {
                k: float(row[k])
                for k in ("vehicles", "distance", "distance_only_vehicles", "distance_only")
            }
            for row in csv.DictReader(f)
        }


def all_instances(folder: Path = SOLOMON_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.txt"))


def check_routes(inst: Instance, routes: list[list[int]]) -> tuple[float, list[str]]:
    """Total distance of ``routes`` (customer ids in order, depot left out) at full precision,
    and every rule they break (empty if none): each customer served exactly once, windows,
    capacity, return to the depot by its due date."""
    xy = inst.coords()
    errors: list[str] = []
    seen: list[int] = [c for r in routes for c in r]
    missing = set(range(1, len(inst.customers) + 1)) - set(seen)
    if missing or len(seen) != len(set(seen)):
        errors.append(f"customers missing {sorted(missing)[:5]} or served twice")
    if sum(1 for r in routes if r) > inst.vehicles:
        errors.append(f"{sum(1 for r in routes if r)} routes, {inst.vehicles} vehicles")
    total = 0.0
    for k, route in enumerate(r for r in routes if r):
        t, here, load = float(inst.depot.ready), 0, 0
        for c in route:
            cust = inst.customers[c - 1]
            leg = math.dist(xy[here], xy[c])
            total += leg
            t = max(t + leg, float(cust.ready))
            if t > cust.due + 1e-9:
                errors.append(f"route {k}: customer {c} starts at {t:.4f} after its due {cust.due}")
            t += cust.service
            load += cust.demand
            here = c
        back = math.dist(xy[here], xy[0])
        total += back
        if t + back > inst.depot.due + 1e-9:
            errors.append(f"route {k}: back at {t + back:.4f} after {inst.depot.due}")
        if load > inst.capacity:
            errors.append(f"route {k}: load {load} over {inst.capacity}")
    return total, errors


class SolomonTravel:
    """Euclidean travel between Solomon points (lon/lat = coordinates / ``COORD_SCALE``): the
    distance in units as ``metres`` and times the seconds of a unit as ``seconds``, exact."""

    def __init__(self, unit_s: float) -> None:
        self.unit_s = unit_s
        self.name = f"solomon-euclidean-{unit_s:g}s"

    def matrix(self, points: np.ndarray, mode: Transport) -> Matrix:
        xy = np.asarray(points, dtype=float) * COORD_SCALE
        d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
        return Matrix(seconds=d * self.unit_s, metres=d)

    def path(self, a: LonLat, b: LonLat, mode: Transport) -> list[LonLat]:
        return [a, b]


def _lonlat(c: Customer) -> tuple[float, float]:
    return c.x / COORD_SCALE, c.y / COORD_SCALE


def solomon_day(inst: Instance) -> Day:
    """The instance as a kst-match day (see the module's docstring)."""
    unit = inst.unit_s

    def minutes_up(t: int) -> int:
        return math.ceil(t * unit / 60)

    def minutes_down(t: int) -> int:
        return math.floor(t * unit / 60)

    depot = inst.depot
    lon, lat = _lonlat(depot)
    site = Site(
        id="depot",
        name="Depot",
        kind="food_bank",
        lon=lon,
        lat=lat,
        opens=0,
        closes=minutes_down(depot.due),
    )
    partner = Partner(id="hub", name="Hub", services=frozenset({ServiceKind.food_parcel}))
    volunteers = tuple(
        Volunteer(
            id=f"V{k:02d}",
            partner="hub",
            lon=lon,
            lat=lat,
            transport=Transport.car,
            capacity=inst.capacity,
            shift_start=minutes_up(depot.ready),
            shift_end=minutes_down(depot.due),
            max_tasks=len(inst.customers),
            max_travel=24 * 60,
        )
        for k in range(1, inst.vehicles + 1)
    )
    needs = []
    for c in inst.customers:
        clon, clat = _lonlat(c)
        needs.append(
            Need(
                id=f"C{c.id:03d}",
                date=DATE,
                resident=f"R{c.id:03d}",
                kind=ServiceKind.food_parcel,
                window_start=minutes_up(c.ready),
                window_end=minutes_down(c.due + c.service),
                duration=c.service * unit // 60,
                load=c.demand,
                site="depot",
                lon=clon,
                lat=clat,
            )
        )
    return Day(
        date=DATE, needs=tuple(needs), volunteers=volunteers, partners=(partner,), sites=(site,)
    )


def customer_of(need_id: str) -> int:
    return int(need_id[1:])
