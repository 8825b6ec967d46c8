"""The ground truth: what every meter measured, at any instant, from the seed (plus the master's commands).

``GroundTruth.truth(meter_id, item, at)`` is the one call tests and benchmarks
need; it is O(1) in the length of history (closed-form day sums and one
cached day per meter). The same seed and config give the same values in any
process; the only run-time input is the :class:`ControlLedger` of trips,
closes and clock syncs that the simulator's concentrators fill in.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from emms_sim.calendar import LocalCalendar, require_aware
from emms_sim.controls import ControlLedger
from emms_sim.field_events import FieldEvent, FieldSchedule
from emms_sim.fleet import Fleet, FleetConfig, MeterSpec
from emms_sim.items import ITEMS
from emms_sim.meters import MeterModel, Reading
from emms_sim.network import NetworkMeterModel
from emms_sim.purses import Purses


class UnknownMeterError(KeyError):
    """No such meter in the fleet."""


class UnknownItemError(KeyError):
    """No such item (see ``emms_sim.items.ITEMS``)."""


class GroundTruth:
    def __init__(self, config: FleetConfig, ledger: ControlLedger | None = None) -> None:
        self.config = config
        self.fleet = Fleet(config)
        self.cal = LocalCalendar(config.tz_offset_minutes)
        self.schedule = FieldSchedule(self.fleet, self.cal)
        self.ledger = ledger if ledger is not None else ControlLedger()
        self.model = (MeterModel if config.network is None else NetworkMeterModel)(
            self.fleet, self.cal, self.schedule, self.ledger)
        #: prepayment purses of concentrators and meters (run-time state, like the ledger)
        self.purses = Purses(self.model, self.ledger.set_cut_off, self.fleet.meter_by_id)

    def meter(self, meter_id: str) -> MeterSpec:
        meter = self.fleet.meter_by_id(meter_id)
        if meter is None:
            raise UnknownMeterError(meter_id)
        return meter

    def truth(self, meter_id: str, item: str, at: datetime) -> float | None:
        """The true value of ``item`` on ``meter_id`` at ``at``; None if the meter was not there or lacks it."""
        if item not in ITEMS:
            raise UnknownItemError(item)
        reading = self.reading(meter_id, at)
        return None if reading is None else reading.get(item)

    def reading(self, meter_id: str, at: datetime) -> Reading | None:
        meter = self.meter(meter_id)
        ts = require_aware(at).timestamp()
        self.purses.settle_meter(meter_id, min(ts, time.time()))  # a trip a purse crossed before ``at`` is in it
        return self.model.reading(meter, ts)

    def purse_states(self, key: str | None = None, at: datetime | None = None) -> list[dict[str, object]]:
        """Every purse (or the one of ``key``: a meter id, or ``<terminal key>/<group>``) settled to ``at``
        (default now): what remains then, levels, purchases, whether alarmed / tripped, its history."""
        now = time.time() if at is None else require_aware(at).timestamp()
        out = []
        for purse in self.purses.all():
            if key is None or purse.key == key or purse.meter_id == key:
                self.purses.settle(purse, now)
                out.append(purse.as_json(self.purses.remaining(purse, now)))
        return out

    def reading_of(self, meter: MeterSpec, ts: float) -> Reading | None:
        return self.model.reading(meter, ts)

    # ---- freezes ---------------------------------------------------------------------------
    def daily_freeze_instant(self, local_date: date) -> datetime:
        """Daily frozen data of date D is the register at local 24:00 of D (00:00 of D+1)."""
        return self.cal.day_start(self.cal.day_of(local_date) + 1)

    def monthly_freeze_instant(self, year: int, month: int) -> datetime:
        """Monthly frozen data of a month is the register at local 00:00 on the 1st of the next month."""
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return self.cal.day_start(self.cal.day_of(nxt))

    def frozen_daily(self, meter_id: str, local_date: date) -> Reading | None:
        return self.reading(meter_id, self.daily_freeze_instant(local_date))

    # ---- network (FleetConfig.network) ---------------------------------------------------------
    def network_loss(self, area_id: str, since: datetime, until: datetime) -> dict[str, Any]:
        """The truth of a network area between two instants (``emms_sim.network_truth.area_truth``)."""
        from emms_sim.network_truth import area_truth

        return area_truth(self.model, area_id, require_aware(since).timestamp(), require_aware(until).timestamp())

    # ---- field -----------------------------------------------------------------------------
    def events(self, terminal_index: int, since: datetime, until: datetime) -> list[FieldEvent]:
        return self.schedule.events(terminal_index, require_aware(since).timestamp(), require_aware(until).timestamp())

    def meters_present(self, terminal_index: int, at: datetime) -> list[MeterSpec]:
        ts = require_aware(at).timestamp()
        return [m for m in self.fleet.meters_of(terminal_index) if m.present(ts)]

    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    def local_today(self, at: datetime | None = None) -> date:
        return self.cal.local(at or self.now()).date()

    def yesterday(self, at: datetime | None = None) -> date:
        return self.local_today(at) - timedelta(days=1)
