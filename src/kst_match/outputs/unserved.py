"""The coordinator's list of what was not done: every unserved need and every rejected input row,
with its reason in words and what a coordinator could do about it, as HTML and CSV.

It holds residents' names, addresses and phone numbers: it is for the coordinator only, and is
written beside the coordinator's pack, not among the volunteers' run sheets. Text from the
input is data: HTML-escaped in the page, and in the CSV a cell that a spreadsheet would read as
a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading ``'``.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kst_match.model import REASON_TEXT, Day, Need, Plan, Reason, Unserved, format_clock
from kst_match.outputs._common import kind_label, stamp

HTML_NAME = "unserved.html"
CSV_NAME = "unserved.csv"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

WardName = Callable[[str], str | None]


@dataclass(frozen=True)
class Item:
    """One line of the list: an unserved need or a rejected row."""

    source: str  # "unserved" or "rejected"
    need: str
    kind: str
    priority: str
    window: str
    resident: str
    name: str
    address: str
    postcode: str
    phone: str
    ward: str
    reason: str  # a Reason value, or "rejected"
    reason_text: str
    detail: str
    action: str


def _ward(need: Need, ward_name: WardName) -> str:
    if need.ward is None:
        return "the resident's ward"
    return ward_name(need.ward) or need.ward


def _partners_for(day: Day, need: Need) -> list[str]:
    return [p.name for p in day.partners if need.kind in p.services and p.covers(need.ward)]


def action(day: Day, need: Need, reason: Reason, ward_name: WardName) -> str:
    """What a coordinator could do about an unserved need, in words."""
    ward, kind = _ward(need, ward_name), kind_label(need.kind)
    if reason is Reason.no_partner:
        return f"no partner offers {kind} in {ward}: ask a partner to cover it"
    if reason is Reason.partner_capacity:
        names = ", ".join(_partners_for(day, need)) or "a partner covering the ward"
        return f"partner capacity used up: raise {names}'s capacity for {kind}"
    if reason is Reason.no_skill:
        skills = ", ".join(sorted(str(s) for s in need.required_skills)) or "the skills it needs"
        return f"no volunteer today has {skills}: find one who has"
    if reason is Reason.no_language:
        return f"no volunteer today speaks {need.language}: find one, or arrange an interpreter"
    if reason is Reason.site_closed:
        return "the site is closed in the window: widen the window or collect from another site"
    if reason is Reason.no_time:
        return "no volunteer free in the window: widen the window or find a volunteer"
    if reason is Reason.too_far:
        return f"too far for every volunteer: find a volunteer nearer {ward}"
    if reason is Reason.no_capacity:
        return f"load {need.load} too much to carry: split it, or find a driver"
    if reason is Reason.crowded_out:
        return f"crowded out: more volunteers near {ward}"
    if reason is Reason.not_planned_in_time:
        return "not planned in time: re-run with a longer --time-limit (or more --iterations)"
    if reason is Reason.volunteer_unavailable:
        return "its volunteer dropped out: find another volunteer, or move it to another day"
    return "look at the need and re-plan"


def _unserved_item(day: Day, item: Unserved, ward_name: WardName) -> Item:
    try:
        need: Need | None = day.need(item.need)
    except KeyError:
        need = None
    if need is None:
        return Item(
            "unserved", item.need, "", "", "", "", "", "", "", "", "", str(item.reason),
            REASON_TEXT[item.reason], item.detail, "look at the need and re-plan",
        )  # fmt: skip
    return Item(
        source="unserved",
        need=need.id,
        kind=kind_label(need.kind),
        priority=str(need.priority),
        window=f"{format_clock(need.window_start)}–{format_clock(need.window_end)}",
        resident=need.resident,
        name=need.name,
        address=need.address,
        postcode=need.postcode or "",
        phone=need.phone,
        ward=_ward(need, ward_name) if need.ward else "",
        reason=str(item.reason),
        reason_text=REASON_TEXT[item.reason],
        detail=item.detail,
        action=action(day, need, item.reason, ward_name),
    )


def items(day: Day, plan: Plan, ward_name: WardName | None = None) -> list[Item]:
    """Every unserved need, then every rejected input row, in the plan's order."""
    names = ward_name or (lambda code: None)
    found = [_unserved_item(day, u, names) for u in plan.unserved]
    for row in plan.rejected:
        where = f"{row.file} row {row.row}" if row.row else row.file
        found.append(
            Item(
                source="rejected",
                need=row.id or "",
                kind="",
                priority="",
                window="",
                resident="",
                name="",
                address="",
                postcode="",
                phone="",
                ward="",
                reason="rejected",
                reason_text=f"The input row was left out: {row.field}: {row.reason}",
                detail=where,
                action=f"correct {row.field} in {where} and plan again",
            )
        )
    return found


