"""The independent plan validator: a hand-made valid plan passes; each broken rule is caught.

The day: two partners and a third that V1 does not belong to, a food bank (and a pharmacy no
need uses), three volunteers (V3 has no work today), a food-parcel delivery (N1), a welfare
visit in Tamil (N2), a befriending call (N3) and an unserved shopping delivery (N4). Travel by
``RoadEstimate``.

TODO (once the solver lands): add a test that plans the bundled default day and asserts
``check_plan(day, plan, travel) == []``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pytest

from kst_match.check import Code, PlanInvalid, Violation, assert_valid, check_plan
from kst_match.geo.travel import RoadEstimate
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
    Transport,
    Unserved,
    Volunteer,
)

TRAVEL = RoadEstimate()
DATE = dt.date(2020, 4, 6)
COLLECT_MIN = 3  # minutes spent collecting at the site in the hand-made plan

FOODBANK = Site(
    id="S1",
    name="Kingston Foodbank",
    kind="food_bank",
    lon=-0.300,
    lat=51.410,
    opens="09:00",
    closes="17:00",
)
PHARMACY = Site(id="S2", name="Pharmacy", kind="pharmacy", lon=-0.290, lat=51.400)
P1 = Partner(
    id="P1", name="Foodbank", services="food_parcel;shopping", wards="W1", capacity="food_parcel:5"
)
P2 = Partner(
    id="P2",
    name="Council hub",
    services="welfare_visit;befriending_call",
    capacity="befriending_call:1",
)
P3 = Partner(id="P3", name="Mutual aid", services="food_parcel")
V1 = Volunteer(
    id="V1",
    partner="P1",
    transport="cycle",
    capacity=2,
    lon=-0.305,
    lat=51.405,
    shift_start="09:00",
    shift_end="13:00",
    max_tasks=3,
    max_travel=60,
)
V2 = Volunteer(
    id="V2",
    partner="P2",
    transport="walk",
    skills="dbs_checked",
    languages="tamil",
    lon=-0.310,
    lat=51.400,
    shift_start="10:00",
    shift_end="16:00",
)
V3 = Volunteer(
    id="V3",
    partner="P1",
    transport="car",
    lon=-0.280,
    lat=51.390,
    shift_start="08:00",
    shift_end="10:00",
)
N1 = Need(
    id="N1",
    date=DATE,
    resident="R1",
    kind="food_parcel",
    lon=-0.295,
    lat=51.415,
    ward="W1",
    window_start="10:00",
    window_end="12:00",
    duration=5,
    load=1,
    site="S1",
    previous_volunteer="V1",
)
N2 = Need(
    id="N2",
    date=DATE,
    resident="R2",
    kind="welfare_visit",
    lon=-0.312,
    lat=51.402,
    ward="W2",
    window_start="11:00",
    window_end="14:00",
    duration=30,
    language="tamil",
    language_required=True,
)
N3 = Need(
    id="N3",
    date=DATE,
    resident="R3",
    kind="befriending_call",
    lon=-0.320,
    lat=51.380,
    ward="W2",
    window_start="10:00",
    window_end="10:30",
    duration=20,
)
N4 = Need(
    id="N4",
    date=DATE,
    resident="R4",
    kind="shopping",
    lon=-0.250,
    lat=51.370,
    ward="W1",
    window_start="09:00",
    window_end="09:30",
    load=2,
    site="S1",
)
DAY = Day(
    date=DATE,
    needs=(N1, N2, N3, N4),
    volunteers=(V1, V2, V3),
    partners=(P1, P2, P3),
    sites=(FOODBANK, PHARMACY),
)

# One leg of a hand-made route: (stop kind, need or None, earliest service start or None).
Leg = tuple[StopKind, Need | None, int | None]


def build_route(day: Day, volunteer: Volunteer, leave: int, legs: list[Leg]) -> Route:
    """A route from home at ``leave`` through ``legs`` and back home, as early as possible.

    Times are rounded up to whole minutes; travel comes from ``TRAVEL``; a call is made where
    the volunteer is; loads are the running sum of collects minus deliveries.
    """
    home = (volunteer.lon, volunteer.lat)
    stops = [
        Stop(
            kind=StopKind.start,
            lon=home[0],
            lat=home[1],
            arrival=leave,
            start=leave,
            departure=leave,
        )
    ]
    here = home
    clock = float(leave)
    load = 0
    for kind, need, earliest in [*legs, (StopKind.end, None, None)]:
        site = None
        if kind == StopKind.collect:
            site = {s.id: s for s in day.sites}.get(need.site)
            there = (site.lon, site.lat)
        elif kind == StopKind.call:
            there = here
        elif kind == StopKind.end:
            there = home
        else:
            there = (need.lon, need.lat)
        m = TRAVEL.matrix(np.array([here, there]), volunteer.transport)
        travel_s, distance_m = float(m.seconds[0, 1]), float(m.metres[0, 1])
        arrival = math.ceil(clock + travel_s / 60)
        start = max(arrival, earliest or 0)
        busy = COLLECT_MIN if kind == StopKind.collect else need.duration if need else 0
        if kind == StopKind.collect:
            load += need.load
        elif kind == StopKind.deliver:
            load -= need.load
        stops.append(
            Stop(
                kind=kind,
                need=need.id if need else None,
                site=site.id if site else None,
                lon=there[0],
                lat=there[1],
                arrival=arrival,
                start=start,
                departure=start + busy,
                load=load,
                travel_s=travel_s,
                distance_m=distance_m,
            )
        )
        here = there
        clock = start + busy
    return Route(volunteer=volunteer.id, transport=volunteer.transport, stops=stops)


def assignment(route: Route, need: Need, partner: str) -> Assignment:
    """The assignment of ``need`` served on ``route`` (start at its service stop)."""
    stop = next(s for s in route.stops if s.need == need.id and s.kind != StopKind.collect)
    return Assignment(
        need=need.id,
        partner=partner,
        volunteer=route.volunteer,
        start=stop.start,
        continuity=need.previous_volunteer == route.volunteer,
    )


def v1_route(day: Day = DAY, volunteer: Volunteer = V1) -> Route:
    return build_route(
        day,
        volunteer,
        9 * 60 + 30,
        [(StopKind.collect, N1, FOODBANK.opens), (StopKind.deliver, N1, N1.window_start)],
    )


def v2_route(day: Day = DAY, volunteer: Volunteer = V2) -> Route:
    return build_route(
        day,
        volunteer,
        10 * 60,
        [(StopKind.call, N3, N3.window_start), (StopKind.visit, N2, N2.window_start)],
    )


def make_plan() -> Plan:
    r1, r2 = v1_route(), v2_route()
    return Plan(
        date=DATE,
        travel_model=TRAVEL.name,
        assignments=[assignment(r1, N1, "P1"), assignment(r2, N2, "P2"), assignment(r2, N3, "P2")],
        routes=[r1, r2],
        unserved=[Unserved(need="N4", reason=Reason.no_time, detail="Window closes too early.")],
    )


def replace(items: tuple | list, item_id: str, **changes: object) -> tuple:
    """``items`` with the one whose ``id`` is ``item_id`` copied with ``changes``."""
    return tuple(x.model_copy(update=changes) if x.id == item_id else x for x in items)


def stop_of(plan: Plan, volunteer: str, index: int) -> Stop:
    return next(r for r in plan.routes if r.volunteer == volunteer).stops[index]


def codes(day: Day, plan: Plan) -> set[str]:
    return {v.code for v in check_plan(day, plan, TRAVEL)}


# ---------------------------------------------------------------------------------------------
# The valid plan
# ---------------------------------------------------------------------------------------------
def test_hand_made_plan_is_valid() -> None:
    plan = make_plan()
    assert check_plan(DAY, plan, TRAVEL) == []
    assert_valid(DAY, plan, TRAVEL)


def test_hand_made_plan_has_the_expected_shape() -> None:
    """The fixture itself: V1 collects at 09:34, waits for the window, delivers at 10:00."""
    r1 = make_plan().routes[0]
    kinds = [s.kind for s in r1.stops]
    assert kinds == ["start", "collect", "deliver", "end"]
    assert [(s.arrival, s.start, s.departure) for s in r1.stops[:3]] == [
        (570, 570, 570),
        (574, 574, 577),
        (581, 600, 605),
    ]
    assert [s.load for s in r1.stops] == [0, 1, 0, 0]
    # Home to food bank by cycle: 655 m straight, x1.25 circuity, at 15 km/h.
    assert r1.stops[1].distance_m == pytest.approx(818.7, abs=0.5)
    assert r1.stops[1].travel_s == pytest.approx(196.5, abs=0.5)


def test_plan_survives_json_round_trip() -> None:
    plan = Plan.model_validate_json(make_plan().model_dump_json())
    assert check_plan(DAY, plan, TRAVEL) == []


def test_assert_valid_raises_with_the_violations() -> None:
    plan = make_plan()
    plan.assignments[0].continuity = False
    with pytest.raises(PlanInvalid) as caught:
        assert_valid(DAY, plan, TRAVEL)
    assert isinstance(caught.value, AssertionError)
    assert caught.value.violations == [
        Violation(
            code="continuity_flag",
            message=(
                "Need N1: continuity is False, but the resident's previous volunteer is V1 and"
                " this one is V1."
            ),
            volunteer="V1",
            need="N1",
        )
    ]
    assert "[continuity_flag]" in str(caught.value)


def test_violation_names_volunteer_and_need() -> None:
    day = DAY.model_copy(
        update={"volunteers": replace(DAY.volunteers, "V2", languages=frozenset())}
    )
    [v] = check_plan(day, make_plan(), TRAVEL)
    assert (v.code, v.volunteer, v.need) == (Code.language_missing, "V2", "N2")
    assert v.message == "Need N2 requires tamil, which V2 does not speak."


# ---------------------------------------------------------------------------------------------
# One broken rule at a time. Each case edits a copy of the day or the plan and lists every code
# the checker must report (exactly that set).
# ---------------------------------------------------------------------------------------------
Breaker = Callable[[Day, Plan], tuple[Day, Plan]]


def with_volunteer(vid: str, **changes: object) -> Breaker:
    def breaker(day: Day, plan: Plan) -> tuple[Day, Plan]:
        return day.model_copy(update={"volunteers": replace(day.volunteers, vid, **changes)}), plan

    return breaker


def with_need(nid: str, **changes: object) -> Breaker:
    def breaker(day: Day, plan: Plan) -> tuple[Day, Plan]:
        return day.model_copy(update={"needs": replace(day.needs, nid, **changes)}), plan

    return breaker


def with_partner(pid: str, **changes: object) -> Breaker:
    def breaker(day: Day, plan: Plan) -> tuple[Day, Plan]:
        return day.model_copy(update={"partners": replace(day.partners, pid, **changes)}), plan

    return breaker


def with_site(sid: str, **changes: object) -> Breaker:
    def breaker(day: Day, plan: Plan) -> tuple[Day, Plan]:
        return day.model_copy(update={"sites": replace(day.sites, sid, **changes)}), plan

    return breaker


def with_stop(vid: str, index: int, **changes: object) -> Breaker:
    def breaker(day: Day, plan: Plan) -> tuple[Day, Plan]:
        for name, value in changes.items():
            setattr(stop_of(plan, vid, index), name, value)
        return day, plan

    return breaker


def with_plan(edit: Callable[[Plan], None]) -> Breaker:
    def breaker(day: Day, plan: Plan) -> tuple[Day, Plan]:
        edit(plan)
        return day, plan

    return breaker


def with_assignment(nid: str, **changes: object) -> Breaker:
    def edit(plan: Plan) -> None:
        for a in plan.assignments:
            if a.need == nid:
                for name, value in changes.items():
                    setattr(a, name, value)

    return with_plan(edit)


def collect_on_v2(day: Day, plan: Plan) -> tuple[Day, Plan]:
    """V2 collects N1's parcel, V1 (its assignee) delivers it."""
    r2 = build_route(
        day,
        V2,
        10 * 60,
        [
            (StopKind.call, N3, N3.window_start),
            (StopKind.collect, N1, None),
            (StopKind.visit, N2, N2.window_start),
        ],
    )
    r1 = build_route(day, V1, 9 * 60 + 30, [(StopKind.deliver, N1, N1.window_start)])
    plan.routes = [r1, r2]
    plan.assignments[0].start = r1.stops[1].start
    plan.assignments[1].start = r2.stops[3].start
    return day, plan


