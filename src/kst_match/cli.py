"""The ``kst-match`` command. Each sub-command is a thin layer over the core modules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="kst-match: plan a community support hub's day.", no_args_is_help=True)
data_app = typer.Typer(help="The day's input data: generate a day, check input files.")
network_app = typer.Typer(help="Street networks for travel times.")
app.add_typer(data_app, name="data")
app.add_typer(network_app, name="network")


@data_app.command("generate")
def data_generate(
    needs: Annotated[int, typer.Option(min=0, help="Number of needs.")] = 400,
    volunteers: Annotated[int, typer.Option(min=0, help="Number of volunteers.")] = 150,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: same seed, same files.")] = 0,
    date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="The day's date (default 2026-11-25)."),
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
        typer.Option(formats=["%Y-%m-%d"], help="Read only the needs of this date."),
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


def _finish(day: object, plan: object, travel: object, out: Path) -> None:
    """Check the plan independently, write its outputs and print its KPIs."""
    from rich.console import Console

    from kst_match.check import check_plan
    from kst_match.outputs import write_outputs
    from kst_match.outputs.kpis import kpi_table

    console = Console()
    violations = check_plan(day, plan, travel)  # type: ignore[arg-type]
    written = write_outputs(day, plan, out)  # type: ignore[arg-type]
    console.print(kpi_table(plan.kpis))  # type: ignore[attr-defined]
    console.print(f"Outputs in [bold]{out}[/bold]: " + ", ".join(sorted(written)))
    if violations:
        for v in violations:
            console.print(f"[red]plan check failed:[/red] {v.message}")
        raise typer.Exit(2)
    console.print("[green]Plan checked: every constraint holds.[/green]")


@app.command("plan")
def plan_day(
    data: Annotated[
        Path | None,
        typer.Option(help="Folder with the day's needs and volunteers (default: bundled day)."),
    ] = None,
    date: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Plan the needs of this date.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option(callback=_time_limit, help="Solver time limit, seconds.")
    ] = 5.0,
    out: Annotated[Path, typer.Option(help="Folder for the plan and its outputs.")] = Path("out"),
    network: Annotated[
        Path | None, typer.Option(help="Street network (.osm, .osm.pbf or .graphml).")
    ] = None,
) -> None:
    """Plan a day: assign and route every need, explain the rest, write outputs, print KPIs."""
    from rich.console import Console

    from kst_match.paths import DEFAULT_DAY_DIR
    from kst_match.plan import make_plan
    from kst_match.rejections import attach_rejected

    report = _read_report(data or DEFAULT_DAY_DIR, date)
    day = report.day  # type: ignore[attr-defined]
    travel = _travel(network)
    with Console(stderr=True).status("Planning...") as status:
        plan = make_plan(day, travel, time_limit, progress=status.update)  # type: ignore[arg-type]
    plan = attach_rejected(plan, report)  # type: ignore[arg-type]
    _finish(day, plan, travel, out)


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
            kept.append(need.model_copy(update={"ward": place.ward_code}))
    return kept, problems


@app.command("replan")
def replan_day(
    plan_file: Annotated[
        Path, typer.Option("--plan", exists=True, help="This morning's plan.json.")
    ],
    events: Annotated[
        Path, typer.Option(exists=True, help="events.json: now, done, collected, failed, dropped.")
    ],
    data: Annotated[Path | None, typer.Option(help="The day's folder (default: bundled).")] = None,
    new_needs: Annotated[
        Path | None, typer.Option(exists=True, help="CSV of needs that came in since.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option(callback=_time_limit, help="Solver time limit, seconds.")
    ] = 5.0,
    out: Annotated[Path, typer.Option(help="Folder for the new plan.")] = Path("out/replan"),
    network: Annotated[Path | None, typer.Option(help="Street network file.")] = None,
) -> None:
    """Plan the rest of the day: done stops stay, failed and orphaned needs are placed again."""
    from rich.console import Console

    from kst_match.inputs import read_records
    from kst_match.model import Need, Plan
    from kst_match.paths import DEFAULT_DAY_DIR
    from kst_match.replan import Events, replan

    morning = Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
    day = _read_day(data or DEFAULT_DAY_DIR, datetime.combine(morning.date, datetime.min.time()))
    happened = Events.model_validate_json(events.read_text(encoding="utf-8"))
    if new_needs is not None:
        added, issues = read_records(new_needs, Need)
        located = _locate_new_needs(added, day, new_needs.name)  # type: ignore[arg-type]
        for issue in issues + located[1]:
            Console(stderr=True).print(f"[yellow]skipped[/yellow] {issue}")
        happened = happened.model_copy(update={"new_needs": happened.new_needs + tuple(located[0])})
    travel = _travel(network)
    with Console(stderr=True).status("Re-planning...") as status:
        plan = replan(day, morning, happened, travel, time_limit, progress=status.update)  # type: ignore[arg-type]
    whole_day = day.model_copy(update={"needs": day.needs + happened.new_needs})  # type: ignore[attr-defined]
    _finish(whole_day, plan, travel, out)


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

    from kst_match.geo.network import NetworkFetchError, fetch_network

    console = Console(stderr=True)
    try:
        with console.status("Downloading the street network from OpenStreetMap..."):
            graph = fetch_network(out, mode=mode, buffer_m=buffer)
    except (NetworkFetchError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Saved {len(graph):,} nodes and {graph.number_of_edges():,} edges to {out}")


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


if __name__ == "__main__":
    app()
