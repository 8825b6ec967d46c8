"""What the engine reads besides the state (held points, open gaps) and what it returns per meter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emms_messages.events import EventClass
from emms_messages.readings import Reading, ValidationStatus
from emms_validator.model import Action


@dataclass(slots=True)
class HeldRecord:
    """A reading held back from publication, waiting for back-fill (R-4.3.1)."""

    item: str
    t: float
    raw_value: float | None
    prev_t: float | None
    prev_value: float | None
    rules: tuple[str, ...]
    status: str = "awaiting_backfill"  # → repaired | unrepaired | edited


@dataclass(slots=True)
class GapRecord:
    """Missing points between two received ones; filled by back-fill or estimated."""

    item: str
    prev_t: float
    next_t: float
    prev_value: float | None
    next_value: float | None
    interval_s: float
    count: int
    estimated: str = ""  # the estimation method used, "" when none


@dataclass(frozen=True, slots=True)
class Resolved:
    """A finding with the action and severity its rule has for this meter."""

    rule: str
    item: str
    t: float
    action: Action
    severity: EventClass
    values: Mapping[str, Any]
    reading: Reading | None  # the reading it is about (None for gaps found by a sweep)


@dataclass(frozen=True, slots=True)
class PointResult:
    reading: Reading
    status: ValidationStatus
    value: float | None
    method: str
    rules_failed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EstimatedPoint:
    item: str
    t: float
    value: float
    method: str
    trigger: Reading  # the reading that revealed the gap (unit, validated_at)


@dataclass(frozen=True, slots=True)
class BackfillSpec:
    items: tuple[str, ...]
    start: float
    end: float
    reasons: tuple[str, ...]


@dataclass(slots=True)
class MeterOutcome:
    meter_id: str
    results: list[PointResult] = field(default_factory=list)
    estimates: list[EstimatedPoint] = field(default_factory=list)
    findings: list[Resolved] = field(default_factory=list)
    backfills: list[BackfillSpec] = field(default_factory=list)
    held_new: list[tuple[HeldRecord, Reading]] = field(default_factory=list)
    held_changed: list[tuple[HeldRecord, Reading]] = field(default_factory=list)
    gaps_new: list[GapRecord] = field(default_factory=list)
    gaps_filled: list[tuple[GapRecord, float]] = field(default_factory=list)
    state_changed: bool = False
