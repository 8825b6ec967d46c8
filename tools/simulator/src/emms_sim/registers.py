"""Cumulative registers from closed-form daily totals spread over the day's quarter-hours.

A *channel* is one physical accumulation (import energy in tariff 2, water
volume, heat …). Its value at the start of local day D is closed form (see
``series.py``); within the day the day's total is spread over the 96 slots by
weights drawn once per (meter, day) — the load profile times noise, zero while
the site has no power — and is linear inside a slot. So the value at any
instant costs one cached day computation, and the slot's average rate is both
the instantaneous power/flow and exactly the register's slope.

A day is computed only as far as it is asked (:class:`DayState`): a value at
local midnight — every daily and monthly freeze — is the closed-form start
alone, without the day's draws; an instant asked about once (a meter's install
instant) needs the two fractions around it, not the day's 97 (:meth:`RegisterModel.raw_once`).
Each shortcut computes the very same floating-point operations as the full day.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass
from functools import reduce
from itertools import accumulate
from operator import add

from emms_sim.calendar import SLOT_S, SLOTS_PER_DAY, LocalCalendar, weekday
from emms_sim.channels import Channel, channel_named, channel_names, shape_of
from emms_sim.controls import ControlLedger
from emms_sim.field_events import FieldSchedule
from emms_sim.fleet import MeterSpec
from emms_sim.hashing import TAG_DAY, TAG_NOISE, draws, mix, mix_more, unit_of
from emms_sim.shapes import HEAT_ENERGY_PROFILE, PV_EXPORT, PV_SLOTS, TARIFF_OF_SLOT


class DayState:
    """One meter-day, filled as far as it is asked.

    A register at local midnight is the closed-form start of the day alone; a
    register at any other instant needs its own channel's 96 slot fractions;
    only instantaneous values need the draws of every slot. So the parts are
    built on first use: the day's seeded stream is drawn only as far as the
    blocks of 96 asked for (load noise, reactive noise, misc, then the three
    voltages), the weights of each kind (load, q, pv, heat, flow) and each
    channel's fractions only for that channel. Every part is the same value
    whichever order they are asked in.
    """

    __slots__ = ("_blocks", "base", "channels", "day", "meter", "starts")

    def __init__(self, meter: MeterSpec, day: int) -> None:
        self.meter = meter
        self.day = day
        self.starts: dict[str, float] = {}  # channel → value at 00:00
        self.channels: dict[str, tuple[float, float, array[float]]] = {}  # → (value at 00:00, day total, fractions)
        self.base: dict[str, list[float]] = {}  # weights kind → 96 slot weights
        self._blocks: list[list[float]] = []  # the stream's draws so far, 96 a block

    def block(self, n: int) -> list[float]:
        """Draws 96·n … 96·n + 95 of the meter-day's stream: 0 load noise, 1 reactive noise, 2 misc,
        3–5 the phase voltages (electricity)."""
        blocks = self._blocks
        if n >= len(blocks):
            # electricity: the load noise alone serves the import registers; whatever else is asked, the rest
            # of the stream follows soon (reactive, PV, misc, voltages): draw it all at once, not block by block
            count = (1 if n == 0 else 6) if self.meter.utility == "electricity" else 3
            stream = draws(SLOTS_PER_DAY * max(count, n + 1), self.meter.key, TAG_DAY, self.day)
            blocks = [stream[i:i + SLOTS_PER_DAY] for i in range(0, len(stream), SLOTS_PER_DAY)]
            if len(blocks) > len(self._blocks):  # never shorter (the truth API computes from other threads)
                self._blocks = blocks
        return blocks[n]

    @property
    def misc(self) -> list[float]:
        """Per-slot uniform draws for instantaneous noise (pressure, temperature, frequency …)."""
        return self.block(2)

    @property
    def volt(self) -> list[list[float]]:
        """Per phase, per slot, for electricity ([] for other meters)."""
        return [self.block(3), self.block(4), self.block(5)] if self.meter.utility == "electricity" else []


@dataclass(frozen=True, slots=True)
class ChannelKeys:
    """What a channel's day computations share over every day: the channel, its noise key, day 0's noise."""

    channel: Channel
    noise_key: int  # mix(meter, TAG_NOISE, tag): a day's noise draw is one more mixing step
    g0: float  # the noise of day 0 (every start subtracts it)


class RegisterModel:
    """Raw cumulative values and slot rates of a meter's channels (before init / rollover / resolution)."""

    def __init__(
        self, cal: LocalCalendar, schedule: FieldSchedule, ledger: ControlLedger, cache_size: int = 4096
    ) -> None:
        self.cal = cal
        self.schedule = schedule
        self.ledger = ledger
        self._keys: dict[tuple[int, str], ChannelKeys] = {}
        self._days: OrderedDict[tuple[int, int], DayState] = OrderedDict()
        self._once: OrderedDict[tuple[int, int], DayState] = OrderedDict()  # days of one-off instants
        self._cache_size = cache_size

    def channels(self, meter: MeterSpec) -> tuple[Channel, ...]:
        return tuple(self.channel(meter, name) for name in channel_names(meter))

    def channel(self, meter: MeterSpec, name: str) -> Channel:
        return self.keys(meter, name).channel

    def keys(self, meter: MeterSpec, name: str) -> ChannelKeys:
        """A channel of the meter (KeyError when it has none) with its noise key, built on first use."""
        found = self._keys.get((meter.key, name))
        if found is None:
            ch = channel_named(meter, name)
            noise_key = mix(meter.key, TAG_NOISE, ch.tag)
            found = ChannelKeys(ch, noise_key, self._noise(ch, noise_key, 0))
            if len(self._keys) > 131072:
                self._keys.clear()
            self._keys[(meter.key, name)] = found
        return found

    def day(self, meter: MeterSpec, day: int) -> DayState:
        key = (meter.key, day)
        state = self._days.get(key)
        if state is not None:
            self._days.move_to_end(key)
            return state
        state = self._days[key] = DayState(meter, day)
        if len(self._days) > self._cache_size:
            self._days.popitem(last=False)
        return state

    @staticmethod
    def _noise(ch: Channel, noise_key: int, day: int) -> float:
        """g(day) = unit(meter, TAG_NOISE, tag, day); zero at a heating season's edges."""
        if ch.gated and not (ch.series.active(day) and ch.series.active(day - 1)):
            return 0.0
        return unit_of(mix_more(noise_key, day))

    def _base(self, state: DayState, kind: str) -> list[float]:
        """The slot weights of one kind (load, q, pv for electricity; heat, flow; load for water / gas)."""
        found = state.base.get(kind)
        if found is not None:
            return found
        meter, day = state.meter, state.day
        if meter.utility == "heat":
            if kind == "heat":
                n_load = state.block(0)
                found = [HEAT_ENERGY_PROFILE[i] * (0.85 + 0.3 * n_load[i]) for i in range(SLOTS_PER_DAY)]
            else:
                n_q = state.block(1)
                found = [0.95 + 0.1 * n_q[i] for i in range(SLOTS_PER_DAY)]
        elif meter.utility != "electricity":
            profile = shape_of(meter).profile(weekday(day))
            n_load = state.block(0)
            found = [profile[i] * (0.3 + 1.4 * n_load[i]) for i in range(SLOTS_PER_DAY)]
        elif kind == "q":
            n_q = state.block(1)
            found = [w * (0.8 + 0.4 * n_q[i]) for i, w in enumerate(self._base(state, "load"))]
        else:
            dead: set[int] = set()
            window = self.schedule.outage(meter.terminal_index, day)
            if window is not None:
                dead.update(range(int(window[0] // SLOT_S), int(window[1] // SLOT_S)))
            if kind == "load":
                profile = shape_of(meter).profile(weekday(day))
                no_import = dead | (set(PV_SLOTS) if meter.has_pv else set())
                n_load = state.block(0)
                found = [0.0 if i in no_import else profile[i] * (0.5 + n_load[i]) for i in range(SLOTS_PER_DAY)]
            else:
                pv = PV_EXPORT.weekday_profile
                n_misc = state.block(2)
                found = [pv[i] * (0.7 + 0.6 * n_misc[i]) if i in PV_SLOTS and i not in dead else 0.0
                         for i in range(SLOTS_PER_DAY)]
        state.base[kind] = found
        return found

    def _start(self, state: DayState, name: str) -> float:
        """A channel's value at 00:00 of the day: closed form, no slot draws."""
        found = state.starts.get(name)
        if found is None:
            day = state.day
            keys = self.keys(state.meter, name)
            ch = keys.channel
            gd = self._noise(ch, keys.noise_key, day)
            found = state.starts[name] = ch.series.mean_sum(0, day) + ch.noise * (gd - keys.g0)
        return found

    def _channel_day(self, state: DayState, name: str) -> tuple[float, float, array[float]]:
        """(value at 00:00, the day's total, prefix fractions of the 96 slots) of one channel."""
        found = state.channels.get(name)
        if found is not None:
            return found
        start, total, w, weight_sum = self._weights(state, name)
        # prefix[0] = 0, prefix[i + 1] = (w[0] + … + w[i]) / Σw, summed left to right; the last is exactly 1
        prefix = array("d", [acc / weight_sum for acc in accumulate(w, initial=0.0)])
        prefix[SLOTS_PER_DAY] = 1.0
        found = state.channels[name] = (start, total, prefix)
        return found

    def _weights(self, state: DayState, name: str) -> tuple[float, float, list[float], float]:
        """(value at 00:00, the day's total, the channel's 96 slot weights, their sum)."""
        day = state.day
        keys = self.keys(state.meter, name)
        ch = keys.channel
        start = self._start(state, name)
        gd, gn = self._noise(ch, keys.noise_key, day), self._noise(ch, keys.noise_key, day + 1)
        total = ch.series.mean(day) + ch.noise * (gn - gd)
        src = self._base(state, ch.weights)
        tariff = ch.tariff
        w = list(src) if tariff == 0 else [v if t == tariff else 0.0 for v, t in zip(src, TARIFF_OF_SLOT, strict=True)]
        weight_sum = sum(w)
        if weight_sum <= 0.0:
            w = [1.0 if tariff == 0 or t == tariff else 0.0 for t in TARIFF_OF_SLOT]
            weight_sum = sum(w)
        return start, max(total, 0.0), w, weight_sum

    def raw(self, meter: MeterSpec, name: str, ts: float) -> float:
        """Cumulative value of a channel at ``ts`` as if the supply had never been cut."""
        day, sec = self.cal.position_ts(ts)
        state = self.day(meter, day)
        if sec == 0.0:
            # slot 0, fraction 0: start + total · (prefix[0] + (prefix[1] − prefix[0]) · 0) = start + 0
            return self._start(state, name) + 0.0
        slot = min(int(sec // SLOT_S), SLOTS_PER_DAY - 1)
        frac = (sec - slot * SLOT_S) / SLOT_S
        start, total, prefix = self._channel_day(state, name)
        return float(start + total * (prefix[slot] + (prefix[slot + 1] - prefix[slot]) * frac))

    def raw_once(self, meter: MeterSpec, name: str, ts: float) -> float:
        """``raw()`` at an instant asked about once (an install, replacement or rollover instant): the same
        value, from the two fractions around ``ts`` rather than the day's 97, and nothing kept of the day
        that was not there already."""
        day, sec = self.cal.position_ts(ts)
        key = (meter.key, day)
        state = self._days.get(key)
        if state is None:
            # a meter's channels are asked one after the other: keep the last few such days, apart from the
            # days that are read again and again (a freeze day of the whole fleet)
            state = self._once.get(key)
            if state is None:
                state = self._once[key] = DayState(meter, day)
                if len(self._once) > 64:
                    self._once.popitem(last=False)
        elif name in state.channels:
            return self.raw(meter, name, ts)
        if sec == 0.0:
            return self._start(state, name) + 0.0
        slot = min(int(sec // SLOT_S), SLOTS_PER_DAY - 1)
        frac = (sec - slot * SLOT_S) / SLOT_S
        start, total, w, weight_sum = self._weights(state, name)
        acc = reduce(add, w[:slot], 0.0)  # = accumulate(w, initial=0.0)[slot]: the same additions in order
        low = acc / weight_sum
        high = 1.0 if slot + 1 == SLOTS_PER_DAY else (acc + w[slot]) / weight_sum
        return float(start + total * (low + (high - low) * frac))

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
        _, total, prefix = self._channel_day(self.day(meter, day), name)
        return float(total * (prefix[slot + 1] - prefix[slot]) * (3600.0 / SLOT_S))
