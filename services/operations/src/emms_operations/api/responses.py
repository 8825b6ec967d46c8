"""Response models and documented refusals of the operations API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_runtime.api_models import ApiModel


class Problem(ApiModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The token lacks the permission"},
    503: {"model": Problem, "description": "The service is starting or tokens cannot be verified just now"},
}


def errors(**extra: str) -> dict[int | str, dict[str, Any]]:
    out = dict(ERRORS)
    for code, text in extra.items():
        out[int(code.removeprefix("e"))] = {"model": Problem, "description": text}
    return out


class FaultOut(ApiModel):
    fault_id: int
    kind: str
    level: str
    subject: str
    terminal: str | None
    meter_id: str | None
    severity: str
    summary: str
    detail: dict[str, Any]
    detected_at: datetime
    cleared_at: datetime | None


class FaultStatistics(ApiModel):
    by: str
    start: datetime
    end: datetime
    rows: list[dict[str, Any]]


class TicketOut(ApiModel):
    ticket_id: int
    fault_id: int | None
    title: str
    level: str
    subject: str
    severity: str
    state: str
    assignee: str | None
    due_at: datetime
    escalations: int
    closing_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class TicketDetail(TicketOut):
    procedure: list[str]
    """The standard handling suggested for the fault's kind."""
    history: list[dict[str, Any]]
    maintenance: list[dict[str, Any]]
    fault: dict[str, Any] | None


class MaintenanceOut(ApiModel):
    id: int
    ticket_id: int | None
    device_kind: str
    device_id: str
    action: str
    performed_by: str
    performed_at: datetime
    note: str


class PlannedOut(ApiModel):
    id: int
    level: str
    subject: str
    starts_at: datetime
    ends_at: datetime
    reason: str


class MasterAvailability(ApiModel):
    period: dict[str, Any]
    master: dict[str, Any]
    services: dict[str, dict[str, Any]]


class TerminalAvailability(ApiModel):
    period: dict[str, Any]
    fleet_availability: float | None
    terminals: list[dict[str, Any]]


class DutyEntry(ApiModel):
    id: int
    entry_id: str
    service: str
    category: str
    action: str
    actor: str
    at: datetime
    outcome: str
    target: str | None
    terminal: str | None
    meter_id: str | None
    reason: str | None
    detail: dict[str, Any]


class OperatingStatus(ApiModel):
    at: datetime
    master: dict[str, Any]
    channels: dict[str, Any]
    fleet: dict[str, Any]
    faults: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
