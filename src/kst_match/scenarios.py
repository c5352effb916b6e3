"""Capacity scenarios: named lists of changes to a base day, their runs and comparisons.

A scenario file is a small YAML document::

    name: drivers self-isolate          # required, shown in the comparison
    description: 20% of drivers stay home for two weeks   # optional
    changes:                            # applied in order to the base day
      - volunteers: {skill: driver, scale: 0.8}
      - capacity: {partner: kingston_foodbank, service: food_parcel, scale: 0.7}
      - demand: {ward: E05013941, kind: food_parcel, scale: 2}
      - demand: {kind: prescription, add: 20}
      - site: {id: foodbank_main, closed: true}
      - site: {id: pharmacy_1, opens: "10:00", closes: "14:00"}
      - shifts: {scale: 0.5}

Each change is a mapping with one key, the kind of change:

``volunteers``
    ``scale`` (0 to 1: the share of the selected volunteers who stay available, drawn at random
    with the run's seed) or ``remove`` (a list of volunteer ids); the selection is narrowed by
    any of ``partner``, ``ward`` (2022 ward code of their home), ``skill``, ``language`` and
    ``transport``; none selects all. ``round(n * (1 - scale))`` of the n selected are removed.
``capacity``
    ``partner``, ``service`` and ``scale`` (0 or more): the partner's daily capacity for that
    service becomes ``floor(capacity * scale)``. A service with no limit cannot be scaled.
``demand``
    ``scale`` (0 or more) or ``add`` (a count), narrowed by ``kind`` and ``ward``. Scaling down
    keeps ``round(n * scale)`` of the n selected needs, at random; scaling up adds
    ``round(n * (scale - 1))`` needs like the selected ones (each copies the kind of one drawn
    at random), and ``add`` adds that many needs of ``kind`` (any kind, drawn by the generator's
    shares, if not given). New needs are drawn as the generator draws them
    (``kst_match.dataset.generate``): a resident at a postcode centroid of the ward (of the
    borough without ``ward``), weighted by its older residents and deprivation, with a
    priority, window, duration, load and (for deliveries) the nearest site offering the goods.
``site``
    ``id`` and either ``closed: true`` or new ``opens`` / ``closes`` (``HH:MM``). The deliveries
    collected at a closed site go to the open site that offers the same goods (a site kind the
    generator allows for that kind of delivery: food bank or community centre for food parcels,
    pharmacy for prescriptions, supermarket for shopping) nearest to the resident. A delivery
    with no such site keeps the closed site, which is then open for no time at all, so the plan
    leaves it unserved with the reason ``site_closed``.
``shifts``
    ``scale`` (more than 0: each shift's length times this, from its start) or ``hours`` (each
    shift ends that many hours after it starts), narrowed by ``partner``; a shift never runs
    past midnight.

Applying a scenario (:func:`apply`) is a pure function of the base day, the scenario and a seed:
the same arguments give the same day. A bad file raises :class:`ScenarioError` naming the file,
the change (counted from 1), the field and the reason.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kst_match.geo.areas import Areas
from kst_match.geo.travel import TravelModel
from kst_match.model import (
    DELIVERIES,
    MINUTES_PER_DAY,
    PRIORITY_ORDER,
    Day,
    Need,
    Plan,
    Priority,
    ServiceKind,
    Site,
    Skill,
    Transport,
    Volunteer,
    parse_clock,
)
from kst_match.solve.stop import StoppingCriterion

# A closed site keeps its place in the day (its deliveries still name it) but opens for no time.
CLOSED_HOURS = {"opens": 0, "closes": 1}


class ScenarioError(ValueError):
    """A scenario file or change that cannot be used; ``problems`` are sentences naming the
    file, the change and the field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------------------------
