"""Response models of the reports routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_runtime.api_models import ApiModel

FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                      "application/pdf": {}, "text/csv": {}},
          "description": "The report, streamed"},
    404: {"description": "Unknown report, or a region / customer named in its filters unknown upstream"},
    422: {"description": "Unknown field, filter, dimension or format; period too long for the role; PDF too long"},
    503: {"description": "A source service is not reachable, or no CJK font for PDFs"},
}


class FieldOut(ApiModel):
    name: str
    type: str
    label: str


class DataSetOut(ApiModel):
    name: str
    title: str
    service: str
    path: str
    fields: list[FieldOut]
    filters: list[str]
    dimensions: list[str]
    intervals: list[str]


class DedicatedOut(ApiModel):
    name: str
    definition: dict[str, Any]


class DefinitionOut(ApiModel):
    definition_id: str
    name: str
    version: int
    latest: int
    body: dict[str, Any]
    created_by: str
    created_at: datetime
    changed_by: str
    changed_at: datetime


class VersionOut(ApiModel):
    version: int
    changed_by: str
    changed_at: datetime
    body: dict[str, Any]


class PreviewOut(ApiModel):
    title: str
    period: str
    columns: list[dict[str, Any]]
    rows: list[list[Any]]
    more: bool


class ScheduleOut(ApiModel):
    schedule_id: str
    report: str
    format: str
    cadence: str
    at_hour: int
    target_kind: str
    target: str
    enabled: bool
    created_by: str
    created_at: datetime
    run_for: datetime
    next_run_at: datetime


class DeliveryOut(ApiModel):
    delivery_id: int
    schedule_id: str
    period_start: datetime
    period_end: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    rows: int | None
    bytes: int | None
    location: str | None
    error: str | None


class TickOut(ApiModel):
    tried: int
