"""Settings of terminal management (``EMMS_COLLECTOR_TERMINAL_CONFIG__…``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TerminalConfigSettings(BaseModel):
    """Remote configuration, first connect and the measurement-point table (R-4.6.3, R-4.6.5)."""

    enabled: bool = True
    every_s: float = Field(default=5.0, gt=0, description="how often due pushes and first-connect reads are looked for")
    batch: int = Field(default=2000, ge=1, description="pushes claimed per step")
    lease_s: float = Field(default=120.0, ge=5, description="a claimed push whose lease lapses is taken up again")
    request_timeout_s: float = Field(default=10.0, gt=0, le=600)
    fep_retries: int = Field(default=1, ge=0, le=10)
    priority: int = Field(default=1, ge=0, le=9, description=(
        "downlink priority of sets and read-backs (≤ 1: outside the collection window, like clock syncs)"))
    retry_s: float = Field(default=30.0, ge=0, description="wait after a push got no answer (× attempts)")
    offline_retry_s: float = Field(default=600.0, ge=0, description=(
        "an offline terminal's push is retried at its next login, or after this long at the latest"))
    max_attempts: int = Field(default=5, ge=1, description="pushes without an answer fail after this many")
    check_every_s: float = Field(default=86400.0, ge=0, description=(
        "parameters are read back (drift check) when their last read-back is older (0: only on request)"))
    check_batch: int = Field(default=200, ge=1)
    first_connect_read: bool = True
    tariff_read: bool = Field(default=True, description=(
        "read the tariff in force (AFN0A F21 / F22) of every terminal at its first login (again after a failed read)"))
    meter_table_push: bool = Field(default=True, description=(
        "push the measurement-point table (AFN04 F10) when master data installs, replaces or removes a meter"))
    archive_url: str = Field(default="http://127.0.0.1:8006", description=(
        "the archive's API: accepting a new terminal or adopting a meter writes it there (caller's token)"))
