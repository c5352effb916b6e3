"""Partner capacity over the plan: which partner each served need counts against.

A need served by a volunteer may go to any partner that may take it (triage) and that the
volunteer belongs to. Partners' daily places per service are given out by a min-cost flow over
the needs the plan serves: as many as capacity allows, and where it does not, the needs left
without a partner are the least valuable (urgent needs keep their place first). Places are
only ever held by needs the plan actually serves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

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
) -> tuple[dict[str, str], list[str]]:
    """Partner for each served need (need -> partner), and the needs no partner has room for.

    ``fixed``: needs whose partner is already settled (served before a re-plan); they count
    against capacity through ``used`` and are not assigned again.
    """
    fixed = fixed or {}
    needs = sorted(n for n in served_by if n not in fixed)
    if not needs:
        return {}, []
    left = capacity_left(day, {}, used)
    keys: dict[Key, int] = {}
    flow = min_cost_flow.SimpleMinCostFlow()
    sink = len(needs)
    arcs: list[tuple[int, str, str]] = []  # (arc, need, partner)
    for i, need_id in enumerate(needs):
        need = day.need(need_id)
        volunteer = day.volunteer(served_by[need_id])
        options = [p for p in tri.partners.get(need_id, ()) if p in volunteer.partners]
        for rank, partner in enumerate(options):
            key = (partner, need.kind)
            if key not in keys:
                keys[key] = sink + 1 + len(keys)
            # A small cost by rank keeps the triage's order where capacity allows.
            arc = flow.add_arc_with_capacity_and_unit_cost(i, keys[key], 1, rank)
            arcs.append((arc, need_id, partner))
        # Without a partner: costs what leaving the need out costs the objective.
        flow.add_arc_with_capacity_and_unit_cost(
            i, sink, 1, weights.need_value(need, day.equity) // 1000
        )
        flow.set_node_supply(i, 1)
    for key, node in keys.items():
        room = left.get(key)
        cap = len(needs) if room is None else max(0, room)
        flow.add_arc_with_capacity_and_unit_cost(node, sink, cap, 0)
    flow.set_node_supply(sink, -len(needs))
    if flow.solve() != flow.OPTIMAL:  # cannot happen: every need has an arc to the sink
        raise RuntimeError("partner assignment failed")
    partner_of = {need_id: partner for arc, need_id, partner in arcs if flow.flow(arc) > 0}
    return partner_of, [n for n in needs if n not in partner_of]
