"""Request and response bodies, with the examples shown in the OpenAPI document."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["coordinator", "planner", "partner", "volunteer"]
JobState = Literal["queued", "running", "done", "failed"]
FailReason = Literal["not_home", "refused", "could_not_collect", "volunteer_unwell"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
ID = r"^[^\x00-\x1f\x7f]{1,64}$"  # an id: printable, no control character
TEXT = r"^[^\x00-\x1f\x7f]{0,200}$"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Rejected(BaseModel):
    """A row left out, as ``kst-match data check`` reports it (rows counted as a spreadsheet
    counts them: the CSV header is row 1; in a JSON list the first object is row 1)."""

    file: str
    row: int
    field: str
    reason: str
    value: str | None = None
    id: str | None = None


class UploadResult(BaseModel):
    model_config = _examples(
        {
            "stored": 399,
            "rejected": [
                {
                    "file": "needs.csv",
                    "row": 7,
                    "field": "window_end",
                    "reason": "the window ends before it starts",
                    "value": "08:00",
                    "id": "N00006",
                }
            ],
            "warnings": [],
            "other_dates": 0,
        }
    )

    stored: int = Field(description="rows stored (the day's rows of this kind replaced)")
    rejected: list[Rejected]
    warnings: list[Rejected] = Field(description="problems that leave their row in")
    other_dates: int = Field(0, description="needs of other dates, left out")


class StopRule(BaseModel):
    """When the search stops improving the first complete plan: ``iterations`` gives the
    same plan on any machine; ``time_limit_s`` stops on the clock; both: whichever first;
    neither: 5 s."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"iterations": 50}]})

    iterations: int | None = Field(None, ge=0, le=100_000)
    time_limit_s: float | None = Field(None, gt=0, le=600)


class PlanRequest(StopRule):
    pass


class ReplanRequest(StopRule):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"now": "13:30", "iterations": 50}]}
    )

    now: str | None = Field(
        None,
        pattern=HHMM,
        description="the time of the re-plan, HH:MM (default: the time in London now; "
        "required for another day than today)",
    )


class Job(BaseModel):
    model_config = _examples(
        {
            "job_id": "4f7c0e0c5b1d4a0e9d8f2f7b5d1c3a2e",
            "kind": "plan",
            "date": "2026-11-25",
            "state": "done",
            "reason": None,
            "plan_version": 1,
            "created_at": "2026-11-25T07:30:00.000000Z",
            "started_at": "2026-11-25T07:30:00.100000Z",
            "finished_at": "2026-11-25T07:30:09.400000Z",
        }
    )

    job_id: str
    kind: Literal["plan", "replan", "scenarios"]
    date: str | None
    state: JobState
    reason: str | None = Field(None, description="why the job failed")
    plan_version: int | None = None
    notes: list[str] = Field(default_factory=list, description="what the coordinator should know")
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None


class PlanVersionInfo(BaseModel):
    model_config = _examples(
        {
            "version": 2,
            "kind": "replan",
            "base_version": 1,
            "created_at": "2026-11-25T12:30:00.000000Z",
            "published_at": None,
            "job_id": "4f7c0e0c5b1d4a0e9d8f2f7b5d1c3a2e",
        }
    )

    version: int
    kind: Literal["plan", "replan"]
    base_version: int | None
    created_at: str
    published_at: str | None
    job_id: str | None


class Published(BaseModel):
    version: int
    published_at: str


class Collect(BaseModel):
    site: str
    postcode: str | None
    items: int = Field(description="parcels or bags to collect")
    planned_start: str = Field(description="HH:MM")


class MyAssignment(BaseModel):
    assignment_id: int
    order: int = Field(description="position in the day, from 1")
    need_id: str
    kind: Literal["deliver", "visit", "call"]
    service: str
    priority: str
    first_name: str
    phone: str
    postcode: str | None = Field(description="none for a call")
    address: str | None = Field(description="none for a call")
    window_start: str
    window_end: str
    planned_start: str
    duration_min: int
    collect: Collect | None = Field(description="for a delivery: what to collect where")
    access_note: str
    status: Literal["planned", "done", "failed"]


class MyDay(BaseModel):
    model_config = _examples(
        {
            "date": "2026-11-25",
            "plan_version": 1,
            "refresh": False,
            "assignments": [
                {
                    "assignment_id": 812,
                    "order": 1,
                    "need_id": "N00002",
                    "kind": "deliver",
                    "service": "food_parcel",
                    "priority": "normal",
                    "first_name": "Vik",
                    "phone": "07700 900924",
                    "postcode": "SW15 3RW",
                    "address": "41 Larkspindle Road",
                    "window_start": "12:00",
                    "window_end": "15:00",
                    "planned_start": "12:10",
                    "duration_min": 5,
                    "collect": {
                        "site": "Kingston Foodbank warehouse",
                        "postcode": "KT1 2PX",
                        "items": 2,
                        "planned_start": "11:40",
                    },
                    "access_note": "",
                    "status": "planned",
                }
            ],
        }
    )

    date: str
    plan_version: int
    refresh: bool = Field(description="the route changed in a re-plan: fetch it again")
    assignments: list[MyAssignment]


class ReportRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"report_id": "0b8c3a3e-5b8e-4f5e-9a43-3f1f1c0f2d11", "outcome": "done"},
                {
                    "report_id": "5d6f0a51-2a3b-4c8e-8f7e-1a2b3c4d5e6f",
                    "outcome": "failed",
                    "reason": "not_home",
                },
            ]
        },
    )

    report_id: uuid.UUID = Field(description="made by the app; a retry sends the same one")
    outcome: Literal["done", "failed"]
    reason: FailReason | None = Field(None, description="required when failed")

    @model_validator(mode="after")
    def _reason_with_failure(self) -> ReportRequest:
        if self.outcome == "failed" and self.reason is None:
            raise ValueError("reason is required when the outcome is failed")
        if self.outcome == "done" and self.reason is not None:
            raise ValueError("reason is only for a failed outcome")
        return self


class ReportResult(BaseModel):
    report_id: uuid.UUID
    assignment_id: int
    outcome: Literal["done", "failed"]
    reason: FailReason | None
    duplicate: bool = Field(description="this report_id was received before; nothing changed")


class Stopped(BaseModel):
    date: str
    volunteer_id: str
    stopped_at: str


class PartnerNeed(BaseModel):
    need_id: str
    service: str
    ward: str | None
    planned_start: str
    status: Literal["planned", "done", "failed"]


class PartnerDay(BaseModel):
    model_config = _examples(
        {
            "partner_id": "kingston_foodbank",
            "date": "2026-11-25",
            "plan_version": 1,
            "needs": [
                {
                    "need_id": "N00002",
                    "service": "food_parcel",
                    "ward": "E05013933",
                    "planned_start": "12:10",
                    "status": "planned",
                }
            ],
            "capacity_left": {"food_parcel": 31},
        }
    )

    partner_id: str
    date: str
    plan_version: int
    needs: list[PartnerNeed]
    capacity_left: dict[str, int]


class ScenarioRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-11-25",
                    "scenarios": [
                        "name: fewer volunteers\nchanges:\n  - volunteers: {scale: 0.8}\n"
                    ],
                    "seeds": 1,
                    "iterations": 20,
                }
            ]
        },
    )

    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    scenarios: list[Annotated[str, Field(max_length=100_000)]] = Field(
        min_length=1, max_length=20, description="scenario YAML texts"
    )
    seeds: int = Field(1, ge=1, le=10)
    iterations: int | None = Field(20, ge=0, le=10_000)
    time_limit_s: float | None = Field(None, gt=0, le=120)
    capacity_curve: bool = Field(
        False,
        description="also plan the base day with 90% down to 20% of the volunteers (seed 0: "
        "8 more plans) and draw the capacity curve, as `kst-match scenario` does",
    )


class PlotLink(BaseModel):
    name: str = Field(description="`unserved_by_ward`, and `capacity_curve` when asked for")
    media_type: Literal["image/png"] = "image/png"
    url: str


class ScenarioPlots(BaseModel):
    model_config = _examples(
        {
            "job_id": "4f7c0e0c5b1d4a0e9d8f2f7b5d1c3a2e",
            "state": "done",
            "plots": [
                {
                    "name": "unserved_by_ward",
                    "media_type": "image/png",
                    "url": "/v1/scenarios/4f7c0e0c5b1d4a0e9d8f2f7b5d1c3a2e/plots/"
                    "unserved_by_ward.png",
                }
            ],
        }
    )

    job_id: str
    state: JobState
    plots: list[PlotLink] = Field(
        default_factory=list, description="the plots of `kst-match scenario` (none until done)"
    )


class ScenarioResult(BaseModel):
    job_id: str
    state: JobState
    reason: str | None
    comparison: list[dict[str, Any]] | None = Field(
        None, description="one row per scenario (the base first), as `kst-match scenario`"
    )
    capacity_curve: list[dict[str, Any]] | None = Field(
        None, description="needs and urgent needs served at 100% down to 20% of the volunteers"
    )
    plots: list[PlotLink] = Field(default_factory=list, description="as `.../plots` lists them")


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"role": "volunteer", "volunteer_id": "V00044"}]},
    )

    role: Role
    volunteer_id: str | None = Field(None, pattern=ID)
    partner_id: str | None = Field(None, pattern=ID)
    name: str = Field("", pattern=TEXT)


class TokenCreated(BaseModel):
    token_id: str
    token: str = Field(description="shown once; only its SHA-256 is kept")
    role: Role