def deliver_first(day: Day, plan: Plan) -> tuple[Day, Plan]:
    r1 = build_route(
        day,
        V1,
        9 * 60 + 30,
        [(StopKind.deliver, N1, N1.window_start), (StopKind.collect, N1, None)],
    )
    plan.routes[0] = r1
    return day, plan


def double_collect(day: Day, plan: Plan) -> tuple[Day, Plan]:
    r1 = build_route(
        day,
        V1,
        9 * 60 + 30,
        [
            (StopKind.collect, N1, None),
            (StopKind.collect, N1, None),
            (StopKind.deliver, N1, N1.window_start),
            (StopKind.deliver, N1, None),
        ],
    )
    plan.routes[0] = r1
    plan.assignments[0].start = r1.stops[3].start
    return day, plan


def visit_dropped(day: Day, plan: Plan) -> tuple[Day, Plan]:
    plan.routes[1] = build_route(day, V2, 10 * 60, [(StopKind.call, N3, N3.window_start)])
    return day, plan


def visit_as_call(day: Day, plan: Plan) -> tuple[Day, Plan]:
    r2 = build_route(
        day,
        V2,
        10 * 60,
        [(StopKind.call, N3, N3.window_start), (StopKind.call, N2, N2.window_start)],
    )
    plan.routes[1] = r2
    return day, plan