COLUMNS = tuple(Item.__dataclass_fields__)


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def render_csv(found: list[Item]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in found:
        writer.writerow([_cell(str(getattr(item, c))) for c in COLUMNS])
    return buffer.getvalue()


def render_html(plan: Plan, found: list[Item], generated: str) -> str:
    """The list as a page: unserved needs grouped by reason, then the rejected rows."""
    e = html.escape
    unserved = [i for i in found if i.source == "unserved"]
    rejected = [i for i in found if i.source == "rejected"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Not done · {e(plan.date.isoformat())}</title>",
        "<style>body{font:13px/1.35 sans-serif;margin:16px}table{border-collapse:collapse;"
        "width:100%}th,td{border:1px solid #999;padding:3px 6px;text-align:left;"
        "vertical-align:top}thead th{background:#eee}.action{font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Not done · {e(plan.date.isoformat())}</h1>",
        f"<p>plan version {plan.version} · made {e(generated)} · {len(unserved)} unserved"
        f" need{'s' if len(unserved) != 1 else ''} · {len(rejected)} rejected input"
        f" row{'s' if len(rejected) != 1 else ''}. For the coordinator: holds residents'"
        " details.</p>",
    ]
    by_reason: dict[str, list[Item]] = {}
    for item in unserved:
        by_reason.setdefault(item.reason, []).append(item)
    for reason, group in by_reason.items():
        parts.append(
            f"<h2 id='reason-{e(reason)}'>{e(reason.replace('_', ' '))} ({len(group)})</h2>"
            f"<p>{e(group[0].reason_text)}</p>"
        )
        parts.append(
            "<table><thead><tr><th>Need</th><th>Service</th><th>Window</th><th>Resident</th>"
            "<th>Address</th><th>Phone</th><th>Ward</th><th>Detail</th><th>What to do</th>"
            "</tr></thead><tbody>"
        )
        for i in group:
            who = f"{i.name} ({i.resident})" if i.name else i.resident
            where = ", ".join(p for p in (i.address, i.postcode) if p)
            parts.append(
                f"<tr class='unserved' data-need='{e(i.need)}'><td>{e(i.need)}</td>"
                f"<td>{e(i.kind)}, {e(i.priority)}</td><td>{e(i.window)}</td><td>{e(who)}</td>"
                f"<td>{e(where)}</td><td>{e(i.phone)}</td><td>{e(i.ward)}</td>"
                f"<td>{e(i.detail)}</td><td class='action'>{e(i.action)}</td></tr>"
            )
        parts.append("</tbody></table>")
    if rejected:
        parts.append(f"<h2 id='rejected'>Rejected input rows ({len(rejected)})</h2>")
        parts.append(
            "<table><thead><tr><th>Where</th><th>Id</th><th>Why</th><th>What to do</th>"
            "</tr></thead><tbody>"
        )
        for i in rejected:
            parts.append(
                f"<tr class='rejected'><td>{e(i.detail)}</td><td>{e(i.need)}</td>"
                f"<td>{e(i.reason_text)}</td><td class='action'>{e(i.action)}</td></tr>"
            )
        parts.append("</tbody></table>")
    if not found:
        parts.append("<p>Every need was served and every input row was read.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_unserved(
    day: Day,
    plan: Plan,
    out_dir: str | Path,
    generated: dt.datetime | None = None,
    ward_name: WardName | None = None,
) -> tuple[Path, Path]:
    """Write ``unserved.html`` and ``unserved.csv`` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    found = items(day, plan, ward_name)
    page = out_dir / HTML_NAME
    page.write_text(render_html(plan, found, stamp(generated)), encoding="utf-8")
    table = out_dir / CSV_NAME
    table.write_text(render_csv(found), encoding="utf-8")
    return page, table
