"""Response models of the interface's routes (what a client can rely on; extra fields are sent too)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from emms_runtime.api_models import ApiModel


class Job(ApiModel):
    """A job of a business system, its state and what its owner answered."""

    job_id: str
    kind: str = Field(description="collection, control, install, replace, remove")
    state: str = Field(description="accepted, running, awaiting_first_reading, completed, failed, rejected")
    reason: str
    idempotency_key: str
    caller: str
    meter_id: str | None
    metering_point_id: str | None
    body: dict[str, Any]
    upstream: dict[str, Any] = Field(description="ids at the owner: task_id / run_id, control_job_id, change_id")
    result: dict[str, Any] = Field(description="run counts, control counts, or the work order's first_reading")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class Subscription(ApiModel):
    subscription_id: str
    owner: str
    url: str
    events: list[str]
    secret_version: int
    active: bool
    created_at: datetime
    rotated_at: datetime | None
    previous_until: datetime | None


class SubscriptionWithSecret(Subscription):
    """Shown once, at creation and rotation: the secret that signs deliveries."""

    secret: str


class Delivery(ApiModel):
    event_id: str
    event_type: str
    state: str = Field(description="pending, delivered, parked")
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime


class Attempt(ApiModel):
    attempt: int
    at: datetime
    status: int | None
    error: str
    duration_ms: int


class Replayed(ApiModel):
    replayed: int


class BillingCycle(ApiModel):
    cycle_id: str
    company_id: str
    utility: str
    period_start: datetime
    cutoff: datetime
    created_by: str
    created_at: datetime


class BillingPage(ApiModel):
    """Validated readings of a billing cycle (the archive's, with its provenance), one page."""

    cycle: BillingCycle
    rows: list[dict[str, Any]] = Field(description="metering_point_id, item, data_time, meter_id, value, unit,"
                                                   " status, method, raw_source, rules_failed, validated_at, estimated")
    count: int
    next_cursor: str | None


class Reread(ApiModel):
    """The collector's answer to the back-fill request (gaps opened)."""

    requested: dict[str, Any]
    collector: Any


class Notice(ApiModel):
    notice_id: int
    kind: str
    utility: str | None
    companies: list[str]
    regions: list[str]
    title: str
    body: str
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime


class CustomerAccount(ApiModel):
    account_id: str
    customer_id: str
    utility: str
    status: str
    balance: Decimal
    tariff_id: str


class CustomerOverview(ApiModel):
    customers: list[dict[str, Any]]
    accounts: list[dict[str, Any]]


class UsageComparison(ApiModel):
    customer_id: str
    utility: str
    item: str
    period: dict[str, Any]
    own: float
    peers: dict[str, Any] = Field(description="count, mean, median and the customer's percentile among customers"
                                              " of the same category and region")
    series: list[dict[str, Any]]


class Advice(ApiModel):
    customer_id: str
    account_id: str
    hours: list[dict[str, Any]]
    shift_share: float
    monthly_saving: Decimal
    detail: str


class PaymentOut(ApiModel):
    payment_id: str
    customer_id: str
    account_id: str
    amount: Decimal
    state: str = Field(description="pending (control not reached yet), recorded, refused")
    reason: str
    created_at: datetime
    recorded_at: datetime | None


class Reconciliation(ApiModel):
    customer_id: str
    matched: list[dict[str, Any]]
    missing_in_control: list[dict[str, Any]]
    amount_mismatch: list[dict[str, Any]]
    control_only: list[dict[str, Any]]
    balanced: bool
