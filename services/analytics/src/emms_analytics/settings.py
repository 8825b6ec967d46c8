"""Settings of the analytics service (env prefix ``EMMS_ANALYTICS_``)."""

from __future__ import annotations

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class AnalyticsSettings(ServiceSettings):
    model_config = service_config("ANALYTICS")

    http: HttpSettings = HttpSettings(port=8005)
