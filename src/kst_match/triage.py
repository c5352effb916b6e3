"""Who may serve what: the partners and volunteers eligible for each need.

Triage looks only at the rules (service offered, ward covered, skills, language); time and
distance are the solver's business, and so is partner capacity: every partner able to take a
need stays a candidate, and the places are given out over the plan as it is found
(``kst_match.solve.partners``), so that no need holds a place it cannot use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kst_match.model import Day, Need, Reason, Volunteer


@dataclass(frozen=True)
class Triage:
    """The outcome of triage for one day.

    ``partners[n]``: the partners that may take need ``n`` (they offer its kind, cover its ward
    and have a volunteer qualified for it), in the order of the day's partners;
    ``volunteers[n]``: the volunteers that may serve it (skills, language, partner), best first;
    ``rejected[n]``: the reason a need cannot be served at all, found by the rules alone.
    """

    partners: dict[str, tuple[str, ...]]
    volunteers: dict[str, tuple[str, ...]]
    rejected: dict[str, Reason] = field(default_factory=dict)

    def restricted(self, needs: Iterable[str], volunteers: Iterable[str]) -> Triage:
        """The triage of some needs over some volunteers: what a part of the day needs to
        know (a borough-wide triage is large to send to every worker process)."""
        ids, vols = set(needs), set(volunteers)
        return Triage(
            partners={n: self.partners[n] for n in ids if n in self.partners},
            volunteers={
                n: tuple(v for v in self.volunteers[n] if v in vols)
                for n in ids
                if n in self.volunteers
            },
            rejected={n: r for n, r in self.rejected.items() if n in ids},
        )

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


def triage(day: Day) -> Triage:
    """Eligible partners and volunteers for every need of the day."""
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

    volunteers: dict[str, tuple[str, ...]] = {}
    for need in day.needs:
        partners = set(candidates.get(need.id, ()))
        volunteers[need.id] = tuple(
            v.id for v in day.volunteers if partners & v.partners and qualified(need, v)
        )
    return Triage(
        partners={n.id: tuple(candidates.get(n.id, ())) for n in day.needs},
        volunteers=volunteers,
        rejected=rejected,
    )


def _unqualified_reason(need: Need, volunteers: list[Volunteer]) -> Reason:
    """Why no volunteer of an offering partner qualifies: missing skill or language."""
    skilled = [v for v in volunteers if need.required_skills <= v.skills]
    if skilled and need.language_required:
        return Reason.no_language
    return Reason.no_skill
