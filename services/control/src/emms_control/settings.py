"""Settings of the control service (env prefix ``EMMS_CONTROL_``)."""

from __future__ import annotations

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class ControlSettings(ServiceSettings):
    model_config = service_config("CONTROL")

    http: HttpSettings = HttpSettings(port=8004)
