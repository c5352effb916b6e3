"""The ``kst-match`` command. Each sub-command is a thin layer over the core modules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.text import Text

# Help as click writes it: each option with the kind of value it takes, a flag with none.
# (Typer's panels label every flag ``<bool>``, as if it took a value.)
HELP = {"rich_markup_mode": None}
app = typer.Typer(
    help="kst-match: plan a community support hub's day.", no_args_is_help=True, **HELP
)
data_app = typer.Typer(help="The day's input data: generate a day, check input files.", **HELP)
network_app = typer.Typer(help="Street networks for travel times.", **HELP)
users_app = typer.Typer(
    help="Users of the HTTP service and their tokens (database: KST_MATCH_DATABASE_URL).", **HELP
)
# Dates on the command line as in the files: 2026-11-25 or 25/11/2026.
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
app.add_typer(data_app, name="data")
app.add_typer(network_app, name="network")
app.add_typer(users_app, name="users")


@data_app.command("generate")
def data_generate(
    needs: Annotated[int, typer.Option(min=0, help="Number of needs.")] = 400,
    volunteers: Annotated[int, typer.Option(min=0, help="Number of volunteers.")] = 150,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: same seed, same files.")] = 0,
    date: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS, metavar="DATE", help="The day's date (default 2026-11-25)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder to write the day's CSV files into.")] = Path(
        "out/day"
    ),
) -> None:
    """Generate a realistic Kingston day (needs, volunteers, partners, sites) as CSV files."""
    from kst_match.dataset.generate import DEFAULT_DATE, generate_day, write_day

    day = generate_day(needs, volunteers, seed, date.date() if date else DEFAULT_DATE)
    for path in write_day(day, out):
        typer.echo(f"wrote {path}")


@data_app.command("check")
def data_check(
    directory: Annotated[
        Path,
        typer.Argument(
            exists=True,
            file_okay=False,
            help="Folder with needs and volunteers, and optionally partners and sites.",
        ),
    ],
    date: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            metavar="DATE",
            help="Read only the needs of this date (YYYY-MM-DD or DD/MM/YYYY).",
        ),
    ] = None,
) -> None:
    """Check a day's input files: list every bad row (file, row, field, reason); exit 1 if any."""
    from kst_match.inputs import check_day, print_report

    report = check_day(directory, date.date() if date else None)
    print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def _travel(network: Path | None) -> object:
    """The travel model: the street network in ``network`` if given, else the road estimate."""
    from kst_match.geo.travel import RoadEstimate

    if network is None:
        return RoadEstimate()
    from kst_match.geo.network import StreetNetwork
    from kst_match.geo.travel import CachedTravel

    # Street-network matrices are worth keeping: a re-plan of the same day reads them back.
    return CachedTravel(StreetNetwork.load(network))


def _read_report(data: Path, date: datetime | None) -> object:
    """Read and validate a day; bad rows are reported (the first 50, then counted by kind) and
    left out, good rows planned."""
    from rich.console import Console

    from kst_match.inputs import check_day, print_issues

    report = check_day(data, date.date() if date else None)
    console = Console(stderr=True)
    print_issues(report.issues, console)
    if not report.day.needs:
        console.print("[red]No needs to plan.[/red]")
        raise typer.Exit(1)
    return report


def _read_day(data: Path, date: datetime | None) -> object:
    """The day of :func:`_read_report`."""
    return _read_report(data, date).day  # type: ignore[attr-defined]


MAX_TIME_LIMIT_S = 24 * 3600.0


def _time_limit(value: float) -> float:
    """A solver time limit must be seconds, more than 0 and at most a day (so not NaN, which
    compares false with everything, nor infinite)."""
    if not 0 < value <= MAX_TIME_LIMIT_S:
        raise typer.BadParameter(
            f"{value} is not a time limit: give seconds, more than 0 and at most"
            f" {MAX_TIME_LIMIT_S:.0f}"
        )
    return value


# Options that plan and replan share, with one wording.
HubName = Annotated[str, typer.Option(help="The hub's name, printed on every run sheet.")]
HubPhone = Annotated[str, typer.Option(help="The hub's phone number, printed on every run sheet.")]
Pdf = Annotated[
    bool,
    typer.Option("--pdf", help="Also print each run sheet to PDF (needs Debian's chromium)."),
]


