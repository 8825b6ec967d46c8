"""Settings of the collector service (env prefix ``EMMS_COLLECTOR_``)."""

from __future__ import annotations

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class CollectorSettings(ServiceSettings):
    model_config = service_config("COLLECTOR")

    http: HttpSettings = HttpSettings(port=8002)
