"""Settings of the reports service (env prefix ``EMMS_REPORTS_``, nested with ``__``).

The data of every report comes from other services' query and analysis APIs over HTTP
(``upstream``); a request's own bearer token is forwarded, so the caller's data scope holds. A
scheduled delivery has no caller: it asks the identity service for a token of the reports
service's API client (client credentials, ``upstream.client_id`` / ``client_secret``); outside
production, with no client configured, it signs a development token instead.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class UpstreamSettings(BaseModel):
    """Where the data sets come from (``EMMS_REPORTS_UPSTREAM__…``)."""

    analytics_url: str = "http://127.0.0.1:8005"
    archive_url: str = "http://127.0.0.1:8006"
    token_url: str = "http://127.0.0.1:8007/oauth/token"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    dev_token_role: str = "admin"
    """The role of the development token a scheduled delivery signs when no client is configured (not in production)."""
    timeout_s: float = Field(default=600.0, gt=0)
    page_size: int = Field(default=1000, ge=1, le=10_000)
    """Rows per page of a paged upstream answer (events, anomalies)."""


class PeriodLimits(BaseModel):
    """The longest period (days) a report may cover, per role; a role not named gets ``default``."""

    default: int = Field(default=31, ge=1)
    roles: dict[str, int] = Field(default_factory=lambda: {"viewer": 93, "customer": 31, "integrator": 93,
                                                           "operator": 400, "admin": 3700})

    def days_for(self, roles: tuple[str, ...]) -> int:
        return max((self.roles.get(r, self.default) for r in roles), default=self.default)


class DeliverySettings(BaseModel):
    """Scheduled delivery (``EMMS_REPORTS_DELIVERY__…``)."""

    store_dir: Path = Path("/var/lib/emms/reports")
    """The file store: ``file`` targets write below this directory only."""
    tick_s: float = Field(default=60.0, gt=0)
    webhook_timeout_s: float = Field(default=30.0, gt=0)


class ReportsSettings(ServiceSettings):
    model_config = service_config("REPORTS")

    http: HttpSettings = HttpSettings(port=8009)
    local_tz: str = "Asia/Shanghai"
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    period_limits: PeriodLimits = Field(default_factory=PeriodLimits)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    pdf_max_rows: int = Field(default=20_000, ge=1)
    """A PDF lays out every page in memory: longer reports are asked for as XLSX or CSV (422 with the limit)."""
    preview_rows: int = Field(default=50, ge=1, le=1000)
    cjk_font: Path | None = None
    """A TrueType font (.ttf / .ttc) with Chinese glyphs for PDFs; unset: the first Debian CJK font found."""

    @model_validator(mode="after")
    def _client_needs_secret(self) -> ReportsSettings:
        if self.upstream.client_id and self.upstream.client_secret is None:
            raise ValueError("EMMS_REPORTS_UPSTREAM__CLIENT_ID needs EMMS_REPORTS_UPSTREAM__CLIENT_SECRET")
        return self
