"""Request bodies of accounts, payments, refunds and closing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from emms_control.categories import Utility
from emms_control.tariffs.definition import EARLIEST, LATEST, TARIFF_ID

ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$"
"""Ids from master data and from callers: customers, companies, regions, meters, payments."""
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Money = Annotated[Decimal, Field(gt=0, le=10**9, max_digits=12, decimal_places=2, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(max_length=500)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]


def _bounded(value: datetime | None) -> datetime | None:
    if value is not None and not EARLIEST <= value.year < LATEST:
        raise ValueError(f"the time must lie in {EARLIEST} … {LATEST - 1}")
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeterLink(Body):
    meter_id: Id
    multiplier: Decimal = Field(Decimal(1), gt=0, le=1_000_000, max_digits=14, decimal_places=6,
                                allow_inf_nan=False, description="CT × PT ratio: register units → billed units")


class AccountBody(Body):
    customer_id: Id
    company_id: Id
    region_id: Id | None = None
    utility: Utility
    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")]
    tariff_id: Annotated[str, StringConstraints(pattern=TARIFF_ID)]
    meters: list[MeterLink] = Field(min_length=1, max_length=64)
    charge_from: AwareDatetime | None = Field(None, description="readings from this time on are charged; default now")

    _charge_from = field_validator("charge_from")(_bounded)


class PaymentMethod(StrEnum):
    CASH = "cash"
    BANK = "bank"
    CARD = "card"
    ONLINE = "online"
    OTHER = "other"


class PaymentBody(Body):
    payment_id: Id = Field(description="the payer's id of the payment: the same id twice is one payment")
    amount: Money
    method: PaymentMethod = PaymentMethod.OTHER
    paid_at: AwareDatetime | None = None
    note: Text = ""

    _paid_at = field_validator("paid_at")(_bounded)


class RefundBody(Body):
    refund_id: Id = Field(description="the same id twice is one refund")
    amount: Money
    reason: Reason


class CloseBody(Body):
    reason: Reason
