"""The settings every service shares; each service subclasses with its own env prefix.

Built once in ``__main__`` (never at import) and passed down::

    class FepSettings(ServiceSettings):
        model_config = service_config("FEP")

so ``EMMS_FEP_HTTP__PORT=8001`` sets the port; the database and broker fall
back to the project-wide ``EMMS_DATABASE_URL``, ``EMMS_KAFKA_BOOTSTRAP`` and
``EMMS_TOPIC_PREFIX``.
"""

from __future__ import annotations

import os
import socket

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from emms_bus.settings import KafkaSettings
from emms_db.settings import DatabaseSettings

DEV_SECRET = "emms-development-secret-change-me"


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"EMMS_{prefix}_", env_nested_delimiter="__", extra="forbid", env_ignore_empty=True,
    )


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


def _secret_from_env() -> str:
    return os.environ.get("EMMS_JWT_SECRET", DEV_SECRET)


class AuthSettings(BaseModel):
    """JWT (HS256) verification; the secret comes from ``EMMS_JWT_SECRET`` or a k8s Secret."""

    secret: str = Field(default_factory=_secret_from_env, min_length=16)
    issuer: str = "emms"
    audience: str = "emms"
    algorithm: str = "HS256"


class ServiceSettings(BaseSettings):
    model_config = service_config("SERVICE")

    environment: str = Field(default_factory=lambda: os.environ.get("EMMS_ENVIRONMENT", "development"))
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    log_level: str = "INFO"
    log_json: bool | None = None
    http: HttpSettings = Field(default_factory=HttpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    shutdown_grace_s: float = Field(default=15.0, gt=0, le=300)
    migrate_on_start: bool = True

    @model_validator(mode="before")
    @classmethod
    def _merge_partial_sections(cls, data: object) -> object:
        """``EMMS_ARCHIVE_HTTP__HOST`` alone must keep the section's other defaults (port 8006),
        not rebuild the section from the class defaults: merge a partial dict over the default."""
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if not isinstance(given, dict):
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                data[name] = {**default.model_dump(), **given}
        return data

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> ServiceSettings:
        if self.environment == "production" and self.auth.secret == DEV_SECRET:
            raise ValueError("the development JWT secret must not be used in production (set EMMS_JWT_SECRET)")
        return self
