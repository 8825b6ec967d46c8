"""Settings of the validator service (env prefix ``EMMS_VALIDATOR_``)."""

from __future__ import annotations

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class ValidatorSettings(ServiceSettings):
    model_config = service_config("VALIDATOR")

    http: HttpSettings = HttpSettings(port=8003)
