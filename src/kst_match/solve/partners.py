"""Partner capacity over the plan: which partner each served need counts against.

A need served by a volunteer may go to any partner that may take it (triage) and that the
volunteer belongs to. Partners' daily places per service are given out by a min-cost flow over
the needs the plan serves: as many as capacity allows, and where it does not, the needs left
without a partner are the least valuable (urgent needs keep their place first). Places are
only ever held by needs the plan actually serves.

Before routing, ``admit`` gives the places out once over every need (the final count above
still decides), so that the routing search leaves out the needs no partner can take today.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from kst_match.model import Day, ServiceKind
from kst_match.solve import weights
from kst_match.triage import Triage

Key = tuple[str, ServiceKind]  # (partner, service kind)


def capacity_left(
    day: Day, partner_of: Mapping[str, str], used: Counter[Key] | None = None
) -> dict[Key, int | None]:
    """Places left per (partner, kind) once ``partner_of`` (need -> partner) and ``used``
    (places spent earlier today) are counted; ``None`` where the partner sets no limit."""
    spent = Counter(used or Counter())
    for need_id, partner in partner_of.items():
        spent[(partner, day.need(need_id).kind)] += 1
    left: dict[Key, int | None] = {}
    for p in day.partners:
        for kind in p.services:
            cap = p.capacity.get(kind)
            left[(p.id, kind)] = None if cap is None else cap - spent[(p.id, kind)]
    return left


def has_room(left: Mapping[Key, int | None], key: Key) -> bool:
    room = left.get(key, 0)
    return room is None or room > 0


def assign_partners(
    day: Day,
    tri: Triage,
    served_by: Mapping[str, str],
    used: Counter[Key] | None = None,
    fixed: Mapping[str, str] | None = None,
    moving: Mapping[str, int] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Partner for each served need (need -> partner), and the needs no partner has room for.

    ``fixed``: needs whose partner is already settled (served before a re-plan); they count
    against capacity through ``used`` and are not assigned again. ``moving``: what taking a
    need out of its volunteer's day costs beyond its value (hectometres, far below the value
    of any need): among needs of one value, the cheapest to move are left without a place.
    """
    fixed = fixed or {}
    needs = sorted(n for n in served_by if n not in fixed)
    if not needs:
        return {}, []
    choices: dict[str, list[tuple[str, int]]] = {}
    for need_id in needs:
        volunteer = day.volunteer(served_by[need_id])
        options = [p for p in tri.partners.get(need_id, ()) if p in volunteer.partners]
        # A small cost by rank keeps the triage's order where capacity allows.
        choices[need_id] = [(partner, rank) for rank, partner in enumerate(options)]
    partner_of = _places(day, choices, capacity_left(day, {}, used), moving or {})
    return partner_of, [n for n in needs if n not in partner_of]


def admit(day: Day, tri: Triage, used: Counter[Key] | None = None) -> frozenset[str]:
    """The needs left without a partner's place before routing, so that the routing does not
    spend its search on needs no partner can take today.

    Places go to the most valuable needs first (urgent first; with equity, the more deprived
    within a priority), and among needs of one value to those nearest a volunteer of the
    partner (straight-line metres from home, through the site for a delivery). A place that
    cannot run out (no limit, or more places than needs that could ask) is given first. The
    count over the final plan (``assign_partners``) still decides who holds which place, and
    the last insertion pass offers the needs refused here any place left unused."""
    ask = _asking(day, tri, used)
    if not ask.tight:
        return frozenset()
    needs = sorted(ask.options)
    given = _give(day, tri, needs, ask, ask.left)
    return frozenset(n for n in needs if n not in given)


def places_can_run_out(day: Day, tri: Triage, used: Counter[Key] | None = None) -> bool:
    """Could more needs ask some partner for a service than it has places today?"""
    return bool(_asking(day, tri, used).tight)


