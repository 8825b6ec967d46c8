"""Settings of the control service (env prefix ``EMMS_CONTROL_``)."""

from __future__ import annotations

from pydantic import Field

from emms_control.commands.settings import CommandSettings
from emms_control.prepayment.settings import PrepaymentSettings
from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class ControlSettings(ServiceSettings):
    model_config = service_config("CONTROL")

    http: HttpSettings = HttpSettings(port=8004)
    consumer_max_batch: int = Field(default=200, ge=1, le=5000,
                                    description="validated batches charged in one transaction at most")
    inbox_purge_interval_s: float = Field(default=3600.0, gt=0)
    inbox_keep_days: int = Field(default=8, ge=1, description="longer than the validated topic's retention (7 d)")
    commands: CommandSettings = CommandSettings()
    prepayment: PrepaymentSettings = PrepaymentSettings()
