"""Settings of remote control (``EMMS_CONTROL_COMMANDS__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CommandSettings(BaseModel):
    protected_classes: list[str] = Field(default=["key", "medical", "critical"],
                                         description="customer / meter classes never cut automatically")
    confirm_above: int = Field(default=100, ge=1,
                               description="a manual job of more devices needs a second confirmation")
    confirm_ttl_s: float = Field(default=600.0, gt=0, description="how long a job waits for its second confirmation")
    attempts: int = Field(default=3, ge=1, le=10, description="sends of one step to one device at most")
    retry_delay_s: float = Field(default=2.0, ge=0)
    request_timeout_s: float = Field(default=10.0, gt=0, le=600, description="the FEP's wait for an answer")
    fep_retries: int = Field(default=1, ge=0, le=10)
    result_grace_s: float = Field(default=15.0, gt=0)
    terminal_in_flight: int = Field(default=8, ge=1, le=64, description="devices of one terminal with a request out")
    jobs_per_operator_per_min: int = Field(default=30, ge=1)
    devices_per_min: int = Field(default=60_000, ge=1)
    engine_batch: int = Field(default=2000, ge=1, le=20_000, description="devices sent per engine pass at most")
    engine_tick_s: float = Field(default=0.1, gt=0, le=10)