class _Change(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VolunteersChange(_Change):
    scale: float | None = Field(default=None, ge=0, le=1)
    remove: list[str] | None = None
    partner: str | None = None
    ward: str | None = None
    skill: Skill | None = None
    language: str | None = None
    transport: Transport | None = None

    @model_validator(mode="after")
    def _one(self) -> VolunteersChange:
        if (self.scale is None) == (self.remove is None):
            raise ValueError("give either scale (0 to 1) or remove (a list of volunteer ids)")
        return self


class CapacityChange(_Change):
    partner: str
    service: ServiceKind
    scale: float = Field(ge=0)


class DemandChange(_Change):
    scale: float | None = Field(default=None, ge=0)
    add: int | None = Field(default=None, ge=0, le=100_000)
    kind: ServiceKind | None = None
    ward: str | None = None

    @model_validator(mode="after")
    def _one(self) -> DemandChange:
        if (self.scale is None) == (self.add is None):
            raise ValueError("give either scale (0 or more) or add (a number of needs)")
        return self


class SiteChange(_Change):
    id: str
    closed: bool = False
    opens: str | None = None
    closes: str | None = None

    @model_validator(mode="after")
    def _what(self) -> SiteChange:
        if self.closed == (self.opens is not None or self.closes is not None):
            raise ValueError("give either closed: true or new opens / closes (HH:MM)")
        for value in (self.opens, self.closes):
            if value is not None:
                parse_clock(value)
        return self


class ShiftsChange(_Change):
    scale: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0, le=24)
    partner: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ShiftsChange:
        if (self.scale is None) == (self.hours is None):
            raise ValueError("give either scale (more than 0) or hours (more than 0, at most 24)")
        return self


Change = VolunteersChange | CapacityChange | DemandChange | SiteChange | ShiftsChange
CHANGES: dict[str, type[_Change]] = {
    "volunteers": VolunteersChange,
    "capacity": CapacityChange,
    "demand": DemandChange,
    "site": SiteChange,
    "shifts": ShiftsChange,
}


@dataclass(frozen=True)
class Scenario:
    """A named list of changes to a base day (``changes`` applied in order)."""

    name: str
    changes: tuple[Change, ...] = ()
    description: str = ""
    source: str = ""  # the file it was read from, for messages

    @property
    def is_base(self) -> bool:
        return not self.changes


BASE = Scenario(name="base")


