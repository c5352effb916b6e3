"""The plan's KPIs as tables: for the terminal (rich), as ``kpis.json`` and as ``kpis.md``.

The KPI dict is the planner's and its keys may change, so it is rendered generically: the
scalars at each level make a two-column table, a dict of dicts of scalars (say travel per
volunteer) makes one table with a row per key and a column per inner key, and a list of dicts
makes a table with a row per item. Only the headline is computed here, from the plan itself.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from kst_match.model import Plan
from kst_match.outputs._common import stamp

TERMINAL_MAX_ROWS = 12
SCALARS = (str, int, float, bool, type(None), Enum, dt.date, dt.time)
# What the service-by-deprivation tables' rows and columns mean, under each in kpis.md.
NOTES = {
    "equity / by_imd_decile": "Decile of the English Indices of Deprivation 2019 of each need's"
    " LSOA: 1 is the most deprived tenth of England's LSOAs, 10 the least.",
    "equity / by_imd_quintile": "Quintile of the same index: 1 (deciles 1 and 2) is the most"
    " deprived fifth of England's LSOAs.",
    "equity / by_ward": "The 2022 wards.",
}
EQUITY_COLUMNS = (
    "served_pct is the share of the row's needs served (%); urgent and urgent_served count its"
    " urgent needs; the columns after them count its unserved needs by reason."
)


@dataclass(frozen=True)
class KpiTable:
    """One table: a title (the path of keys to it), column headers and rows of cell text."""

    title: str
    columns: list[str]
    rows: list[list[str]]


def _is_scalar(value: object) -> bool:
    if isinstance(value, SCALARS):
        return True
    # A short list of scalars prints in one cell.
    return isinstance(value, Sequence) and all(isinstance(v, SCALARS) for v in value)


def _is_flat(value: object) -> bool:
    return isinstance(value, Mapping) and all(_is_scalar(v) for v in value.values())


def format_value(value: object) -> str:
    """A KPI value as cell text: floats to two decimals, booleans yes/no, lists comma-joined."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return f"{value:.2f}"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def kpi_tables(kpis: Mapping[str, Any], title: str = "Summary") -> list[KpiTable]:
    """The KPI dict as tables, in the dict's order (scalars of a level first)."""
    tables: list[KpiTable] = []
    scalars = [[str(k), format_value(v)] for k, v in kpis.items() if _is_scalar(v)]
    if scalars:
        tables.append(KpiTable(title, ["", "value"], scalars))
    prefix = "" if title == "Summary" else f"{title} / "
    for key, value in kpis.items():
        if _is_scalar(value):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and all(_is_flat(v) for v in value.values()):
            tables.append(_matrix(name, [(str(k), v) for k, v in value.items()]))
        elif isinstance(value, Mapping):
            tables.extend(kpi_tables(value, name))
        elif isinstance(value, Sequence) and all(_is_flat(v) for v in value):
            tables.append(_matrix(name, [(str(i + 1), v) for i, v in enumerate(value)]))
        else:
            tables.append(KpiTable(name, ["", "value"], [["", format_value(str(value))]]))
    return tables


def _matrix(title: str, rows: list[tuple[str, Mapping[str, Any]]]) -> KpiTable:
    columns: list[str] = []
    for _, row in rows:
        columns.extend(str(c) for c in row if str(c) not in columns)
    cells = [
        [key, *(format_value(dict((str(k), v) for k, v in row.items()).get(c)) for c in columns)]
        for key, row in rows
    ]
    return KpiTable(title, ["", *columns], cells)


def headline(plan: Plan) -> list[tuple[str, str]]:
    """The figures that head the summary, computed from the plan (not from its KPI keys)."""
    served = len(plan.assignments)
    total = served + len(plan.unserved)
    travel_s = sum(r.travel_s for r in plan.routes)
    distance_m = sum(r.distance_m for r in plan.routes)
    kept = sum(1 for a in plan.assignments if a.continuity)
    rows = [
        ("date", f"{plan.date.isoformat()} (version {plan.version})"),
        ("served", f"{served} of {total}"),
        ("unserved", str(len(plan.unserved))),
        ("volunteers with a route", str(len(plan.routes))),
        ("travel", f"{travel_s / 3600:.1f} h, {distance_m / 1000:.1f} km"),
        ("continuity kept", str(kept)),
        ("travel model", plan.travel_model),
    ]
    solve_time = plan.timings.get("solve_time_s", plan.kpis.get("solve_time_s"))
    if isinstance(solve_time, int | float) and not isinstance(solve_time, bool):
        rows.append(("solve time", f"{solve_time:.2f} s"))
    return rows


