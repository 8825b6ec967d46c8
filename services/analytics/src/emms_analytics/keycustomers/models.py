"""Request bodies and response models of the key-customer routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from emms_analytics.api.deps import NAME
from emms_runtime.api_models import ApiModel

Name = Annotated[str, StringConstraints(pattern=NAME)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")]


class MarkBody(BaseModel):
    """Mark a customer as key by hand: who is given by the token, why by ``reason``."""

    model_config = ConfigDict(extra="forbid")
    customer_id: Name
    reason: Reason


class RuleBody(BaseModel):
    """The top ``top_n`` customers by usage of ``utility`` over the last ``period_days`` local days,
    within ``regions`` (with every region below), ``companies`` and ``categories`` (absent: any)."""

    model_config = ConfigDict(extra="forbid")
    utility: Name
    top_n: int = Field(ge=1, le=1000)
    period_days: int = Field(ge=1, le=366)
    regions: list[Name] | None = Field(default=None, min_length=1, max_length=100)
    companies: list[Name] | None = Field(default=None, min_length=1, max_length=100)
    categories: list[Name] | None = Field(default=None, min_length=1, max_length=100)
    min_capacity_kva: float | None = Field(default=None, ge=0, le=10_000_000)
    """Only customers whose contracted capacity (archive master data) is at least this many kVA."""


class HandMark(ApiModel):
    customer_id: str
    reason: str
    marked_by: str
    marked_at: datetime


class Rule(ApiModel):
    rule_id: str
    utility: str
    top_n: int
    period_days: int
    regions: list[str] | None
    companies: list[str] | None
    categories: list[str] | None
    min_capacity_kva: float | None = None


class KeyCustomer(ApiModel):
    """A key customer and every reason it is key: ``hand`` (reason, by whom, when) and ``rule`` (the
    rule, the rank, the usage and the period)."""

    customer_id: str
    name: str | None
    category: str | None
    region_id: str | None
    company_id: str | None
    sources: list[str]
    reasons: list[dict[str, Any]]


class KeyCustomerList(ApiModel):
    at: datetime
    customers: list[KeyCustomer]


class AuditEntry(ApiModel):
    seq: int
    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class KeyCustomerAnswer(ApiModel):
    """One customer in one answer: real-time values, usage curve, data quality, working condition, anomalies."""

    customer: dict[str, Any]
    key: list[dict[str, Any]]
    metering_points: list[dict[str, Any]]
    realtime: list[dict[str, Any]]
    history: dict[str, Any]
    quality: dict[str, Any]
    condition: dict[str, Any]
    anomalies: dict[str, Any]