def _skipped(issue: object) -> Text:
    """A skipped row's line for the console (a ``warning`` if it left its row in): its text
    is the input's, never console markup."""
    from rich.text import Text

    label = "skipped" if getattr(issue, "rejects", True) else "warning"
    return Text.assemble((label, "yellow"), " ", str(issue))


def _finish(
    day: object,
    plan: object,
    travel: object,
    out: Path,
    absent: frozenset[str] = frozenset(),
    now: int | None = None,
    hub: object | None = None,
    pdf: bool = False,
) -> None:
    """Check the plan independently (a re-plan with who dropped out and when it was made);
    publish its outputs if it passes, else only a report of its violations (beside ``out``,
    which keeps the last good plan); print its KPIs."""
    from rich.console import Console
    from rich.text import Text

    from kst_match.check import check_plan
    from kst_match.outputs import OutputError, write_outputs, write_violations
    from kst_match.outputs.kpis import kpi_table

    console = Console()
    generated = datetime.now(UTC)
    violations = check_plan(day, plan, travel, absent=absent, now=now)  # type: ignore[arg-type]
    console.print(kpi_table({**plan.kpis, "timings": plan.timings}))  # type: ignore[attr-defined]
    try:
        if violations:
            report = write_violations(
                out,
                [v.message for v in violations],
                date=plan.date,  # type: ignore[attr-defined]
                version=plan.version,  # type: ignore[attr-defined]
                generated=generated,
            )
        else:
            written = write_outputs(
                day,  # type: ignore[arg-type]
                plan,  # type: ignore[arg-type]
                out,
                generated=generated,
                hub=hub,  # type: ignore[arg-type]
                pdf=pdf,
            )
    except OutputError as exc:
        Console(stderr=True).print(Text.assemble(("Outputs not written: ", "red"), str(exc)))
        raise typer.Exit(1) from exc
    if violations:
        for v in violations:
            console.print(Text.assemble(("plan check failed: ", "red"), v.message))
        console.print(
            Text(f"The plan was not published ({out} is unchanged); its violations: {report}")
        )
        raise typer.Exit(2)
    console.print(
        Text.assemble("Outputs in ", (str(out), "bold"), ": ", ", ".join(sorted(written)))
    )
    console.print("[green]Plan checked: every constraint holds.[/green]")


@app.command("plan")
def plan_day(
    data: Annotated[
        Path | None,
        typer.Option(help="Folder with the day's needs and volunteers (default: bundled day)."),
    ] = None,
    date: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            metavar="DATE",
            help="Plan the needs of this date (YYYY-MM-DD or DD/MM/YYYY).",
        ),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            callback=_time_limit,
            help="Stop improving the plan after this many seconds (a complete first plan is "
            "always made, however long it takes).",
        ),
    ] = 5.0,
    iterations: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Stop after this many improvement iterations instead of a time limit: the "
            "same input then gives the same plan on any machine.",
        ),
    ] = None,
    onboard_limit: Annotated[
        int, typer.Option(min=1, max=24 * 60, help="Goods' longest time on board, minutes.")
    ] = 120,
    handling_s: Annotated[
        float,
        typer.Option(min=0, max=3600, help="Handling of one visit to a collection site, seconds."),
    ] = 180,
    per_item_s: Annotated[
        float,
        typer.Option(min=0, max=3600, help="Time per parcel collected on a visit, seconds."),
    ] = 30,
    out: Annotated[Path, typer.Option(help="Folder for the plan and its outputs.")] = Path("out"),
    network: Annotated[
        Path | None, typer.Option(help="Street network (.osm, .osm.pbf or .graphml).")
    ] = None,
    hub_name: HubName = "the hub",
    hub_phone: HubPhone = "",
    pdf: Pdf = False,
    equity: Annotated[
        bool,
        typer.Option(
            "--equity",
            help="When not every need can be served, serve needs in more deprived areas "
            "(IMD 2019 decile of their LSOA) first, within each priority: never an urgent "
            "need for a normal one.",
        ),
    ] = False,
) -> None:
    """Plan a day: assign and route every need, explain the rest, write outputs, print KPIs."""
    from rich.console import Console

    from kst_match.paths import DEFAULT_DAY_DIR
    from kst_match.plan import make_plan
    from kst_match.provenance import stamp
    from kst_match.rejections import attach_rejected

    stop = _stopping_rule(time_limit, iterations)
    report = _read_report(data or DEFAULT_DAY_DIR, date)
    day = report.day  # type: ignore[attr-defined]
    travel = _travel(network)
    with Console(stderr=True).status("Planning...") as status:
        plan = make_plan(
            day,
            travel,  # type: ignore[arg-type]
            stop,
            progress=status.update,
            onboard_limit_min=onboard_limit,
            equity=equity,
            handling_s=handling_s,
            per_item_s=per_item_s,
        )
    plan = attach_rejected(plan, report)  # type: ignore[arg-type]
    stamp(plan, data or DEFAULT_DAY_DIR)  # bind the plan to its inputs (after the last change)
    _finish(day, plan, travel, out, hub=_hub(hub_name, hub_phone), pdf=pdf)
    _warn_if_starved(plan)


