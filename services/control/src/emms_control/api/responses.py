"""The bodies the control service's routes return (documented in its OpenAPI; see ``emms_runtime.api_models``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from emms_runtime.api_models import ApiModel


class TariffVersion(ApiModel):
    version: int
    effective_from: datetime
    definition: dict[str, Any]
    created_at: datetime
    created_by: str


class Tariff(ApiModel):
    tariff_id: str
    utility: str
    name: str
    utc_offset_minutes: int
    created_at: datetime
    created_by: str
    versions: list[TariffVersion]


class TariffSummary(ApiModel):
    tariff_id: str
    utility: str
    name: str
    utc_offset_minutes: int
    versions: int
    version_in_force: int | None


class TariffPage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[TariffSummary]


class PriceQuote(ApiModel):
    """The version, season, period and price in force at ``at`` for ``category``; ``tiers`` when they apply."""

    tariff_id: str
    at: datetime
    category: str
    version: int
    effective_from: datetime
    season: str | None
    period: str
    price: Decimal
    tiers: dict[str, Any] | None


class MeterOfAccount(ApiModel):
    meter_id: str
    multiplier: Decimal
    active: bool


class Account(ApiModel):
    account_id: str
    customer_id: str
    company_id: str
    region_id: str | None
    utility: str
    category: str
    tariff_id: str
    status: str
    balance: Decimal
    charge_from: datetime
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    meters: list[MeterOfAccount] = Field(default_factory=list)


class ClosedAccount(Account):
    """The account once closed, and its settlement: ``outcome`` payout / due / none, ``amount``, ``entry_id``."""

    settlement: dict[str, Any]


class AccountPage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[Account]


class Payment(ApiModel):
    payment_id: str
    account_id: str
    amount: Decimal
    method: str
    paid_at: datetime
    note: str
    recorded_at: datetime
    recorded_by: str
    refunded: Decimal


class Refund(ApiModel):
    refund_id: str
    payment_id: str
    account_id: str
    amount: Decimal
    reason: str
    recorded_at: datetime
    recorded_by: str


class LedgerEntry(ApiModel):
    """One change of the balance: ``amount`` signed (+ credits the account), ``balance_after`` once applied."""

    entry_id: int
    account_id: str
    at: datetime
    kind: str
    amount: Decimal
    balance_after: Decimal
    ref: str
    actor: str
    note: str


class Charge(ApiModel):
    """A charge for one meter's usage over ``start`` … ``end``, its lines per version / season / period / tier
    block, and its marks: ``estimated`` (an end was estimated), ``held`` (a reading inside was held)."""

    charge_id: str
    account_id: str
    meter_id: str
    tariff_id: str
    start: datetime
    end: datetime
    quantity: Decimal
    amount: Decimal
    flags: list[str]
    estimated: bool
    held: bool
    start_status: str
    end_status: str
    lines: list[dict[str, Any]]
    computed_at: datetime


class ChargePage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[Charge]
