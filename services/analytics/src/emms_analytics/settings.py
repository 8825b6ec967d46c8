"""Settings of the analytics service (env prefix ``EMMS_ANALYTICS_``, nested with ``__``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class Tier(BaseModel):
    """One block of a tiered (阶梯) tariff: usage in a year up to ``up_to`` (None: no limit)."""

    name: str = Field(max_length=40)
    up_to: float | None = Field(default=None, gt=0)


def _default_tiers() -> dict[str, list[Tier]]:
    # the common residential blocks (annual); control owns the tariffs in force, a request may give its own
    return {"electricity": [Tier(name="tier1", up_to=2760), Tier(name="tier2", up_to=4800), Tier(name="tier3")],
            "water": [Tier(name="tier1", up_to=180), Tier(name="tier2", up_to=300), Tier(name="tier3")],
            "gas": [Tier(name="tier1", up_to=350), Tier(name="tier2", up_to=500), Tier(name="tier3")]}


class Budget(BaseModel):
    """What one analysis may cost: refused with the limit beyond it (not left running)."""

    max_period_days: int = Field(default=3700, ge=1)
    """The longest period one request may cover."""
    max_buckets: int = Field(default=20_000, ge=1)
    """Rows of one answer (buckets × keys); asking for more is a 422 with the limit."""
    max_scan_rows: int = Field(default=5_000_000, ge=1)
    """Rollup rows one query may read (estimated before it runs, from the metering points × buckets)."""
    statement_timeout_ms: int = Field(default=15_000, ge=100)
    export_timeout_ms: int = Field(default=600_000, ge=1000)
    """How long one streamed CSV export may run (its COPY waits on a slow client too)."""


class AnalyticsSettings(ServiceSettings):
    model_config = service_config("ANALYTICS")

    http: HttpSettings = HttpSettings(port=8005)
    local_tz: str = Field(default="Asia/Shanghai", description=(
        "the utility's wall clock (no DST): every hour, day, month, quarter and year bucket is local"))
    budget: Budget = Field(default_factory=Budget)
    consumer_max_batch: int = Field(default=200, ge=1, le=5000)
    refresh_interval_s: float = Field(default=2.0, gt=0)
    """TimescaleDB: how often the windows touched by late data are refreshed in the continuous aggregates."""
    monthly_refresh_every_s: float = Field(default=30.0, ge=0)
    """TimescaleDB: while windows keep coming, the monthly aggregate (whole months, forced) is refreshed at most
    this often; at once when a round finds no new window."""
    key_customer_refresh_s: float = Field(default=900.0, gt=0)
    """How often the rule-chosen key customers are re-evaluated for Grafana (``key_customer_chosen``)."""
    main_items: dict[str, str] = Field(default_factory=lambda: {
        "electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
        "heat": "heat.energy"})
    """The register whose increase is "usage" of each utility."""
    tiers: dict[str, list[Tier]] = Field(default_factory=_default_tiers)

    @field_validator("local_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