def _hub(name: str, phone: str) -> object:
    """The hub as printed on the run sheets."""
    from kst_match.model import Hub

    return Hub(name=name, phone=phone)


def _stopping_rule(time_limit: float, iterations: int | None) -> object:
    """The search's stopping rule from the command line: iterations (the same plan on any
    machine) or a time limit."""
    from kst_match.solve.stop import MaxIterations, MaxRuntime

    # The time limit is already checked by its option's callback (``_time_limit``).
    return MaxIterations(iterations) if iterations is not None else MaxRuntime(time_limit)


def _warn_if_starved(plan: object) -> None:
    """Needs some volunteer could serve, left because the search ran out of time: say so, and
    exit 3 so that a script notices."""
    from rich.console import Console
    from rich.markup import escape

    from kst_match.model import Reason

    starved = [u.need for u in plan.unserved if u.reason is Reason.not_planned_in_time]  # type: ignore[attr-defined]
    if starved:
        Console(stderr=True).print(
            f"[yellow]Warning:[/yellow] {len(starved)} needs that a volunteer could serve were "
            "left unserved when the search stopped on its time limit "
            f"({escape(', '.join(starved[:10]))}{' ...' if len(starved) > 10 else ''}). "
            "A longer --time-limit may serve them.",
            highlight=False,
        )
        raise typer.Exit(3)


def _locate_new_needs(needs: list, day: object, file: str) -> tuple[list, list[str]]:
    """New needs placed in their ward; those outside the borough, at an unknown site or with
    an id already used today are left out, each with its reason."""
    from kst_match.geo.areas import Areas

    sites = {s.id for s in day.sites}  # type: ignore[attr-defined]
    known = {n.id for n in day.needs}  # type: ignore[attr-defined]
    places = Areas.default().locate_many([n.lon for n in needs], [n.lat for n in needs])
    kept, problems = [], []
    for need, place in zip(needs, places, strict=True):
        if place is None:
            problems.append(f"{file}, need {need.id}, lon/lat: outside the borough")
        elif need.site is not None and need.site not in sites:
            problems.append(f"{file}, need {need.id}, site: unknown site {need.site!r}")
        elif need.id in known:
            problems.append(f"{file}, need {need.id}, id: already a need of this day")
        else:
            kept.append(need.model_copy(update=place.need_fields()))
    return kept, problems


