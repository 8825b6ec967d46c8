"""Database connection settings shared by every service."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/emms"


def _url_from_env() -> str:
    return os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL)


def _timescaledb_from_env() -> bool:
    return os.environ.get("EMMS_DATABASE_TIMESCALEDB", "true").strip().lower() not in ("0", "false", "no", "off")


class DatabaseSettings(BaseModel):
    """Nested in each service's settings (``EMMS_<SERVICE>_DATABASE__URL``);
    falls back to the project-wide ``EMMS_DATABASE_URL``."""

    url: str = Field(default_factory=_url_from_env)
    pool_min: int = Field(default=1, ge=0)
    pool_max: int = Field(default=10, ge=1)
    command_timeout_s: float = Field(default=60.0, gt=0)
    create_if_missing: bool = True
    timescaledb: bool = Field(default_factory=_timescaledb_from_env)
    """Use TimescaleDB when the server has it (creating the extension); false keeps plain
    PostgreSQL partitioning even there. A schema already on TimescaleDB stays on it. Falls back
    to the project-wide ``EMMS_DATABASE_TIMESCALEDB`` (every service must agree: the first one
    to start creates the extension for all)."""
