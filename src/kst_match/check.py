"""The independent plan validator: does a plan keep every rule of the day it was made for?

This module is the referee. It reads only the vocabulary (``kst_match.model``) and the travel
matrices (``kst_match.geo.travel``) and re-derives everything else from the day's inputs, so a
fault in the solver cannot hide behind the same fault here. Each check is written out plainly.

Rules checked (times are seconds after midnight unless said, travel seconds, distances metres):

- coverage: every need of the day is assigned or unserved, exactly once; nothing unknown;
  unserved needs carry a reason and a detail.
- routes: one per volunteer with work, from home (``start``) to home (``end``), by the
  volunteer's transport; each assignment's route holds exactly its need's stops (a delivery: one
  collect at its site, then one deliver at the resident; a visit: one visit at the resident; a
  call: one call, made from wherever the volunteer is); no stop for a need not assigned to it.
- times, on the exact times (``arrival_s``, ``start_s``, ``departure_s``; tolerance 1e-6 s):
  the minute fields are those times rounded down; arrival no earlier than the previous
  departure plus the leg's travel by the travel model (so no stop starts before the previous
  one ends, calls included: a call has no travel and is made where the volunteer is, and the
  leg after it is from the last place travelled to); start no earlier than arrival; departure
  exactly start plus the time on site. A plan without exact times is judged on the earliest
  exact times its minutes allow, carried along the route, so the rounding never accumulates.
- one visit to a site: consecutive collects at the same site are one visit, with no travel
  between them, of ``plan.per_item_s`` per collect and then ``plan.handling_s`` once; its
  collects share their arrival and departure, and each starts ``plan.per_item_s`` after the
  one before; no other stops share time.
- windows bound the end: a delivery, visit or call starts at or after its window's start and
  ends at or before its end; a collection starts at or after the site opens and its handling
  ends at or before it closes; the day inside the shift (first departure, last arrival).
- goods on board: a delivery starts at most ``plan.onboard_limit_min`` after its collection
  starts (goods already on board when the route begins, or when a re-plan was made at
  ``now``, are exempt).
- travel: each leg's recorded time and distance agree with the travel model (1 s / 1 m or
  0.5%); a route's travel, summed from the travel model, within the volunteer's limit.
- load: the load recorded on leaving each stop equals the one recomputed, is never negative,
  never above the volunteer's capacity, and is zero at the end.
- matching: skills, required language, the partner offers the kind, covers the ward, the
  volunteer belongs to it, and no partner exceeds its daily capacity for a kind.
- limits: tasks per volunteer.
- KPIs: those the plan states are recounted from the plan and the day, service by IMD decile,
  IMD quintile and ward included (from each need's decile and ward in the day).
- unserved reasons, re-tested against the final plan: a rule reason must hold by the rules;
  ``partner_capacity`` only when every partner that offers the kind, covers the ward and has a
  qualified volunteer has used up its capacity; ``no_time``, ``too_far`` and ``no_capacity``
  only when no volunteer could serve the need alone on an empty day, ``crowded_out`` and
  ``not_planned_in_time`` only when one could; and for every reason but the rule reasons, no
  qualified volunteer's final route may take the need at any position (an exact test of every
  rule above, start times chosen as early as the windows and the goods-on-board bound allow).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from kst_match.geo.travel import Matrix, TravelModel
from kst_match.model import (
    Assignment,
    Day,
    Need,
    Partner,
    Plan,
    Priority,
    Reason,
    Route,
    ServiceKind,
    Site,
    Stop,
    StopKind,
    Transport,
    Volunteer,
    format_clock,
)

# Two places are the same if they differ by less than this many degrees (about 1 cm).
SAME_PLACE_DEG = 1e-7
# Recorded travel may differ from the matrix by this much (floating point and rounding).
TRAVEL_TOLERANCE_S = 1.0
DISTANCE_TOLERANCE_M = 1.0
TRAVEL_TOLERANCE_FRACTION = 0.005
# Exact times are compared to this many seconds (floating point only).
TIME_TOLERANCE_S = 1e-6
# The insertion test skips the positions a cheap necessary condition rules out (the exact
# test alone gives the same answers, only slower).
PRUNE_POSITIONS = True
# A plan's KPIs are rounded: travel to 0.1 min, distance to 0.01 km, means to 0.01.
KPI_TRAVEL_TOLERANCE_MIN = 0.1
KPI_DISTANCE_TOLERANCE_KM = 0.01
# Totals are summed over legs each rounded to 0.1 s and 0.1 m, so on a day of thousands of
# legs they may differ from the exact travel by up to half of that per leg.
LEG_ROUNDING_S = 0.05
LEG_ROUNDING_M = 0.05
KPI_MEAN_TOLERANCE = 0.01

# Reasons found by the rules alone (partners, skills, languages, site hours).
RULE_REASONS = frozenset(
    {Reason.no_partner, Reason.no_skill, Reason.no_language, Reason.site_closed}
)
# Reasons that say no volunteer could serve the need alone on an empty day.
ALONE_REASONS = frozenset({Reason.no_time, Reason.too_far, Reason.no_capacity})
# Reasons that say some volunteer could serve the need alone on an empty day.
COULD_ALONE_REASONS = frozenset({Reason.crowded_out, Reason.not_planned_in_time})


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
    minute_mismatch = "minute_mismatch"
    arrival_too_early = "arrival_too_early"
    start_before_arrival = "start_before_arrival"
    departure_too_early = "departure_too_early"
    departure_too_late = "departure_too_late"
    collect_visit_split = "collect_visit_split"
    window_missed = "window_missed"
    site_closed = "site_closed"
    shift_exceeded = "shift_exceeded"
    onboard_too_long = "onboard_too_long"
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
    # figures and reasons
    kpi_mismatch = "kpi_mismatch"
    unserved_reason_false = "unserved_reason_false"
    unserved_insertable = "unserved_insertable"


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


def assert_valid(
    day: Day,
    plan: Plan,
    travel: TravelModel,
    *,
    absent: Collection[str] = (),
    now: int | None = None,
) -> None:
    """Raise ``PlanInvalid`` listing the violations if ``plan`` breaks any rule of ``day``."""
    violations = check_plan(day, plan, travel, absent=absent, now=now)
    if violations:
        raise PlanInvalid(violations)


def check_plan(
    day: Day,
    plan: Plan,
    travel: TravelModel,
    *,
    absent: Collection[str] = (),
    now: int | None = None,
) -> list[Violation]:
    """Every rule of ``day`` that ``plan`` breaks, travel judged by ``travel``; empty if valid.

    A re-plan is judged with what the plan itself does not record: ``absent``, the volunteers
    who dropped out (no unserved need is expected to fit into their day), and ``now``, the
    minute after midnight it was made at (nothing new can be done before it: the stops that
    start earlier stay where they are).
    """
    return _Referee(day, plan, travel, frozenset(absent), now).run()


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
_TASK_KINDS = (StopKind.deliver, StopKind.visit, StopKind.call)
_TIMES = ("arrival", "start", "departure")


def _same_place(a_lon: float, a_lat: float, b_lon: float, b_lat: float) -> bool:
    return abs(a_lon - b_lon) <= SAME_PLACE_DEG and abs(a_lat - b_lat) <= SAME_PLACE_DEG


def _whole(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clock(minutes: float) -> str:
    return format_clock(minutes) if 0 <= minutes <= 24 * 60 else f"{minutes} min"


def _hms(seconds: float) -> str:
    """Seconds after midnight as ``HH:MM:SS`` (a tenth of a second shown when there is one)."""
    if not math.isfinite(seconds) or not 0 <= seconds <= 48 * 3600:
        return f"{seconds} s"
    whole = int(seconds)
    tenths = round((seconds - whole) * 10)
    if tenths == 10:
        whole, tenths = whole + 1, 0
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{text}.{tenths}" if tenths else text


def _service_stop_kind(kind: ServiceKind) -> StopKind:
    """The stop at which a need of this kind is served."""
    if kind.is_delivery:
        return StopKind.deliver
    if kind.is_visit:
        return StopKind.visit
    return StopKind.call


def _qualified(need: Need, vol: Volunteer) -> bool:
    """Skills (the need's and its kind's) and a required language."""
    if not need.required_skills <= vol.skills:
        return False
    return not need.language_required or vol.speaks(need.language)


def _bounds(stop: Stop, name: str) -> tuple[float, float]:
    """The exact time ``name`` of ``stop`` as an interval, seconds: the exact time when
    recorded, else the minute it was rounded down to."""
    exact = getattr(stop, f"{name}_s")
    if exact is not None:
        return float(exact), float(exact)
    minute = float(getattr(stop, name)) * 60
    return minute, minute + 60


def _recorded(stop: Stop, name: str) -> str:
    """The time ``name`` of ``stop`` as recorded: exact when it is, else the minute."""
    exact = getattr(stop, f"{name}_s")
    return _hms(exact) if exact is not None else _clock(getattr(stop, name))


def _shared(a: Stop, b: Stop, item_s: float = 0.0) -> bool:
    """Do two stops record the same arrival and departure, and starts ``item_s`` apart
    (exactly where both have exact times; in minutes, within the minute)?"""
    for name in _TIMES:
        step = item_s if name == "start" else 0.0
        x, y = getattr(a, f"{name}_s"), getattr(b, f"{name}_s")
        if x is not None and y is not None:
            if abs(x + step - y) > TIME_TOLERANCE_S:
                return False
        elif not 0 <= getattr(b, name) - getattr(a, name) <= math.ceil(step / 60):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Exact schedules for the insertion test
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Node:
    """One visit of a route for the insertion test: a place (``None`` for a call, made where
    the volunteer is), when service may start (``lo``..``hi``, seconds), how long it takes
    (``busy``, seconds), the change of load, and the route stop it stands for (its first)."""

    kind: StopKind
    place: int | None
    lo: float
    hi: float
    busy: float
    load: int = 0
    site: str | None = None
    needs: tuple[str, ...] = ()
    stop: int = -1
    fixed: bool = False  # started before the re-plan: held at its recorded time


@dataclass(frozen=True)
class _Day:
    """A volunteer's route as nodes: consecutive collects at one site merged into one visit;
    ``pairs`` are (collect node, deliver node) indices; ``onboard`` the load on leaving home;
    the first ``fixed`` nodes keep their recorded start."""

    nodes: list[_Node]
    pairs: list[tuple[int, int]]
    onboard: int
    tasks: int
    fixed: int = 0  # the first nodes, started before the re-plan: nothing goes before them


def _places(nodes: Sequence[_Node]) -> list[int]:
    """Where each node happens: its place, or for a call where the volunteer last was."""
    out: list[int] = []
    for node in nodes:
        out.append(node.place if node.place is not None else out[-1])
    return out


def _legs(nodes: Sequence[_Node], seconds: np.ndarray) -> list[float]:
    """Travel between consecutive nodes, seconds."""
    at = _places(nodes)
    return [float(seconds[a, b]) for a, b in itertools.pairwise(at)]


def _earliest(
    nodes: Sequence[_Node], legs: Sequence[float], pairs: Sequence[tuple[int, int]], limit: float
) -> list[float] | None:
    """The earliest service starts along ``nodes`` (seconds), or ``None`` if none exists.

    A simple temporal network solved exactly by Bellman-Ford on lower bounds: each node starts
    no earlier than its ``lo`` and than the previous node's start plus its time on site and the
    leg; a collection starts no earlier than ``limit`` before its delivery. The least solution
    is feasible if and only if it keeps every ``hi``; with a positive cycle (goods that cannot
    arrive within the limit) it never settles.
    """
    t = [node.lo for node in nodes]
    for _ in range(len(pairs) + 2):
        for k in range(1, len(nodes)):
            t[k] = max(t[k], t[k - 1] + nodes[k - 1].busy + legs[k - 1])
        if any(t[k] > node.hi + TIME_TOLERANCE_S for k, node in enumerate(nodes)):
            return None
        moved = False
        for c, d in pairs:
            if t[d] - t[c] > limit + TIME_TOLERANCE_S:
                t[c] = t[d] - limit
                moved = True
        if not moved:
            return t
    return None


def _latest(nodes: Sequence[_Node], legs: Sequence[float]) -> list[float]:
    """The latest service starts along ``nodes`` ignoring the goods-on-board bound, seconds."""
    t = [node.hi for node in nodes]
    for k in range(len(nodes) - 2, -1, -1):
        t[k] = min(t[k], t[k + 1] - nodes[k].busy - legs[k])
    return t


def _relaxed_earliest(nodes: Sequence[_Node], legs: Sequence[float]) -> list[float]:
    """The earliest service starts ignoring the goods-on-board bound, seconds."""
    t = [node.lo for node in nodes]
    for k in range(1, len(nodes)):
        t[k] = max(t[k], t[k - 1] + nodes[k - 1].busy + legs[k - 1])
    return t


def _shifted(pairs: Sequence[tuple[int, int]], at: int) -> list[tuple[int, int]]:
    """``pairs`` after a node is inserted at index ``at``."""
    return [(c + (c >= at), d + (d >= at)) for c, d in pairs]


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
class _Referee:
    """Walks one plan against one day, collecting violations in ``self.found``."""

    def __init__(
        self,
        day: Day,
        plan: Plan,
        travel: TravelModel,
        absent: frozenset[str] = frozenset(),
        now: int | None = None,
    ) -> None:
        self.day = day
        self.plan = plan
        self.travel = travel
        self.absent = absent
        self.now_s = -math.inf if now is None else now * 60.0
        self.found: list[Violation] = []
        # Built here from the day's own tuples, so the referee relies on nothing precomputed.
        self.needs: dict[str, Need] = {n.id: n for n in day.needs}
        self.volunteers: dict[str, Volunteer] = {v.id: v for v in day.volunteers}
        self.partners: dict[str, Partner] = {p.id: p for p in day.partners}
        self.sites: dict[str, Site] = {s.id: s for s in day.sites}
        self.onboard_limit_s = float(plan.onboard_limit_min) * 60
        self.handling_s = float(plan.handling_s)
        self.per_item_s = float(plan.per_item_s)
        # Per route, filled by ``check_route``: travel and distance by the travel model.
        self.route_travel_s: dict[str, float] = {}
        self.route_distance_m: dict[str, float] = {}
        # The day's places (homes, sites, residents) and their matrices by mode, made on demand.
        self._place_index: dict[tuple[str, str], int] = {}
        self._matrices: dict[Transport, Matrix] = {}

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
        self.check_kpis(assigned, routes)
        self.check_reasons(assigned, routes)
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
        tags = [
            f"{vid}'s stop {i} ({s.kind}{' ' + s.need if s.need else ''})"
            for i, s in enumerate(stops)
        ]
        needs = [
            None
            if s.kind in (StopKind.start, StopKind.end)
            else self.stop_need(s, assigned, vid, tags[i])
            for i, s in enumerate(stops)
        ]

        # Legs by the volunteer's own transport, from one matrix over the route's stops. A call
        # is made where the volunteer is: no travel to it, and the next leg starts from the
        # last place travelled to.
        points = np.array([[s.lon, s.lat] for s in stops], dtype=float)
        matrix = self.travel.matrix(points, vol.transport)
        at: list[int] = []
        for i, stop in enumerate(stops):
            at.append(at[-1] if stop.kind == StopKind.call and i > 0 else i)
        legs_s = [0.0] + [float(matrix.seconds[at[i - 1], at[i]]) for i in range(1, len(stops))]
        legs_m = [0.0] + [float(matrix.metres[at[i - 1], at[i]]) for i in range(1, len(stops))]
        self.route_travel_s[vid] = sum(legs_s)
        self.route_distance_m[vid] = sum(legs_m)

        for i, stop in enumerate(stops):
            self.check_recorded(stop, legs_s[i], legs_m[i], vid, tags[i])
            if needs[i] is not None:
                self.check_stop_at_need(stop, stops[i - 1] if i else None, needs[i], vid, tags[i])
        starts = self.check_timeline(stops, needs, legs_s, vol, tags)
        self.check_onboard(stops, needs, starts, vid, tags)
        self.check_loads(stops, needs, vol, tags)

        tasks = sum(1 for s in stops if s.kind in _TASK_KINDS)
        if tasks > vol.max_tasks:
            msg = f"{vid} has {tasks} tasks, more than the limit of {vol.max_tasks}."
            self.add(Code.max_tasks, msg, vid)
        travel_s = self.route_travel_s[vid]
        if travel_s > vol.max_travel * 60 + TIME_TOLERANCE_S:
            msg = (
                f"{vid} travels {travel_s / 60:.2f} min by the travel model, more than the limit"
                f" of {vol.max_travel}."
            )
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

    def check_recorded(self, stop: Stop, leg_s: float, leg_m: float, vid: str, tag: str) -> None:
        """Whole minutes, the rounded-down exact times; travel and distance as the model has
        them."""
        for name in _TIMES:
            value = getattr(stop, name)
            if not _whole(value):
                msg = f"{tag}: {name} {value!r} is not a whole minute."
                self.add(Code.time_not_whole_minute, msg, vid, stop.need)
                continue
            exact = getattr(stop, f"{name}_s")
            if exact is None:
                continue
            low, high = value * 60, value * 60 + 60
            if not (_number(exact) and low - TIME_TOLERANCE_S <= exact < high + TIME_TOLERANCE_S):
                msg = (
                    f"{tag}: {name} recorded as {_clock(value)}, but its exact time"
                    f" {_hms(exact) if _number(exact) else exact} rounds down to another minute."
                )
                self.add(Code.minute_mismatch, msg, vid, stop.need)
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

    def joins_visit(
        self, previous: Stop, stop: Stop, prev_need: Need | None, need: Need | None
    ) -> bool:
        """Is ``stop`` a collect at the same site as the collect just before it, in one visit?
        A visit made before a re-plan (ended by ``now``) is over: a collect planned after it
        at the same site is a visit of its own."""
        if previous.kind != StopKind.collect or stop.kind != StopKind.collect:
            return False
        if _bounds(previous, "departure")[1] <= self.now_s <= _bounds(stop, "arrival")[0]:
            return False
        site_a = prev_need.site if prev_need is not None else previous.site
        site_b = need.site if need is not None else stop.site
        return (
            site_a is not None
            and site_a == site_b
            and _same_place(previous.lon, previous.lat, stop.lon, stop.lat)
        )

    def visit_s(self, items: int) -> float:
        """Time at a site to collect ``items`` parcels on one visit, seconds."""
        return self.handling_s + items * self.per_item_s

    def busy_s(self, stop: Stop, need: Need | None, items: int = 1) -> float | None:
        """Time on site at ``stop``, seconds (a collect: its whole visit of ``items``
        parcels); ``None`` when its need is unknown."""
        if stop.kind == StopKind.collect:
            return self.visit_s(items)
        if stop.kind in _TASK_KINDS:
            return need.duration * 60.0 if need is not None else None
        return 0.0

    def check_timeline(
        self,
        stops: list[Stop],
        needs: list[Need | None],
        legs_s: list[float],
        vol: Volunteer,
        tags: list[str],
    ) -> list[tuple[float, float]]:
        """Exact times in a possible order, windows, site hours and the shift.

        Walks the route with the earliest exact times its record allows (the exact times
        themselves when recorded), so any error is carried along the route rather than
        forgiven leg by leg. After a stop found too early, the walk goes on from its record.
        Returns each stop's service start as (earliest, latest) the record allows, seconds.
        """
        vid = vol.id
        starts: list[tuple[float, float]] = []
        leave = -math.inf
        first_leave = math.inf
        back = -math.inf
        for i, stop in enumerate(stops):
            tag, need = tags[i], needs[i]
            if i > 0 and self.joins_visit(stops[i - 1], stop, needs[i - 1], need):
                if _shared(stops[i - 1], stop, self.per_item_s):
                    # The same visit: no travel, no more handling, the next parcel.
                    lo, hi = starts[-1]
                    starts.append((lo + self.per_item_s, hi + self.per_item_s))
                    continue
                msg = (
                    f"{tag}: a collect at the same site as the stop before, yet not the same"
                    " visit (consecutive collects at one site share their arrival and"
                    " departure, and follow each other by the time per parcel)."
                )
                self.add(Code.collect_visit_split, msg, vid, stop.need)
            (a_lo, a_hi), (s_lo, s_hi), (d_lo, d_hi) = (_bounds(stop, n) for n in _TIMES)
            items = 1
            while i + items < len(stops) and self.joins_visit(
                stops[i + items - 1], stops[i + items], needs[i + items - 1], needs[i + items]
            ):
                items += 1
            known = self.busy_s(stop, need, items)
            busy = known or 0.0
            arrive = a_lo if i == 0 else max(a_lo, leave + legs_s[i])
            if arrive > a_hi + TIME_TOLERANCE_S:
                msg = (
                    f"{tag}: arrives at {_recorded(stop, 'arrival')}, but the stop before ends at"
                    f" {_hms(leave)}"
                    f" and the leg takes {legs_s[i]:.1f} s: {_hms(arrive)} at the earliest."
                )
                self.add(Code.arrival_too_early, msg, vid, stop.need)
                arrive = a_hi
            begin = max(s_lo, arrive)
            if begin > s_hi + TIME_TOLERANCE_S:
                msg = (
                    f"{tag}: starts at {_recorded(stop, 'start')}, before arriving at"
                    f" {_hms(arrive)}."
                )
                self.add(Code.start_before_arrival, msg, vid, stop.need)
                begin = s_hi
            if begin + busy > d_hi + TIME_TOLERANCE_S:
                msg = (
                    f"{tag}: leaves at {_recorded(stop, 'departure')}, but starting at"
                    f" {_hms(begin)} it takes"
                    f" {busy:.0f} s."
                )
                self.add(Code.departure_too_early, msg, vid, stop.need)
            elif (
                known is not None
                and d_lo - busy > s_hi + TIME_TOLERANCE_S
                # A visit made before a re-plan may have collected goods that have gone back
                # since (their collects left the route): its recorded departure stands.
                and not (stop.kind == StopKind.collect and s_hi < self.now_s)
            ):
                msg = (
                    f"{tag}: leaves at {_recorded(stop, 'departure')}, but starting at"
                    f" {_recorded(stop, 'start')} it takes only"
                    f" {busy:.0f} s."
                )
                self.add(Code.departure_too_late, msg, vid, stop.need)
            else:
                begin = max(begin, d_lo - busy)
            leave = min(d_hi, max(d_lo, begin + busy))
            if i == 0:
                first_leave = leave
            back = arrive
            starts.append((begin, s_hi))
            if need is not None:
                self.check_service_window(stop, need, begin, vid, tag, busy)

        if first_leave < vol.shift_start * 60 - TIME_TOLERANCE_S:
            msg = (
                f"{vid} leaves home at {_hms(first_leave)}, before the shift starts"
                f" at {_clock(vol.shift_start)}."
            )
            self.add(Code.shift_exceeded, msg, vid)
        if back > vol.shift_end * 60 + TIME_TOLERANCE_S:
            msg = (
                f"{vid} is back home at {_hms(back)}, after the shift ends"
                f" at {_clock(vol.shift_end)}."
            )
            self.add(Code.shift_exceeded, msg, vid)
        return starts

    def check_service_window(
        self, stop: Stop, need: Need, begin: float, vid: str, tag: str, busy: float = 0.0
    ) -> None:
        """Service starts and ends inside the resident's window, or the site's hours (a
        collect's whole visit, ``busy`` seconds from ``begin``)."""
        if stop.kind == StopKind.collect:
            site = self.sites.get(need.site) if need.site else None
            if site is None:
                return  # reported as an unknown site or a kind mismatch
            if (
                begin < site.opens * 60 - TIME_TOLERANCE_S
                or begin + busy > site.closes * 60 + TIME_TOLERANCE_S
            ):
                msg = (
                    f"{tag}: collects from {_hms(begin)} to {_hms(begin + busy)}, but"
                    f" {site.id} is open {_clock(site.opens)}-{_clock(site.closes)}."
                )
                self.add(Code.site_closed, msg, vid, need.id)
            return
        if stop.kind not in _TASK_KINDS:
            return
        end = begin + need.duration * 60
        if (
            begin < need.window_start * 60 - TIME_TOLERANCE_S
            or end > need.window_end * 60 + TIME_TOLERANCE_S
        ):
            msg = (
                f"{tag}: service from {_hms(begin)} to {_hms(end)}, outside the window"
                f" {_clock(need.window_start)}-{_clock(need.window_end)}."
            )
            self.add(Code.window_missed, msg, vid, need.id)

    def check_onboard(
        self,
        stops: list[Stop],
        needs: list[Need | None],
        starts: list[tuple[float, float]],
        vid: str,
        tags: list[str],
    ) -> None:
        """Each delivery starts within the plan's on-board limit of its collection's start."""
        collected: dict[str, int] = {}
        for i, stop in enumerate(stops):
            need = needs[i]
            if need is None:
                continue
            if stop.kind == StopKind.collect:
                collected[need.id] = i  # the goods are on board from their last collection
            elif stop.kind == StopKind.deliver and need.id in collected:
                c = collected[need.id]
                if starts[c][0] < self.now_s:
                    continue  # on board when the re-plan was made: exempt, as documented
                held = starts[i][0] - starts[c][1]
                if held > self.onboard_limit_s + TIME_TOLERANCE_S:
                    msg = (
                        f"{tags[i]}: the goods collected at {_hms(starts[c][1])} are delivered at"
                        f" {_hms(starts[i][0])}, {held / 60:.1f} min on board, more than the"
                        f" limit of {self.plan.onboard_limit_min} min."
                    )
                    self.add(Code.onboard_too_long, msg, vid, need.id)

    def check_loads(
        self, stops: list[Stop], needs: list[Need | None], vol: Volunteer, tags: list[str]
    ) -> None:
        """Loads recomputed from the needs: as recorded, never negative, within capacity."""
        vid = vol.id
        load = 0  # carried on leaving the stop
        for i, stop in enumerate(stops):
            need = needs[i]
            if need is not None:
                if stop.kind == StopKind.collect:
                    load += need.load
                elif stop.kind == StopKind.deliver:
                    load -= need.load
            if stop.load != load:
                msg = f"{tags[i]}: load recorded {stop.load}, recomputed {load}."
                self.add(Code.load_mismatch, msg, vid, stop.need)
            if load < 0:
                msg = (
                    f"{tags[i]}: the load would be {load}: goods delivered before their collection."
                )
                self.add(Code.load_negative, msg, vid, stop.need)
            if load > vol.capacity:
                msg = f"{tags[i]}: carries {load}, more than {vid}'s capacity of {vol.capacity}."
                self.add(Code.capacity_exceeded, msg, vid, stop.need)
        if load != 0:
            self.add(Code.load_not_empty_at_end, f"{vid} comes home still carrying {load}.", vid)

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
        """The stop fits the need: kind and place (the times are checked along the route)."""
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

    def check_collect(self, stop: Stop, need: Need, vid: str, tag: str) -> None:
        """A collect is at the need's site."""
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

    # --- KPIs ---------------------------------------------------------------------------------
    def check_kpis(self, assigned: dict[str, Assignment], routes: dict[str, Route]) -> None:
        """Each KPI the plan states agrees with the one recounted from the plan and the day."""
        kpis = self.plan.kpis
        if not kpis:
            return
        for path, (expected, tolerance) in self.recount_kpis(assigned, routes).items():
            found: object = kpis
            for key in path:
                if not isinstance(found, Mapping) or key not in found:
                    break
                found = found[key]
            else:
                if not (_number(found) and abs(float(found) - expected) <= tolerance + 1e-9):  # type: ignore[arg-type]
                    msg = f"KPI {'.'.join(path)} is {found!r}, recounted {expected:g}."
                    self.add(Code.kpi_mismatch, msg)
        for name in ("served_by_priority", "served_by_kind", "unserved_by_reason"):
            self.check_kpi_table(name, kpis.get(name), assigned)
        self.check_equity(kpis.get("equity"), assigned)

    def check_equity(self, stated: object, assigned: dict[str, Assignment]) -> None:
        """Service by IMD decile, IMD quintile and ward, recounted from the day's needs (their
        LSOA's decile and their ward) and the plan: every figure of every row, and no row
        stated that the recount does not have (or missing that it has)."""
        if stated is None:
            return
        if not isinstance(stated, Mapping):
            self.add(Code.kpi_mismatch, f"KPI equity is {stated!r}, not a table.")
            return
        reason: dict[str, str] = {}
        for u in self.plan.unserved:
            if u.need in self.needs:
                reason.setdefault(u.need, str(u.reason))
        columns = sorted(set(reason.values()))

        def decile(n: Need) -> str:
            return "unknown" if n.imd_decile is None else str(n.imd_decile)

        def quintile(n: Need) -> str:
            # Deciles 1-2 make quintile 1 (the most deprived fifth), 3-4 quintile 2, and so on.
            return "unknown" if n.imd_decile is None else str(math.ceil(n.imd_decile / 2))

        def ward(n: Need) -> str:
            return n.ward or "unknown"

        for name, key, listed in (
            ("by_imd_decile", decile, [str(d) for d in range(1, 11)]),
            ("by_imd_quintile", quintile, [str(q) for q in range(1, 6)]),
            ("by_ward", ward, []),
        ):
            groups: dict[str, list[Need]] = {g: [] for g in listed}
            for n in self.day.needs:
                groups.setdefault(key(n), []).append(n)
            table = stated.get(name)
            if not isinstance(table, Mapping):
                self.add(Code.kpi_mismatch, f"KPI equity.{name} is {table!r}, not a table.")
                continue
            for group in sorted(set(groups) | {str(k) for k in table}, key=str):
                self.check_equity_row(
                    f"equity.{name}.{group}",
                    table.get(group),
                    groups.get(group),
                    assigned,
                    reason,
                    columns,
                )

    def check_equity_row(
        self,
        where: str,
        row: object,
        needs: list[Need] | None,
        assigned: dict[str, Assignment],
        reason: dict[str, str],
        columns: list[str],
    ) -> None:
        """One row of an equity table against the needs of its group (None: no such group)."""
        if needs is None or not isinstance(row, Mapping):
            self.add(
                Code.kpi_mismatch,
                f"KPI {where} is {row!r}, recounted {needs and len(needs)} needs.",
            )
            return
        done = [n for n in needs if n.id in assigned]
        urgent = [n for n in needs if n.priority is Priority.urgent]
        left = Counter(reason[n.id] for n in needs if n.id in reason)
        want: dict[str, float | None] = {
            "needs": len(needs),
            "served": len(done),
            "unserved": len(needs) - len(done),
            "served_pct": 100 * len(done) / len(needs) if needs else None,
            "urgent": len(urgent),
            "urgent_served": sum(1 for n in urgent if n.id in assigned),
            **{c: left[c] for c in columns},
        }
        for cell, value in want.items():
            found = row.get(cell)
            if value is None:
                ok = found is None
            else:
                # The share is rounded to 0.1 percentage points; counts are exact.
                tolerance = 0.05 + 1e-9 if cell == "served_pct" else 0
                ok = _number(found) and abs(float(found) - value) <= tolerance  # type: ignore[arg-type]
            if not ok:
                shown = "none" if value is None else f"{value:g}"
                self.add(Code.kpi_mismatch, f"KPI {where}.{cell} is {found!r}, recounted {shown}.")

    def recount_kpis(
        self, assigned: dict[str, Assignment], routes: dict[str, Route]
    ) -> dict[tuple[str, ...], tuple[float, float]]:
        """The KPIs the plan states as scalars, recounted: by path, (value, tolerance)."""
        working = [r for r in routes.values() if any(s.need for s in r.stops)]
        tasks = [sum(1 for s in r.stops if s.kind in _TASK_KINDS) for r in working]
        unserved = {u.need for u in self.plan.unserved if u.need in self.needs}
        residents = {n.resident for n in self.day.needs if n.previous_volunteer}
        kept = sum(
            1 for a in assigned.values() if self.needs[a.need].previous_volunteer == a.volunteer
        )
        travel_s = sum(self.route_travel_s.get(r.volunteer, 0.0) for r in working)
        distance_m = sum(self.route_distance_m.get(r.volunteer, 0.0) for r in working)
        legs = sum(max(0, len(r.stops) - 1) for r in working)
        travel_tolerance = max(KPI_TRAVEL_TOLERANCE_MIN, 0.05 + legs * LEG_ROUNDING_S / 60)
        distance_tolerance = max(KPI_DISTANCE_TOLERANCE_KM, 0.005 + legs * LEG_ROUNDING_M / 1000)
        return {
            ("needs",): (len(self.day.needs), 0),
            ("served",): (len(assigned), 0),
            ("unserved",): (len(unserved), 0),
            ("volunteers_used",): (len(working), 0),
            ("travel_total_min",): (travel_s / 60, travel_tolerance),
            ("distance_total_km",): (distance_m / 1000, distance_tolerance),
            ("tasks_per_volunteer", "mean"): (
                statistics.fmean(tasks) if tasks else 0,
                KPI_MEAN_TOLERANCE,
            ),
            ("tasks_per_volunteer", "max"): (max(tasks, default=0), 0),
            ("tasks_per_volunteer", "stdev"): (
                statistics.pstdev(tasks) if tasks else 0,
                KPI_MEAN_TOLERANCE,
            ),
            ("continuity", "kept"): (kept, 0),
            ("continuity", "residents_with_previous_volunteer"): (len(residents), 0),
        }

    def check_kpi_table(self, name: str, stated: object, assigned: dict[str, Assignment]) -> None:
        """A table of counts (needs and served by priority or kind; unserved by reason),
        recounted; a row or cell the plan leaves out counts as zero."""
        if stated is None:
            return
        served = [self.needs[a.need] for a in assigned.values()]
        recount: dict[str, object]
        if name == "unserved_by_reason":
            first: dict[str, str] = {}
            for u in self.plan.unserved:
                if u.need in self.needs:
                    first.setdefault(u.need, str(u.reason))
            recount = dict(Counter(first.values()))
        else:
            by_priority = name == "served_by_priority"

            def key(n: Need) -> str:
                return n.priority.value if by_priority else n.kind.value

            groups = [p.value for p in Priority] if by_priority else []
            groups += sorted({key(n) for n in self.day.needs} - set(groups))
            recount = {
                g: {
                    "needs": sum(1 for n in self.day.needs if key(n) == g),
                    "served": sum(1 for n in served if key(n) == g),
                }
                for g in groups
            }
        if not isinstance(stated, Mapping):
            self.add(Code.kpi_mismatch, f"KPI {name} is {stated!r}, not a table.")
            return
        for group in sorted(set(recount) | {str(k) for k in stated}):
            want = recount.get(group, 0)
            got = stated.get(group, 0)
            if isinstance(want, dict):
                cells = got if isinstance(got, Mapping) else {}
                for cell, value in want.items():
                    found = cells.get(cell, 0) if isinstance(got, Mapping) else got
                    if not (_number(found) and found == value):
                        msg = f"KPI {name}.{group}.{cell} is {found!r}, recounted {value}."
                        self.add(Code.kpi_mismatch, msg)
            elif not (_number(got) and got == want):
                self.add(Code.kpi_mismatch, f"KPI {name}.{group} is {got!r}, recounted {want}.")

    # --- unserved reasons ---------------------------------------------------------------------
    def check_reasons(self, assigned: dict[str, Assignment], routes: dict[str, Route]) -> None:
        """Each unserved need's reason re-tested against the final plan."""
        used: Counter[tuple[str, ServiceKind]] = Counter(
            (a.partner, self.needs[a.need].kind) for a in assigned.values()
        )
        seen: set[str] = set()
        for u in self.plan.unserved:
            need = self.needs.get(u.need)
            if need is None or u.need in assigned or u.need in seen or u.reason not in set(Reason):
                continue
            seen.add(u.need)
            reason = Reason(u.reason)
            if reason in RULE_REASONS:
                self.check_rule_reason(need, reason)
                continue
            if reason is Reason.partner_capacity:
                self.check_capacity_reason(need, used)
            if reason in ALONE_REASONS or reason in COULD_ALONE_REASONS:
                able = self.could_serve_alone(need)
                if reason in ALONE_REASONS and able is not None:
                    vid, where = able
                    msg = (
                        f"Need {need.id} is unserved as {reason}, but {vid} could serve it alone"
                        f" on an empty day ({where})."
                    )
                    self.add(Code.unserved_reason_false, msg, vid, need.id)
                if reason in COULD_ALONE_REASONS and able is None:
                    msg = (
                        f"Need {need.id} is unserved as {reason}, but no volunteer could serve"
                        " it alone even on an empty day."
                    )
                    self.add(Code.unserved_reason_false, msg, need=need.id)
            fit = self.fitting_insertion(need, used, routes)
            if fit is not None:
                vid, where = fit
                msg = (
                    f"Need {need.id} is unserved as {reason}, but it fits into {vid}'s day:"
                    f" {where}."
                )
                self.add(Code.unserved_insertable, msg, vid, need.id)

    def offering(self, need: Need) -> list[Partner]:
        """The partners that offer the need's kind in its ward."""
        return [p for p in self.day.partners if need.kind in p.services and p.covers(need.ward)]

    def check_rule_reason(self, need: Need, reason: Reason) -> None:
        """A reason found by the rules: it must hold by the rules."""
        offering = {p.id for p in self.offering(need)}
        members = [
            v for v in self.day.volunteers if v.partners & offering and v.id not in self.absent
        ]
        skilled = [v for v in members if need.required_skills <= v.skills]
        qualified = [v for v in skilled if _qualified(need, v)]
        if reason is Reason.no_partner:
            verb = "offers" if len(offering) == 1 else "offer"
            wrong = f"{', '.join(sorted(offering))} {verb} it in its ward" if offering else ""
        elif reason is Reason.no_skill:
            wrong = f"{skilled[0].id} has the skills" if skilled else ""
        elif reason is Reason.no_language:
            if qualified:
                wrong = f"{qualified[0].id} has the skills and speaks {need.language}"
            else:
                wrong = "" if skilled else "no volunteer who could take it has the skills either"
        else:
            wrong = self.site_open_in_time(need)
        if wrong:
            msg = f"Need {need.id} is unserved as {reason}, but {wrong}."
            self.add(Code.unserved_reason_false, msg, need=need.id)

    def site_open_in_time(self, need: Need) -> str:
        """Why ``site_closed`` is false for ``need`` ('' if it holds): some collection in its
        site's hours allows a delivery in the window with no travel at all, within the
        goods-on-board limit."""
        if need.site is None:
            return "it has nothing to collect"
        site = self.sites.get(need.site)
        if site is None:
            return ""  # reported as an unknown site where it is collected
        visit = self.visit_s(1)
        c_lo, c_hi = site.opens * 60.0, site.closes * 60.0 - visit
        d_lo, d_hi = need.window_start * 60.0, (need.window_end - need.duration) * 60.0
        fits = c_lo <= c_hi and d_lo <= d_hi and d_hi - c_lo >= visit
        if fits and d_lo - c_hi <= self.onboard_limit_s:
            return (
                f"{site.id} is open {_clock(site.opens)}-{_clock(site.closes)}, in time"
                f" for the window {_clock(need.window_start)}-{_clock(need.window_end)}"
            )
        return ""

    def check_capacity_reason(self, need: Need, used: Counter[tuple[str, ServiceKind]]) -> None:
        """``partner_capacity``: every partner that offers the kind in the ward and has a
        qualified volunteer has used up its capacity for the kind."""
        for p in self.offering(need):
            if not any(
                p.id in v.partners and _qualified(need, v) and v.id not in self.absent
                for v in self.day.volunteers
            ):
                continue
            limit = p.capacity.get(need.kind)
            if limit is None or used[(p.id, need.kind)] < limit:
                left = "no limit" if limit is None else f"{used[(p.id, need.kind)]} of {limit} used"
                msg = (
                    f"Need {need.id} is unserved as partner_capacity, but {p.id} offers"
                    f" {need.kind} there with capacity left ({left})."
                )
                self.add(Code.unserved_reason_false, msg, need=need.id)
                return

    def candidates(self, need: Need, partners: set[str]) -> list[Volunteer]:
        """Volunteers of ``partners`` qualified for ``need`` who can carry its load."""
        return [
            v
            for v in self.day.volunteers
            if v.id not in self.absent
            and v.partners & partners
            and _qualified(need, v)
            and (not need.kind.is_delivery or need.load <= v.capacity)
        ]

    def could_serve_alone(self, need: Need) -> tuple[str, str] | None:
        """A volunteer who could serve ``need`` alone on an empty day, and how; else ``None``."""
        partners = {p.id for p in self.offering(need)}
        for vol in self.candidates(need, partners):
            empty = self.route_days(vol, None)
            if empty is None:
                continue
            where = self.insertion(need, vol, empty)
            if where is not None:
                return vol.id, where
        return None

    def fitting_insertion(
        self, need: Need, used: Counter[tuple[str, ServiceKind]], routes: dict[str, Route]
    ) -> tuple[str, str] | None:
        """A qualified volunteer whose final route takes ``need`` somewhere, and where."""
        partners = {
            p.id
            for p in self.offering(need)
            if p.capacity.get(need.kind) is None or used[(p.id, need.kind)] < p.capacity[need.kind]
        }
        for vol in self.candidates(need, partners):
            route = routes.get(vol.id)
            day = self.route_days(vol, route)
            if day is None or day.tasks + 1 > vol.max_tasks:
                continue
            where = self.insertion(need, vol, day)
            if where is not None:
                return vol.id, where
        return None

    # --- the insertion test -------------------------------------------------------------------
    def places(self) -> dict[tuple[str, str], int]:
        """The day's places, homes (``("home", volunteer)``), sites and residents
        (``("need", need)``), by their index in the day's matrices."""
        if not self._place_index:
            index = self._place_index
            for v in self.day.volunteers:
                index[("home", v.id)] = len(index)
            for s in self.day.sites:
                index[("site", s.id)] = len(index)
            for n in self.day.needs:
                index[("need", n.id)] = len(index)
        return self._place_index

    def place(self, kind: str, key: str) -> int:
        """The index of one of the day's places (see ``places``)."""
        return self.places()[(kind, key)]

    def seconds(self, mode: Transport) -> np.ndarray:
        """Travel between all the day's places by ``mode``, seconds (one matrix per mode)."""
        if mode not in self._matrices:
            located: dict[str, Mapping[str, Volunteer | Site | Need]] = {
                "home": self.volunteers,
                "site": self.sites,
                "need": self.needs,
            }
            points = np.zeros((len(self.places()), 2))
            for (kind, key), i in self.places().items():
                item = located[kind][key]
                points[i] = (item.lon, item.lat)
            self._matrices[mode] = self.travel.matrix(points, mode)
        return self._matrices[mode].seconds

    def route_days(self, vol: Volunteer, route: Route | None) -> _Day | None:
        """``vol``'s route as nodes (an empty day from home when there is none), or ``None``
        when it names something unknown or does not run from home to home. The stops that
        started before ``now`` keep their recorded times."""
        home = self.place("home", vol.id)
        leave = max(vol.shift_start * 60.0, self.now_s)
        start = _Node(StopKind.start, home, leave, math.inf, 0.0, stop=0)
        stops = route.stops if route is not None else []
        end = _Node(StopKind.end, home, -math.inf, vol.shift_end * 60.0, 0.0, stop=len(stops) - 1)
        if route is None:
            return _Day([start, replace(end, stop=1)], [], 0, 0)
        if len(stops) < 2 or stops[0].kind != StopKind.start or stops[-1].kind != StopKind.end:
            return None
        nodes = [self.pinned(start, stops[0], "departure")]
        collect_at: dict[str, int] = {}
        pairs: list[tuple[int, int]] = []
        onboard = 0
        tasks = 0
        for i, stop in enumerate(stops[1:-1], start=1):
            need = self.needs.get(stop.need) if stop.need else None
            if need is None:
                return None
            if stop.kind == StopKind.collect:
                site = self.sites.get(need.site) if need.site else None
                if site is None:
                    return None
                last = nodes[-1]
                if last.kind == StopKind.collect and last.site == site.id:
                    nodes[-1] = self.joined(last, need)
                else:
                    nodes.append(self.pinned(self.collect_node(need, site, i), stop))
                collect_at[need.id] = len(nodes) - 1
                continue
            if stop.kind not in _TASK_KINDS:
                return None
            tasks += 1
            node = self.pinned(self.service_node(need, i), stop)
            if stop.kind == StopKind.deliver:
                if need.id in collect_at:
                    pairs.append((collect_at[need.id], len(nodes)))
                else:
                    onboard += need.load  # on board before the route began
            nodes.append(node)
        fixed = max((k + 1 for k, node in enumerate(nodes) if node.fixed), default=0)
        return _Day([*nodes, end], pairs, onboard, tasks, fixed)

    def pinned(self, node: _Node, stop: Stop, name: str = "start") -> _Node:
        """``node``, held at its recorded time if it started before ``now``."""
        low, high = _bounds(stop, name)
        if low >= self.now_s:
            return node
        return replace(node, lo=low, hi=high, fixed=True)

    def collect_node(self, need: Need, site: Site, stop: int) -> _Node:
        """Collecting ``need``'s goods at ``site``: the handling inside the opening hours."""
        return _Node(
            StopKind.collect,
            self.place("site", site.id),
            site.opens * 60.0,
            site.closes * 60.0 - self.visit_s(1),
            self.visit_s(1),
            need.load,
            site.id,
            (need.id,),
            stop,
        )

    def joined(self, visit: _Node, need: Need) -> _Node:
        """A visit to a site that collects ``need``'s parcel too: one parcel's time longer,
        and done by the site's closing. (Its goods are counted on board from the visit's start:
        a little stricter than the stagger by parcel.)"""
        return replace(
            visit,
            hi=visit.hi if visit.fixed else visit.hi - self.per_item_s,
            busy=visit.busy + self.per_item_s,
            load=visit.load + need.load,
            needs=(*visit.needs, need.id),
        )

    def service_node(self, need: Need, stop: int) -> _Node:
        """Serving ``need`` (deliver, visit or call): start and end inside its window."""
        kind = _service_stop_kind(need.kind)
        return _Node(
            kind,
            None if kind == StopKind.call else self.place("need", need.id),
            need.window_start * 60.0,
            (need.window_end - need.duration) * 60.0,
            need.duration * 60.0,
            -need.load if kind == StopKind.deliver else 0,
            None,
            (need.id,),
            stop,
        )

    def insertion(self, need: Need, vol: Volunteer, day: _Day) -> str | None:
        """Where ``need`` fits into ``day`` (``vol``'s route), as words; ``None`` if nowhere.

        Positions are pruned by a cheap test (the earliest arrival against the latest start the
        rest of the route allows, ignoring the goods-on-board bound, which only tightens them),
        then every survivor is tested exactly: windows, hours, shift, goods on board, load and
        the travel limit.
        """
        seconds = self.seconds(vol.transport)
        nodes = day.nodes
        legs = _legs(nodes, seconds)
        early = _relaxed_earliest(nodes, legs)
        late = _latest(nodes, legs)
        if any(e > node.hi + TIME_TOLERANCE_S for e, node in zip(early, nodes, strict=True)):
            return None  # the route as it stands keeps no schedule
        at = _places(nodes)
        budget = vol.max_travel * 60.0 + TIME_TOLERANCE_S
        first = max(1, day.fixed)  # the first gap open to a new stop
        service = self.service_node(need, -1)
        service = replace(service, lo=max(service.lo, self.now_s))

        def may_go(gap: int, x: _Node) -> bool:
            """Can ``x`` go between nodes ``gap - 1`` and ``gap`` (a necessary condition)?"""
            if not PRUNE_POSITIONS:
                return True
            here = at[gap - 1]
            there = x.place if x.place is not None else here
            begin = max(x.lo, early[gap - 1] + nodes[gap - 1].busy + float(seconds[here, there]))
            if begin > x.hi + TIME_TOLERANCE_S:
                return False
            after = nodes[gap]
            if after.place is None:  # a call follows: it moves to where x is
                return begin + x.busy <= after.hi + TIME_TOLERANCE_S
            return (
                begin + x.busy + float(seconds[there, after.place]) <= late[gap] + TIME_TOLERANCE_S
            )

        def exact(new: list[_Node], pairs: list[tuple[int, int]]) -> list[float] | None:
            new_legs = _legs(new, seconds)
            if sum(new_legs) > budget:
                return None
            return _earliest(new, new_legs, pairs, self.onboard_limit_s)

        def before(gap: int) -> str:
            return f"before stop {nodes[gap].stop}" if nodes[gap].stop >= 0 else "at the end"

        if not need.kind.is_delivery:
            for gap in range(first, len(nodes)):
                if not may_go(gap, service):
                    continue
                new = [*nodes[:gap], service, *nodes[gap:]]
                times = exact(new, _shifted(day.pairs, gap))
                if times is not None:
                    return f"{service.kind} {before(gap)}, starting {_hms(times[gap])}"
            return None

        site = self.sites.get(need.site) if need.site else None
        if site is None:
            return None
        collect = self.collect_node(need, site, -1)
        collect = replace(collect, lo=max(collect.lo, self.now_s))
        loads = [day.onboard]
        for node in nodes[1:]:
            loads.append(loads[-1] + node.load)

        def carries(first: int, last: int) -> bool:
            """Can the goods ride along on leaving nodes ``first``..``last`` (base indices)?"""
            return all(loads[k] + need.load <= vol.capacity for k in range(first, last + 1))

        # The collection: joining a visit already made to the site, or a visit of its own.
        for c in range(first, len(nodes) - 1):
            if nodes[c].kind != StopKind.collect or nodes[c].site != site.id:
                continue
            merged = [*nodes]
            merged[c] = self.joined(nodes[c], need)
            for gap in range(c + 1, len(nodes)):
                if not carries(c, gap - 1) or not may_go(gap, service):
                    continue
                new = [*merged[:gap], service, *merged[gap:]]
                pairs = [*_shifted(day.pairs, gap), (c, gap)]
                times = exact(new, pairs)
                if times is not None:
                    return (
                        f"collect with stop {nodes[c].stop}, deliver {before(gap)} starting"
                        f" {_hms(times[gap])}"
                    )
        for g in range(first, len(nodes)):
            beside = (nodes[g - 1], nodes[g])
            if any(n.kind == StopKind.collect and n.site == site.id for n in beside):
                continue  # that is joining the visit, tried above
            if not may_go(g, collect) or loads[g - 1] + need.load > vol.capacity:
                continue
            with_collect = [*nodes[:g], collect, *nodes[g:]]
            base_pairs = _shifted(day.pairs, g)
            for gap in range(g, len(nodes)):
                if gap > g and (not carries(g, gap - 1) or not may_go(gap, service)):
                    continue
                d = gap + 1  # the index of the delivery in the new list
                new = [*with_collect[:d], service, *with_collect[d:]]
                pairs = [*_shifted(base_pairs, d), (g, d)]
                times = exact(new, pairs)
                if times is not None:
                    return (
                        f"collect {before(g)} starting {_hms(times[g])}, deliver {before(gap)}"
                        f" starting {_hms(times[d])}"
                    )
        return None