@app.command("replan")
def replan_day(
    plan_file: Annotated[
        Path,
        typer.Option("--plan", exists=True, dir_okay=False, help="This morning's plan.json."),
    ],
    events: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="events.json: now, done, collected, failed, dropped."
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Option(help="The day's folder (default: the one recorded in the plan)."),
    ] = None,
    new_needs: Annotated[
        Path | None, typer.Option(exists=True, help="CSV of needs that came in since.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option(callback=_time_limit, help="Solver time limit, seconds.")
    ] = 5.0,
    iterations: Annotated[
        int | None, typer.Option(min=0, help="Improvement iterations instead of a time limit.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the new plan.")] = Path("out/replan"),
    network: Annotated[Path | None, typer.Option(help="Street network file.")] = None,
    hub_name: HubName = "the hub",
    hub_phone: HubPhone = "",
    pdf: Pdf = False,
) -> None:
    """Plan the rest of the day: done stops stay, failed and orphaned needs are placed again.

    The plan must be as written (its SHA-256 checked) and its day's files unchanged; the
    events are checked against the plan. Any problem: each is named, exit 1, nothing planned."""
    from rich.console import Console
    from rich.markup import escape

    from kst_match.model import format_clock
    from kst_match.provenance import (
        NEW_NEEDS,
        ProvenanceError,
        check_inputs,
        new_needs_files,
        read_sealed,
        stamp,
    )
    from kst_match.rejections import attach_rejected
    from kst_match.replan import ReplanError, check_plan_day, read_events, replan, unreported

    console = Console(stderr=True)
    stop = _stopping_rule(time_limit, iterations)
    try:
        morning = read_sealed(plan_file)
        folder = data or Path(morning.inputs.folder)  # type: ignore[union-attr]
        problems = check_inputs(morning, plan_file, folder)
        if problems:
            raise ProvenanceError(problems)
        date = datetime.combine(morning.date, datetime.min.time())
        report = _read_report(folder, date)
        day = report.day  # type: ignore[attr-defined]
        earlier = new_needs_files(morning)
        for path in earlier:  # needs added by earlier re-plans are part of the day now
            day = _with_new_needs(day, _new_needs(path, day, console))
        problems = check_plan_day(day, morning, str(plan_file))  # type: ignore[arg-type]
        if problems:
            raise ReplanError(problems)
        try:
            raw = events.read_bytes()
        except OSError as exc:
            raise ReplanError([f"{events}: cannot be read ({exc.strerror})"]) from exc
        happened = read_events(raw, day, morning, str(events))  # type: ignore[arg-type]
    except (ProvenanceError, ReplanError) as exc:
        for problem in exc.problems:
            console.print(f"[red]refused:[/red] {escape(problem)}")
        raise typer.Exit(1) from exc
    late = unreported(morning, happened)
    if late:
        shown = ", ".join(late[:5]) + (", ..." if len(late) > 5 else "")
        console.print(
            f"[yellow]note:[/yellow] {len(late)} stops planned to start before"
            f" {format_clock(happened.now)} were reported neither done nor failed"
            f" ({escape(shown)}); they are planned again where their windows allow."
        )
    if new_needs is not None:
        added = _new_needs(new_needs, day, console)
        happened = happened.model_copy(update={"new_needs": tuple(added)})
    travel = _travel(network)
    with console.status("Re-planning...") as status:
        plan = replan(
            day,  # type: ignore[arg-type]
            morning,
            happened,
            travel,  # type: ignore[arg-type]
            stop,  # type: ignore[arg-type]
            progress=status.update,
        )
    plan = attach_rejected(plan, report)  # type: ignore[arg-type]
    read = [(NEW_NEEDS, p) for p in [*earlier, *([new_needs] if new_needs else [])]]
    stamp(plan, folder, [*read, ("plan", plan_file.resolve()), ("events", events.resolve())])
    _finish(
        _with_new_needs(day, happened.new_needs),
        plan,
        travel,
        out,
        happened.dropped,
        happened.now,
        hub=_hub(hub_name, hub_phone),
        pdf=pdf,
    )
    _warn_if_starved(plan)


def _new_needs(path: Path, day: object, console: object) -> list:
    """The valid new needs in ``path``, placed in their wards; the rest reported and left out."""

    from kst_match.inputs import read_records
    from kst_match.model import Need

    added, issues = read_records(path, Need)
    located, problems = _locate_new_needs(added, day, path.name)
    for issue in [*issues, *problems]:
        console.print(_skipped(issue))  # type: ignore[attr-defined]
    return located


def _with_new_needs(day: object, needs: object) -> object:
    return day.model_copy(update={"needs": day.needs + tuple(needs)})  # type: ignore[attr-defined]