def render_markdown(plan: Plan, generated: dt.datetime | None = None) -> str:
    """``kpis.md``: the headline (with the time of generation, default now), then every KPI
    table."""
    lines = [f"# KPIs · plan {plan.date.isoformat()}", ""]
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| {_md(k)} | {_md(v)} |" for k, v in headline(plan)]
    lines.append(f"| made | {stamp(generated)} |")
    figures = {**plan.kpis, **({"timings": plan.timings} if plan.timings else {})}
    for table in kpi_tables(figures):
        lines += ["", f"## {_md(table.title)}", ""]
        lines.append("| " + " | ".join(_md(c) for c in table.columns) + " |")
        lines.append("|" + " --- |" * len(table.columns))
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows]
        if table.title in NOTES:
            lines += ["", f"{NOTES[table.title]} {EQUITY_COLUMNS}"]
    lines += _rejected_markdown(plan)
    return "\n".join(lines) + "\n"


def _rejected_markdown(plan: Plan) -> list[str]:
    """Input rows left out of the day, each with its file, row, field and reason."""
    if not plan.rejected:
        return []
    lines = ["", f"## Rejected input rows ({len(plan.rejected)})", ""]
    lines += ["| file | row | field | id | reason |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {_md(r.file)} | {r.row or ''} | {_md(r.field)} | {_md(r.id or '')} | {_md(r.reason)} |"
        for r in plan.rejected
    ]
    return lines


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def kpi_table(kpis: Mapping[str, Any], max_rows: int | None = TERMINAL_MAX_ROWS) -> Group:
    """A KPI dict as rich tables, for the terminal (no headline: see :func:`render_rich`).

    A table longer than ``max_rows`` (say travel per volunteer) shows its first rows and how
    many more there are; ``kpis.md`` has them all. Every cell is plain text (``Text``), never
    console markup: keys such as volunteer ids come from the input files.
    """
    tables: list[Table] = []
    for kpi in kpi_tables(kpis):
        table = Table(title=Text(kpi.title), title_justify="left", min_width=len(kpi.title))
        for i, column in enumerate(kpi.columns):
            table.add_column(
                Text(column), justify="left" if i == 0 else "right", style="bold" * (i == 0)
            )
        rows = kpi.rows if max_rows is None else kpi.rows[:max_rows]
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        if len(rows) < len(kpi.rows):
            more = f"… {len(kpi.rows) - len(rows)} more"
            table.add_row(more, *[""] * (len(kpi.columns) - 1), style="dim")
        tables.append(table)
    return Group(*tables)


def render_rich(plan: Plan) -> Group:
    """The plan's headline and every KPI table as rich tables, for the terminal."""
    head = Table(title=f"Plan {plan.date.isoformat()}", show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    for key, value in headline(plan):
        head.add_row(Text(key), Text(value))
    return Group(head, kpi_table(plan.kpis))


def print_kpis(plan: Plan, console: Console | None = None) -> None:
    """Print the KPIs to the terminal."""
    (console or Console()).print(render_rich(plan))


def _jsonable(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"a KPI of type {type(value).__name__} cannot be written as JSON")


def write_kpis(
    plan: Plan, out_dir: str | Path, generated: dt.datetime | None = None
) -> tuple[Path, Path]:
    """Write ``kpis.json`` (the planner's dict as it is) and ``kpis.md``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "kpis.json"
    figures = {**plan.kpis, **({"timings": plan.timings} if plan.timings else {})}
    json_path.write_text(json.dumps(figures, indent=2, default=_jsonable) + "\n", "utf-8")
    md_path = out_dir / "kpis.md"
    md_path.write_text(render_markdown(plan, generated), encoding="utf-8")
    return json_path, md_path
