"""The independent plan validator: does a plan keep every rule of the day it was made for?

This module is the referee. It reads only the vocabulary (``kst_match.model``) and the travel
matrices (``kst_match.geo.travel``) and re-derives everything else from the day's inputs, so a
fault in the solver cannot hide behind the same fault here. Each check is written out plainly.

Rules checked (times are whole minutes after midnight, travel seconds, distances metres):

- coverage: every need of the day is assigned or unserved, exactly once; nothing unknown;
  unserved needs carry a reason and a detail.
- routes: one per volunteer with work, from home (``start``) to home (``end``), by the
  volunteer's transport; each assignment's route holds exactly its need's stops (a delivery: one
  collect at its site, then one deliver at the resident; a visit: one visit at the resident; a
  call: one call, made from wherever the volunteer is); no stop for a need not assigned to it.
- times: arrival no earlier than the previous departure plus the travel (one minute of rounding),
  start no earlier than arrival, departure no earlier than start plus the time on site; service
  inside the resident's window, collection inside the site's hours, the day inside the shift.
- travel: each leg's recorded time and distance agree with the travel matrix (1 s / 1 m or 0.5%).
- load: the load recorded on leaving each stop equals the one recomputed, is never negative,
  never above the volunteer's capacity, and is zero at the end.
- matching: skills, required language, the partner offers the kind, covers the ward, the
  volunteer belongs to it, and no partner exceeds its daily capacity for a kind.
- limits: tasks per volunteer and minutes of travel per volunteer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kst_match.geo.travel import TravelModel
from kst_match.model import (
    Assignment,
    Day,
    Need,
    Partner,
    Plan,
    Reason,
    Route,
    ServiceKind,
    Site,
    Stop,
    StopKind,
    Volunteer,
    format_clock,
)

# Two places are the same if they differ by less than this many degrees (about 1 cm).
SAME_PLACE_DEG = 1e-7
# Recorded travel may differ from the matrix by this much (floating point and rounding).
TRAVEL_TOLERANCE_S = 1.0
DISTANCE_TOLERANCE_M = 1.0
TRAVEL_TOLERANCE_FRACTION = 0.005
# Stop times are whole minutes, so an arrival may be rounded down by up to one minute.
ROUNDING_MIN = 1
# Allowed excess over the daily travel limit, seconds (floating point).
MAX_TRAVEL_SLACK_S = 1.0


class Code(StrEnum):
    """Short codes of the rules a plan can break."""

    # coverage
    date_mismatch = "date_mismatch"
    need_missing = "need_missing"
    need_unknown = "need_unknown"
    need_duplicate = "need_duplicate"
    assigned_and_unserved = "assigned_and_unserved"
    unserved_bad_reason = "unserved_bad_reason"
    unserved_no_detail = "unserved_no_detail"
    # routes and their stops
    volunteer_unknown = "volunteer_unknown"
    route_missing = "route_missing"
    route_duplicate = "route_duplicate"
    transport_mismatch = "transport_mismatch"
    route_not_from_home = "route_not_from_home"
    route_not_to_home = "route_not_to_home"
    route_shape = "route_shape"
    stop_no_need = "stop_no_need"
    stop_unassigned = "stop_unassigned"
    stop_on_other_route = "stop_on_other_route"
    stop_kind_mismatch = "stop_kind_mismatch"
    stop_missing = "stop_missing"
    collect_missing = "collect_missing"
    stop_duplicate = "stop_duplicate"
    deliver_before_collect = "deliver_before_collect"
    stop_location = "stop_location"
    site_unknown = "site_unknown"
    collect_wrong_site = "collect_wrong_site"
    assignment_start_mismatch = "assignment_start_mismatch"
    continuity_flag = "continuity_flag"
    # times
    time_not_whole_minute = "time_not_whole_minute"
    arrival_too_early = "arrival_too_early"
    start_before_arrival = "start_before_arrival"
    departure_too_early = "departure_too_early"
    window_missed = "window_missed"
    site_closed = "site_closed"
    shift_exceeded = "shift_exceeded"
    # travel
    travel_mismatch = "travel_mismatch"
    distance_mismatch = "distance_mismatch"
    # load
    load_mismatch = "load_mismatch"
    load_negative = "load_negative"
    capacity_exceeded = "capacity_exceeded"
    load_not_empty_at_end = "load_not_empty_at_end"
    # matching
    skill_missing = "skill_missing"
    language_missing = "language_missing"
    partner_unknown = "partner_unknown"
    partner_no_service = "partner_no_service"
    partner_no_ward = "partner_no_ward"
    partner_capacity = "partner_capacity"
    volunteer_not_in_partner = "volunteer_not_in_partner"
    # daily limits
    max_tasks = "max_tasks"
    max_travel = "max_travel"


@dataclass(frozen=True)
class Violation:
    """One broken rule: a short ``code``, a plain-English ``message``, and whom it concerns."""

    code: str
    message: str
    volunteer: str | None = None
    need: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class PlanInvalid(AssertionError):
    """Raised by ``assert_valid``; ``violations`` holds every rule the plan breaks."""

    def __init__(self, violations: list[Violation], shown: int = 50) -> None:
        self.violations = violations
        lines = [f"the plan breaks {len(violations)} rule(s):"]
        lines += [f"  {v}" for v in violations[:shown]]
        if len(violations) > shown:
            lines.append(f"  ... and {len(violations) - shown} more")
        super().__init__("\n".join(lines))


def assert_valid(day: Day, plan: Plan, travel: TravelModel) -> None:
    """Raise ``PlanInvalid`` listing the violations if ``plan`` breaks any rule of ``day``."""
    violations = check_plan(day, plan, travel)
    if violations:
        raise PlanInvalid(violations)


def check_plan(day: Day, plan: Plan, travel: TravelModel) -> list[Violation]:
    """Every rule of ``day`` that ``plan`` breaks, travel judged by ``travel``; empty if valid."""
    return _Referee(day, plan, travel).run()


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
_TASK_KINDS = (StopKind.deliver, StopKind.visit, StopKind.call)


def _same_place(a_lon: float, a_lat: float, b_lon: float, b_lat: float) -> bool:
    return abs(a_lon - b_lon) <= SAME_PLACE_DEG and abs(a_lat - b_lat) <= SAME_PLACE_DEG


def _whole(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    )


def _clock(minutes: float) -> str:
    return format_clock(minutes) if 0 <= minutes <= 24 * 60 else f"{minutes} min"


def _service_stop_kind(kind: ServiceKind) -> StopKind:
    """The stop at which a need of this kind is served."""
    if kind.is_delivery:
        return StopKind.deliver
    if kind.is_visit:
        return StopKind.visit
    return StopKind.call


class _Referee:
    """Walks one plan against one day, collecting violations in ``self.found``."""

    def __init__(self, day: Day, plan: Plan, travel: TravelModel) -> None:
        self.day = day
        self.plan = plan
        self.travel = travel
        self.found: list[Violation] = []
        # Built here from the day's own tuples, so the referee relies on nothing precomputed.
        self.needs: dict[str, Need] = {n.id: n for n in day.needs}
        self.volunteers: dict[str, Volunteer] = {v.id: v for v in day.volunteers}
        self.partners: dict[str, Partner] = {p.id: p for p in day.partners}
        self.sites: dict[str, Site] = {s.id: s for s in day.sites}

    def add(
        self, code: Code, message: str, volunteer: str | None = None, need: str | None = None
    ) -> None:
        self.found.append(Violation(str(code), message, volunteer, need))

    def run(self) -> list[Violation]:
        if self.plan.date != self.day.date:
            self.add(
                Code.date_mismatch, f"The plan is for {self.plan.date}, the day {self.day.date}."
            )
        assigned = self.check_coverage()
        routes = self.check_route_owners()
        for route in routes.values():
            self.check_route(route, assigned)
        for assignment in assigned.values():
            self.check_assignment(assignment, routes)
        self.check_partner_capacity(assigned)
        return self.found

    # --- coverage -----------------------------------------------------------------------------
    def check_coverage(self) -> dict[str, Assignment]:
        """Each need exactly once; returns the first assignment of each known need, by need."""
        assigned: dict[str, Assignment] = {}
        for a in self.plan.assignments:
            if a.need not in self.needs:
                self.add(
                    Code.need_unknown, f"Assignment of unknown need {a.need}.", a.volunteer, a.need
                )
            elif a.need in assigned:
                self.add(
                    Code.need_duplicate, f"Need {a.need} is assigned twice.", a.volunteer, a.need
                )
            else:
                assigned[a.need] = a
        unserved: set[str] = set()
        for u in self.plan.unserved:
            if u.need not in self.needs:
                self.add(
                    Code.need_unknown, f"Unserved entry for unknown need {u.need}.", need=u.need
                )
                continue
            if u.need in unserved:
                self.add(
                    Code.need_duplicate, f"Need {u.need} is listed unserved twice.", need=u.need
                )
            unserved.add(u.need)
            if u.need in assigned:
                vid = assigned[u.need].volunteer
                msg = f"Need {u.need} is both assigned (to {vid}) and unserved."
                self.add(Code.assigned_and_unserved, msg, vid, u.need)
            if u.reason not in set(Reason):
                msg = f"Need {u.need} is unserved for an unknown reason {u.reason!r}."
                self.add(Code.unserved_bad_reason, msg, need=u.need)
            if not (isinstance(u.detail, str) and u.detail.strip()):
                msg = f"Need {u.need} is unserved without a detail."
                self.add(Code.unserved_no_detail, msg, need=u.need)
        for need_id in self.needs:
            if need_id not in assigned and need_id not in unserved:
                msg = f"Need {need_id} is neither assigned nor unserved."
                self.add(Code.need_missing, msg, need=need_id)
        return assigned

    def check_route_owners(self) -> dict[str, Route]:
        """At most one route per known volunteer; returns them by volunteer."""
        routes: dict[str, Route] = {}
        for route in self.plan.routes:
            vid = route.volunteer
            if vid not in self.volunteers:
                self.add(Code.volunteer_unknown, f"Route of unknown volunteer {vid}.", vid)
            elif vid in routes:
                self.add(Code.route_duplicate, f"Volunteer {vid} has more than one route.", vid)
            else:
                routes[vid] = route
        return routes

    # --- one route, stop by stop --------------------------------------------------------------
    def check_route(self, route: Route, assigned: dict[str, Assignment]) -> None:
        vol = self.volunteers[route.volunteer]
        vid = vol.id
        stops = route.stops
        self.check_route_shape(route, vol)
        if not stops:
            return
        # Shift: leave home no earlier than the shift starts, be back by its end.
        if stops[0].departure < vol.shift_start:
            msg = (
                f"{vid} leaves home at {_clock(stops[0].departure)}, before the shift starts"
                f" at {_clock(vol.shift_start)}."
            )
            self.add(Code.shift_exceeded, msg, vid)
        if stops[-1].arrival > vol.shift_end:
            msg = (
                f"{vid} is back home at {_clock(stops[-1].arrival)}, after the shift ends"
                f" at {_clock(vol.shift_end)}."
            )
            self.add(Code.shift_exceeded, msg, vid)

        # Legs by the volunteer's own transport, from one matrix over the route's stops (the
        # same figures as a two-point matrix per leg, in one call).
        points = np.array([[s.lon, s.lat] for s in stops], dtype=float)
        matrix = self.travel.matrix(points, vol.transport)
        load = 0  # carried on leaving the stop, recomputed from the needs' loads
        tasks = 0
        travel_s = 0.0
        for i, stop in enumerate(stops):
            tag = f"{vid}'s stop {i} ({stop.kind}{' ' + stop.need if stop.need else ''})"
            leg_s = 0.0 if i == 0 else float(matrix.seconds[i - 1, i])
            leg_m = 0.0 if i == 0 else float(matrix.metres[i - 1, i])
            previous = stops[i - 1] if i > 0 else None
            self.check_stop_times(stop, previous, leg_s, leg_m, vid, tag)
            travel_s += stop.travel_s

            need = None
            if stop.kind not in (StopKind.start, StopKind.end):
                need = self.stop_need(stop, assigned, vid, tag)
            busy = 0  # minutes the stop takes
            if need is not None:
                self.check_stop_at_need(stop, previous, need, vid, tag)
                if stop.kind in _TASK_KINDS:
                    busy = need.duration
                if stop.kind == StopKind.collect:
                    load += need.load
                elif stop.kind == StopKind.deliver:
                    load -= need.load
            if stop.kind in _TASK_KINDS:
                tasks += 1
            if stop.departure < stop.start + busy:
                msg = (
                    f"{tag}: leaves at {_clock(stop.departure)}, but starting at"
                    f" {_clock(stop.start)} it takes {busy} min."
                )
                self.add(Code.departure_too_early, msg, vid, stop.need)

            if stop.load != load:
                msg = f"{tag}: load recorded {stop.load}, recomputed {load}."
                self.add(Code.load_mismatch, msg, vid, stop.need)
            if load < 0:
                msg = f"{tag}: the load would be {load}: goods delivered before their collection."
                self.add(Code.load_negative, msg, vid, stop.need)
            if load > vol.capacity:
                msg = f"{tag}: carries {load}, more than {vid}'s capacity of {vol.capacity}."
                self.add(Code.capacity_exceeded, msg, vid, stop.need)

        if load != 0:
            self.add(Code.load_not_empty_at_end, f"{vid} comes home still carrying {load}.", vid)
        if tasks > vol.max_tasks:
            msg = f"{vid} has {tasks} tasks, more than the limit of {vol.max_tasks}."
            self.add(Code.max_tasks, msg, vid)
        if travel_s > vol.max_travel * 60 + MAX_TRAVEL_SLACK_S:
            msg = f"{vid} travels {travel_s / 60:.1f} min, more than the limit of {vol.max_travel}."
            self.add(Code.max_travel, msg, vid)

    def check_route_shape(self, route: Route, vol: Volunteer) -> None:
        """From home to home, by the volunteer's transport, with start and end only at the ends."""
        vid = vol.id
        stops = route.stops
        if route.transport != vol.transport:
            msg = f"Route of {vid} goes by {route.transport}, but {vid} goes by {vol.transport}."
            self.add(Code.transport_mismatch, msg, vid)
        first, last = (stops[0], stops[-1]) if stops else (None, None)
        if not (
            first is not None
            and first.kind == StopKind.start
            and _same_place(first.lon, first.lat, vol.lon, vol.lat)
        ):
            msg = f"Route of {vid} does not begin with a start stop at {vid}'s home."
            self.add(Code.route_not_from_home, msg, vid)
        if not (
            last is not None
            and len(stops) >= 2
            and last.kind == StopKind.end
            and _same_place(last.lon, last.lat, vol.lon, vol.lat)
        ):
            msg = f"Route of {vid} does not finish with an end stop at {vid}'s home."
            self.add(Code.route_not_to_home, msg, vid)
        for i, stop in enumerate(stops):
            if stop.kind in (StopKind.start, StopKind.end):
                if 0 < i < len(stops) - 1:
                    msg = f"Route of {vid} has a {stop.kind} stop in the middle (stop {i})."
                    self.add(Code.route_shape, msg, vid)
                if stop.need is not None:
                    msg = f"Route of {vid}: its {stop.kind} stop names need {stop.need}."
                    self.add(Code.route_shape, msg, vid, stop.need)

    def check_stop_times(
        self, stop: Stop, previous: Stop | None, leg_s: float, leg_m: float, vid: str, tag: str
    ) -> None:
        """Whole minutes; travel as the matrix has it; arrival and start in a possible order."""
        for name in ("arrival", "start", "departure"):
            value = getattr(stop, name)
            if not _whole(value):
                msg = f"{tag}: {name} {value!r} is not a whole minute."
                self.add(Code.time_not_whole_minute, msg, vid, stop.need)
        if abs(stop.travel_s - leg_s) > max(TRAVEL_TOLERANCE_S, TRAVEL_TOLERANCE_FRACTION * leg_s):
            msg = f"{tag}: travel recorded {stop.travel_s:.0f} s, the matrix gives {leg_s:.0f} s."
            self.add(Code.travel_mismatch, msg, vid, stop.need)
        if abs(stop.distance_m - leg_m) > max(
            DISTANCE_TOLERANCE_M, TRAVEL_TOLERANCE_FRACTION * leg_m
        ):
            msg = (
                f"{tag}: distance recorded {stop.distance_m:.0f} m, the matrix gives {leg_m:.0f} m."
            )
            self.add(Code.distance_mismatch, msg, vid, stop.need)
        # Judged by the matrix, not the recorded travel, which cannot excuse an early arrival.
        if previous is not None and stop.arrival < previous.departure + leg_s / 60 - ROUNDING_MIN:
            msg = (
                f"{tag}: arrives at {_clock(stop.arrival)}, but leaving the previous stop at"
                f" {_clock(previous.departure)} it needs {leg_s / 60:.1f} min to get there."
            )
            self.add(Code.arrival_too_early, msg, vid, stop.need)
        if stop.start < stop.arrival:
            msg = (
                f"{tag}: starts at {_clock(stop.start)}, before arriving at {_clock(stop.arrival)}."
            )
            self.add(Code.start_before_arrival, msg, vid, stop.need)

    def stop_need(
        self, stop: Stop, assigned: dict[str, Assignment], vid: str, tag: str
    ) -> Need | None:
        """The need a task or collect stop serves (``None`` if unknown), reporting stray stops."""
        if stop.need is None:
            self.add(Code.stop_no_need, f"{tag}: a {stop.kind} stop names no need.", vid)
            return None
        need = self.needs.get(stop.need)
        if need is None:
            self.add(Code.need_unknown, f"{tag}: names unknown need {stop.need}.", vid, stop.need)
        elif stop.need not in assigned:
            msg = f"{tag}: need {stop.need} is not assigned, yet has a stop."
            self.add(Code.stop_unassigned, msg, vid, stop.need)
        elif assigned[stop.need].volunteer != vid:
            msg = f"{tag}: need {stop.need} is assigned to {assigned[stop.need].volunteer}."
            self.add(Code.stop_on_other_route, msg, vid, stop.need)
        return need

    def check_stop_at_need(
        self, stop: Stop, previous: Stop | None, need: Need, vid: str, tag: str
    ) -> None:
        """The stop fits the need: kind, place, the resident's window or the site's hours."""
        if stop.kind == StopKind.collect:
            fits = need.kind.is_delivery
        else:
            fits = stop.kind == _service_stop_kind(need.kind)
        if not fits:
            msg = f"{tag}: a {stop.kind} stop for a {need.kind} need."
            self.add(Code.stop_kind_mismatch, msg, vid, need.id)

        if stop.kind == StopKind.collect:
            self.check_collect(stop, need, vid, tag)
            return
        if stop.kind == StopKind.call:
            # A call is made from wherever the volunteer already is.
            if previous is None or not _same_place(stop.lon, stop.lat, previous.lon, previous.lat):
                msg = f"{tag}: a call must be made from the previous stop's place."
                self.add(Code.stop_location, msg, vid, need.id)
        elif not _same_place(stop.lon, stop.lat, need.lon, need.lat):
            msg = (
                f"{tag}: at ({stop.lon:.6f}, {stop.lat:.6f}), not at the resident's place"
                f" ({need.lon:.6f}, {need.lat:.6f})."
            )
            self.add(Code.stop_location, msg, vid, need.id)
        if not need.window_start <= stop.start <= need.window_end:
            msg = (
                f"{tag}: service starts at {_clock(stop.start)}, outside the window"
                f" {_clock(need.window_start)}-{_clock(need.window_end)}."
            )
            self.add(Code.window_missed, msg, vid, need.id)

    def check_collect(self, stop: Stop, need: Need, vid: str, tag: str) -> None:
        """A collect is at the need's site, inside its opening hours."""
        if need.site is None:
            return  # not a delivery: reported as a kind mismatch
        site = self.sites.get(need.site)
        if site is None:
            msg = f"{tag}: need {need.id} names unknown site {need.site}."
            self.add(Code.site_unknown, msg, vid, need.id)
            return
        if stop.site != site.id:
            msg = f"{tag}: collects at {stop.site}, but the goods are at {site.id}."
            self.add(Code.collect_wrong_site, msg, vid, need.id)
        if not _same_place(stop.lon, stop.lat, site.lon, site.lat):
            msg = (
                f"{tag}: at ({stop.lon:.6f}, {stop.lat:.6f}), not at site {site.id}"
                f" ({site.lon:.6f}, {site.lat:.6f})."
            )
            self.add(Code.stop_location, msg, vid, need.id)
        if not site.opens <= stop.start <= site.closes:
            msg = (
                f"{tag}: collects at {_clock(stop.start)}, but {site.id} is open"
                f" {_clock(site.opens)}-{_clock(site.closes)}."
            )
            self.add(Code.site_closed, msg, vid, need.id)

    # --- one assignment -----------------------------------------------------------------------
    def check_assignment(self, a: Assignment, routes: dict[str, Route]) -> None:
        need = self.needs[a.need]
        vid = a.volunteer
        vol = self.volunteers.get(vid)
        if vol is None:
            msg = f"Need {need.id} is assigned to unknown volunteer {vid}."
            self.add(Code.volunteer_unknown, msg, vid, need.id)
            return

        if bool(a.continuity) != (need.previous_volunteer == vid):
            msg = (
                f"Need {need.id}: continuity is {a.continuity}, but the resident's previous"
                f" volunteer is {need.previous_volunteer} and this one is {vid}."
            )
            self.add(Code.continuity_flag, msg, vid, need.id)

        missing = sorted(str(s) for s in need.required_skills - vol.skills)
        if missing:
            msg = f"Need {need.id} needs {', '.join(missing)}, which {vid} lacks."
            self.add(Code.skill_missing, msg, vid, need.id)
        if need.language_required and not vol.speaks(need.language):
            msg = f"Need {need.id} requires {need.language}, which {vid} does not speak."
            self.add(Code.language_missing, msg, vid, need.id)

        partner = self.partners.get(a.partner)
        if partner is None:
            msg = f"Need {need.id} is routed to unknown partner {a.partner}."
            self.add(Code.partner_unknown, msg, vid, need.id)
        else:
            if need.kind not in partner.services:
                msg = f"Need {need.id}: partner {partner.id} does not offer {need.kind}."
                self.add(Code.partner_no_service, msg, vid, need.id)
            if not partner.covers(need.ward):
                msg = f"Need {need.id}: partner {partner.id} does not cover ward {need.ward}."
                self.add(Code.partner_no_ward, msg, vid, need.id)
            if partner.id not in vol.partners:
                msg = f"Need {need.id}: {vid} does not volunteer for {partner.id}."
                self.add(Code.volunteer_not_in_partner, msg, vid, need.id)

        # Exactly the need's stops on the volunteer's own route.
        route = routes.get(vid)
        if route is None:
            msg = f"Need {need.id} is assigned to {vid}, who has no route."
            self.add(Code.route_missing, msg, vid, need.id)
            return
        service = _service_stop_kind(need.kind)
        mine = [(i, s.kind) for i, s in enumerate(route.stops) if s.need == need.id]
        served = [i for i, kind in mine if kind == service]
        collects = [i for i, kind in mine if kind == StopKind.collect]
        if not served:
            msg = f"Need {need.id}: {vid}'s route has no {service} stop for it."
            self.add(Code.stop_missing, msg, vid, need.id)
        elif len(served) > 1:
            msg = f"Need {need.id}: {vid}'s route has {len(served)} {service} stops for it."
            self.add(Code.stop_duplicate, msg, vid, need.id)
        if need.kind.is_delivery:
            if not collects:
                msg = f"Need {need.id}: {vid}'s route has no collect stop for it."
                self.add(Code.collect_missing, msg, vid, need.id)
            elif len(collects) > 1:
                msg = f"Need {need.id}: {vid}'s route has {len(collects)} collect stops for it."
                self.add(Code.stop_duplicate, msg, vid, need.id)
            if collects and served and served[0] < collects[0]:
                msg = f"Need {need.id}: {vid} delivers it before collecting it."
                self.add(Code.deliver_before_collect, msg, vid, need.id)
        if served and a.start != route.stops[served[0]].start:
            msg = (
                f"Need {need.id}: the assignment starts at {_clock(a.start)}, its stop at"
                f" {_clock(route.stops[served[0]].start)}."
            )
            self.add(Code.assignment_start_mismatch, msg, vid, need.id)

    # --- partners' daily capacity -------------------------------------------------------------
    def check_partner_capacity(self, assigned: dict[str, Assignment]) -> None:
        used: Counter[tuple[str, ServiceKind]] = Counter()
        for a in assigned.values():
            used[(a.partner, self.needs[a.need].kind)] += 1
        for (pid, kind), count in sorted(used.items()):
            partner = self.partners.get(pid)
            if partner is None:
                continue  # reported with each of its assignments
            limit = partner.capacity.get(kind)
            if limit is not None and count > limit:
                msg = (
                    f"Partner {pid} takes {count} {kind} needs, more than its capacity of {limit}."
                )
                self.add(Code.partner_capacity, msg)
