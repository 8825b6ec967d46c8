"""Settings of the validator service (env prefix ``EMMS_VALIDATOR_``).

Rule parameters come from the catalog (``VEE-RULES.md`` defaults); ``vee.rules``
overrides them for every meter and ``vee.utilities.<utility>`` per utility, e.g.
``EMMS_VALIDATOR_VEE__UTILITIES='{"water": {"zero_consumption": {"params": {"min_zero_s": 172800}}}}'``.
Narrower scopes (meter type, customer category, single meter) are set through
the API and stored in the ``validator`` schema.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings
from emms_validator.config.resolve import RuleOverride, check_override
from emms_validator.items import DEFAULT_PATTERNS, ItemPattern
from emms_validator.model import ItemKind


class ItemPatternSetting(BaseModel):
    pattern: str = Field(min_length=1, max_length=200)
    kind: ItemKind
    role: str = Field(min_length=1, max_length=40)
    interval_s: int | None = Field(default=None, gt=0)


DEFAULT_EVENT_CODES: dict[str, str] = {
    "valve_closed": "valve_closed", "valve_close": "valve_closed", "valve_opened": "valve_opened",
    "valve_open": "valve_opened", "power_off": "power_off", "power_on": "power_on", "ERC14": "power_cycle",
    "meter_replaced": "meter_replaced", "meter_replacement": "meter_replaced",
    "clock_deviation": "clock_deviation", "clock_drift": "clock_deviation", "ERC12": "clock_deviation",
}
"""Device-event code → what it means to VEE. ERC numbers follow Q/GDW 1376.1 (ERC12 meter time
beyond tolerance, ERC14 power off/on with ``detail.state``); the collector's own codes may be added."""


class VeeSettings(BaseModel):
    local_utc_offset_s: int = Field(default=8 * 3600, ge=-14 * 3600, le=14 * 3600)
    valve_closed_value: float = 0.0
    profile_alpha: float = Field(default=0.3, gt=0, le=1)
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    utilities: dict[str, dict[str, RuleOverride]] = Field(default_factory=dict)
    items: list[ItemPatternSetting] = Field(default_factory=list)
    intervals: dict[str, int] = Field(default_factory=dict, description="item glob → expected interval (s)")
    event_codes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_EVENT_CODES))
    config_refresh_s: float = Field(default=5.0, gt=0)
    sweep_interval_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _known_rules(self) -> VeeSettings:
        for layer in [self.rules, *self.utilities.values()]:
            for rule, override in layer.items():
                check_override(rule, override)
        return self

    def item_patterns(self) -> list[ItemPattern]:
        own = [ItemPattern(p.pattern, p.kind, p.role, p.interval_s) for p in self.items]
        return [*own, *DEFAULT_PATTERNS]


class HandoffSettings(BaseModel):
    """Hand-off of anomalies to other departments' systems (R-4.5.4.1): webhooks, besides the bus."""

    webhooks: list[str] = Field(default_factory=list)
    min_severity: str = Field(default="normal", pattern="^(normal|important)$")
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    batch: int = Field(default=200, ge=1, le=5000)
    poll_s: float = Field(default=1.0, gt=0)


class ValidatorSettings(ServiceSettings):
    model_config = service_config("VALIDATOR")

    http: HttpSettings = HttpSettings(port=8003)
    vee: VeeSettings = Field(default_factory=VeeSettings)
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)
    consumer_max_batch: int = Field(default=50, ge=1, le=10_000,
                                    description="raw batches per handler call (one transaction)")