def serve_unserved(day: Day, plan: Plan) -> tuple[Day, Plan]:
    """V1 also collects and delivers N4 (in a window it can now meet), yet N4 is unserved."""
    day, _ = with_need("N4", window_start=10 * 60, window_end=12 * 60)(day, plan)
    day, _ = with_volunteer("V1", max_travel=120)(day, plan)
    plan.routes[0] = build_route(
        day,
        V1,
        9 * 60 + 30,
        [
            (StopKind.collect, N1, None),
            (StopKind.deliver, N1, N1.window_start),
            (StopKind.collect, N4, None),
            (StopKind.deliver, N4, None),
        ],
    )
    return day, plan


def call_from_elsewhere(day: Day, plan: Plan) -> tuple[Day, Plan]:
    """The call is placed at the resident's home, travelled to (the recorded travel agrees)."""
    day, _ = with_need("N3", window_end=16 * 60)(day, plan)
    r2 = build_route(day, V2, 10 * 60, [(StopKind.visit, N2, N2.window_start)])
    stops = r2.stops
    m = TRAVEL.matrix(np.array([[N2.lon, N2.lat], [N3.lon, N3.lat], [V2.lon, V2.lat]]), "walk")
    t = stops[1].departure + math.ceil(m.seconds[0, 1] / 60)
    call = Stop(
        kind="call",
        need="N3",
        lon=N3.lon,
        lat=N3.lat,
        arrival=t,
        start=t,
        departure=t + 20,
        travel_s=m.seconds[0, 1],
        distance_m=m.metres[0, 1],
    )
    back = math.ceil(t + 20 + m.seconds[1, 2] / 60)
    end = stops[2].model_copy(
        update={
            "arrival": back,
            "start": back,
            "departure": back,
            "travel_s": m.seconds[1, 2],
            "distance_m": m.metres[1, 2],
        }
    )
    plan.routes[1] = Route(volunteer="V2", transport="walk", stops=[stops[0], stops[1], call, end])
    plan.assignments[2].start = t
    return day, plan