def read_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; every problem in a :class:`ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot be read ({exc})"]) from exc
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """A scenario from YAML text; ``source`` names it in messages."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([f"{source}{where}: not valid YAML ({reason})"]) from exc
    if not isinstance(doc, dict):
        raise ScenarioError([f"{source}: a scenario is a mapping with name and changes"])
    problems: list[str] = []
    unknown = sorted(str(k) for k in doc if k not in ("name", "description", "changes"))
    if unknown:
        problems.append(f"{source}, {unknown[0]}: unknown field (name, description, changes)")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{source}, name: a scenario needs a name")
    raw_changes = doc.get("changes") or []
    if not isinstance(raw_changes, list):
        problems.append(f"{source}, changes: a list of changes")
        raw_changes = []
    changes = []
    for number, raw in enumerate(raw_changes, start=1):
        change = _parse_change(raw, f"{source}, change {number}", problems)
        if change is not None:
            changes.append(change)
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        name=str(name).strip(),
        changes=tuple(changes),
        description=str(doc.get("description") or ""),
        source=source,
    )


def _parse_change(raw: object, where: str, problems: list[str]) -> Change | None:
    kinds = ", ".join(CHANGES)
    if not isinstance(raw, dict) or len(raw) != 1:
        problems.append(f"{where}: a change is a mapping with one key ({kinds})")
        return None
    ((kind, fields),) = raw.items()
    if kind not in CHANGES:
        problems.append(f"{where}: unknown change {kind!r} ({kinds})")
        return None
    if not isinstance(fields, dict):
        problems.append(f"{where} ({kind}): its fields are a mapping")
        return None
    try:
        return CHANGES[kind].model_validate(fields)  # type: ignore[return-value]
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "fields"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where} ({kind}), {loc}: {msg}")
        return None


# ---------------------------------------------------------------------------------------------
# Applying a scenario
# ---------------------------------------------------------------------------------------------
def apply(day: Day, scenario: Scenario, seed: int = 0, areas: Areas | None = None) -> Day:
    """The base ``day`` with the scenario's changes made in order; random draws from ``seed``.

    Needs without a ward are placed in one first (the ward is what demand changes select by).
    Raises :class:`ScenarioError` for a change that names what the day does not have."""
    areas = areas or Areas.default()
    day = _with_wards(day, areas)
    for number, change in enumerate(scenario.changes, start=1):
        rng = np.random.default_rng([seed, number])
        where = f"{scenario.source or scenario.name}, change {number}"
        day = _APPLY[type(change)](day, change, rng, areas, where)
    return day


def _with_wards(day: Day, areas: Areas) -> Day:
    missing = [n for n in day.needs if n.ward is None]
    if not missing:
        return day
    places = areas.locate_many([n.lon for n in missing], [n.lat for n in missing])
    found = {n.id: p.need_fields() for n, p in zip(missing, places, strict=True) if p is not None}
    needs = tuple(n.model_copy(update=found[n.id]) if n.id in found else n for n in day.needs)
    return day.model_copy(update={"needs": needs})


def _check_known(value: str | None, known: set[str], what: str, field_: str, where: str) -> None:
    if value is not None and value not in known:
        raise ScenarioError([f"{where}, {field_}: no {what} {value!r} in the day"])


def _volunteers(
    day: Day, change: VolunteersChange, rng: np.random.Generator, areas: Areas, where: str
) -> Day:
    _check_known(change.partner, {p.id for p in day.partners}, "partner", "partner", where)
    _check_known(change.ward, set(areas.wards), "ward", "ward", where)
    if change.remove is not None:
        known = {v.id for v in day.volunteers}
        missing = [v for v in change.remove if v not in known]
        if missing:
            raise ScenarioError([f"{where}, remove: no volunteer {missing[0]!r} in the day"])
    homes = areas.locate_many([v.lon for v in day.volunteers], [v.lat for v in day.volunteers])
    selected = [
        i
        for i, (v, home) in enumerate(zip(day.volunteers, homes, strict=True))
        if _selects(change, v, home.ward_code if home else None)
    ]
    if change.remove is not None:
        gone = {i for i in selected if day.volunteers[i].id in set(change.remove)}
    else:
        count = round(len(selected) * (1 - change.scale))  # type: ignore[operator]
        gone = {selected[i] for i in rng.permutation(len(selected))[:count]}
    kept = tuple(v for i, v in enumerate(day.volunteers) if i not in gone)
    return day.model_copy(update={"volunteers": kept})


def _selects(change: VolunteersChange, v: Volunteer, ward: str | None) -> bool:
    return (
        (change.partner is None or change.partner in v.partners)
        and (change.ward is None or change.ward == ward)
        and (change.skill is None or change.skill in v.skills)
        and (change.language is None or change.language.lower() in v.languages)
        and (change.transport is None or change.transport is v.transport)
    )


def _capacity(
    day: Day, change: CapacityChange, rng: np.random.Generator, areas: Areas, where: str
) -> Day:
    _check_known(change.partner, {p.id for p in day.partners}, "partner", "partner", where)
    partner = day.partner(change.partner)
    if change.service not in partner.capacity:
        raise ScenarioError(
            [
                f"{where}, service: {change.partner} has no daily limit for"
                f" {change.service.value} to scale"
            ]
        )
    capacity = dict(partner.capacity)
    capacity[change.service] = math.floor(capacity[change.service] * change.scale + 1e-9)
    partners = tuple(
        p.model_copy(update={"capacity": capacity}) if p.id == partner.id else p
        for p in day.partners
    )
    return day.model_copy(update={"partners": partners})


def _demand(
    day: Day, change: DemandChange, rng: np.random.Generator, areas: Areas, where: str
) -> Day:
    _check_known(change.ward, set(areas.wards), "ward", "ward", where)
    selected = [
        n
        for n in day.needs
        if (change.kind is None or n.kind is change.kind)
        and (change.ward is None or n.ward == change.ward)
    ]
    if change.scale is not None and change.scale <= 1:
        keep = round(len(selected) * change.scale)
        dropped = {selected[i].id for i in rng.permutation(len(selected))[keep:]}
        return day.model_copy(update={"needs": tuple(n for n in day.needs if n.id not in dropped)})
    if change.scale is not None:
        count = round(len(selected) * (change.scale - 1))
        kinds = [selected[i].kind for i in rng.integers(len(selected), size=count)] if count else []
    else:
        count = change.add or 0
        kinds = _draw_kinds(rng, count) if change.kind is None else [change.kind] * count
    if not kinds:
        return day
    added = _new_needs(day, kinds, change.ward, rng, areas, where)
    return day.model_copy(update={"needs": day.needs + tuple(added)})


def _draw_kinds(rng: np.random.Generator, count: int) -> list[ServiceKind]:
    from kst_match.dataset.generate import KIND_SHARES

    kinds = list(KIND_SHARES)
    shares = np.array(list(KIND_SHARES.values()))
    return [kinds[i] for i in rng.choice(len(kinds), size=count, p=shares / shares.sum())]


def _new_needs(
    day: Day,
    kinds: list[ServiceKind],
    ward: str | None,
    rng: np.random.Generator,
    areas: Areas,
    where: str,
) -> list[Need]:
    """Needs of ``kinds`` drawn as the generator draws them, in ``ward`` (else anywhere)."""
    from kst_match.dataset import generate as g
    from kst_match.dataset.kingston import load_postcodes

    geo = g._Geo(load_postcodes(), areas)
    geo.used.update({(n.lon, n.lat): 1 for n in day.needs})  # a later person moves a little
    weights = geo.weights({}, frozenset({ward}) if ward else frozenset(), residents=True)
    rows = rng.choice(len(weights), size=len(kinds), p=weights)
    lon, lat = geo.place(rng, rows)
    placed = areas.locate_many(lon, lat)
    postcodes = geo.postcodes["postcode"].to_numpy()[rows]
    priorities = g._priorities(rng, len(kinds))
    taken = {n.id for n in day.needs}
    prefix = _fresh_prefix(taken, "S")
    out = []
    for i, kind in enumerate(kinds):
        site: Site | None = None
        earliest, latest, load = g.DAY_START, g.DAY_END, 0
        if kind in DELIVERIES:
            site = _nearest_site(day.sites, kind, float(lon[i]), float(lat[i]), exclude=set())
            if site is None:
                raise ScenarioError(
                    [f"{where}: no site in the day offers the goods of a {kind.value}"]
                )
            earliest, latest = site.opens, site.closes - 60
            values, probs = g.LOADS[kind]
            load = int(rng.choice(values, p=probs))
        window = g._window(rng, priorities[i], earliest, latest)
        lo, hi = g.DURATIONS[kind]
        out.append(
            Need(
                id=f"{prefix}{i + 1:05d}",
                date=day.date,
                resident=f"{prefix}R{i + 1:05d}",
                kind=kind,
                priority=priorities[i],
                window_start=window[0],
                window_end=window[1],
                duration=int(rng.choice(np.arange(lo, hi + 1, 5))),
                load=load,
                site=site.id if site else None,
                postcode=str(postcodes[i]),
                lon=float(lon[i]),
                lat=float(lat[i]),
                **(placed[i].need_fields() if placed[i] else {"ward": ward}),
            )
        )
    return out


def _fresh_prefix(taken: set[str], base: str) -> str:
    """An id prefix no need of the day starts with (changes applied in turn each get one)."""
    k = 1
    while any(t.startswith(f"{base}{k}-") for t in taken):
        k += 1
    return f"{base}{k}-"


def _nearest_site(
    sites: Sequence[Site], kind: ServiceKind, lon: float, lat: float, exclude: set[str]
) -> Site | None:
    """The site nearest to a point that offers the goods of ``kind`` (equirectangular)."""
    from kst_match.dataset.generate import DELIVERY_SITE_KINDS

    k = math.cos(math.radians(lat))
    able = [s for s in sites if s.kind in DELIVERY_SITE_KINDS[kind] and s.id not in exclude]
    return min(able, key=lambda s: (math.hypot((s.lon - lon) * k, s.lat - lat), s.id), default=None)


def _site(day: Day, change: SiteChange, rng: np.random.Generator, areas: Areas, where: str) -> Day:
    _check_known(change.id, {s.id for s in day.sites}, "site", "id", where)
    site = day.site(change.id)
    if change.closed:
        hours = CLOSED_HOURS
    else:
        hours = {
            "opens": parse_clock(change.opens) if change.opens else site.opens,
            "closes": parse_clock(change.closes) if change.closes else site.closes,
        }
        if hours["closes"] <= hours["opens"]:
            raise ScenarioError([f"{where}, closes: the site would close before it opens"])
    sites = tuple(s.model_copy(update=hours) if s.id == site.id else s for s in day.sites)
    day = day.model_copy(update={"sites": sites})
    if change.closed:
        day = day.model_copy(update={"needs": tuple(_moved(n, day, site.id) for n in day.needs)})
    return day


def _moved(need: Need, day: Day, closed: str) -> Need:
    """A delivery from the closed site goes to the nearest open site with the same goods."""
    if need.site != closed:
        return need
    closed_now = {s.id for s in day.sites if (s.opens, s.closes) == (0, 1)}
    other = _nearest_site(day.sites, need.kind, need.lon, need.lat, exclude=closed_now)
    return need if other is None else need.model_copy(update={"site": other.id})


def _shifts(
    day: Day, change: ShiftsChange, rng: np.random.Generator, areas: Areas, where: str
) -> Day:
    _check_known(change.partner, {p.id for p in day.partners}, "partner", "partner", where)

    def shifted(v: Volunteer) -> Volunteer:
        if change.partner is not None and change.partner not in v.partners:
            return v
        if change.hours is not None:
            length = round(change.hours * 60)
        else:
            length = round((v.shift_end - v.shift_start) * change.scale)  # type: ignore[operator]
        end = min(MINUTES_PER_DAY, v.shift_start + max(1, length))
        return v.model_copy(update={"shift_end": end})

    return day.model_copy(update={"volunteers": tuple(shifted(v) for v in day.volunteers)})


_APPLY: dict[type, Callable[..., Day]] = {
    VolunteersChange: _volunteers,
    CapacityChange: _capacity,
    DemandChange: _demand,
    SiteChange: _site,
    ShiftsChange: _shifts,
}


# ---------------------------------------------------------------------------------------------
# Running and comparing
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """One scenario run with one seed: the figures a planner compares.

    ``travel_total_min`` minutes; ``unserved_by_ward`` counts by 2022 ward code;
    ``served_by_imd_decile`` needs and served by the IMD 2019 decile of their LSOA (deciles
    with needs only)."""

    scenario: str
    seed: int
    needs: int
    served: int
    volunteers_available: int
    volunteers_used: int
    served_by_priority: dict[str, dict[str, int]]
    served_by_kind: dict[str, dict[str, int]]
    unserved_by_reason: dict[str, int]
    unserved_by_ward: dict[str, int]
    travel_total_min: float
    tasks_mean: float
    tasks_max: int
    unserved_ids: tuple[str, ...] = field(default=())
    served_by_imd_decile: dict[str, dict[str, int]] = field(default_factory=dict)
    # Wall seconds to apply and plan: measured, so left out of comparisons of results.
    plan_s: float = field(default=0.0, compare=False)

    def urgent_and_high_unserved(self) -> int:
        return sum(
            v["needs"] - v["served"]
            for k, v in self.served_by_priority.items()
            if k in (Priority.urgent.value, Priority.high.value)
        )


def outcome(name: str, seed: int, day: Day, plan: Plan) -> Outcome:
    """The figures of a plan of a scenario's day."""
    k: dict[str, Any] = plan.kpis
    wards = {n.id: n.ward or "unknown" for n in day.needs}
    return Outcome(
        scenario=name,
        seed=seed,
        needs=int(k["needs"]),
        served=int(k["served"]),
        volunteers_available=int(k["volunteers_available"]),
        volunteers_used=int(k["volunteers_used"]),
        served_by_priority=k["served_by_priority"],
        served_by_kind=k["served_by_kind"],
        unserved_by_reason=dict(k["unserved_by_reason"]),
        unserved_by_ward=dict(sorted(Counter(wards[u.need] for u in plan.unserved).items())),
        travel_total_min=float(k["travel_total_min"]),
        tasks_mean=float(k["tasks_per_volunteer"]["mean"]),
        tasks_max=int(k["tasks_per_volunteer"]["max"]),
        unserved_ids=tuple(u.need for u in plan.unserved),
        served_by_imd_decile={
            d: {"needs": int(row["needs"]), "served": int(row["served"])}
            for d, row in k.get("equity", {}).get("by_imd_decile", {}).items()
            if row["needs"]
        },
    )


def run_one(
    day: Day, scenario: Scenario, seed: int, travel: TravelModel, stop: StoppingCriterion
) -> Outcome:
    """Apply the scenario with ``seed`` and plan its day in this process (one worker)."""
    from kst_match.plan import make_plan

    began = time.perf_counter()
    changed = apply(day, scenario, seed)
    plan = make_plan(changed, travel, stop, workers=1)
    result = outcome(scenario.name, seed, changed, plan)
    return dataclasses.replace(result, plan_s=round(time.perf_counter() - began, 3))


def _run_job(job: tuple[Day, Scenario, int, TravelModel, StoppingCriterion]) -> Outcome:
    return run_one(*job)


def sweep(
    day: Day,
    runs: Sequence[tuple[Scenario, int]],
    travel: TravelModel,
    stop: StoppingCriterion,
    workers: int | None = None,
    engine: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
) -> list[Outcome]:
    """Every (scenario, seed) run, in the order given. ``local``: in worker processes, one per
    usable core (``workers`` to choose; 1 runs here, in order); ``ray``: as Ray tasks on the
    cluster at ``ray_address`` (a local one when None). Each plan runs with one worker."""
    jobs = [(day, s, seed, travel, stop) for s, seed in runs]
    if engine == "ray":
        return _ray_sweep(jobs, ray_address)
    from kst_match.cores import usable_cores

    workers = min(workers or usable_cores(), len(jobs)) or 1
    if workers == 1:
        return [_run_job(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_run_job, jobs))


def _ray_sweep(jobs: list[tuple], address: str | None) -> list[Outcome]:
    try:
        import ray
    except ImportError as exc:
        raise ScenarioError(["--engine ray needs Ray: pip install 'kst-match[ray]'"]) from exc
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_one)
        day_ref = ray.put(jobs[0][0]) if jobs else None  # sent once, not with every task
        refs = [task.remote(day_ref, *j[1:]) for j in jobs]  # top-level refs are resolved
        return list(ray.get(refs))
    finally:
        if started:
            ray.shutdown()


def spread(values: Sequence[float]) -> dict[str, float]:
    """Min, median and max of a figure over seeds."""
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def comparison(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per scenario (seeds folded into min/median/max where they differ): served by
    priority and kind, needs and served by IMD decile (``needs_imd3``, ``served_imd3``: every
    decile with needs in any run), unserved by reason, travel and load, and the ward hit
    hardest (the most unserved needs more than the base, or simply the most when there is no
    base)."""
    by_name: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_name.setdefault(o.scenario, []).append(o)
    base = by_name.get(BASE.name)
    base_ward = Counter(base[0].unserved_by_ward) if base else Counter()
    deciles = sorted(
        {d for o in outcomes for d in o.served_by_imd_decile},
        key=lambda d: (not d.isdigit(), int(d) if d.isdigit() else 0),
    )
    rows = []
    for name, runs in by_name.items():
        row: dict[str, Any] = {"scenario": name, "seeds": len(runs)}
        row["needs"] = _fold([o.needs for o in runs])
        row["served"] = _fold([o.served for o in runs])
        for p in sorted(PRIORITY_ORDER, key=PRIORITY_ORDER.get):  # type: ignore[arg-type]
            row[f"served_{p.value}"] = _fold(
                [o.served_by_priority[p.value]["served"] for o in runs]
            )
            row[f"needs_{p.value}"] = _fold([o.served_by_priority[p.value]["needs"] for o in runs])
        for kind in ServiceKind:
            row[f"served_{kind.value}"] = _fold(
                [o.served_by_kind.get(kind.value, {}).get("served", 0) for o in runs]
            )
        for d in deciles:
            cells = [o.served_by_imd_decile.get(d, {}) for o in runs]
            row[f"needs_imd{d}"] = _fold([c.get("needs", 0) for c in cells])
            row[f"served_imd{d}"] = _fold([c.get("served", 0) for c in cells])
        reasons = sorted({r for o in runs for r in o.unserved_by_reason})
        for reason in reasons:
            row[f"unserved_{reason}"] = _fold([o.unserved_by_reason.get(reason, 0) for o in runs])
        row["volunteers_available"] = _fold([o.volunteers_available for o in runs])
        row["volunteers_used"] = _fold([o.volunteers_used for o in runs])
        row["travel_total_min"] = _fold([o.travel_total_min for o in runs])
        row["tasks_mean"] = _fold([o.tasks_mean for o in runs])
        row["tasks_max"] = _fold([o.tasks_max for o in runs])
        total = Counter()
        for o in runs:
            total.update(o.unserved_by_ward)
        extra = {w: c / len(runs) - base_ward.get(w, 0) for w, c in total.items()}
        worst = max(sorted(extra), key=lambda w: extra[w], default=None)
        hit = worst is not None and extra[worst] > 0
        row["ward_hit_hardest"] = _ward_label(worst) if hit else ""
        row["ward_unserved_more"] = round(extra[worst], 2) if hit else 0  # type: ignore[index]
        rows.append(row)
    return rows


def _ward_label(code: str | None) -> str:
    """A ward as ``code (name)`` where the bundled wards know it."""
    name = Areas.default().wards.get(code or "")
    return f"{code} ({name})" if name else str(code)


def _fold(values: Sequence[float]) -> float | dict[str, float]:
    """One value when every seed agrees, else its spread."""
    if len(set(values)) == 1:
        return values[0]
    return spread(values)


# ---------------------------------------------------------------------------------------------
# The capacity curve, and the volunteers a day needs
# ---------------------------------------------------------------------------------------------
# Shares of today's volunteers for the capacity curve: 100% down to 20% in steps of 10.
CURVE_LEVELS = tuple(round(1 - 0.1 * i, 1) for i in range(9))
_BELOW_ALL = tuple(level for level in CURVE_LEVELS if level < 1)


def level_scenario(level: float) -> Scenario:
    """Only ``level`` (a share, 0 to 1) of the volunteers available, drawn at random.

    For one seed the volunteers kept at a lower level are among those kept at a higher one:
    every level draws the same random order of volunteers and removes from its front."""
    return Scenario(name=f"volunteers {level:.0%}", changes=(VolunteersChange(scale=level),))


def curve_point(level: float, o: Outcome) -> dict[str, Any]:
    """One point of the capacity curve: needs and needs served, all and urgent."""
    p = o.served_by_priority
    return {
        "level": level,
        "volunteers": o.volunteers_available,
        "needs": o.needs,
        "served": o.served,
        "urgent_needs": p[Priority.urgent.value]["needs"],
        "urgent_served": p[Priority.urgent.value]["served"],
        "high_needs": p[Priority.high.value]["needs"],
        "high_served": p[Priority.high.value]["served"],
    }


def curve_runs() -> list[tuple[Scenario, int]]:
    """The runs of the capacity curve below 100% of the volunteers (seed 0), highest first;
    the base day's run with seed 0 is its 100% point."""
    return [(level_scenario(level), 0) for level in _BELOW_ALL]


def capacity_curve(base: Outcome, below: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The capacity curve's points: ``base`` (the base day, seed 0) at 100%, then ``below``,
    the outcomes of :func:`curve_runs` in their order."""
    return [curve_point(1.0, base)] + [
        curve_point(level, o) for level, o in zip(_BELOW_ALL, below, strict=True)
    ]


def volunteers_needed(
    day: Day,
    travel: TravelModel,
    stop: StoppingCriterion,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The fewest of today's volunteers (drawn at random with ``seed``, nested as in
    :func:`level_scenario`) with whom as many urgent and high-priority needs are served as with
    all of them, by bisection over their number, and their skills and transport beside
    today's. ``enough_today``: all of them serve every such need; if not, ``unserved_with_all``
    says how many even all of them leave (out of everyone's reach or time, or no partner's
    place), which more volunteers like today's would not serve either.

    Assumes more volunteers never serve fewer of those needs (true of the nested draw up to
    the search's own variation); ``plans`` counts the plans made."""
    n = len(day.volunteers)
    unserved: dict[int, int] = {}

    def left(kept: int) -> int:
        if kept not in unserved:
            if progress:
                progress(f"trying {kept} of {n} volunteers")
            o = run_one(day, level_scenario(kept / n if n else 1.0), seed, travel, stop)
            unserved[kept] = o.urgent_and_high_unserved()
        return unserved[kept]

    with_all = left(n)

    def enough(kept: int) -> bool:
        return left(kept) <= with_all

    result: dict[str, Any] = {
        "volunteers_today": n,
        "seed": seed,
        "enough_today": with_all == 0,
        "unserved_with_all": with_all,
    }
    low, high = 0, n  # not enough with ``low`` (or none at all), enough with ``high``
    if enough(0):
        high = 0
    while high - low > 1:
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid
    kept = apply(day, level_scenario(high / n if n else 1.0), seed).volunteers
    result.update(
        volunteers_needed=high,
        share=round(high / n, 3) if n else 1.0,
        skills={s.value: _count(kept, s) for s in Skill},
        skills_today={s.value: _count(day.volunteers, s) for s in Skill},
        transport=dict(sorted(Counter(v.transport.value for v in kept).items())),
        plans=len(unserved),
    )
    return result


def _count(volunteers: Sequence[Volunteer], skill: Skill) -> int:
    return sum(1 for v in volunteers if skill in v.skills)
