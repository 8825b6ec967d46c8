"""Settings of the front-end processor service (env prefix ``EMMS_FEP_``)."""

from __future__ import annotations

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class FepSettings(ServiceSettings):
    model_config = service_config("FEP")

    http: HttpSettings = HttpSettings(port=8001)
