"""Settings of prepayment and quantity control (``EMMS_CONTROL_PREPAYMENT__…``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PrepaymentSettings(BaseModel):
    dispatch_interval_s: float = Field(default=0.5, gt=0, le=60,
                                       description="how often waiting automatic actions are handed to the command path")
    dispatch_batch: int = Field(default=100, ge=1, le=10_000, description="actions handed over per round at most")
    readback_interval_s: float = Field(default=900.0, gt=0, le=86_400,
                                       description="how often terminal / meter-mode remaining amounts are read back")
