"""Meter readings at any instant: registers (with initial value, replacement, rollover) and instantaneous values.

Registers show ``init + Σ factor·(effective(t) − effective(start of this meter's
generation))`` truncated to the register's resolution (0.01) and taken modulo
its width (10⁶): they only grow, except when they roll over or the meter is
replaced (a new meter starts at 0). Instantaneous values are the slot's
average rates, so power integrates exactly to energy and flow to volume.
"""

from __future__ import annotations

import cmath
import math
from collections import OrderedDict
from collections.abc import Collection

from emms_sim.calendar import SLOT_S, LocalCalendar
from emms_sim.channels import WATER_HEAT_KWH_PER_M3K, heat_flow_m3h, register_sources
from emms_sim.controls import ControlLedger
from emms_sim.field_events import FieldSchedule
from emms_sim.fleet import REGISTER_WIDTH, Fleet, MeterSpec
from emms_sim.hashing import TAG_METER, unit
from emms_sim.items import TARIFF_SUFFIX
from emms_sim.registers import RegisterModel
from emms_sim.supply_quality import heat_pressure, pressure_offset, voltage_offset

_HUNDREDTHS = int(REGISTER_WIDTH * 100)
Reading = dict[str, float | None]


def _r(value: float, decimals: int) -> float:
    return round(value, decimals)


def _sum_register(out: Reading, quadrants: tuple[str, str], suffix: str) -> float:
    """Combined reactive register (Q1+Q2 or Q3+Q4) as the meter shows it."""
    total = sum(out[f"energy.reactive.{q}.{suffix}"] or 0.0 for q in quadrants)
    return (math.floor(total * 100 + 1e-6) % _HUNDREDTHS) / 100


