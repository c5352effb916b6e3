"""A partner organisation: the needs routed to it in the day's published plan, and the
capacity it has left."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PartnerUser, StoreDep
from api.routers.common import not_found
from api.schemas import PartnerDay, PartnerNeed
from kst_match.model import Day, format_clock
from kst_match.store import plans

router = APIRouter(prefix="/partner", tags=["partner"])


@router.get("/needs", response_model=PartnerDay)
def partner_needs(
    date: Annotated[dt.date, Query(description="the day, YYYY-MM-DD")],
    store: StoreDep,
    who: PartnerUser,
) -> PartnerDay:
    """The needs routed to my organisation today (no residents' details), and the places left
    of each service it offers."""
    partner = who.partner_id or ""
    with store.read() as session:
        row = plans.published(session, date)
        if row is None:
            raise not_found("published plan")
        rows = plans.partner_needs(session, row, partner)
        status = plans.statuses(session, row) if rows else {}
    day = Day.model_validate_json(row.day_json)
    mine = next((p for p in day.partners if p.id == partner), None)
    used = Counter(r.service for r in rows)
    capacity = {k.value: v - used[k.value] for k, v in (mine.capacity if mine else {}).items()}
    return PartnerDay(
        partner_id=partner,
        date=row.date,
        plan_version=row.version,
        needs=[
            PartnerNeed(
                need_id=r.need_id,
                service=r.service,
                ward=r.ward,
                planned_start=format_clock(r.planned_start),
                status=status.get(r.need_id, "planned"),  # type: ignore[arg-type]
            )
            for r in rows
        ],
        capacity_left=capacity,
    )
