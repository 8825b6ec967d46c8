"""Field realities scheduled from the seed: outages, cover opening, stuck valves, clock drift, meter changes.

Day-based realities (a site outage, a cover opened, a valve that reports closed
while water still flows) are drawn per (terminal or meter, local day), so the
schedule of any day costs a few hashes and needs nothing earlier. One-off
changes (replacement, removal, addition) are fields of the meter description.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from emms_sim.calendar import DAY_S, SLOT_S, LocalCalendar
from emms_sim.fleet import Fleet, MeterSpec
from emms_sim.hashing import TAG_COVER, TAG_LEAK, TAG_OUTAGE, chance, unit

CLOCK_EVENT_THRESHOLD_S = 60.0  # ERC12-style "meter clock out of tolerance"


@dataclass(frozen=True, slots=True)
class FieldEvent:
    """One thing that happened in the field, as the truth records it (ts = UTC epoch seconds)."""

    ts: float
    kind: str
    terminal_index: int
    pn: int = 0
    meter_id: str | None = None
    important: bool = True
    detail: dict[str, object] = field(default_factory=dict)

    def as_json(self, cal: LocalCalendar) -> dict[str, object]:
        return {
            "at": datetime.fromtimestamp(self.ts, tz=cal.tz).isoformat(),
            "kind": self.kind, "terminal_index": self.terminal_index, "pn": self.pn,
            "meter_id": self.meter_id, "important": self.important, "detail": self.detail,
        }


@lru_cache(maxsize=4096)
def _month_start(offset_minutes: int, day: int, sync_day: int = 1) -> float:
    """Local midnight of the last monthly clock sync at or before local ``day``: day ``sync_day`` of its month
    (clamped to the month's length), else of the month before (asked at every tick: cached per day)."""
    cal = LocalCalendar(offset_minutes)
    today = cal.date_of(day)

    def sync_in(year: int, month: int) -> date:
        return date(year, month, min(sync_day, calendar.monthrange(year, month)[1]))

    sync = sync_in(today.year, today.month)
    if sync > today:
        sync = sync_in(today.year - (today.month == 1), 12 if today.month == 1 else today.month - 1)
    return cal.origin_ts + cal.day_of(sync) * DAY_S


class FieldSchedule:
    """The seeded schedule of a fleet's field realities."""

    def __init__(self, fleet: Fleet, cal: LocalCalendar, days_cache_size: int = 65536) -> None:
        self.fleet = fleet
        self.cal = cal
        self._origin = cal.origin_ts
        self._days: dict[tuple[int, int], tuple[FieldEvent, ...]] = {}
        self._days_cache_size = days_cache_size

    def outage(self, terminal_index: int, day: int) -> tuple[float, float] | None:
        """(start, end) seconds into the local day when the site has no power, slot-aligned."""
        seed = self.fleet.seed
        if not chance(self.fleet.config.rates.outage_per_day, seed, TAG_OUTAGE, terminal_index, day):
            return None
        start = 4 + int(unit(seed, TAG_OUTAGE, terminal_index, day, 1) * 76)  # 01:00 .. 19:45
        length = 1 + int(unit(seed, TAG_OUTAGE, terminal_index, day, 2) * 8)  # 15 min .. 2 h
        return start * SLOT_S, (start + length) * SLOT_S

    def powered(self, terminal_index: int, ts: float) -> bool:
        day, sec = self.cal.position_ts(ts)
        window = self.outage(terminal_index, day)
        return window is None or not window[0] <= sec < window[1]

    def power_restored_at(self, terminal_index: int, ts: float) -> float:
        """When the outage covering ``ts`` ends (``ts`` itself if powered)."""
        day, sec = self.cal.position_ts(ts)
        window = self.outage(terminal_index, day)
        if window is None or not window[0] <= sec < window[1]:
            return ts
        return self._origin + day * DAY_S + window[1]

    def cover_open(self, meter: MeterSpec, day: int) -> float | None:
        if meter.utility != "electricity":
            return None
        seed = self.fleet.seed
        if not chance(self.fleet.config.rates.cover_open_per_day, seed, TAG_COVER, meter.key, day):
            return None
        return unit(seed, TAG_COVER, meter.key, day, 1) * DAY_S

    def leak(self, meter: MeterSpec, day: int) -> tuple[float, float] | None:
        """Window in which the valve reports closed while volume keeps advancing (water / gas)."""
        if meter.utility not in ("water", "gas"):
            return None
        seed = self.fleet.seed
        if not chance(self.fleet.config.rates.valve_leak_per_day, seed, TAG_LEAK, meter.key, day):
            return None
        start = int(unit(seed, TAG_LEAK, meter.key, day, 1) * 72)
        length = 4 + int(unit(seed, TAG_LEAK, meter.key, day, 2) * 20)
        return start * SLOT_S, (start + length) * SLOT_S

    def leaking(self, meter: MeterSpec, ts: float) -> bool:
        day, sec = self.cal.position_ts(ts)
        window = self.leak(meter, day)
        return window is not None and window[0] <= sec < window[1]

    def month_start(self, ts: float) -> float:
        """UTC epoch of the field's last monthly clock sync at or before ``ts``: local midnight of the fleet's
        ``clock_sync_day`` (the 1st by default)."""
        day, _ = self.cal.position_ts(ts)
        return _month_start(self.cal.offset_minutes, day, self.fleet.config.rates.clock_sync_day)

    def events(self, terminal_index: int, ts0: float, ts1: float) -> list[FieldEvent]:
        """Every scheduled event of one concentrator and its meters in [ts0, ts1), in time order."""
        d0, _ = self.cal.position_ts(ts0)
        d1, _ = self.cal.position_ts(ts1)
        out: list[FieldEvent] = []
        for day in range(d0, d1 + 1):
            out.extend(e for e in self.day_events(terminal_index, day) if ts0 <= e.ts < ts1)
        return out

    def day_events(self, terminal_index: int, day: int) -> tuple[FieldEvent, ...]:
        """The scheduled events of one concentrator in one local day, in time order (kept in a bounded cache).

        Every connected terminal pulls its new events each minute; walking its
        fifty meters each time would cost a core at 20,000 terminals, so a day's
        list is computed once and the pulls only filter it.
        """
        key = (terminal_index, day)
        found = self._days.get(key)
        if found is not None:
            return found
        found = self._compute_day(terminal_index, day)
        if len(self._days) >= self._days_cache_size:
            self._days.pop(next(iter(self._days)))
        self._days[key] = found
        return found

    def _compute_day(self, terminal_index: int, day: int) -> tuple[FieldEvent, ...]:
        base = self._origin + day * DAY_S
        end = base + DAY_S
        out: list[FieldEvent] = []
        window = self.outage(terminal_index, day)
        if window is not None:
            off, on = base + window[0], base + window[1]
            out.append(FieldEvent(off, "power_off", terminal_index, detail={"off_at": off}))
            out.append(FieldEvent(on, "power_on", terminal_index, detail={"off_at": off, "on_at": on}))
        for meter in self.fleet.meters_of(terminal_index, cached=False):
            if meter.present(base + DAY_S / 2):
                cover = self.cover_open(meter, day)
                if cover is not None:
                    out.append(FieldEvent(base + cover, "cover_open", terminal_index, meter.pn, meter.meter_id))
                leak = self.leak(meter, day)
                if leak is not None:
                    out.append(FieldEvent(base + leak[0], "valve_closed_flowing", terminal_index, meter.pn,
                                          meter.meter_id, detail={"until": base + leak[1]}))
            out.extend(self._one_offs(meter, base, end))
            out.extend(self._clock_events(meter, base, end))
        out = [e for e in out if base <= e.ts < end]
        out.sort(key=lambda e: (e.ts, e.pn, e.kind))
        return tuple(out)

    def _one_offs(self, meter: MeterSpec, ts0: float, ts1: float) -> list[FieldEvent]:
        out = []
        if meter.pn > self.fleet.config.meters_per:
            out.append(FieldEvent(meter.installed_at, "meter_added", meter.terminal_index, meter.pn, meter.meter_id,
                                  detail={"address": meter.address(0)}))
        if meter.replaced_at is not None:
            out.append(FieldEvent(meter.replaced_at, "meter_replaced", meter.terminal_index, meter.pn, meter.meter_id,
                                  detail={"old_address": meter.address(0), "new_address": meter.address(1)}))
        if meter.removed_at is not None:
            out.append(FieldEvent(meter.removed_at, "meter_removed", meter.terminal_index, meter.pn, meter.meter_id,
                                  detail={"address": meter.address(meter.generation(meter.removed_at))}))
        return [e for e in out if ts0 <= e.ts < ts1]

    def _clock_events(self, meter: MeterSpec, ts0: float, ts1: float) -> list[FieldEvent]:
        """A meter clock drifting past the tolerance before the next monthly sync (electricity)."""
        if meter.utility != "electricity" or abs(meter.drift_ppm) < 1e-9:
            return []
        out = []
        start = self.month_start(ts0)
        while start < ts1:
            nxt = self.month_start(start + 32 * DAY_S)
            cross = max(start, meter.installed_at) + CLOCK_EVENT_THRESHOLD_S / (abs(meter.drift_ppm) * 1e-6)
            if cross < nxt and meter.present(cross):
                out.append(FieldEvent(math.floor(cross), "meter_clock_drift", meter.terminal_index, meter.pn,
                                      meter.meter_id, important=False,
                                      detail={"offset_s": math.copysign(CLOCK_EVENT_THRESHOLD_S, meter.drift_ppm)}))
            start = nxt
        return out
