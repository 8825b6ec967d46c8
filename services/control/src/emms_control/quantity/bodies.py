"""Request body of a device's quantity control."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emms_control.categories import Utility
from emms_control.quantity.rules import Action, Period


class LimitBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: Period
    usage_limit: Annotated[Decimal, Field(gt=0, le=10**9, max_digits=13, decimal_places=3, allow_inf_nan=False)] = (
        Field(description="usage allowed per period, in the register's unit (kWh, m³, GJ)"))
    action: Action = Field(description="alarm: a notice only; cut: trip (electricity) / valve close (water, gas,"
                                       " heat) through the command path, origin quantity")


class QuantityBody(BaseModel):
    """The control mode of one measuring and control device: its limits per day and / or month."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    utility: Utility
    utc_offset_minutes: int = Field(480, ge=-720, le=840, description="where the day and month begin")
    limits: list[LimitBody] = Field(max_length=2, description="at most one per period; empty = no quantity control")

    @model_validator(mode="after")
    def _one_per_period(self) -> QuantityBody:
        periods = [limit.period for limit in self.limits]
        if len(set(periods)) != len(periods):
            raise ValueError("one limit per period (day, month)")
        return self
