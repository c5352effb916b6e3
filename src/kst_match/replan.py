"""Re-plan the rest of a day from the morning's plan and what has happened since.

What happened (``events.json``) is checked against the plan before anything is planned: every id
must be a need or volunteer of the plan's day, every reported stop one the plan had, no need both
done and failed, no stop done after ``now``. Then:

- stops reported done stay as they were (``done`` implies the goods were collected);
- goods reported ``collected`` stay on board and their volunteer delivers them; if that volunteer
  cannot, the goods go back to their site and the need is planned again with a fresh collection
  (an event ``returned`` says why);
- a need that ``failed`` is planned again; goods collected for it go back to their site, and the
  reason reported travels into the new plan (its ``events``, and the need's assignment note or
  unserved detail);
- a volunteer who ``dropped`` out goes home; goods they had collected go back to their site, and
  each of their needs is placed with someone else or listed unserved with its reason;
- new needs join the pool. Each remaining need prefers the volunteer it had (``KEEP_ASSIGNED``),
  and the search starts from the morning's routes, so routes change no more than they must.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kst_match.geo.travel import TravelModel
from kst_match.model import (
    Clock,
    Day,
    Event,
    Need,
    Plan,
    Reason,
    ServiceKind,
    Stop,
    StopKind,
    Transport,
    Volunteer,
    format_clock,
    parse_clock,
)
from kst_match.plan import DEFAULT_STOP, build_plan, default_travel, time_rules
from kst_match.solve.alone import alone
from kst_match.solve.day import DaySolution, Progress, hint_of, solve_day
from kst_match.solve.finish import finish
from kst_match.solve.places import Places
from kst_match.solve.stop import StoppingCriterion
from kst_match.solve.vehicles import Vehicle
from kst_match.triage import triage

TASK_KINDS = (StopKind.deliver, StopKind.visit, StopKind.call)
EVENT_KEYS = ("now", "done", "collected", "failed", "dropped")
LIST_KEYS = ("done", "collected", "dropped")
MAX_EVENTS_BYTES = 16 * 1024 * 1024
MAX_REASON_CHARS = 500
MAX_SHOWN_CHARS = 40  # of an id or key quoted in a message


class Events(BaseModel):
    """What has happened since the plan was made (``events.json`` for ``kst-match replan``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    now: Clock
    done: frozenset[str] = frozenset()  # needs delivered, visited or called
    collected: frozenset[str] = frozenset()  # collected, not yet delivered
    failed: dict[str, str] = Field(default_factory=dict)  # need -> what the volunteer reported
    dropped: frozenset[str] = frozenset()  # volunteers who dropped out
    new_needs: tuple[Need, ...] = ()


class ReplanError(ValueError):
    """Events or a plan that cannot be re-planned; each problem names the file and the entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# Reading and checking events
# ---------------------------------------------------------------------------------------------
def _show(text: object) -> str:
    """An id or key as it may appear in a message: printable, and not too long."""
    s = str(text)
    if len(s) > MAX_SHOWN_CHARS:
        s = s[:MAX_SHOWN_CHARS] + "..."
    return s if s.isprintable() and s.strip() == s and s else repr(s)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {_show(key)} appears twice in one object")
        seen[key] = value
    return seen


def _load_json(raw: bytes, file: str) -> Any:
    """The JSON value in ``raw``, or a ``ReplanError`` naming ``file``."""
    if len(raw) > MAX_EVENTS_BYTES:
        raise ReplanError([f"{file}: larger than {MAX_EVENTS_BYTES // 2**20} MB"])
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ReplanError([f"{file}: not UTF-8 text (byte {exc.start})"]) from exc
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        msg = f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        raise ReplanError([msg]) from exc
    except RecursionError as exc:
        raise ReplanError([f"{file}: not valid events (nested too deeply)"]) from exc
    except ValueError as exc:  # a repeated key, or an integer too long to read
        raise ReplanError([f"{file}: not valid events ({exc})"]) from exc


def parse_events(raw: bytes, file: str = "events.json") -> Events:
    """Events from the bytes of an events file: a JSON object with ``now`` (``"HH:MM"``) and
    optionally ``done``, ``collected``, ``dropped`` (lists of ids) and ``failed`` (need id ->
    reason). Every problem is reported, each naming ``file`` and the entry."""
    data = _load_json(raw, file)
    if not isinstance(data, dict):
        expected = ", ".join(EVENT_KEYS)
        raise ReplanError([f"{file}: must be a JSON object with the keys {expected}"])
    problems: list[str] = []
    for key in data:
        if key not in EVENT_KEYS:
            problems.append(f"{file}, {_show(key)}: unknown key (expected {', '.join(EVENT_KEYS)})")
    now = data.get("now")
    minutes = 0
    if "now" not in data:
        problems.append(f"{file}, now: missing (the time of the re-plan, HH:MM)")
    elif not isinstance(now, str):
        problems.append(f"{file}, now: must be a time of day as text, HH:MM")
    else:
        try:
            minutes = parse_clock(now)
        except ValueError as exc:
            problems.append(f"{file}, now: {exc}")
    lists: dict[str, frozenset[str]] = {}
    for key in LIST_KEYS:
        lists[key] = _id_list(data.get(key, []), key, file, problems)
    failed = _failed(data.get("failed", {}), file, problems)
    if problems:
        raise ReplanError(problems)
    return Events(now=minutes, failed=failed, **lists)


def _id_list(value: object, key: str, file: str, problems: list[str]) -> frozenset[str]:
    if not isinstance(value, list):
        problems.append(f"{file}, {key}: must be a list of ids")
        return frozenset()
    ids: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            problems.append(f"{file}, {key}[{i}]: not an id (ids are non-empty text)")
        elif item in ids:
            problems.append(f"{file}, {key}.{_show(item)}: listed twice")
        else:
            ids.append(item)
    return frozenset(ids)


def _failed(value: object, file: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.append(f"{file}, failed: must be an object of need id to the reason reported")
        return {}
    failed: dict[str, str] = {}
    for need_id, reason in value.items():
        where = f"{file}, failed.{_show(need_id)}"
        if not need_id.strip():
            problems.append(f"{where}: not a need id")
        elif not isinstance(reason, str) or not reason.strip():
            problems.append(f'{where}: the reason must be text, e.g. "not at home"')
        elif len(reason) > MAX_REASON_CHARS:
            problems.append(f"{where}: the reason is over {MAX_REASON_CHARS} characters")
        else:
            failed[need_id] = reason.strip()
    return failed


def check_plan_day(day: Day, plan: Plan, file: str = "plan.json") -> list[str]:
    """The plan must be about this day: its date, and every need and volunteer it names."""
    problems: list[str] = []
    if plan.date != day.date:
        problems.append(f"{file}: a plan for {plan.date}, but the day read is {day.date}")
    needs = {n.id for n in day.needs}
    volunteers = {v.id for v in day.volunteers}
    named_needs = {a.need for a in plan.assignments} | {u.need for u in plan.unserved}
    named_needs |= {s.need for r in plan.routes for s in r.stops if s.need}
    named_volunteers = {a.volunteer for a in plan.assignments} | {r.volunteer for r in plan.routes}
    for n in sorted(named_needs - needs):
        problems.append(f"{file}: names need {_show(n)}, which is not in the day read")
    for v in sorted(named_volunteers - volunteers):
        problems.append(f"{file}: names volunteer {_show(v)}, who is not in the day read")
    return problems


def check_events(events: Events, day: Day, plan: Plan, file: str = "events.json") -> list[str]:
    """Problems of ``events`` against the plan they report on, each naming ``file`` and the
    entry: unknown ids, a need both done and failed, a stop reported for a need the plan did
    not serve, goods collected for a need with none, a stop done that starts after ``now``."""
    problems: list[str] = []
    needs = {n.id: n for n in day.needs}
    volunteers = {v.id for v in day.volunteers}
    stops = {(s.need, s.kind): s for r in plan.routes for s in r.stops if s.need}
    task = {n: s for (n, kind), s in stops.items() if kind in TASK_KINDS}
    now = format_clock(events.now)
    version = f"version {plan.version} of the plan"

    def known(key: str, need_id: str) -> bool:
        if need_id not in needs:
            problems.append(f"{file}, {key}.{_show(need_id)}: unknown need")
            return False
        if need_id not in task:
            problems.append(f"{file}, {key}.{need_id}: not served in {version}")
            return False
        return True

    for n in sorted(events.done):
        if known("done", n):
            if n in events.failed:
                problems.append(f"{file}, done.{n}: also reported failed; it is one or the other")
            if task[n].start > events.now:
                planned = format_clock(task[n].start)
                problems.append(f"{file}, done.{n}: planned for {planned}, after now ({now})")
    for n in sorted(events.collected):
        if known("collected", n):
            collect = stops.get((n, StopKind.collect))
            if collect is None:
                problems.append(f"{file}, collected.{n}: a {needs[n].kind}, nothing to collect")
            elif collect.start > events.now:
                planned = format_clock(collect.start)
                problems.append(
                    f"{file}, collected.{n}: collection planned for {planned}, after now ({now})"
                )
    for n in sorted(events.failed):
        known("failed", n)
    for v in sorted(events.dropped):
        if v not in volunteers:
            problems.append(f"{file}, dropped.{_show(v)}: unknown volunteer")
    return problems


def unreported(plan: Plan, events: Events) -> list[str]:
    """Needs whose stop was planned to start before ``now`` but were reported neither done nor
    failed (nor their volunteer dropped): a re-plan plans them again, which may not be meant."""
    return sorted(
        s.need
        for r in plan.routes
        if r.volunteer not in events.dropped
        for s in r.stops
        if s.need
        and s.kind in TASK_KINDS
        and s.start < events.now
        and s.need not in events.done
        and s.need not in events.failed
    )


def read_events(raw: bytes, day: Day, plan: Plan, file: str = "events.json") -> Events:
    """Events from an events file's bytes, checked against the plan; ``ReplanError`` if not."""
    events = parse_events(raw, file)
    problems = check_events(events, day, plan, file)
    if problems:
        raise ReplanError(problems)
    return events


# ---------------------------------------------------------------------------------------------
# Re-planning
# ---------------------------------------------------------------------------------------------
@dataclass
class _Start:
    """Each volunteer's day so far, as the solve sees it."""

    vehicles: list[Vehicle]
    done_stops: dict[str, list[Stop]]
    used: Counter[tuple[str, ServiceKind]] = field(default_factory=Counter)
    stranded: dict[str, str] = field(default_factory=dict)  # goods of volunteers off shift


def replan(
    day: Day,
    plan: Plan,
    events: Events,
    travel: TravelModel | None = None,
    stop: StoppingCriterion = DEFAULT_STOP,
    progress: Progress | None = None,
) -> Plan:
    """A new version of ``plan`` for the rest of the day (``stop`` as for ``make_plan``);
    ``ReplanError`` if the plan is not about ``day`` or ``events`` do not fit the plan
    (nothing is planned then)."""
    problems = check_plan_day(day, plan) + check_events(events, day, plan)
    if problems:
        raise ReplanError(problems)
    began = time.perf_counter()
    clock = time.monotonic()
    full = day.model_copy(update={"needs": day.needs + tuple(events.new_needs)})
    places = Places.of_day(full, travel or default_travel())
    partner_of = {a.need: a.partner for a in plan.assignments}
    holder = _holders(plan)

    # Goods that go back to their site instead of to the resident, with why.
    returned: dict[str, str] = {}
    for n in events.collected - events.done - events.failed.keys():
        if holder.get(n) in events.dropped:
            returned[n] = f"{holder[n]} dropped out"
    collects = {s.need: s for r in plan.routes for s in r.stops if s.kind is StopKind.collect}
    for n in events.failed:  # goods collected for a failed delivery
        if n in events.collected or (n in collects and collects[n].start <= events.now):
            returned[n] = "the delivery failed"

    while True:
        start = _starts(full, plan, events, places, returned, partner_of)
        stuck = {n: f"{vid}'s shift is over" for n, vid in start.stranded.items()}
        for n, vid in _undeliverable(full, start.vehicles, places).items():
            stuck[n] = f"{vid} cannot deliver it in time"
        if stuck:
            returned.update(stuck)
            continue
        solution = _solve(full, plan, events, start, places, stop, clock, progress)
        missed = {
            n: v.id for v in start.vehicles for n in v.onboard if solution.served_by.get(n) != v.id
        }
        if not missed:
            break
        for n, vid in missed.items():
            returned[n] = f"{vid} cannot deliver it on top of the rest of their day"

    finished = _finished(start)
    new = build_plan(
        full,
        solution,
        places.travel,
        began,
        done=start.done_stops,
        partners={n: p for n, p in partner_of.items() if n in finished},
        version=plan.version + 1,
    )
    new.onboard_limit_min = plan.onboard_limit_min
    new.handling_s, new.per_item_s = plan.handling_s, plan.per_item_s
    _record(new, full, plan, events, returned, holder)
    return new


def _solve(
    day: Day,
    plan: Plan,
    events: Events,
    start: _Start,
    places: Places,
    stop: StoppingCriterion,
    clock: float,
    progress: Progress | None,
) -> DaySolution:
    """The one call to the engine: plan the needs not yet finished over the volunteers left,
    then settle partner capacity (with the places already spent today), insert what still
    fits and give every other need its reason."""
    finished = _finished(start)
    remaining = day.model_copy(
        update={"needs": tuple(n for n in day.needs if n.id not in finished)}
    )
    if not start.vehicles:  # nobody left to route (the routing model needs a vehicle)
        why = Reason.volunteer_unavailable if events.dropped else Reason.no_time
        unserved = {n.id: why for n in remaining.needs}
        return DaySolution({}, {}, unserved, triage(remaining))
    keep = {
        a.need: a.volunteer
        for a in plan.assignments
        if a.volunteer not in events.dropped and a.need not in events.failed
    }
    hint = {r.volunteer: hint_of(r.stops) for r in plan.routes if r.volunteer not in events.dropped}
    rules = time_rules(plan)
    solution = solve_day(
        remaining,
        start.vehicles,
        places,
        stop,
        clock,
        keep=keep,
        hint=hint,
        progress=progress,
        rules=rules,
    )
    starved = bool(solution.stats.get("starved"))
    return finish(
        remaining,
        start.vehicles,
        places.travel,
        solution,
        used=start.used,
        starved=starved,
        rules=rules,
    )


def _finished(start: _Start) -> set[str]:
    """Needs served by stops already made."""
    return {
        s.need  # type: ignore[misc]
        for stops in start.done_stops.values()
        for s in stops
        if s.kind in TASK_KINDS
    }


def _holders(plan: Plan) -> dict[str, str]:
    """Need -> the volunteer whose morning route collects (or serves) it."""
    return {s.need: r.volunteer for r in plan.routes for s in r.stops if s.need}


def _made(stop: Stop, events: Events, returned: dict[str, str]) -> bool:
    """Is this stop one the volunteer has made and that still counts?"""
    if stop.need is None or stop.need in events.failed:
        return False
    if stop.kind is StopKind.collect:
        made = stop.need in events.collected or stop.need in events.done
        return made and stop.need not in returned
    return stop.need in events.done


def _starts(
    day: Day,
    plan: Plan,
    events: Events,
    places: Places,
    returned: dict[str, str],
    partner_of: dict[str, str],
) -> _Start:
    """Each volunteer's stops made so far, and where, when and with what they carry on."""
    now_s = events.now * 60
    routes = {r.volunteer: r for r in plan.routes}
    start = _Start(vehicles=[], done_stops={})
    for volunteer in day.volunteers:
        route = routes.get(volunteer.id)
        made = [s for s in route.stops[1:-1] if _made(s, events, returned)] if route else []
        prefix = [route.stops[0], *made] if route and made else []
        prefix = _retimed(prefix, day, volunteer.transport, places)
        if prefix:
            start.done_stops[volunteer.id] = prefix
            for s in prefix:
                if s.kind in TASK_KINDS:
                    start.used[(partner_of[s.need], day.need(s.need).kind)] += 1  # type: ignore[index]
        if volunteer.id in events.dropped:
            if prefix:
                start.done_stops[volunteer.id] = [*prefix, _home(prefix[-1], volunteer, places)]
            continue
        last = prefix[-1] if prefix else None
        onboard = tuple(
            s.need for s in prefix if s.kind is StopKind.collect and s.need not in events.done
        )
        here = (last.lon, last.lat) if last else (volunteer.lon, volunteer.lat)
        home = (volunteer.lon, volunteer.lat)
        # Whole seconds for the solver, never before the last stop made ends.
        start_s = max(
            volunteer.shift_start * 60, now_s, math.ceil(_departure_s(last)) if last else 0
        )
        way_home_s = places.seconds(volunteer.transport, places[here], places[home])
        if start_s + way_home_s > volunteer.shift_end * 60:  # the shift is over: home now
            if last is not None:
                start.done_stops[volunteer.id] = [*prefix, _home(last, volunteer, places)]
            start.stranded.update({n: volunteer.id for n in onboard})
            continue
        start.vehicles.append(
            Vehicle(
                volunteer=volunteer,
                start=here,
                start_s=start_s,
                end=home,
                end_s=volunteer.shift_end * 60,
                tasks_left=volunteer.max_tasks - sum(s.kind in TASK_KINDS for s in prefix),
                travel_left_s=int(volunteer.max_travel * 60 - sum(s.travel_s for s in prefix)),
                onboard=onboard,  # type: ignore[arg-type]
            )
        )
    return start


def _undeliverable(day: Day, vehicles: list[Vehicle], places: Places) -> dict[str, str]:
    """Goods on board that their volunteer could not deliver even on an otherwise empty rest of
    the day (the window has passed, or no time is left): need -> volunteer."""
    stuck: dict[str, str] = {}
    for v in vehicles:
        for n in v.onboard:
            need = day.need(n)
            if alone(need, v, places, day.site(need.site) if need.site else None) is not None:
                stuck[n] = v.id
    return stuck


def _record(
    new: Plan,
    day: Day,
    morning: Plan,
    events: Events,
    returned: dict[str, str],
    holder: dict[str, str],
) -> None:
    """Carry what happened into the new plan: its events, and notes on the needs concerned."""
    was = {a.need: a.volunteer for a in morning.assignments}
    site_of = {n.id: n.site for n in day.needs}
    records: list[Event] = []
    for n in sorted(events.done):
        records.append(Event(kind="done", need=n, volunteer=was.get(n)))
    for n in sorted(events.collected - events.done):
        records.append(Event(kind="collected", need=n, volunteer=holder.get(n)))
    for n, reason in sorted(events.failed.items()):
        records.append(Event(kind="failed", need=n, volunteer=was.get(n), note=reason))
    for n, why in sorted(returned.items()):
        note = (
            f"{why}: the goods go back to {site_of[n]}, and the need is planned again with a"
            " fresh collection"
        )
        records.append(Event(kind="returned", need=n, volunteer=holder.get(n), note=note))
    now = format_clock(events.now)
    for v in sorted(events.dropped):
        records.append(Event(kind="dropped", volunteer=v, note=f"dropped out by {now}"))
    new.events = records

    def history(n: str) -> str:
        parts = []
        if n in events.failed:
            parts.append(f"Failed earlier today ({events.failed[n]}).")
        if was.get(n) in events.dropped and n not in events.done:
            parts.append(f"Was {was[n]}'s, who dropped out.")
        if n in returned:
            parts.append(f"The goods collected go back to {site_of[n]} ({returned[n]}).")
        return " ".join(parts)

    for a in new.assignments:
        a.note = history(a.need)
    for u in new.unserved:
        need = day.need(u.need)
        if need.window_end < events.now and u.need in was:
            u.detail = (
                f"Its window ended at {format_clock(need.window_end)}, before now ({now}), and it"
                " was not reported done."
            )
        extra = history(u.need)
        if extra:
            u.detail = f"{u.detail} {extra}"


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


def _departure_s(stop: Stop) -> float:
    """When a stop ends, exact seconds (whole minutes for plans that do not record them)."""
    return stop.departure_s if stop.departure_s is not None else stop.departure * 60.0


def _home(last: Stop, volunteer: Volunteer, places: Places) -> Stop:
    """The way home of a volunteer who dropped out after ``last``."""
    a, b = places[(last.lon, last.lat)], places[(volunteer.lon, volunteer.lat)]
    travel_s = places.seconds(volunteer.transport, a, b)
    home_s = _departure_s(last) + travel_s
    arrival = math.floor(home_s / 60)
    return Stop(
        kind=StopKind.end,
        lon=volunteer.lon,
        lat=volunteer.lat,
        arrival=arrival,
        start=arrival,
        departure=arrival,
        arrival_s=home_s,
        start_s=home_s,
        departure_s=home_s,
        load=0,
        travel_s=round(travel_s, 1),
        distance_m=round(places.metres(volunteer.transport, a, b), 1),
    )
