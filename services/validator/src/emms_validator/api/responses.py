"""The bodies the validator's routes return (documented in its OpenAPI; see ``emms_runtime.api_models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_runtime.api_models import ApiModel


class Anomaly(ApiModel):
    anomaly_id: str
    meter_id: str
    item: str
    rule: str
    data_time: datetime
    severity: str
    action: str
    detail: Any
    detected_at: datetime
    status: str
    status_by: str | None
    status_at: datetime | None
    note: str | None
    handed_off_at: datetime | None


class AnomalyDetail(Anomaly):
    """One anomaly and its workflow history (``from_status``, ``to_status``, ``actor``, ``note``, ``at``)."""

    transitions: list[dict[str, Any]]


class AnomalyPage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[Anomaly]


class RuleStatistics(ApiModel):
    """Findings per rule over ``since`` … ``until``."""

    since: datetime | None
    until: datetime | None
    rules: list[dict[str, Any]]


class KeyCustomer(ApiModel):
    """A key customer: how it became key (``manual`` / ``rule``), why, by whom, and its meter count."""

    customer_id: str
    source: str
    reason: str
    marked_by: str
    marked_at: datetime
    meters: int


class KeyRuleBody(ApiModel):
    rule_id: str
    customer_category: str | None
    utility: str | None
    min_daily_consumption: float | None


class KeyRuleRow(KeyRuleBody):
    created_by: str
    created_at: datetime


class KeyMark(ApiModel):
    customer_id: str
    source: str
    reason: str
    marked_by: str


class MeterValidation(ApiModel):
    """A meter's published versions, anomalies, open gaps and per-item series state."""

    meter_id: str
    versions: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    series: list[dict[str, Any]]


class PointAudit(ApiModel):
    """One point: the held raw value (if held), every version, the anomalies found on it."""

    meter_id: str
    item: str
    data_time: datetime
    held: dict[str, Any] | None
    versions: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]


class EditResult(ApiModel):
    """The validated reading published for the edit, and the bus message that carried it."""

    published: dict[str, Any]
    message_id: str
    edited_by: str
    reason: str


class ReviewPage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class Rule(ApiModel):
    rule: str
    family: str
    title: str
    action: str
    severity: str
    params: dict[str, Any]
    source: str


class EffectiveRules(ApiModel):
    """The scope asked about and every rule's setting there (``enabled``, ``action``, ``severity``, ``params``)."""

    scope: dict[str, Any]
    rules: dict[str, dict[str, Any]]


class Override(ApiModel):
    scope: str
    scope_value: str
    rule: str
    override: dict[str, Any]


class StoredOverride(Override):
    updated_by: str
    updated_at: datetime


class OverrideChange(ApiModel):
    """One change of the rule configuration; ``override`` is ``null`` for a removal."""

    id: int
    scope: str
    scope_value: str
    rule: str
    override: dict[str, Any] | None
    actor: str
    at: datetime


class Problem(ApiModel):
    """A refused request: the reason, for a person."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body cannot be read as JSON"},
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The token lacks the permission, or the data is outside its scope"},
    429: {"model": Problem, "description": "Over the caller's request quota (see Retry-After)"},
    503: {"model": Problem, "description": "Tokens cannot be verified just now (see Retry-After)"},
}
"""Refusals every route may answer (declared on each router, so the OpenAPI document tells them; the 422 of
request validation is documented by ``emms_runtime.app`` for every service)."""
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such thing"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "Not allowed in its current state"}}
