"""Every VEE rule with its default action, severity and parameters, and where they come from.

The defaults follow ``shared/VEE-RULES.md`` (its rule numbers V1…V21, R1…R8,
E1…E10 are quoted in ``source``). Values that file marks *(proposed)* are
project defaults, not sourced figures; they are marked the same way here.
Per-utility, per-meter-type, per-customer-category and per-meter overrides
are layered on top by :mod:`emms_validator.config.resolve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from emms_messages.events import EventClass
from emms_validator.model import Action

IMPORTANT = EventClass.IMPORTANT
NORMAL = EventClass.NORMAL


@dataclass(frozen=True, slots=True)
class RuleDef:
    rule: str
    family: str
    title: str
    action: Action
    severity: EventClass
    params: Mapping[str, float | None]
    source: str


def _r(rule: str, family: str, title: str, action: Action, severity: EventClass,
       params: dict[str, float | None], source: str) -> RuleDef:
    return RuleDef(rule, family, title, action, severity, MappingProxyType(params), source)


_RULES = (
    # completeness and structure
    _r("completeness", "gaps", "Expected points per meter and item per period; gaps and empty values",
       Action.HOLD, NORMAL, {"tolerance_s": 1.0, "max_points": 10_000.0},
       "V1 missing/gap check (IESO, Itron Gap Check); tolerance 0 missing"),
    _r("interval_alignment", "gaps", "Data time off the item's interval grid",
       Action.FLAG, NORMAL, {"tolerance_s": 1.0}, "V2 interval size validation (Oracle), exact match"),
    # time
    _r("future_time", "timing", "Data time later than the time the reading was collected",
       Action.HOLD, NORMAL, {"tolerance_s": 300.0}, "V3 time tolerance (IESO); 300 s slack (proposed)"),
    _r("clock_tolerance", "timing", "Meter clock beyond tolerance",
       Action.FLAG, NORMAL, {"meter_tolerance_s": 10.0},
       "V3 time tolerance; meter <= 10 s after sync (R-4.6.1.1)"),
    _r("duplicate_time", "timing", "Same data time received again with a different value",
       Action.HOLD, NORMAL, {"epsilon": 1e-6}, "V17 duplicate data check (Oracle)"),
    # range and limits
    _r("range", "limits", "Value above the upper or below the lower limit of its role",
       Action.HOLD, NORMAL, {
           "voltage_low": 0.0, "voltage_high": 300.0, "current_low": 0.0, "current_high": None,
           "power_low": None, "power_high": None, "temperature_low": -40.0, "temperature_high": 150.0,
           "pressure_low": 0.0, "pressure_high": 4.0, "flow_low": None, "flow_high": None,
           "power_factor_low": -1.0, "power_factor_high": 1.0,
       }, "V8 demand high/low limit (Itron); limits per role (proposed: 300 V, -40..150 °C, 4 MPa)"),
    _r("zero_consumption", "limits", "No consumption for a long time on a meter that normally consumes",
       Action.FLAG, NORMAL, {"min_zero_s": 86_400.0, "min_expected": 0.1, "min_history": 3.0},
       "V13 zero consumption check (Oracle, SAP); 24 h (proposed); outages and closed valves excluded (V5)"),
    _r("stuck_value", "limits", "A sampled value identical for too many readings in a row",
       Action.FLAG, NORMAL, {"count": 24.0}, "V13/V12 family; 24 identical non-zero samples (proposed)"),
    _r("delta_limit", "limits", "Register increment per hour above an absolute limit",
       Action.HOLD, NORMAL, {"max_per_hour": None}, "R1 delta high limit (Itron); set per meter or class"),
    # cumulative registers
    _r("monotonic", "monotonic", "A cumulative register decreased (not a roll-over, not a replacement)",
       Action.HOLD, NORMAL, {"max_rollover_fraction": 0.5},
       "V14 negative consumption (Oracle), R5 register roll-over (SAP)"),
    _r("baseline_reset", "monotonic", "Readings keep disagreeing with the last accepted one but agree "
       "with each other: unrecorded meter change or level shift; baseline moved",
       Action.FLAG, IMPORTANT, {"after": 3.0}, "V9 consecutive-interval tolerance (Itron, Oracle)"),
    # increments against history
    _r("spike", "spikes", "Consumption far above the meter's own history for the same weekday and time",
       Action.HOLD, NORMAL, {"high_ratio": 3.0, "k_sigma": 4.0, "min_history": 3.0, "floor": 0.5},
       "V7 spike, V10 high usage vs ADU (300 %, proposed), V12 mean + k·σ (k = 4, proposed)"),
    _r("low_usage", "spikes", "Consumption far below the meter's own history for the same weekday and time",
       Action.FLAG, NORMAL, {"low_ratio": 0.1, "min_history": 3.0, "floor": 0.5},
       "V10 low usage vs ADU (< 10 %, proposed)"),
    # logical consistency
    _r("tariff_sum", "consistency", "Sum of the tariff registers differs from the total register",
       Action.FLAG, NORMAL, {"lsb": 0.01, "pct": 0.5}, "V15 sum check, ± max(1 LSB, 0.5 %) (proposed)"),
    _r("valve_closed_flow", "consistency", "Valve closed while the volume or energy still advances",
       Action.FLAG, IMPORTANT, {"min_advance": 0.01}, "R-4.5.4.1 logical inconsistency"),
    _r("power_energy", "consistency", "Energy over the interval inconsistent with the power at its ends",
       Action.FLAG, NORMAL, {"factor": 3.0, "floor_kw": 0.5, "max_interval_s": 3600.0},
       "R-4.5.4.1; factor 3 and 0.5 kW floor (proposed)"),
    _r("supply_return", "consistency", "Supply temperature below return temperature",
       Action.FLAG, NORMAL, {"tolerance_k": 0.5}, "R-4.5.5.4 supply/return difference; 0.5 K (proposed)"),
    # outcomes of back-fill and estimation
    _r("repair_failed", "backfill", "A held reading could not be repaired by back-fill",
       Action.HOLD, IMPORTANT, {"deadline_s": 21_600.0}, "R-4.3.1; 6 h back-fill deadline (proposed)"),
    _r("estimation", "estimation", "Estimate gaps of registers: linear for short spans, like-day profile "
       "for longer ones, scaled to the bounding registers",
       Action.FLAG, NORMAL, {"linear_max_s": 3600.0, "max_span_s": 259_200.0, "min_history": 3.0},
       "E4 linear <= 1 h (IESO; up to 3 h Itron), E5 like-day average, E8 register-constrained; "
       "3 days max (V20, proposed)"),
)

RULES: Mapping[str, RuleDef] = MappingProxyType({r.rule: r for r in _RULES})