def bind(
    day: Day,
    tri: Triage,
    served_by: Mapping[str, str],
    waiting: Iterable[str],
    used: Counter[Key] | None = None,
) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Volunteers each need may go to so that every need routed keeps a partner's place, and
    the ``waiting`` needs (not served yet) left without one.

    The plan's served needs keep the partner the count gives them (``assign_partners``); those
    it leaves without a place wait with the others, and the places left go to them as
    ``admit`` gives places. A served need moves to another partner only where that gives a
    waiting need a place it could not have otherwise (``_rebind``). A need may then go to the
    volunteers of its own partner and of any partner whose places for its service cannot run
    out: a route search under these sets cannot break any partner's capacity. Needs with no
    scarce partner are not restricted."""
    ask = _asking(day, tri, used)
    if not ask.tight:
        return {}, frozenset()
    kept, homeless = assign_partners(day, tri, served_by, used)
    queue = sorted({n for n in (*waiting, *homeless) if n in ask.options} - kept.keys())
    partner_of = _rebind(day, tri, kept, queue, ask, capacity_left(day, {}, used))
    allowed: dict[str, frozenset[str]] = {}
    for need_id, partners in ask.options.items():
        kind = day.need(need_id).kind
        loose = [p for p in partners if (p, kind) not in ask.tight]
        if len(loose) == len(partners):
            continue
        mine = partner_of.get(need_id)
        groups = [*loose, *([mine] if mine is not None and mine not in loose else [])]
        allowed[need_id] = frozenset(v for p in groups for v in ask.members.get(p, ()))
    return allowed, frozenset(n for n in queue if n not in partner_of)


# What moving a need the plan serves to another partner costs in ``bind``'s count, in
# hectometres as ``_nearness``: more than any difference of nearness, so a need moves only to
# give a waiting need a place, and far below the value of any need, so that it then does.
MOVE = 500


def _rebind(
    day: Day,
    tri: Triage,
    kept: Mapping[str, str],
    queue: list[str],
    ask: _Ask,
    left: Mapping[Key, int | None],
) -> dict[str, str]:
    """Need -> partner for the ``kept`` needs (served, with their partner) and the waiting
    ``queue``, by one min-cost flow over the places ``left`` before either. A kept need stays
    with its partner for nothing, or moves for ``MOVE`` plus what the place costs; a waiting
    need pays what ``_flow`` charges. Distances are worked out only if some need goes without."""
    needs = [*sorted(n for n in kept if n in ask.options), *queue]

    def cost(need_id: str, partner: str, rank: int, near: Mapping[tuple[str, str], int]) -> int:
        mine = kept.get(need_id)
        if partner == mine:
            return 0
        place = 0
        if (partner, day.need(need_id).kind) in ask.tight:
            place = 1 + rank + near.get((need_id, partner), 0)
        return place + (MOVE if mine is not None else 0)

    def flow(near: Mapping[tuple[str, str], int]) -> dict[str, str]:
        choices = {
            n: [(p, cost(n, p, rank, near)) for rank, p in enumerate(ask.options[n])] for n in needs
        }
        return _places(day, choices, left)

    given = flow({})
    if len(given) < len(needs):
        options = {n: ask.options[n] for n in needs}
        given = flow(_nearness(day, tri, options, ask.tight, ask.members))
    return given


@dataclass(frozen=True)
class _Ask:
    """Who could ask whom: need -> partners with a volunteer qualified for it, the places
    left, the keys whose places can run out, and each partner's volunteers."""

    options: dict[str, list[str]]
    left: dict[Key, int | None]
    tight: set[Key]
    members: dict[str, set[str]]


def _asking(day: Day, tri: Triage, used: Counter[Key] | None) -> _Ask:
    left = capacity_left(day, {}, used)
    members = _members(day)
    options: dict[str, list[str]] = {}
    asking: Counter[Key] = Counter()
    for need in day.needs:
        if need.id in tri.rejected:
            continue
        volunteers = tri.volunteers.get(need.id, ())
        mine = [
            p
            for p in tri.partners.get(need.id, ())
            if not members.get(p, set()).isdisjoint(volunteers)
        ]
        if mine:
            options[need.id] = mine
            asking.update((p, need.kind) for p in mine)
    return _Ask(options, left, _tight(left, asking), members)


def _give(
    day: Day, tri: Triage, needs: list[str], ask: _Ask, left: Mapping[Key, int | None]
) -> dict[str, str]:
    """Need -> partner for the ``needs`` given a place from ``left``. Where every need gets
    one, who is nearer cannot matter: distances are worked out only if not."""
    given = _flow(day, needs, ask.options, ask.tight, left, {})
    if len(given) < len(needs):
        near = _nearness(day, tri, {n: ask.options[n] for n in needs}, ask.tight, ask.members)
        given = _flow(day, needs, ask.options, ask.tight, left, near)
    return given


