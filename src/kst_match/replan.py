"""Re-plan the rest of a day from the morning's plan and what has happened since.

Stops reported done stay fixed; each volunteer continues from where they are, with what is left
of their task and travel limits and anything they collected but have not delivered; needs that
failed are planned again (with a fresh collection: a parcel that could not be delivered goes
back to the site); a volunteer who dropped out goes home and their needs go to others; new
needs join the pool. Each remaining need prefers the volunteer it had (``KEEP_ASSIGNED``), and
the search starts from the morning's routes, so routes change no more than they must.
"""

from __future__ import annotations

import math
import time
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field

from kst_match.geo.travel import TravelModel
from kst_match.model import (
    Clock,
    Day,
    Need,
    Plan,
    ServiceKind,
    Stop,
    StopKind,
    Transport,
    Volunteer,
)
from kst_match.plan import DEFAULT_STOP, build_plan, default_travel
from kst_match.solve.day import Progress, solve_day
from kst_match.solve.finish import finish
from kst_match.solve.places import Places
from kst_match.solve.stop import StoppingCriterion
from kst_match.solve.vehicles import Vehicle

TASK_KINDS = (StopKind.deliver, StopKind.visit, StopKind.call)


class Events(BaseModel):
    """What has happened since the plan was made (``events.json`` for ``kst-match replan``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    now: Clock
    done: frozenset[str] = frozenset()  # needs delivered, visited or called
    collected: frozenset[str] = frozenset()  # collected, not yet delivered
    failed: dict[str, str] = Field(default_factory=dict)  # need -> what the volunteer reported
    dropped: frozenset[str] = frozenset()  # volunteers who dropped out
    new_needs: tuple[Need, ...] = ()


def _made(stop: Stop, events: Events, lost: set[str]) -> bool:
    """Is this stop one the volunteer has made and that still counts?"""
    if stop.need is None or stop.need in events.failed:
        return False
    if stop.kind is StopKind.collect:
        return (stop.need in events.collected or stop.need in events.done) and stop.need not in lost
    return stop.need in events.done


def replan(
    day: Day,
    plan: Plan,
    events: Events,
    travel: TravelModel | None = None,
    stop: StoppingCriterion = DEFAULT_STOP,
    progress: Progress | None = None,
) -> Plan:
    """A new version of ``plan`` for the rest of the day; ``stop`` as for ``make_plan``."""
    began = time.perf_counter()
    clock = time.monotonic()
    full = day.model_copy(update={"needs": day.needs + tuple(events.new_needs)})
    places = Places.of_day(full, travel or default_travel())
    now_s = events.now * 60
    partner_of = {a.need: a.partner for a in plan.assignments}

    done_stops: dict[str, list[Stop]] = {}
    vehicles: list[Vehicle] = []
    routes = {r.volunteer: r for r in plan.routes}
    used: Counter[tuple[str, ServiceKind]] = Counter()
    for volunteer in full.volunteers:
        route = routes.get(volunteer.id)
        # Goods collected by a volunteer who dropped out are lost: they must be collected again.
        lost = set(events.collected) if volunteer.id in events.dropped else set()
        made = [s for s in route.stops[1:-1] if _made(s, events, lost)] if route else []
        prefix = [route.stops[0], *made] if route and made else []
        prefix = _retimed(prefix, full, volunteer.transport, places)
        if prefix:
            done_stops[volunteer.id] = prefix
            for s in prefix:
                if s.kind in TASK_KINDS:
                    used[(partner_of[s.need], full.need(s.need).kind)] += 1  # type: ignore[index]
        if volunteer.id in events.dropped:
            if prefix:
                done_stops[volunteer.id] = [*prefix, _home(prefix[-1], volunteer, places)]
            continue
        last = prefix[-1] if prefix else None
        start = (last.lon, last.lat) if last else (volunteer.lon, volunteer.lat)
        onboard = tuple(
            s.need for s in prefix if s.kind is StopKind.collect and s.need not in events.done
        )
        vehicles.append(
            Vehicle(
                volunteer=volunteer,
                start=start,
                start_s=max(volunteer.shift_start * 60, now_s, last.departure * 60 if last else 0),
                end=(volunteer.lon, volunteer.lat),
                end_s=volunteer.shift_end * 60,
                tasks_left=volunteer.max_tasks - sum(s.kind in TASK_KINDS for s in prefix),
                travel_left_s=int(volunteer.max_travel * 60 - sum(s.travel_s for s in prefix)),
                onboard=onboard,  # type: ignore[arg-type]
            )
        )

    finished = {s.need for stops in done_stops.values() for s in stops if s.kind in TASK_KINDS}
    remaining = full.model_copy(
        update={"needs": tuple(n for n in full.needs if n.id not in finished)}
    )
    keep = {
        a.need: a.volunteer
        for a in plan.assignments
        if a.volunteer not in events.dropped and a.need not in events.failed
    }
    hint = {
        r.volunteer: [
            (s.kind, s.need)
            for s in r.stops
            if s.need and s.kind in (StopKind.collect, StopKind.deliver, StopKind.visit)
        ]
        for r in plan.routes
        if r.volunteer not in events.dropped
    }
    onboard_limit_s = plan.onboard_limit_min * 60
    solution = solve_day(
        remaining,
        vehicles,
        places,
        stop,
        clock,
        keep=keep,
        hint=hint,
        progress=progress,
        onboard_limit_s=onboard_limit_s,
    )
    starved = stop.seconds is not None and time.monotonic() - clock >= stop.seconds
    solution = finish(
        remaining,
        vehicles,
        places.travel,
        solution,
        used=used,
        starved=starved,
        onboard_limit_s=onboard_limit_s,
    )
    new = build_plan(
        full,
        solution,
        places.travel,
        began,
        done=done_stops,
        partners={n: p for n, p in partner_of.items() if n in finished},
        version=plan.version + 1,
    )
    new.onboard_limit_min = plan.onboard_limit_min
    return new


def _retimed(stops: list[Stop], day: Day, transport: Transport, places: Places) -> list[Stop]:
    """Stops made, with travel and loads recomputed where skipped stops were taken out (travel
    only shrinks when a stop is skipped, so the recorded times stay consistent)."""
    out: list[Stop] = []
    load = 0
    for stop in stops:
        update: dict[str, object] = {}
        if out and stop.kind is StopKind.call:  # made from wherever the volunteer then was
            update.update(lon=out[-1].lon, lat=out[-1].lat, travel_s=0.0, distance_m=0.0)
        elif out:
            a, b = places[(out[-1].lon, out[-1].lat)], places[(stop.lon, stop.lat)]
            update["travel_s"] = round(places.seconds(transport, a, b), 1)
            update["distance_m"] = round(places.metres(transport, a, b), 1)
        if stop.kind is StopKind.collect:
            load += day.need(stop.need).load  # type: ignore[arg-type]
        elif stop.kind is StopKind.deliver:
            load -= day.need(stop.need).load  # type: ignore[arg-type]
        update["load"] = load
        out.append(stop.model_copy(update=update))
    return out


def _home(last: Stop, volunteer: Volunteer, places: Places) -> Stop:
    """The way home of a volunteer who dropped out after ``last``."""
    a, b = places[(last.lon, last.lat)], places[(volunteer.lon, volunteer.lat)]
    travel_s = places.seconds(volunteer.transport, a, b)
    arrival = last.departure + math.ceil(travel_s / 60)
    return Stop(
        kind=StopKind.end,
        lon=volunteer.lon,
        lat=volunteer.lat,
        arrival=arrival,
        start=arrival,
        departure=arrival,
        load=0,
        travel_s=round(travel_s, 1),
        distance_m=round(places.metres(volunteer.transport, a, b), 1),
    )