def foreign_volunteer(day: Day, plan: Plan) -> tuple[Day, Plan]:
    """V2's work (route and both assignments) is handed to a volunteer the day does not know."""
    plan.assignments[1].volunteer = "V9"
    plan.assignments[2].volunteer = "V9"
    plan.routes[1].volunteer = "V9"
    return day, plan


def idle_route_in_middle(day: Day, plan: Plan) -> tuple[Day, Plan]:
    """V1's end stop is moved before the deliver (times now run backwards)."""
    stops = plan.routes[0].stops
    plan.routes[0].stops = [stops[0], stops[1], stops[3], stops[2]]
    return day, plan


CASES: dict[str, tuple[Breaker, set[str]]] = {
    # the list
    "skill missing": (with_volunteer("V2", skills=frozenset()), {Code.skill_missing}),
    "language required": (with_volunteer("V2", languages=frozenset()), {Code.language_missing}),
    "window missed": (with_need("N2", window_start=12 * 60), {Code.window_missed}),
    "site closed": (with_site("S1", opens=10 * 60), {Code.site_closed}),
    "shift exceeded (late home)": (with_volunteer("V1", shift_end=605), {Code.shift_exceeded}),
    "shift exceeded (early start)": (
        with_volunteer("V1", shift_start=10 * 60),
        {Code.shift_exceeded},
    ),
    "capacity exceeded": (with_volunteer("V1", capacity=0), {Code.capacity_exceeded}),
    "deliver before collect": (
        deliver_first,
        {Code.deliver_before_collect, Code.load_negative},
    ),
    "collect on another route": (
        collect_on_v2,
        {
            Code.stop_on_other_route,
            Code.collect_missing,
            Code.load_negative,
            Code.load_not_empty_at_end,
        },
    ),
    "partner does not offer": (
        with_assignment("N2", partner="P1"),
        {Code.partner_no_service, Code.partner_no_ward, Code.volunteer_not_in_partner},
    ),
    "partner does not cover": (with_need("N1", ward="W2"), {Code.partner_no_ward}),
    "partner capacity exceeded": (
        with_partner("P2", capacity={ServiceKind.befriending_call: 0}),
        {Code.partner_capacity},
    ),
    "volunteer not in partner": (
        with_assignment("N1", partner="P3"),
        {Code.volunteer_not_in_partner},
    ),
    "travel time inconsistent": (with_stop("V1", 1, travel_s=300.0), {Code.travel_mismatch}),
    "distance inconsistent": (with_stop("V1", 2, distance_m=500.0), {Code.distance_mismatch}),
    "travel by another mode": (
        with_volunteer("V1", transport=Transport.walk),
        {
            Code.transport_mismatch,
            Code.travel_mismatch,
            Code.arrival_too_early,
        },
    ),
    "arrival earlier than possible": (with_stop("V1", 2, arrival=577), {Code.arrival_too_early}),
    "load mismatch": (with_stop("V1", 1, load=2), {Code.load_mismatch}),
    "max tasks": (with_volunteer("V2", max_tasks=1), {Code.max_tasks}),
    "max travel": (with_volunteer("V1", max_travel=5), {Code.max_travel}),
    "need missing from plan": (with_plan(lambda p: p.unserved.clear()), {Code.need_missing}),
    "need both assigned and unserved": (
        with_plan(lambda p: p.unserved.append(Unserved(need="N1", reason="no_time", detail="x"))),
        {Code.assigned_and_unserved},
    ),
    "need assigned twice": (
        with_plan(lambda p: p.assignments.append(p.assignments[1].model_copy())),
        {Code.need_duplicate},
    ),
    "need unserved twice": (
        with_plan(lambda p: p.unserved.append(p.unserved[0].model_copy())),
        {Code.need_duplicate},
    ),
    "route not starting at home": (
        with_volunteer("V1", lon=-0.306),
        {Code.route_not_from_home, Code.route_not_to_home},
    ),
    "continuity flag wrong": (with_assignment("N1", continuity=False), {Code.continuity_flag}),
    # the rest of the rules
    "plan for another date": (
        with_plan(lambda p: setattr(p, "date", dt.date(2020, 4, 7))),
        {Code.date_mismatch},
    ),
    "unknown need assigned": (
        with_plan(
            lambda p: p.assignments.append(p.assignments[0].model_copy(update={"need": "N9"}))
        ),
        {Code.need_unknown},
    ),
    "unknown need unserved": (
        with_plan(lambda p: p.unserved.append(p.unserved[0].model_copy(update={"need": "N9"}))),
        {Code.need_unknown},
    ),
    "unserved without detail": (
        with_plan(lambda p: setattr(p.unserved[0], "detail", "  ")),
        {Code.unserved_no_detail},
    ),
    "unserved with unknown reason": (
        with_plan(lambda p: setattr(p.unserved[0], "reason", "bored")),
        {Code.unserved_bad_reason},
    ),
    "unknown volunteer": (foreign_volunteer, {Code.volunteer_unknown}),
    "route missing": (with_plan(lambda p: p.routes.pop(1)), {Code.route_missing}),
    "route duplicated": (
        with_plan(lambda p: p.routes.append(p.routes[0].model_copy())),
        {Code.route_duplicate},
    ),
    "route without its end": (
        with_plan(lambda p: p.routes[1].stops.pop()),
        {Code.route_not_to_home},
    ),
    "route with end in the middle": (
        idle_route_in_middle,
        {
            Code.route_shape,
            Code.route_not_to_home,
            Code.travel_mismatch,
            Code.distance_mismatch,
            Code.arrival_too_early,
            Code.load_mismatch,
        },
    ),
    "end stop names a need": (with_stop("V1", 3, need="N1"), {Code.route_shape}),
    "task stop names no need": (
        with_stop("V2", 1, need=None),
        {Code.stop_no_need, Code.stop_missing},
    ),
    "stop for an unknown need": (
        with_stop("V2", 1, need="N9"),
        {Code.need_unknown, Code.stop_missing},
    ),
    "stop for an unserved need": (serve_unserved, {Code.stop_unassigned}),
    "visit stop missing": (visit_dropped, {Code.stop_missing}),
    "visit made as a call": (
        visit_as_call,
        {Code.stop_kind_mismatch, Code.stop_missing},
    ),
    "collect and deliver twice": (double_collect, {Code.stop_duplicate}),
    "call made from another place": (call_from_elsewhere, {Code.stop_location}),
    "visit at the wrong place": (
        with_need("N2", lon=-0.3125),
        {Code.stop_location},
    ),
    "collect at another site": (
        with_stop("V1", 1, site="S2"),
        {Code.collect_wrong_site},
    ),
    "collect for an unknown site": (
        with_need("N1", site="S9"),
        {Code.site_unknown},
    ),
    "assignment start differs from its stop": (
        with_assignment("N2", start=11 * 60 + 5),
        {Code.assignment_start_mismatch},
    ),
    "time not a whole minute": (with_stop("V2", 2, departure=690.5), {Code.time_not_whole_minute}),
    "start before arrival": (with_stop("V2", 2, arrival=665), {Code.start_before_arrival}),
    "visit cut short": (with_stop("V2", 2, departure=680), {Code.departure_too_early}),
    "unknown partner": (with_assignment("N3", partner="P9"), {Code.partner_unknown}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_plan_reports_exactly_its_violations(case: str) -> None:
    breaker, expected = CASES[case]
    day, plan = breaker(DAY, make_plan())
    assert codes(day, plan) == {str(c) for c in expected}


def test_every_code_is_covered_by_a_case() -> None:
    covered = set().union(*(expected for _, expected in CASES.values()))
    assert {str(c) for c in Code} - {str(c) for c in covered} == set()


# ---------------------------------------------------------------------------------------------
# Single cases named after the list, with the details a coordinator would read
# ---------------------------------------------------------------------------------------------
def test_skill_missing_names_the_skills() -> None:
    day = DAY.model_copy(update={"volunteers": replace(DAY.volunteers, "V2", skills=frozenset())})
    found = check_plan(day, make_plan(), TRAVEL)
    assert [(v.code, v.need) for v in found] == [("skill_missing", "N2"), ("skill_missing", "N3")]
    assert found[0].message == "Need N2 needs dbs_checked, which V2 lacks."


def test_capacity_exceeded_at_the_collect() -> None:
    day = DAY.model_copy(update={"volunteers": replace(DAY.volunteers, "V1", capacity=0)})
    [v] = check_plan(day, make_plan(), TRAVEL)
    assert (v.code, v.volunteer, v.need) == ("capacity_exceeded", "V1", "N1")
    assert v.message == "V1's stop 1 (collect N1): carries 1, more than V1's capacity of 0."


def test_partner_capacity_counts_per_kind() -> None:
    day = DAY.model_copy(
        update={"partners": replace(DAY.partners, "P2", capacity={ServiceKind.welfare_visit: 0})}
    )
    [v] = check_plan(day, make_plan(), TRAVEL)
    assert v.message == "Partner P2 takes 1 welfare_visit needs, more than its capacity of 0."


def test_travel_tolerance_is_one_second() -> None:
    plan = make_plan()
    stop = stop_of(plan, "V1", 1)
    stop.travel_s += 0.9
    assert check_plan(DAY, plan, TRAVEL) == []
    stop.travel_s += 0.2
    assert codes(DAY, plan) == {"travel_mismatch"}


def test_arrival_may_be_one_minute_early_for_rounding() -> None:
    plan = make_plan()
    stop = stop_of(plan, "V1", 2)  # leaves the food bank at 09:37, 3.3 min away
    stop.arrival = 580
    assert check_plan(DAY, plan, TRAVEL) == []
    stop.arrival = 579
    assert codes(DAY, plan) == {"arrival_too_early"}


def test_max_travel_allows_exactly_the_limit() -> None:
    plan = make_plan()
    total_min = sum(s.travel_s for s in plan.routes[0].stops) / 60
    at_limit = math.ceil(total_min)
    ok = DAY.model_copy(update={"volunteers": replace(DAY.volunteers, "V1", max_travel=at_limit)})
    assert check_plan(ok, plan, TRAVEL) == []
    short = DAY.model_copy(
        update={"volunteers": replace(DAY.volunteers, "V1", max_travel=at_limit - 1)}
    )
    assert codes(short, plan) == {"max_travel"}
