"""Settings of the interface service (env prefix ``EMMS_INTERFACE_``, nested with ``__``).

The service calls the owning services' APIs (archive, collector, control, analytics) with its own
identity: an API client of the identity service (``UPSTREAM__CLIENT_ID`` / ``…__CLIENT_SECRET``,
client-credentials grant at ``UPSTREAM__TOKEN_URL``). Without a client, outside production, it signs
development tokens (the published development key, as ``emms-token``); in production every call to
an owner fails with that reason until the client is set (the Deployment mounts it from a Secret).

Webhook signing secrets are kept sealed under ``WEBHOOKS__SECRET_KEY`` (or ``…_FILE``,
:mod:`emms_interface.webhooks.sealing`); production refuses to start without one, or with the published
development key. Which URLs may be subscribed: :mod:`emms_interface.webhooks.targets`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator

from emms_interface.webhooks import sealing
from emms_interface.webhooks.targets import TargetPolicy
from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class UpstreamSettings(BaseModel):
    """Where the owning services answer, and how this service signs in to them."""

    archive_url: str = "http://127.0.0.1:8006"
    collector_url: str = "http://127.0.0.1:8002"
    control_url: str = "http://127.0.0.1:8004"
    analytics_url: str = "http://127.0.0.1:8005"
    token_url: str = "http://127.0.0.1:8007/oauth/token"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    timeout_s: float = Field(default=15.0, gt=0, le=300)


class WebhookSettings(BaseModel):
    """Outbound deliveries: back-off ``base_s × 2^(attempt-1)`` up to ``max_backoff_s``, parked after
    ``max_attempts``; a receiver has ``timeout_s`` to answer 2xx."""

    base_backoff_s: float = Field(default=5.0, gt=0)
    max_backoff_s: float = Field(default=3600.0, gt=0)
    max_attempts: int = Field(default=12, ge=1, le=100)
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    poll_s: float = Field(default=1.0, gt=0)
    batch: int = Field(default=100, ge=1, le=5000)
    rotation_overlap_s: int = Field(default=86_400, ge=0)
    """After a secret rotation the previous secret still signs (a second signature) this long."""
    secret_key: SecretStr | None = None
    """Fernet keys sealing the signing secrets at rest, comma-separated: the first seals, every one unseals."""
    secret_key_file: Path | None = None
    """A file holding ``secret_key`` (a mounted Kubernetes Secret); wins over ``secret_key``."""
    allow_private_targets: bool | None = None
    """Deliver to loopback, private, link-local and other non-public addresses; unset: yes outside
    production, no in production."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """When not empty, a subscribed URL's host must be one of these or end in ``.<one of these>``
    (env: a JSON list, e.g. ``["billing.example", "crm.example"]``)."""

    def policy(self, environment: str) -> TargetPolicy:
        production = environment == "production"
        allow = not production if self.allow_private_targets is None else self.allow_private_targets
        hosts = tuple(h.strip().strip(".").lower() for h in self.allowed_hosts if h.strip().strip("."))
        return TargetPolicy(https_only=production, allow_private=allow, allowed_hosts=hosts,
                            resolve_timeout_s=self.timeout_s)

    def secret_keys(self, environment: str) -> list[str]:
        return sealing.kek_keys(self.secret_key, self.secret_key_file, environment)


class JobSettings(BaseModel):
    poll_s: float = Field(default=2.0, gt=0)
    """How often open jobs are advanced (upstream status polled, first reads requested)."""
    first_read_every_s: float = Field(default=30.0, gt=0)
    """A work order waiting for its meter's first reading asks the collector for a manual read this often."""
    first_read_timeout_s: float = Field(default=86_400.0, gt=0)
    """A work order with no first reading after this long fails (reason named; re-submit with a new key)."""
    approval_timeout_s: float = Field(default=86_400.0, gt=0)
    """A control job asked for without a step-up and not approved (or declined) within this long is rejected."""


class InterfaceSettings(ServiceSettings):
    model_config = service_config("INTERFACE")

    http: HttpSettings = HttpSettings(port=8010)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    local_tz: str = "Asia/Shanghai"
    """The utility's wall clock: tariff periods of the usage advice are local hours."""
    max_billing_days: int = Field(default=400, ge=1, le=3700)
    """The longest billing cycle an extract may cover."""

    @model_validator(mode="after")
    def _check_webhook_key(self) -> InterfaceSettings:
        self.webhooks.secret_keys(self.environment)  # production without a real key refuses to start
        return self
