"""Cumulative registers from closed-form daily totals spread over the day's quarter-hours.

A *channel* is one physical accumulation (import energy in tariff 2, water
volume, heat …). Its value at the start of local day D is closed form (see
``series.py``); within the day the day's total is spread over the 96 slots by
weights drawn once per (meter, day) — the load profile times noise, zero while
the site has no power — and is linear inside a slot. So the value at any
instant costs one cached day computation, and the slot's average rate is both
the instantaneous power/flow and exactly the register's slope.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass

from emms_sim.calendar import SLOT_S, SLOTS_PER_DAY, LocalCalendar, weekday
from emms_sim.channels import Channel, channels_for, shape_of
from emms_sim.controls import ControlLedger
from emms_sim.field_events import FieldSchedule
from emms_sim.fleet import MeterSpec
from emms_sim.hashing import TAG_DAY, TAG_NOISE, rng, unit
from emms_sim.shapes import HEAT_ENERGY_PROFILE, PV_EXPORT, PV_SLOTS, TARIFF_OF_SLOT


@dataclass(slots=True)
class DayState:
    """Everything needed for any instant of one meter-day."""

    channels: dict[str, tuple[float, float, array[float]]]  # name → (value at 00:00, day total, prefix fractions)
    misc: list[float]  # per-slot uniform draws for instantaneous noise (pressure, temperature, …)
    volt: list[list[float]]  # per phase, per slot, for electricity


class RegisterModel:
    """Raw cumulative values and slot rates of a meter's channels (before init / rollover / resolution)."""

    def __init__(
        self, cal: LocalCalendar, schedule: FieldSchedule, ledger: ControlLedger, cache_size: int = 4096
    ) -> None:
        self.cal = cal
        self.schedule = schedule
        self.ledger = ledger
        self._channels_cache: dict[int, tuple[Channel, ...]] = {}
        self._days: OrderedDict[tuple[int, int], DayState] = OrderedDict()
        self._cache_size = cache_size

    def channels(self, meter: MeterSpec) -> tuple[Channel, ...]:
        found = self._channels_cache.get(meter.key)
        if found is None:
            found = channels_for(meter)
            if len(self._channels_cache) > 65536:
                self._channels_cache.clear()
            self._channels_cache[meter.key] = found
        return found

    def channel(self, meter: MeterSpec, name: str) -> Channel:
        for ch in self.channels(meter):
            if ch.name == name:
                return ch
        raise KeyError(name)

    def day(self, meter: MeterSpec, day: int) -> DayState:
        key = (meter.key, day)
        state = self._days.get(key)
        if state is not None:
            self._days.move_to_end(key)
            return state
        state = self._build_day(meter, day)
        self._days[key] = state
        if len(self._days) > self._cache_size:
            self._days.popitem(last=False)
        return state

    def _noise(self, meter: MeterSpec, ch: Channel, day: int) -> float:
        if ch.gated and not (ch.series.active(day) and ch.series.active(day - 1)):
            return 0.0
        return unit(meter.key, TAG_NOISE, ch.tag, day)

    def _base_weights(self, meter: MeterSpec, day: int, draws: tuple[list[float], ...]) -> dict[str, list[float]]:
        n_load, n_q, n_misc = draws
        out: dict[str, list[float]] = {}
        if meter.utility == "heat":
            out["heat"] = [HEAT_ENERGY_PROFILE[i] * (0.85 + 0.3 * n_load[i]) for i in range(SLOTS_PER_DAY)]
            out["flow"] = [0.95 + 0.1 * n_q[i] for i in range(SLOTS_PER_DAY)]
            return out
        profile = shape_of(meter).profile(weekday(day))
        if meter.utility != "electricity":
            out["load"] = [profile[i] * (0.3 + 1.4 * n_load[i]) for i in range(SLOTS_PER_DAY)]
            return out
        dead: set[int] = set()
        window = self.schedule.outage(meter.terminal_index, day)
        if window is not None:
            dead.update(range(int(window[0] // SLOT_S), int(window[1] // SLOT_S)))
        no_import = dead | (set(PV_SLOTS) if meter.has_pv else set())
        out["load"] = [0.0 if i in no_import else profile[i] * (0.5 + n_load[i]) for i in range(SLOTS_PER_DAY)]
        out["q"] = [w * (0.8 + 0.4 * n_q[i]) for i, w in enumerate(out["load"])]
        pv = PV_EXPORT.weekday_profile
        out["pv"] = [pv[i] * (0.7 + 0.6 * n_misc[i]) if i in PV_SLOTS and i not in dead else 0.0
                     for i in range(SLOTS_PER_DAY)]
        return out

    def _build_day(self, meter: MeterSpec, day: int) -> DayState:
        draw = rng(meter.key, TAG_DAY, day).random
        draws = tuple([draw() for _ in range(SLOTS_PER_DAY)] for _ in range(3))
        volt = [[draw() for _ in range(SLOTS_PER_DAY)] for _ in range(3)] if meter.utility == "electricity" else []
        base = self._base_weights(meter, day, draws)
        channels: dict[str, tuple[float, float, array[float]]] = {}
        for ch in self.channels(meter):
            g0, gd, gn = self._noise(meter, ch, 0), self._noise(meter, ch, day), self._noise(meter, ch, day + 1)
            start = ch.series.mean_sum(0, day) + ch.noise * (gd - g0)
            total = ch.series.mean(day) + ch.noise * (gn - gd)
            src = base[ch.weights]
            w = [src[i] if ch.tariff == 0 or TARIFF_OF_SLOT[i] == ch.tariff else 0.0 for i in range(SLOTS_PER_DAY)]
            weight_sum = sum(w)
            if weight_sum <= 0.0:
                w = [1.0 if ch.tariff == 0 or TARIFF_OF_SLOT[i] == ch.tariff else 0.0 for i in range(SLOTS_PER_DAY)]
                weight_sum = sum(w)
            prefix = array("d", [0.0] * (SLOTS_PER_DAY + 1))
            acc = 0.0
            for i in range(SLOTS_PER_DAY):
                acc += w[i]
                prefix[i + 1] = acc / weight_sum
            prefix[SLOTS_PER_DAY] = 1.0
            channels[ch.name] = (start, max(total, 0.0), prefix)
        return DayState(channels, draws[2], volt)

    def raw(self, meter: MeterSpec, name: str, ts: float) -> float:
        """Cumulative value of a channel at ``ts`` as if the supply had never been cut."""
        day, sec = self.cal.position_ts(ts)
        slot = min(int(sec // SLOT_S), SLOTS_PER_DAY - 1)
        frac = (sec - slot * SLOT_S) / SLOT_S
        start, total, prefix = self.day(meter, day).channels[name]
        return float(start + total * (prefix[slot] + (prefix[slot + 1] - prefix[slot]) * frac))

    def effective(self, meter: MeterSpec, name: str, ts: float) -> float:
        """Cumulative value with the master's supply cuts (trip / valve close) taken out."""
        value = self.raw(meter, name, ts)
        for a, b in self.ledger.off_intervals(meter.meter_id, ts):
            value -= self.raw(meter, name, b) - self.raw(meter, name, a)
        return value

    def rate(self, meter: MeterSpec, name: str, ts: float) -> float:
        """Average rate per hour over the slot containing ``ts`` (0 while the supply is cut)."""
        if self.ledger.cut_off(meter.meter_id, ts):
            return 0.0
        day, sec = self.cal.position_ts(ts)
        slot = min(int(sec // SLOT_S), SLOTS_PER_DAY - 1)
        _, total, prefix = self.day(meter, day).channels[name]
        return float(total * (prefix[slot + 1] - prefix[slot]) * (3600.0 / SLOT_S))