@app.command("scenario")
def scenario_cmd(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Scenario files (YAML): each a name and a list of changes."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Folder with the base day's files (default: bundled day)."),
    ] = None,
    date: Annotated[
        datetime | None,
        typer.Option(formats=DATE_FORMATS, metavar="DATE", help="Plan the needs of this date."),
    ] = None,
    time_limit: Annotated[
        float, typer.Option(callback=_time_limit, help="Each plan's time limit, seconds.")
    ] = 5.0,
    iterations: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Improvement iterations per plan instead of a time limit: the same results "
            "on any machine.",
        ),
    ] = None,
    seeds: Annotated[
        int, typer.Option(min=1, help="Seeds per scenario: the spread of random removals.")
    ] = 1,
    out: Annotated[Path, typer.Option(help="Folder for the comparison and plots.")] = Path(
        "out/scenarios"
    ),
    curve: Annotated[
        bool,
        typer.Option(
            "--curve",
            help="Also find the fewest volunteers (and their skills) that serve every urgent "
            "and high-priority need, by bisection.",
        ),
    ] = False,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Draw the capacity curve and ward maps.")
    ] = True,
    engine: Annotated[
        str, typer.Option(help="local (worker processes on this machine) or ray.")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (ray start); default: a local one.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: the usable cores).")
    ] = None,
    network: Annotated[Path | None, typer.Option(help="Street network file.")] = None,
) -> None:
    """Run the base day and each scenario; print and write a comparison, and plots."""
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    from kst_match.outputs import OutputError
    from kst_match.outputs.scenarios import failing_level, write_comparison
    from kst_match.paths import DEFAULT_DAY_DIR
    from kst_match.scenarios import (
        BASE,
        ScenarioError,
        apply,
        capacity_curve,
        comparison,
        curve_runs,
        read_scenario,
        sweep,
        volunteers_needed,
    )

    err = Console(stderr=True, soft_wrap=True)  # a file path and its problem on one line
    if engine not in ("local", "ray"):
        raise typer.BadParameter("local or ray", param_hint="--engine")
    try:
        scenarios = [read_scenario(f) for f in files or []]
    except ScenarioError as exc:
        for problem in exc.problems:
            err.print(Text.assemble(("refused: ", "red"), problem))
        raise typer.Exit(1) from exc
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names) or BASE.name in names:
        err.print("[red]refused:[/red] scenario names must differ from each other and from 'base'")
        raise typer.Exit(1)
    stop = _stopping_rule(time_limit, iterations)
    day = _read_day(data or DEFAULT_DAY_DIR, date)
    travel = _travel(network)
    runs = [(BASE, 0)] + [(s, seed) for s in scenarios for seed in range(seeds)]
    runs += curve_runs() if plots else []
    try:
        for s in scenarios:  # a change the day cannot take is named before any plan is made
            apply(day, s, 0)  # type: ignore[arg-type]
        with err.status(f"Planning {len(runs)} days..."):
            outcomes = sweep(
                day,  # type: ignore[arg-type]
                runs,
                travel,  # type: ignore[arg-type]
                stop,  # type: ignore[arg-type]
                workers=workers,
                engine=engine,  # type: ignore[arg-type]
                ray_address=ray_address,
            )
        needed = None
        if curve:
            with err.status("Finding the volunteers needed...") as status:
                needed = volunteers_needed(day, travel, stop, progress=status.update)  # type: ignore[arg-type]
    except ScenarioError as exc:
        for problem in exc.problems:
            err.print(Text.assemble(("refused: ", "red"), problem))
        raise typer.Exit(1) from exc
    compared = outcomes[: 1 + len(scenarios) * seeds]
    points = capacity_curve(outcomes[0], outcomes[len(compared) :]) if plots else []
    rows = comparison(compared)
    Console().print(_comparison_table(rows))
    if plots:
        level = failing_level(points)
        Console().print(
            "Capacity curve: urgent needs "
            + (
                f"start failing at {level:.0%} of volunteers."
                if level
                else "never fail down to 20%."
            )
        )
    if needed is not None:
        Console().print(_needed_text(needed))
    try:
        written = write_comparison(out, rows, compared, points, needed, plots)
    except OutputError as exc:
        err.print(Text.assemble(("Outputs not written: ", "red"), str(exc)))
        raise typer.Exit(1) from exc
    Console().print(f"Outputs in [bold]{escape(str(out))}[/bold]: {escape(', '.join(written))}")


def _comparison_table(rows: list[dict]) -> object:
    """The comparison as a table: one column per scenario, one line per figure."""
    from rich.table import Table

    from kst_match.outputs.scenarios import cell

    table = Table(title="Scenarios compared (median (min-max) over seeds)")
    table.add_column("figure", no_wrap=True)
    for row in rows:
        table.add_column(str(row["scenario"]), justify="right")
    keys = list(dict.fromkeys(k for row in rows for k in row if k != "scenario"))
    for key in keys:
        table.add_row(key, *(cell(row.get(key, 0)) for row in rows))
    return table


