"""The typed values VEE works on: item specs, meter facts, findings, rule settings.

Everything here is plain data with no I/O, so the rules and the estimators can be
tested with hypothesis over generated series. Times inside the pure core are
epoch seconds (``float``); datetimes only appear at the edges (messages, DB).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from emms_messages.events import EventClass


class ItemKind(StrEnum):
    CUMULATIVE = "cumulative"  # registers that only grow (energy, volume, heat, hours)
    INSTANT = "instant"  # sampled quantities (power, voltage, temperature, pressure)
    STATE = "state"  # discrete states (valve, relay)
    CLOCK = "clock"  # the meter's clock or its deviation


class Action(StrEnum):
    HOLD = "hold"  # the reading is suspect: held back from publication, back-fill requested
    FLAG = "flag"  # the reading is published as valid; the finding is an anomaly only


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """What the validator knows about one canonical item code."""

    item: str
    kind: ItemKind
    role: str
    interval_s: int | None = None  # the configured collection interval, if any
    tariff_base: str | None = None  # for a tariff register: the stem shared with its total


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """Master data of one meter, as far as VEE needs it (from ``MasterDataChange``)."""

    meter_id: str
    utility: str = ""
    meter_type: str = ""
    customer_id: str = ""
    customer_category: str = ""
    register_modulus: float | None = None  # a register wraps to 0 at this value (10 ** integer digits)
    multiplier: float = 1.0  # CT x VT ratio: increments are compared in primary units
    key_customer: bool = False
    active: bool = True


@dataclass(frozen=True, slots=True)
class RuleSetting:
    """One rule as configured for one meter: switch, action, severity and parameters."""

    enabled: bool
    action: Action
    severity: EventClass
    params: Mapping[str, float | None]

    def p(self, name: str) -> float:
        value = self.params.get(name)
        if value is None:
            raise KeyError(f"rule parameter {name!r} is not set")
        return float(value)

    def opt(self, name: str) -> float | None:
        value = self.params.get(name)
        return None if value is None else float(value)


RuleBook = Mapping[str, RuleSetting]
"""Rule id → its setting, resolved for one meter."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one reading (or one gap) of one meter item."""

    rule: str
    item: str
    t: float
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Gap:
    """Expected points that never arrived between two received ones (``count`` on the grid)."""

    item: str
    prev_t: float
    next_t: float
    interval_s: float
    count: int

    @property
    def start(self) -> float:
        return self.prev_t + self.interval_s

    @property
    def end(self) -> float:
        return self.prev_t + self.count * self.interval_s

    @property
    def span_s(self) -> float:
        return self.next_t - self.prev_t

    def times(self) -> list[float]:
        return [self.prev_t + k * self.interval_s for k in range(1, self.count + 1)]


def iso(t: float) -> str:
    """An epoch time as an ISO-8601 UTC string (for finding values and ids)."""
    return datetime.fromtimestamp(t, UTC).isoformat()
