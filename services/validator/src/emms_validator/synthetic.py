"""Deterministic synthetic meter series with injectable field faults, for tests and the benchmark.

Electricity (total and four tariff registers, power), water (volume, valve) and
heat (energy, volume, supply and return temperature) meters with a weekday
shape and noise, daily or hourly. Faults are injected on a chosen day so tests
can check that each is flagged by the right rule and clean meters by none:
``missing_day``, ``spike``, ``transient`` (a garbled register value),
``valve_closed_flow``, ``replaced`` (register restarts; with a recorded
replacement), ``replaced_unrecorded``, ``clock_drift``, ``tariff_mismatch``,
``supply_below_return``, ``zero_consumption``.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from emms_messages.readings import Reading, ReadingSource

LOCAL = timedelta(hours=8)
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 1.05, 1.25, 1.3)
TARIFF_SHARES = (0.1, 0.3, 0.35, 0.25)
CLOCK_DRIFT_S = 95.0
NEW_METER_START = 0.0


@dataclass(frozen=True, slots=True)
class SyntheticMeter:
    meter_id: str
    utility: str  # electricity | water | heat
    interval_s: int = 86_400
    faults: frozenset[str] = field(default_factory=frozenset)
    fault_day: int = 30
    daily: float = 0.0  # usual consumption per day (0: a default per utility)
    terminal: str = "0101-00001"

    @property
    def per_day(self) -> float:
        return self.daily or {"electricity": 12.0, "water": 0.45, "heat": 180.0}[self.utility]


def local_midnight(day: datetime) -> datetime:
    """UTC time of local (UTC+8) midnight of ``day``'s date."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - LOCAL


def _rng(meter: SyntheticMeter, seed: int) -> random.Random:
    return random.Random(zlib.crc32(f"{seed}/{meter.meter_id}".encode()))


def true_increments(meter: SyntheticMeter, start: datetime, steps: int, seed: int) -> list[float]:
    """Consumption of each interval: weekday factor × hour shape × noise."""
    rng = _rng(meter, seed)
    per_step = meter.per_day * meter.interval_s / 86_400
    out = []
    for k in range(steps):
        t = start + timedelta(seconds=meter.interval_s * k) + LOCAL
        hour_shape = 1.0 if meter.interval_s >= 86_400 else 0.6 + 0.8 * (7 <= t.hour <= 22)
        out.append(per_step * WEEKDAY_FACTOR[t.weekday()] * hour_shape * rng.uniform(0.85, 1.15))
    return out


def readings(meter: SyntheticMeter, start: datetime, days: int, seed: int = 1) -> list[Reading]:
    """Every reading of ``meter`` for ``days`` from local midnight of ``start``, faults included."""
    return list(_readings(meter, local_midnight(start), days, seed))


def _readings(meter: SyntheticMeter, t0: datetime, days: int, seed: int) -> Iterator[Reading]:
    steps = days * 86_400 // meter.interval_s
    incs = true_increments(meter, t0, steps + 1, seed)
    per_day_steps = 86_400 // meter.interval_s
    register = 1000.0 + 37.0 * (zlib.crc32(meter.meter_id.encode()) % 100)
    replaced = "replaced" in meter.faults or "replaced_unrecorded" in meter.faults
    offset = 0.0
    for k in range(steps + 1):
        t = t0 + timedelta(seconds=meter.interval_s * k)
        day = k // per_day_steps
        if k:
            register += incs[k - 1]
        if "zero_consumption" in meter.faults and meter.fault_day <= day < meter.fault_day + 3 and k:
            register -= incs[k - 1]
        if replaced and day == meter.fault_day and k % per_day_steps == 0:
            offset = register - NEW_METER_START - incs[k - 1] / 2  # new meter since noon before
        if "missing_day" in meter.faults and day == meter.fault_day:
            continue
        value = _value(meter, day, k, register - offset)
        yield from _at(meter, t, k, day, value, incs[k] if k < len(incs) else 0.0)


def _value(meter: SyntheticMeter, day: int, k: int, register: float) -> float:
    at_fault = day == meter.fault_day and k % (86_400 // meter.interval_s) == 0
    if "spike" in meter.faults and at_fault:
        return round(register + 40 * meter.per_day, 3)
    if "transient" in meter.faults and at_fault:
        return round(register * 0.5, 3)
    return round(register, 3)


def replacement_time(meter: SyntheticMeter, start: datetime) -> datetime:
    """When the recorded replacement happened (noon before the fault day's first reading)."""
    return local_midnight(start) + timedelta(days=meter.fault_day) - timedelta(hours=12)


def _r(meter: SyntheticMeter, item: str, t: datetime, value: float, unit: str) -> Reading:
    return Reading(meter_id=meter.meter_id, item=item, data_time=t, value=value, unit=unit,
                   source=ReadingSource.SCHEDULED, collected_at=t + timedelta(minutes=5), terminal=meter.terminal)


def _at(meter: SyntheticMeter, t: datetime, k: int, day: int, value: float, next_inc: float) -> Iterator[Reading]:
    at_fault = day >= meter.fault_day
    if meter.utility == "electricity":
        yield _r(meter, "energy.active.import.total", t, value, "kWh")
        shares = [round(value * s, 3) for s in TARIFF_SHARES]
        shares[-1] = round(value - sum(shares[:-1]), 3)
        if "tariff_mismatch" in meter.faults and day == meter.fault_day:
            shares[0] = round(shares[0] + 0.2 * value, 3)
        for n, share in enumerate(shares, 1):
            yield _r(meter, f"energy.active.import.t{n}", t, share, "kWh")
        power = next_inc * 3600 / meter.interval_s
        yield _r(meter, "power.active.total", t, round(max(power, 0.0), 3), "kW")
    elif meter.utility == "water":
        yield _r(meter, "water.volume", t, value, "m3")
        closed = "valve_closed_flow" in meter.faults and at_fault
        yield _r(meter, "valve.state", t, 0.0 if closed else 1.0, "")
    else:
        yield _r(meter, "heat.energy", t, value, "kWh")
        yield _r(meter, "volume.heat", t, round(value / 50, 3), "m3")
        supply, ret = 70.0 + (k % 5) * 0.3, 45.0 + (k % 3) * 0.2
        if "supply_below_return" in meter.faults and day == meter.fault_day:
            supply, ret = ret - 3.0, supply
        yield _r(meter, "temperature.supply", t, supply, "°C")
        yield _r(meter, "temperature.return", t, ret, "°C")
    if "clock_drift" in meter.faults:
        drift = CLOCK_DRIFT_S if at_fault else 1.0
        yield _r(meter, "meter.clock_deviation", t, drift, "s")
