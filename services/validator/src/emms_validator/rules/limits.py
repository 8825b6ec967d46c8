"""Limits (V8, R1, V13): high / low range per role, increment rate limit, zero consumption, stuck values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emms_validator.model import ItemKind, ItemSpec, RuleSetting


def range_violation(spec: ItemSpec, value: float, setting: RuleSetting,
                    modulus: float | None) -> dict[str, Any] | None:
    """The limit a value breaks, if any. Registers must lie in ``[0, modulus)``."""
    group = role_group(spec.role)
    return limit_violation(spec, value, setting.opt(f"{group}_low"), setting.opt(f"{group}_high"), modulus)


def limit_violation(spec: ItemSpec, value: float, low: float | None, high: float | None,
                    modulus: float | None) -> dict[str, Any] | None:
    if spec.kind is ItemKind.CUMULATIVE:
        if value < 0:
            return {"value": value, "low": 0.0}
        if modulus is not None and value >= modulus:
            return {"value": value, "high": modulus}
        return None
    if low is not None and value < low:
        return {"value": value, "low": low}
    if high is not None and value > high:
        return {"value": value, "high": high}
    return None


def role_group(role: str) -> str:
    return "temperature" if role.startswith("temperature") else role


def rate_violation(increment: float, hours: float, max_per_hour: float | None) -> dict[str, Any] | None:
    """R1: the register advanced faster than ``max_per_hour`` (primary units)."""
    if max_per_hour is None or hours <= 0:
        return None
    rate = increment / hours
    return {"increment": increment, "per_hour": rate, "max_per_hour": max_per_hour} if rate > max_per_hour else None


@dataclass(frozen=True, slots=True)
class ZeroRun:
    since: float | None  # start of the current run of zero consumption
    reported: bool


def update_zero_run(run: ZeroRun, prev_t: float, t: float, increment: float, expected: float | None,
                    excused: bool, min_zero_s: float, min_expected: float) -> tuple[ZeroRun, dict[str, Any] | None]:
    """Track zero consumption; report once per run when it lasts ``min_zero_s`` on a consuming meter.

    ``excused``: an outage or a closed valve explains the zeros (V5), so the run restarts.
    """
    if increment > 0 or excused:
        return ZeroRun(None, False), None
    since = run.since if run.since is not None else prev_t
    if run.reported or expected is None or expected < min_expected or t - since < min_zero_s:
        return ZeroRun(since, run.reported), None
    return ZeroRun(since, True), {"zero_since_s": t - since, "expected_per_interval": expected}


@dataclass(frozen=True, slots=True)
class StuckRun:
    value: float | None
    count: int


def update_stuck(run: StuckRun, value: float, limit: int) -> tuple[StuckRun, dict[str, Any] | None]:
    """Count identical non-zero samples in a row; report exactly when the run reaches ``limit``."""
    if value == 0 or value != run.value:
        return StuckRun(value, 1), None
    count = run.count + 1
    return StuckRun(value, count), ({"value": value, "count": count} if count == limit else None)
