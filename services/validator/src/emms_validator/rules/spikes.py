"""Increments against the meter's own history (V7, V10, V12): spikes and unusually low usage.

The expectation comes from the item's profile for the same weekday class and
time slot (:mod:`emms_validator.estimation.profile`). A spike must beat *both*
``high_ratio`` × the usual consumption (V10, 300 %) and the usual plus
``k_sigma`` standard deviations (V12), and exceed it by an absolute ``floor`` —
so noisy small consumers and quiet hours do not raise false alarms.
"""

from __future__ import annotations

from typing import Any

from emms_validator.estimation.profile import Expected
from emms_validator.model import RuleSetting

DAY_S = 86_400.0


def spike(increment: float, expected: Expected | None, setting: RuleSetting) -> dict[str, Any] | None:
    if expected is None or expected.samples < setting.p("min_history"):
        return None
    floor = setting.p("floor")
    threshold = max(setting.p("high_ratio") * expected.mean, expected.mean + setting.p("k_sigma") * expected.std,
                    expected.mean + floor)
    if increment <= threshold:
        return None
    return {"increment": increment, "expected": expected.mean, "std": expected.std, "threshold": threshold}


def low_usage(increment: float, span_s: float, expected: Expected | None,
              setting: RuleSetting) -> dict[str, Any] | None:
    """Usage over at least a day far below its usual level (zero is the zero-consumption rule's case)."""
    if expected is None or increment <= 0 or span_s < DAY_S or expected.samples < setting.p("min_history"):
        return None
    if expected.mean < setting.p("floor"):
        return None
    threshold = setting.p("low_ratio") * expected.mean
    if increment >= threshold:
        return None
    return {"increment": increment, "expected": expected.mean, "threshold": threshold}