def _needed_text(needed: dict) -> str:
    skills = ", ".join(
        f"{k} {v} of {needed['skills_today'][k]}" for k, v in needed["skills"].items()
    )
    served = (
        "Every urgent and high-priority need is served"
        if needed["enough_today"]
        else (
            f"Even all {needed['volunteers_today']} volunteers leave"
            f" {needed['unserved_with_all']} urgent or high-priority needs unserved (see their"
            " reasons in the base plan); as many of the others are served"
        )
    )
    return (
        f"{served} with {needed['volunteers_needed']} of today's {needed['volunteers_today']}"
        f" volunteers ({needed['share']:.0%}); their skills: {skills} ({needed['plans']} plans)."
    )


@network_app.command("fetch")
def network_fetch(
    out: Annotated[Path, typer.Option(help="GraphML file to write.")] = Path(
        "data/kingston.graphml"
    ),
    mode: Annotated[str, typer.Option(help="all, walk, cycle or car.")] = "all",
    buffer: Annotated[float, typer.Option(help="Metres added around the borough.")] = 500.0,
) -> None:
    """Download Kingston's street network (needs the internet) and save it for offline use."""
    from rich.console import Console
    from rich.text import Text

    from kst_match.geo.network import NetworkFetchError, fetch_network

    console = Console(stderr=True)
    try:
        with console.status("Downloading the street network from OpenStreetMap..."):
            graph = fetch_network(out, mode=mode, buffer_m=buffer)
    except (NetworkFetchError, ValueError) as exc:
        console.print(Text(str(exc), style="red"))
        raise typer.Exit(1) from exc
    console.print(
        Text(f"Saved {len(graph):,} nodes and {graph.number_of_edges():,} edges to {out}")
    )


@network_app.command("info")
def network_info(
    path: Annotated[Path, typer.Argument(exists=True, help=".osm, .osm.pbf or .graphml file.")],
) -> None:
    """Load a street network file and show what each mode can use."""
    from rich.console import Console

    from kst_match.geo.network import StreetNetwork

    network = StreetNetwork.load(path)
    for mode, counts in network.summary().items():
        Console().print(f"{mode}: {counts['nodes']:,} nodes, {counts['edges']:,} directed edges")


@users_app.command("add")
def users_add(
    role: Annotated[
        str, typer.Option(help="coordinator, planner, partner or volunteer.", show_default=False)
    ],
    volunteer: Annotated[
        str | None, typer.Option(help="The volunteer id a volunteer token is bound to.")
    ] = None,
    partner: Annotated[
        str | None, typer.Option(help="The partner id a partner token is bound to.")
    ] = None,
    name: Annotated[str, typer.Option(help="Who the token is for (shown by list).")] = "",
) -> None:
    """Add a user and print their token, once: only its SHA-256 is stored."""
    from rich.console import Console

    from kst_match.store import Store, auth

    store = Store()
    try:
        with store.write() as session:
            token_id, token = auth.add(session, role, name, volunteer, partner)
    except auth.RoleError as exc:
        Console(stderr=True).print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    Console(stderr=True).print(f"token {token_id} ({role}); keep it, it is not shown again:")
    typer.echo(token)


@users_app.command("revoke")
def users_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from list or add).")],
) -> None:
    """Revoke a token: the service refuses it from now on."""
    from kst_match.store import Store, auth

    store = Store()
    try:
        with store.write() as session:
            found = auth.revoke(session, token_id)
    finally:
        store.dispose()
    if not found:
        typer.echo(f"no token {token_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id}")


@users_app.command("list")
def users_list() -> None:
    """Every token: id, role, what it is bound to, name, created, revoked (never the token)."""
    from kst_match.store import Store, auth

    store = Store()
    try:
        with store.read() as session:
            rows = auth.tokens(session)
    finally:
        store.dispose()
    columns = ("token", "role", "bound_to", "created", "revoked", "name")
    typer.echo("\t".join(columns))
    for token, user in rows:
        bound = user.volunteer_id or user.partner_id or "-"
        cells = (token.token_id, user.role, bound, token.created_at[:19],
                 (token.revoked_at or "-")[:19], user.name)  # fmt: skip
        typer.echo("\t".join(cells))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Run the HTTP service (uvicorn; settings from KST_MATCH_* variables: see the README)."""
    import uvicorn

    from kst_match.store import Store

    Store().dispose()  # create and migrate the database once, before any server process
    uvicorn.run("api:app", host=host, port=port, workers=workers, log_level="info")


if __name__ == "__main__":
    app()
