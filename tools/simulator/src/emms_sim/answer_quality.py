"""The concentrator's supply-quality answers from the truth: AFN0D F27 daily voltage statistics and AFN0C F58
harmonic content (:mod:`emms_sim.supply_quality` holds the truth they read).

F27 of local day D: the terminal samples each phase voltage at the start of every 15-minute slot of D (the
truth's voltage is constant within a slot) and counts 15 minutes per sample in a band, with the terminal's
limit parameters :data:`TERMINAL_LIMITS` (220 V: upper 235.4 V (+7 %), lower 198 V (−10 %), upper-upper
264 V (+20 %), lower-lower 176 V (−20 %)); the upper count includes the upper-upper time, the lower the
lower-lower time. Minimum / maximum with the slot's time, average of the samples. A phase the meter lacks
(single-phase meters: B and C) is all absent. Only once D has ended (its statistics are frozen at 24:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from emms_protocol.gdw1376.afn0c_harmonics import HarmonicContent
from emms_protocol.gdw1376.afn0d_voltage_stats import DailyVoltageStats, PhaseVoltageStats
from emms_protocol.gdw1376.units import DataUnit
from emms_sim.calendar import SLOT_S
from emms_sim.fleet import MeterSpec
from emms_sim.meters import MeterModel
from emms_sim.supply_quality import ORDERS, PHASES, harmonic_content
from emms_sim.terminal_state import TerminalState

SLOTS = 96


@dataclass(frozen=True, slots=True)
class TerminalLimits:
    upper: float = 220.0 * 1.07
    lower: float = 220.0 * 0.90
    upper_upper: float = 220.0 * 1.20
    lower_lower: float = 220.0 * 0.80


TERMINAL_LIMITS = TerminalLimits()


def _phase(samples: list[tuple[float, float]], limits: TerminalLimits) -> PhaseVoltageStats:
    minutes = int(SLOT_S // 60)
    volts = [v for _, v in samples]
    low_at, low = min(samples, key=lambda s: s[1])
    high_at, high = max(samples, key=lambda s: s[1])
    return PhaseVoltageStats(
        over_upper_upper_min=minutes * sum(1 for v in volts if v > limits.upper_upper),
        under_lower_lower_min=minutes * sum(1 for v in volts if v < limits.lower_lower),
        over_upper_min=minutes * sum(1 for v in volts if v > limits.upper),
        under_lower_min=minutes * sum(1 for v in volts if v < limits.lower),
        within_min=minutes * sum(1 for v in volts if limits.lower <= v <= limits.upper),
        minimum=low, minimum_at=datetime.fromtimestamp(low_at, tz=UTC),
        maximum=high, maximum_at=datetime.fromtimestamp(high_at, tz=UTC),
        average=round(sum(volts) / len(volts), 1))


_NONE = PhaseVoltageStats(None, None, None, None, None, None, None, None, None, None)


def daily_voltage_statistics(model: MeterModel, meter: MeterSpec, day_start_ts: float, td: date,
                             limits: TerminalLimits = TERMINAL_LIMITS) -> DailyVoltageStats | None:
    """F27 of the local day starting at ``day_start_ts`` (None when the meter was there at no sample)."""
    samples: dict[str, list[tuple[float, float]]] = {p: [] for p in PHASES}
    for slot in range(SLOTS):
        ts = day_start_ts + slot * SLOT_S
        reading = model.instant(meter, ts)
        if reading is None:
            continue
        for p in PHASES:
            v = reading.get(f"voltage.{p}")
            if v is not None:
                samples[p].append((ts, v))
    if not samples["a"]:
        return None
    phases = [_phase(samples[p], limits) if samples[p] else _NONE for p in PHASES]
    return DailyVoltageStats(td, phases[0], phases[1], phases[2])


def harmonic_answer(meter: MeterSpec, local_second: float) -> HarmonicContent | None:
    """F58 at ``local_second`` of the local day (None for a meter that delivers no harmonics)."""
    items = harmonic_content(meter, local_second)
    if items is None:
        return None
    channels = []
    for quantity in ("voltage", "current"):
        for p in PHASES:
            channels.append((items[f"thd.{quantity}.{p}"],
                             *(items[f"harmonic.{quantity}.{p}.h{h}"] for h in ORDERS)))
    return HarmonicContent(*channels)


def voltage_statistics_unit(state: TerminalState, pn: int, td: object, ts: float) -> DataUnit | None:
    """The F27 unit of point ``pn`` for local day ``td`` (the request's Td_d), once the day has ended."""
    if not isinstance(td, date):
        return None
    truth = state.truth
    end = truth.daily_freeze_instant(td).timestamp()
    if end > ts:
        return None
    start = truth.cal.day_start(truth.cal.day_of(td)).timestamp()
    meter = state.meter_at(pn, start) or state.meter_at(pn, end - 1)
    if meter is None or meter.utility != "electricity":
        return None
    stats = daily_voltage_statistics(truth.model, meter, start, td)
    return None if stats is None else DataUnit(pn, 27, stats)


def harmonic_unit(state: TerminalState, pn: int, at: float) -> DataUnit | None:
    meter = state.meter_at(pn, at)
    if meter is None or not meter.present(at):
        return None
    _, second = state.truth.cal.position_ts(at)
    value = harmonic_answer(meter, second)
    return None if value is None else DataUnit(pn, 58, value)