def _flow(
    day: Day,
    needs: list[str],
    options: dict[str, list[str]],
    tight: set[Key],
    left: Mapping[Key, int | None],
    near: Mapping[tuple[str, str], int],
) -> dict[str, str]:
    """Need -> partner for the needs given a place: a place that cannot run out is free (the
    scarce ones go to others), one that can costs 1 + the partner's rank in triage +
    ``near`` (hectometres)."""
    choices: dict[str, list[tuple[str, int]]] = {}
    for need_id in needs:
        kind = day.need(need_id).kind
        choices[need_id] = [
            (p, 1 + rank + near.get((need_id, p), 0) if (p, kind) in tight else 0)
            for rank, p in enumerate(options[need_id])
        ]
    return _places(day, choices, left)


def _places(
    day: Day,
    choices: Mapping[str, list[tuple[str, int]]],
    left: Mapping[Key, int | None],
    moving: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """Need -> partner by a min-cost flow over ``choices`` (need -> (partner, cost) in order)
    and the places ``left``; leaving a need out costs what it costs the objective, plus what
    ``moving`` it costs."""
    moving = moving or {}
    needs = list(choices)
    flow = min_cost_flow.SimpleMinCostFlow()
    sink = len(needs)
    keys: dict[Key, int] = {}
    arcs: list[tuple[int, str, str]] = []  # (arc, need, partner)
    for i, need_id in enumerate(needs):
        need = day.need(need_id)
        for partner, cost in choices[need_id]:
            key = (partner, need.kind)
            if key not in keys:
                keys[key] = sink + 1 + len(keys)
            arc = flow.add_arc_with_capacity_and_unit_cost(i, keys[key], 1, cost)
            arcs.append((arc, need_id, partner))
        flow.add_arc_with_capacity_and_unit_cost(
            i, sink, 1, weights.need_value(need, day.equity) // 1000 + moving.get(need_id, 0)
        )
        flow.set_node_supply(i, 1)
    for key, node in keys.items():
        room = left.get(key)
        cap = len(needs) if room is None else max(0, room)
        flow.add_arc_with_capacity_and_unit_cost(node, sink, cap, 0)
    flow.set_node_supply(sink, -len(needs))
    if flow.solve() != flow.OPTIMAL:  # cannot happen: every need has an arc to the sink
        raise RuntimeError("partner places could not be given out")
    return {need_id: partner for arc, need_id, partner in arcs if flow.flow(arc) > 0}


def _nearness(
    day: Day,
    tri: Triage,
    options: dict[str, list[str]],
    tight: set[Key],
    members: dict[str, set[str]],
) -> dict[tuple[str, str], int]:
    """(need, partner) -> hectometres from the nearest home of the partner's volunteers
    qualified for the need, by way of its site for a delivery, for the places that can run out
    (under 200 across the borough: far below the value of any need)."""
    order = {v.id: i for i, v in enumerate(day.volunteers)}
    lon = np.array([v.lon for v in day.volunteers])
    lat = np.array([v.lat for v in day.volunteers])
    everyone = np.arange(len(order))
    member = {p: np.isin(everyone, [order[v] for v in vs]) for p, vs in members.items()}
    near: dict[tuple[str, str], int] = {}
    for need_id, partners in options.items():
        need = day.need(need_id)
        scarce = [p for p in partners if (p, need.kind) in tight]
        if not scarce:
            continue
        qualified = np.fromiter((order[v] for v in tri.volunteers[need_id]), dtype=np.int64)
        site = day.site(need.site) if need.site and need.kind.is_delivery else None
        via = (site.lon, site.lat) if site is not None else (need.lon, need.lat)
        onward = _metres_1(site.lon, site.lat, need.lon, need.lat) if site is not None else 0.0
        for p in scarce:
            theirs = qualified[member[p][qualified]]
            metres = float(_metres(lon[theirs], lat[theirs], *via).min()) + onward
            near[(need_id, p)] = int(metres) // 100
    return near


def _tight(left: Mapping[Key, int | None], asking: Counter[Key]) -> set[Key]:
    """Keys whose places can run out: a limit, and more asking than places."""
    return {key for key, n in asking.items() if (room := left.get(key)) is not None and n > room}


def _members(day: Day) -> dict[str, set[str]]:
    """Partner -> the ids of its volunteers today."""
    members: dict[str, set[str]] = {}
    for v in day.volunteers:
        for p in v.partners:
            members.setdefault(p, set()).add(v.id)
    return members


def _metres_1(lon: float, lat: float, lon0: float, lat0: float) -> float:
    return float(_metres(np.array([lon]), np.array([lat]), lon0, lat0)[0])


def _metres(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    scale = math.cos(math.radians(lat0))
    return 111_320.0 * np.hypot((lon - lon0) * scale, lat - lat0)
