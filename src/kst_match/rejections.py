"""Rows rejected at input, carried into the plan: a need that failed validation never vanishes.

The plan lists every issue that left rows out of the day (``Plan.rejected``), and its KPIs
count the needs in the files, so that ``needs_in_files == needs + needs_rejected +
needs_other_dates``.
"""

from __future__ import annotations

from collections.abc import Sequence

from kst_match.inputs import FILES, DayReport, Issue
from kst_match.model import Plan, Rejected


def rejected_rows(issues: Sequence[Issue]) -> list[Rejected]:
    """Every issue that left a row (or a whole file) out of the day, in the order found."""
    return [
        Rejected(file=i.file, row=i.row, field=i.field, reason=i.reason, id=i.id)
        for i in issues
        if i.rejects
    ]


def attach_rejected(plan: Plan, report: DayReport) -> Plan:
    """``plan`` with the day's rejected rows and the KPIs that count them.

    KPIs added: ``needs_in_files`` (data rows in the needs file, good and bad),
    ``needs_rejected`` (rows of it left out for a reason), ``needs_other_dates`` (rows of
    other dates, not part of this day) and ``rejected_rows`` (rows left out, by file).
    """
    needs = report.files[list(FILES).index("needs")]  # one summary per file, in FILES order
    counts = {
        "needs_in_files": needs.rows,
        "needs_rejected": needs.rejected,
        "needs_other_dates": needs.left_out,
    }
    kpis: dict[str, object] = {}
    for key, value in plan.kpis.items():
        if key not in counts:
            kpis[key] = value
        if key == "needs":  # the counts read best beside the needs planned
            kpis.update(counts)
    kpis.update({k: v for k, v in counts.items() if k not in kpis})
    kpis["rejected_rows"] = {f.file: f.rejected for f in report.files if f.rejected}
    return plan.model_copy(update={"rejected": rejected_rows(report.issues), "kpis": kpis})