class MeterModel:
    """Computes what every meter shows at any instant."""

    def __init__(self, fleet: Fleet, cal: LocalCalendar, schedule: FieldSchedule, ledger: ControlLedger) -> None:
        self.fleet = fleet
        self.cal = cal
        self.schedule = schedule
        self.ledger = ledger
        self.regs = RegisterModel(cal, schedule, ledger)
        self._fixed: OrderedDict[tuple[int, str, float], float] = OrderedDict()
        self._inits: dict[tuple[int, str], float] = {}  # (meter, register) → initial value (a meter constant)
        self._init_parts: dict[tuple[int, str], tuple[float, float]] = {}  # (meter, channel) → its two factors

    # ---- registers -------------------------------------------------------------------------
    def sources(self, meter: MeterSpec) -> dict[str, tuple[tuple[str, float], ...]]:
        return register_sources(meter)  # one shared table per utility and PV

    def _raw_fixed(self, meter: MeterSpec, channel: str, ts: float) -> float:
        """raw() at a fixed instant (install, replacement, rollover target), cached."""
        key = (meter.key, channel, ts)
        value = self._fixed.get(key)
        if value is None:
            value = self.regs.raw_once(meter, channel, ts)
            self._fixed[key] = value
            if len(self._fixed) > 200_000:
                self._fixed.popitem(last=False)
        return value

    def _effective_at_start(self, meter: MeterSpec, channel: str, start: float) -> float:
        value = self._raw_fixed(meter, channel, start)
        for a, b in self.ledger.off_intervals(meter.meter_id, start):
            value -= self.regs.raw(meter, channel, b) - self.regs.raw(meter, channel, a)
        return value

    def _init(self, meter: MeterSpec, name: str, terms: tuple[tuple[str, float], ...]) -> float:
        """A register's value when the meter was installed: a constant of the meter, computed once."""
        key = (meter.key, name)
        value = self._inits.get(key)
        if value is None:
            value = self._initial(meter, terms)
            if len(self._inits) > 131072:
                self._inits.clear()
            self._inits[key] = value
        return value

    def _initial(self, meter: MeterSpec, terms: tuple[tuple[str, float], ...]) -> float:
        if meter.rollover_at is not None and meter.rollover_at > meter.installed_at:
            at, inst = meter.rollover_at, meter.installed_at
            run = sum(f * (self._raw_fixed(meter, ch, at) - self._raw_fixed(meter, ch, inst)) for ch, f in terms)
            return (REGISTER_WIDTH - run) % REGISTER_WIDTH if terms else 0.0
        total = 0.0
        for ch, f in terms:
            draw, history = self._initial_parts(meter, ch)
            total += f * draw * history
        return total

    def _initial_parts(self, meter: MeterSpec, ch: str) -> tuple[float, float]:
        """A channel's share of the initial registers: a seeded factor and the 400 days before the install
        day (the total register and the tariff register both use it: computed once)."""
        key = (meter.key, ch)
        found = self._init_parts.get(key)
        if found is None:
            day, _ = self.cal.position_ts(meter.installed_at)
            channel = self.regs.channel(meter, ch)
            found = (unit(meter.key, TAG_METER, 30, channel.tag), channel.series.mean_sum(day - 400, day))
            if len(self._init_parts) > 131072:
                self._init_parts.clear()
            self._init_parts[key] = found
        return found

    def register(self, meter: MeterSpec, name: str, ts: float) -> float | None:
        """A register's displayed value at ``ts`` (None if the meter is not there)."""
        if not meter.present(ts):
            return None
        terms = self.sources(meter)[name]
        gen = meter.generation(ts)
        start = meter.replaced_at if gen and meter.replaced_at is not None else meter.installed_at
        value = 0.0 if gen else self._init(meter, name, terms)
        for ch, f in terms:
            value += f * (self.regs.effective(meter, ch, ts) - self._effective_at_start(meter, ch, start))
        return (math.floor(value * 100.0 + 1e-6) % _HUNDREDTHS) / 100.0

    def clock_offset(self, meter: MeterSpec, ts: float) -> float:
        """Seconds the meter's clock is ahead of true time (monthly sync by the concentrator, or the master's)."""
        since = max(self.schedule.month_start(ts), meter.installed_at)
        synced = self.ledger.last_clock_sync(meter.meter_id, ts)
        if synced is not None:
            since = max(since, synced)
        return meter.drift_ppm * 1e-6 * (ts - since)

    # ---- readings --------------------------------------------------------------------------
    def reading(self, meter: MeterSpec, ts: float) -> Reading | None:
        """Every item of the meter at ``ts``; None when the meter is not installed (or removed)."""
        if not meter.present(ts):
            return None
        if meter.utility == "electricity":
            out = self._electricity(meter, ts)
        elif meter.utility == "heat":
            out = self._heat(meter, ts)
        else:
            out = self._flow_meter(meter, ts)
        out["clock.offset"] = _r(self.clock_offset(meter, ts), 1)
        return out

    def energy(self, meter: MeterSpec, ts: float, prefixes: Collection[str]) -> Reading | None:
        """The electricity energy registers under ``prefixes`` (``energy.active.import``, ``energy.reactive.q1``,
        ``energy.reactive.export`` …), every tariff, exactly as :meth:`reading` has them — without the other
        registers and the instantaneous values a frozen-data answer does not carry. None when not installed."""
        if not meter.present(ts):
            return None
        want = set(prefixes)
        if "energy.reactive.import" in want:
            want.update(("energy.reactive.q1", "energy.reactive.q2"))
        if "energy.reactive.export" in want:
            want.update(("energy.reactive.q3", "energy.reactive.q4"))
        three = meter.phases == 3
        out: Reading = {}
        for i, suffix in enumerate(TARIFF_SUFFIX):
            if "energy.active.import" in want:
                out[f"energy.active.import.{suffix}"] = self.register(meter, f"imp{i}", ts)
            if "energy.active.export" in want:
                out[f"energy.active.export.{suffix}"] = self.register(meter, f"exp{i}", ts)
            for q in ("q1", "q2", "q3", "q4"):
                if f"energy.reactive.{q}" in want:
                    out[f"energy.reactive.{q}.{suffix}"] = self.register(meter, f"{q}_{i}", ts) if three else None
        for combined, quadrants in (("import", ("q1", "q2")), ("export", ("q3", "q4"))):
            if f"energy.reactive.{combined}" in want:
                for suffix in TARIFF_SUFFIX:
                    out[f"energy.reactive.{combined}.{suffix}"] = \
                        _sum_register(out, quadrants, suffix) if three else None
        return out

    def instant(self, meter: MeterSpec, ts: float) -> Reading | None:
        """An electricity meter's instantaneous values at ``ts`` (power, voltage, current, power factor …)
        exactly as :meth:`reading` has them, without its registers (what a load curve carries)."""
        if not meter.present(ts) or meter.utility != "electricity":
            return None
        return self._electricity_instant(meter, ts)

    def _electricity(self, meter: MeterSpec, ts: float) -> Reading:
        out: Reading = {}
        three = meter.phases == 3
        for i, suffix in enumerate(TARIFF_SUFFIX):
            out[f"energy.active.import.{suffix}"] = self.register(meter, f"imp{i}", ts)
            out[f"energy.active.export.{suffix}"] = self.register(meter, f"exp{i}", ts)
            for q in ("q1", "q2", "q3", "q4"):
                out[f"energy.reactive.{q}.{suffix}"] = self.register(meter, f"{q}_{i}", ts) if three else None
        if three:
            for suffix in TARIFF_SUFFIX:
                out[f"energy.reactive.import.{suffix}"] = _sum_register(out, ("q1", "q2"), suffix)
                out[f"energy.reactive.export.{suffix}"] = _sum_register(out, ("q3", "q4"), suffix)
        else:
            for suffix in TARIFF_SUFFIX:
                out[f"energy.reactive.import.{suffix}"] = out[f"energy.reactive.export.{suffix}"] = None
        out.update(self._electricity_instant(meter, ts))
        return out

    def _electricity_instant(self, meter: MeterSpec, ts: float) -> Reading:
        regs, three = self.regs, meter.phases == 3
        imp = sum(regs.rate(meter, f"imp{k}", ts) for k in range(1, 5))
        exp = sum(regs.rate(meter, f"exp{k}", ts) for k in range(1, 5)) if meter.has_pv else 0.0
        q = sum(regs.rate(meter, f"rq{k}", ts) for k in range(1, 5)) + 0.05 * exp
        p = imp - exp
        s = math.hypot(p, q)
        pf = abs(p) / s if s > 1e-9 else 1.0
        powered = self.schedule.powered(meter.terminal_index, ts)
        day, sec = self.cal.position_ts(ts)
        slot = min(int(sec // SLOT_S), 95)
        state = regs.day(meter, day)
        peak = meter.scale / 24.0 * 3.0
        shares = self._phase_shares(meter) if three else (1.0, 0.0, 0.0)
        out: Reading = {"power.active.total": _r(p, 4), "power.reactive.total": _r(q, 4) if three else None,
                        "power.apparent.total": _r(s, 4) if three else None, "power_factor.total": _r(pf, 3)}
        currents: list[complex] = []
        for idx, ph in enumerate("abc"):
            present = idx == 0 or three
            base = 220.0 * (1.0 + (unit(meter.key, TAG_METER, 40) - 0.5) * 0.04
                            + (unit(meter.key, TAG_METER, 41 + idx) - 0.5) * 0.01)
            volts = (base - 6.0 * min(1.0, abs(p) / peak) + (state.volt[idx][slot] - 0.5) * 2.0
                     + voltage_offset(meter, sec)) if powered else 0.0
            pph, qph = p * shares[idx], q * shares[idx]
            amps = math.hypot(pph, qph) * 1000.0 / volts if volts > 0 else 0.0
            currents.append(cmath.rect(amps, -2.0 * math.pi * idx / 3.0))
            out[f"voltage.{ph}"] = _r(volts, 1) if present else None
            out[f"current.{ph}"] = _r(amps, 3) if present else None
            out[f"power.active.{ph}"] = _r(pph, 4) if three else None
            out[f"power.reactive.{ph}"] = _r(qph, 4) if three else None
            out[f"power.apparent.{ph}"] = _r(math.hypot(pph, qph), 4) if three else None
            out[f"power_factor.{ph}"] = _r(pf, 3) if three else None
        out["current.n"] = _r(abs(sum(currents)), 3) if three else None
        out["frequency"] = _r(50.0 + (state.misc[slot] - 0.5) * 0.1, 2) if powered else None
        out["relay.state"] = 0.0 if self.ledger.cut_off(meter.meter_id, ts) else 1.0
        return out

    def _phase_shares(self, meter: MeterSpec) -> tuple[float, float, float]:
        raw = [1.0 + (unit(meter.key, TAG_METER, 50 + i) - 0.5) * 0.3 for i in range(3)]
        total = sum(raw)
        return raw[0] / total, raw[1] / total, raw[2] / total

    def _flow_meter(self, meter: MeterSpec, ts: float) -> Reading:
        flow = self.regs.rate(meter, "vol", ts)
        day, sec = self.cal.position_ts(ts)
        noise = self.regs.day(meter, day).misc[min(int(sec // SLOT_S), 95)] - 0.5
        cut = self.ledger.cut_off(meter.meter_id, ts)
        out: Reading = {f"{meter.utility}.volume": self.register(meter, "vol", ts), "flow.rate": _r(flow, 4)}
        if meter.utility == "water":
            p0 = 0.28 + 0.08 * unit(meter.key, TAG_METER, 60)
            out["pressure"] = _r(p0 - 0.04 * min(1.0, flow / 0.5) + noise * 0.01 + pressure_offset(meter, sec), 5)
        else:
            p0 = 2.0 + (unit(meter.key, TAG_METER, 60) - 0.5) * 0.2
            out["pressure"] = _r((p0 - 0.05 * min(1.0, flow) + noise * 0.02) / 1000.0  # kPa → MPa
                                 + pressure_offset(meter, sec), 5)
        out["valve.state"] = 0.0 if cut or self.schedule.leaking(meter, ts) else 1.0
        start = meter.replaced_at if meter.generation(ts) and meter.replaced_at is not None else meter.installed_at
        years = (ts - start) / (365.25 * 86400.0)
        volts = _r(max(2.9, 3.65 - 0.1 * years), 2)
        out["battery.voltage"] = volts
        out["battery.low"] = 1.0 if volts < 3.2 else 0.0
        return out

    def _heat(self, meter: MeterSpec, ts: float) -> Reading:
        power = self.regs.rate(meter, "heat", ts)
        flow = self.regs.rate(meter, "hvol", ts)
        day, sec = self.cal.position_ts(ts)
        noise = self.regs.day(meter, day).misc[min(int(sec // SLOT_S), 95)] - 0.5
        design = heat_flow_m3h(meter) * WATER_HEAT_KWH_PER_M3K * 10.0
        if flow > 1e-6:
            ret = 36.0 + 6.0 * min(1.0, power / design) + noise * 0.4
            supply = ret + power / (WATER_HEAT_KWH_PER_M3K * flow)
        else:
            ret = 20.0 + noise * 0.4
            supply = ret + 0.3
        start = meter.replaced_at if meter.generation(ts) and meter.replaced_at is not None else meter.installed_at
        return {
            "heat.energy": self.register(meter, "heat", ts), "volume.heat": self.register(meter, "hvol", ts),
            "heat.power": _r(power, 2), "flow.rate": _r(flow, 4),
            "temperature.supply": _r(supply, 2), "temperature.return": _r(ret, 2),
            "pressure": _r(heat_pressure(meter, sec, noise), 4),
            "working_hours": float(int((ts - start) // 3600)),
            "valve.state": 0.0 if self.ledger.cut_off(meter.meter_id, ts) else 1.0,
        }
