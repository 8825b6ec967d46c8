"""Settings of the archive service (env prefix ``EMMS_ARCHIVE_``)."""

from __future__ import annotations

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class ArchiveSettings(ServiceSettings):
    model_config = service_config("ARCHIVE")

    http: HttpSettings = HttpSettings(port=8006)
