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

from kst_match.model import Day, Need, Reason, ServiceKind, Skill, Volunteer


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
        # Needs asking the same share one tuple (``triage``): each is cut once.
        cut: dict[int, tuple[str, ...]] = {}
        for n in ids:
            answer = self.volunteers.get(n)
            if answer is not None and id(answer) not in cut:
                cut[id(answer)] = tuple(v for v in answer if v in vols)
        return Triage(
            partners={n: self.partners[n] for n in ids if n in self.partners},
            volunteers={n: cut[id(self.volunteers[n])] for n in ids if n in self.volunteers},
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


Ask = tuple[frozenset[Skill], str | None]  # skills required, and a language if required


def _ask(need: Need) -> Ask:
    """What a volunteer must have for ``need``: needs asking the same share every answer."""
    return need.required_skills, need.language if need.language_required else None


def triage(day: Day) -> Triage:
    """Eligible partners and volunteers for every need of the day.

    Needs asking the same (skills, language) of the same partners share one answer, worked
    out once over the volunteers: the cost grows with the needs plus the volunteers times the
    few distinct questions, not with needs times volunteers."""
    offering: dict[str, list[str]] = {}
    rejected: dict[str, Reason] = {}
    offered: dict[tuple[ServiceKind, str | None], list[str]] = {}
    for need in day.needs:
        key = (need.kind, need.ward)
        if key not in offered:
            offered[key] = [
                p.id for p in day.partners if need.kind in p.services and p.covers(need.ward)
            ]
        offering[need.id] = offered[key]
        if not offering[need.id]:
            rejected[need.id] = Reason.no_partner

    # Volunteers of each partner who are qualified for a need: a partner with none cannot
    # really take it, so it must not use up a capacity place on it.
    members: dict[str, list[Volunteer]] = defaultdict(list)
    for v in day.volunteers:
        for p in v.partners:
            members[p].append(v)
    belongs = [v.partners for v in day.volunteers]
    able: dict[Ask, list[bool]] = {}  # ask -> qualified, for each volunteer in order

    def qualified_all(need: Need) -> list[bool]:
        ask = _ask(need)
        if ask not in able:
            able[ask] = [qualified(need, v) for v in day.volunteers]
        return able[ask]

    staffed: dict[tuple[Ask, str], bool] = {}

    def is_staffed(need: Need, partner: str) -> bool:
        key = (_ask(need), partner)
        if key not in staffed:
            staffed[key] = any(qualified(need, v) for v in members[partner])
        return staffed[key]

    candidates = {
        n.id: [p for p in offering[n.id] if is_staffed(n, p)]
        for n in day.needs
        if n.id not in rejected
    }
    for need in day.needs:
        if need.id in candidates and not candidates[need.id]:
            pool = [v for p in offering[need.id] for v in members[p]]
            rejected[need.id] = _unqualified_reason(need, pool)

    # One tuple per distinct answer, shared by every need that asks it.
    answers: dict[tuple[Ask, frozenset[str]], tuple[str, ...]] = {}
    volunteers: dict[str, tuple[str, ...]] = {}
    for need in day.needs:
        partners = frozenset(candidates.get(need.id, ()))
        key = (_ask(need), partners)
        if key not in answers:
            fit = qualified_all(need) if partners else []
            answers[key] = tuple(
                v.id
                for v, mine, ok in zip(day.volunteers, belongs, fit, strict=False)
                if ok and not partners.isdisjoint(mine)
            )
        volunteers[need.id] = answers[key]
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
