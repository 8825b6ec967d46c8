"""Request bodies of prepayment settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emms_control.prepayment.rules import CloseAction, Mode

Threshold = Annotated[Decimal, Field(ge=-10**6, le=10**6, max_digits=10, decimal_places=2, allow_inf_nan=False)]


class PrepaymentBody(BaseModel):
    """The mode an account's prepayment runs in, its thresholds and (electricity) how supply comes back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode
    alarm_threshold: Threshold = Field(description="balance at or below this: alarm (event and notice)")
    trip_threshold: Threshold = Field(description="balance at or below this: supply cut; must be below the alarm")
    close_action: CloseAction = Field(CloseAction.ALLOW_CLOSE,
                                      description="electricity, after a payment lifts the balance: allow close (the"
                                                  " customer closes) or direct close; water / gas / heat: valve open")
    price: Annotated[Decimal | None, Field(gt=0, le=10**4, max_digits=10, decimal_places=4,
                                           allow_inf_nan=False)] = Field(
        None, description="terminal / meter mode: the price per unit the device counts down with (its tariff)")

    @model_validator(mode="after")
    def _ordered(self) -> PrepaymentBody:
        if not self.alarm_threshold > self.trip_threshold:
            raise ValueError(f"the alarm threshold {self.alarm_threshold} must be above the trip threshold"
                             f" {self.trip_threshold}")
        if self.mode != Mode.MASTER and self.price is None:
            raise ValueError(f"{self.mode.value} mode needs the price the device counts down with")
        return self
