"""Response bodies of prepayment and quantity control (documented in the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from emms_runtime.api_models import ApiModel


class Purchase(ApiModel):
    payment_id: str
    account_id: str
    purchase_number: int
    amount: Decimal
    created_at: datetime


class Transition(ApiModel):
    transition_id: int
    at: datetime
    from_state: str
    to_state: str
    balance: Decimal
    cause: str


class Notice(ApiModel):
    notice_id: int
    account_id: str | None
    meter_id: str | None
    kind: str
    message: str
    created_at: datetime
    sent_at: datetime | None
    """When it was published on ``emms.control.notice.v1``."""


class AutoAction(ApiModel):
    """An action of prepayment or quantity control for the command path; ``taken_at`` once it took it."""

    action_id: str
    origin: str
    account_id: str | None
    meter_id: str
    action: str
    reason: str
    payload: Any
    created_at: datetime
    taken_at: datetime | None
    command_ref: str | None
    outcome: str | None


class PrepaymentView(ApiModel):
    """An account's prepayment: mode, thresholds, master-mode ``state``; terminal / meter mode: purchases sent
    and the ``remaining`` amount (and meter ``device_count`` of purchases) read back from the device."""

    account_id: str
    mode: str
    alarm_threshold: Decimal
    trip_threshold: Decimal
    close_action: str
    price: Decimal | None
    state: str
    state_since: datetime
    purchases: int
    remaining: Decimal | None
    remaining_at: datetime | None
    device_count: int | None
    updated_at: datetime
    updated_by: str
    purchase_list: list[Purchase]
    transitions: list[Transition]
    notices: list[Notice]
    actions: list[AutoAction]


class QuantityLimit(ApiModel):
    period: str
    usage_limit: Decimal
    action: str


class QuantityCount(ApiModel):
    period: str
    period_key: str
    start_value: Decimal
    last_value: Decimal
    last_time: datetime
    exceeded_at: datetime | None


class QuantityExceeded(ApiModel):
    period: str
    period_key: str
    used: Decimal
    usage_limit: Decimal
    action: str
    at: datetime


class QuantityView(ApiModel):
    """A device's quantity control: limits, this period's counts, the periods exceeded and actions taken."""

    meter_id: str
    utility: str | None
    utc_offset_minutes: int | None
    limits: list[QuantityLimit]
    counters: list[QuantityCount]
    exceeded: list[QuantityExceeded]
    actions: list[AutoAction]
