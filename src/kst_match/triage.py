"""Who may serve what: the partners and volunteers eligible for each need.

Triage looks only at the rules (service offered, ward covered, skills, language, partner
capacity); time and distance are the solver's business. Partner capacity is shared out here,
before the solve, so that the solver never has to count across volunteers: a partner whose
possible demand for a service fits its capacity imposes nothing; one whose capacity binds has
its places handed out in priority order (urgent first, then the needs with fewest other
options), so capacity is never exceeded whatever the solver then chooses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kst_match.model import PRIORITY_ORDER, Day, Need, Reason, ServiceKind, Volunteer


@dataclass(frozen=True)
class Triage:
    """The outcome of triage for one day.

    ``partners[n]``: the partners that may take need ``n`` (capacity already shared out);
    ``volunteers[n]``: the volunteers that may serve it (skills, language, partner), best first;
    ``rejected[n]``: the reason a need cannot be served at all, found by the rules alone.
    """

    partners: dict[str, tuple[str, ...]]
    volunteers: dict[str, tuple[str, ...]]
    rejected: dict[str, Reason] = field(default_factory=dict)

    def partner_for(self, need: Need, volunteer: Volunteer) -> str:
        """The partner a need is served for when this volunteer serves it (first that fits)."""
        for partner in self.partners[need.id]:
            if partner in volunteer.partners:
                return partner
        raise ValueError(f"volunteer {volunteer.id} belongs to no partner allowed for {need.id}")


def qualified(need: Need, volunteer: Volunteer) -> bool:
    """Skills and a required language: what a volunteer must have to take this need at all."""
    if not need.required_skills <= volunteer.skills:
        return False
    return not need.language_required or volunteer.speaks(need.language)


def triage(day: Day, used: Counter[tuple[str, ServiceKind]] | None = None) -> Triage:
    """Eligible partners and volunteers for every need of the day.

    ``used`` counts capacity already consumed today per (partner, kind), e.g. by needs served
    before a re-plan; it is subtracted from each partner's daily capacity.
    """
    used = used or Counter()
    offering: dict[str, list[str]] = {}
    rejected: dict[str, Reason] = {}
    for need in day.needs:
        offering[need.id] = [
            p.id for p in day.partners if need.kind in p.services and p.covers(need.ward)
        ]
        if not offering[need.id]:
            rejected[need.id] = Reason.no_partner

    # Volunteers of each partner who are qualified for a need: a partner with none cannot
    # really take it, so it must not use up a capacity place on it.
    members: dict[str, list[Volunteer]] = defaultdict(list)
    for v in day.volunteers:
        for p in v.partners:
            members[p].append(v)

    def staffed(need: Need, partner: str) -> bool:
        return any(qualified(need, v) for v in members[partner])

    candidates = {
        n.id: [p for p in offering[n.id] if staffed(n, p)]
        for n in day.needs
        if n.id not in rejected
    }
    for need in day.needs:
        if need.id in candidates and not candidates[need.id]:
            pool = [v for p in offering[need.id] for v in members[p]]
            rejected[need.id] = _unqualified_reason(need, pool)

    remaining: dict[tuple[str, ServiceKind], int] = {}
    for p in day.partners:
        for kind, cap in p.capacity.items():
            remaining[(p.id, kind)] = max(0, cap - used[(p.id, kind)])
    demand = Counter((p, day.need(n).kind) for n, partners in candidates.items() for p in partners)
    binding = {key for key, left in remaining.items() if demand[key] > left}

    allowed: dict[str, list[str]] = {
        n: [p for p in partners if (p, day.need(n).kind) not in binding]
        for n, partners in candidates.items()
    }
    # Hand out binding places: first to needs with no other partner, then to everyone else,
    # each pass in priority order and fewest options first.
    order = sorted(
        candidates,
        key=lambda n: (PRIORITY_ORDER[day.need(n).priority], len(candidates[n]), n),
    )
    for only_if_none in (True, False):
        for n in order:
            if only_if_none and allowed[n]:
                continue
            kind = day.need(n).kind
            for p in candidates[n]:
                key = (p, kind)
                if key in binding and p not in allowed[n] and remaining[key] > 0:
                    remaining[key] -= 1
                    allowed[n].append(p)
                    if only_if_none:
                        break
    for n, partners in allowed.items():
        if not partners and n not in rejected:
            rejected[n] = Reason.partner_capacity

    volunteers: dict[str, tuple[str, ...]] = {}
    for need in day.needs:
        partners = set(allowed.get(need.id, ()))
        volunteers[need.id] = tuple(
            v.id for v in day.volunteers if partners & v.partners and qualified(need, v)
        )
    return Triage(
        partners={n.id: tuple(allowed.get(n.id, ())) for n in day.needs},
        volunteers=volunteers,
        rejected=rejected,
    )


def _unqualified_reason(need: Need, volunteers: list[Volunteer]) -> Reason:
    """Why no volunteer of an offering partner qualifies: missing skill or language."""
    skilled = [v for v in volunteers if need.required_skills <= v.skills]
    if skilled and need.language_required:
        return Reason.no_language
    return Reason.no_skill
