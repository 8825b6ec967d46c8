"""Settings of the front-end processor (env prefix ``EMMS_FEP_``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class TerminalListenSettings(BaseModel):
    """Where concentrators connect (TCP server channel)."""

    host: str = "0.0.0.0"
    port: int = Field(default=9027, ge=0, le=65535)


class FepSettings(ServiceSettings):
    model_config = service_config("FEP")

    http: HttpSettings = HttpSettings(port=8001)
    terminals: TerminalListenSettings = Field(default_factory=TerminalListenSettings)
