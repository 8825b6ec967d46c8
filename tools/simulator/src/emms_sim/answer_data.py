"""AFN 0C (class-1, real time) and AFN 0D (class-2, frozen) answers, computed from the truth.

Values carry their true instant as Tm (the minute of the read, or the freeze
instant), so ``truth(meter, item, Tm)`` equals what went on the wire. Daily
frozen data tagged D is the register at local 24:00 of D; monthly frozen data
of a month is the register at 00:00 on the 1st of the next month. Water, gas
and heat points have no 1376.1 energy Fn: they are read by AFN 10 forwarding,
so their units are left out (a request with nothing to answer is denied).
Curve requests (AFN 0D F81 – F95, F105 – F108, Td_c) are answered by :mod:`emms_sim.curves`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from emms_protocol.gdw1376 import DataUnit
from emms_protocol.gdw1376.afn0c import PowerQuality, PurchaseInfo, SettlementInfo
from emms_protocol.gdw1376.afn0d_curves import CurveTag
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register, ReverseEnergies
from emms_sim import answer_purchase, answer_quality, curves
from emms_sim.fleet import MeterSpec
from emms_sim.meters import MeterModel, Reading
from emms_sim.terminal_state import TerminalState

_RATES = ("t1", "t2", "t3", "t4")
_FORWARD = ("energy.active.import", "energy.reactive.import", "energy.reactive.q1", "energy.reactive.q4")
_REVERSE = ("energy.active.export", "energy.reactive.export", "energy.reactive.q2", "energy.reactive.q3")
#: The registers each energy Fn carries (what :func:`energy_value` reads): only these are computed for it.
ENERGY_REGISTERS: dict[int, tuple[str, ...]] = {
    **dict.fromkeys((33, 1, 17), _FORWARD), **dict.fromkeys((34, 2, 18), _REVERSE),
    **dict.fromkeys((129, 161, 177, 168), ("energy.active.import",)), 130: ("energy.reactive.import",),
}


def _register(reading: Reading, prefix: str) -> Register:
    return Register(reading.get(f"{prefix}.total"), tuple(reading.get(f"{prefix}.{r}") for r in _RATES))


def _pf_percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100.0, 1)


def energy_value(fn: int, reading: Reading, read_at: datetime, td: date | None = None) -> object | None:
    """The value of an energy Fn (AFN0C F33/F34/F129/F130, AFN0D F1/F2/F17/F18/F161/F177)."""
    if fn in (33, 1, 17):
        return ForwardEnergies(read_at, _register(reading, "energy.active.import"),
                               _register(reading, "energy.reactive.import"), _register(reading, "energy.reactive.q1"),
                               _register(reading, "energy.reactive.q4"), td)
    if fn in (34, 2, 18):
        return ReverseEnergies(read_at, _register(reading, "energy.active.export"),
                               _register(reading, "energy.reactive.export"), _register(reading, "energy.reactive.q2"),
                               _register(reading, "energy.reactive.q3"), td)
    if fn in (129, 161, 177):
        reg = _register(reading, "energy.active.import")
        return EnergyReading(read_at, reg.total, reg.rates, td)
    if fn == 130:
        reg = _register(reading, "energy.reactive.import")
        return EnergyReading(read_at, reg.total, reg.rates, td)
    return None


def _power_quality(reading: Reading, read_at: datetime) -> PowerQuality:
    g = reading.get
    return PowerQuality(
        read_at, g("power.active.total"), g("power.active.a"), g("power.active.b"), g("power.active.c"),
        g("power.reactive.total"), g("power.reactive.a"), g("power.reactive.b"), g("power.reactive.c"),
        _pf_percent(g("power_factor.total")), _pf_percent(g("power_factor.a")), _pf_percent(g("power_factor.b")),
        _pf_percent(g("power_factor.c")), g("voltage.a"), g("voltage.b"), g("voltage.c"),
        g("current.a"), g("current.b"), g("current.c"), g("current.n"),
        g("power.apparent.total"), g("power.apparent.a"), g("power.apparent.b"), g("power.apparent.c"))


def read_minute(ts: float) -> float:
    """The instant a real-time answer stands for: the start of the current minute (A.15 has minutes)."""
    return math.floor(ts / 60.0) * 60.0


def class1(state: TerminalState, requested: list[DataUnit], ts: float) -> list[DataUnit]:
    at = read_minute(ts)
    read_at = datetime.fromtimestamp(at, tz=UTC)
    model = state.truth.model
    out: list[DataUnit] = []
    for unit in requested:
        if unit.fn == 2 and unit.pn == 0:
            out.append(DataUnit(0, 2, state.clock(ts)))
            continue
        if unit.fn == 5 and unit.pn == 0:  # the control settings state: protection, purchase control
            out.append(answer_purchase.control_state(state, ts))
            continue
        if unit.fn == 23:  # a total-add group's remaining fee (purchase control)
            found = answer_purchase.remaining(state, unit.pn, ts)
            if found is not None:
                out.append(found)
            continue
        if unit.fn == 58:  # harmonic content (three-phase meters)
            found = answer_quality.harmonic_unit(state, unit.pn, at)
            if found is not None:
                out.append(found)
            continue
        meter = state.meter_at(unit.pn, at)
        if meter is None or meter.utility != "electricity":
            continue
        reading = _class1_reading(model, meter, unit.fn, at)
        if reading is None:
            continue
        value = _class1_value(unit.fn, meter, reading, read_at)
        if value is not None:
            out.append(DataUnit(unit.pn, unit.fn, value))
    return out


def _class1_reading(model: MeterModel, meter: MeterSpec, fn: int, at: float) -> Reading | None:
    """What an Fn's value is made of: an energy Fn its registers only, F167 nothing but the meter being there,
    F25 (and any other) the full reading. None when the meter is not installed."""
    registers = ENERGY_REGISTERS.get(fn)
    if registers is not None:
        return model.energy(meter, at, registers)
    if fn == 167:
        return {} if meter.present(at) else None
    return model.reading(meter, at)


def _class1_value(fn: int, meter: MeterSpec, reading: Reading, read_at: datetime) -> object | None:
    if fn == 25:
        return _power_quality(reading, read_at)
    if fn == 167:
        return PurchaseInfo(read_at, None, None, None, None, None, None, None, None, None)
    if fn == 168:
        reg = _register(reading, "energy.active.import")
        return SettlementInfo(read_at, None, (None,) * 4, reg.total, reg.rates)
    return energy_value(fn, reading, read_at)


def class2(state: TerminalState, requested: list[DataUnit], ts: float) -> list[DataUnit]:
    truth = state.truth
    model = truth.model
    instants: dict[tuple[bool, date], tuple[datetime, float]] = {}  # the freeze tag is the same for many points
    readings: dict[tuple[int, int, datetime | None], Reading] = {}  # one reading per point and instant of a curve
    out: list[DataUnit] = []
    for unit in requested:
        if isinstance(unit.value, CurveTag) or unit.fn == 27:  # curves; F27 daily voltage statistics
            found = (answer_quality.voltage_statistics_unit(state, unit.pn, unit.value, ts) if unit.fn == 27
                     else curves.answer(state, unit, ts, readings))
            if found is not None:
                out.append(found)
            continue
        td = unit.value
        if not isinstance(td, date):
            continue
        monthly = unit.fn in (17, 18, 177)
        known = instants.get((monthly, td))
        if known is None:
            instant = truth.monthly_freeze_instant(td.year, td.month) if monthly else truth.daily_freeze_instant(td)
            known = instants[(monthly, td)] = (instant, instant.timestamp())
        instant, at = known
        if at > ts:
            continue  # not frozen yet
        meter = state.meter_at(unit.pn, at) or state.meter_at(unit.pn, ts)
        if meter is None or meter.utility != "electricity":
            continue
        registers = ENERGY_REGISTERS.get(unit.fn)
        if registers is None:
            continue  # no energy Fn: nothing to answer (the meter's reading would not be looked at)
        reading = model.energy(meter, at, registers)
        if reading is None:
            continue
        value = energy_value(unit.fn, reading, instant, td.replace(day=1) if monthly else td)
        if value is not None:
            out.append(DataUnit(unit.pn, unit.fn, value))
    return out
