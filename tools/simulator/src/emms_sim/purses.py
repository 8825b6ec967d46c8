"""Prepayment purses the devices keep: a concentrator's purchase control (1376.1 AFN04 F47, AFN05 F16 / F24,
AFN0C F23), a prepaid CJ/T 188 meter's purse (A010 price, A013 purchase, 8105 read-back) and a DL/T 645-2007
cost-control meter's (04050101 price, 0400100x thresholds, 070102FF recharge; :mod:`emms_sim.meter_purse_645`).

A purse counts down with the consumption the simulator already models: what remains at ``ts`` is
what remained when it was last marked (a purchase, a price change) minus the counted register's
increase since then (not truncated to the display's 0.01), times the price: a concentrator's fee
purse counts 厘 at the rate of the half hour in force (F21 period → F22 rate, 厘 per kWh:
``Purse.prices``, :mod:`emms_sim.tariffs`), a 188 meter's counts cents at its A010 price. The
register stands still while the supply is cut (``ControlLedger``), so a tripped purse stops
counting. Crossing the alarm level raises an alarm once (an event record), crossing the trip level
cuts the supply once — at the instant of the crossing, found by bisection on the closed-form
register. Purses are settled lazily: before the terminal answers any frame and before the truth is
read, so no read can see consumption past a trip that already happened.

A purchase adds to what remains (or replaces it: the F47 refresh flag); when the purse was tripped
and the new amount lifts it above the trip level, the supply comes back (the customer closes:
allow close and close in one, as the simulator's AFN05 F2 does) and the alarm re-arms above the
alarm level. A concentrator takes a bill number only once (a repeated F47 changes nothing) and a
188 meter only the purchase number after its last (mod 100).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from emms_sim.fleet import MeterSpec
from emms_sim.meters import MeterModel
from emms_sim.shapes import TARIFF_OF_SLOT

_REGISTER = {"electricity": "imp0", "water": "vol", "gas": "vol", "heat": "heat"}
RESOLUTION_S = 1.0
HALF_HOUR_S = 1800.0

Event = dict[str, Any]


@dataclass(slots=True)
class Purse:
    """One purse. Amounts are in its unit: 厘 (a concentrator's fee purse) or cents (a 188 meter's); ``price``
    is that unit per unit of the register (厘 per kWh, cents per m³ / GJ)."""

    owner: str  # "terminal" (concentrator purchase control) or "meter"
    key: str  # "<terminal key>/<group>" or the meter id
    meter_id: str
    price: float  # units of amount per unit of register (1.0: the purse counts the register itself)
    alarm: float
    trip: float
    remaining_at_mark: float = 0.0
    mark_ts: float = 0.0
    settled_ts: float = 0.0
    bill_number: int = -1  # the last purchase number taken (-1: none)
    purchases: int = 0
    total_bought: float = 0.0
    last_bought: float = 0.0
    control_on: bool = True  # a concentrator's F16 / F24 (off until F16); a meter's purse is always on
    alarmed: bool = False
    tripped: bool = False
    tripped_at: float | None = None
    allow_close: float | None = None  # a 645 cost-control meter's allow-close level: a restore needs more than it
    alarm2: float | None = None  # a 645 meter's alarm amount 2 (kept and reported; the alarm acts on ``alarm``)
    hoard: float | None = None  # a 645 meter's hoarding limit: a purchase above it is refused
    customer: str = ""  # a 645 meter's customer number (set by its first recharge)
    prices: tuple[float, ...] | None = None  # a concentrator's: 厘 per kWh of each half hour (F21 → F22)
    history: list[Event] = field(default_factory=list)
    unreported: list[Event] = field(default_factory=list)  # alarms / trips the concentrator has not recorded yet

    def as_json(self, remaining: float) -> dict[str, Any]:
        return {"owner": self.owner, "key": self.key, "meter_id": self.meter_id, "price": self.price,
                "alarm": self.alarm, "trip": self.trip, "remaining": round(remaining, 4),
                "purchase_number": self.bill_number, "purchases": self.purchases,
                "total_bought": round(self.total_bought, 4), "last_bought": round(self.last_bought, 4),
                "control_on": self.control_on, "alarmed": self.alarmed, "tripped": self.tripped,
                "allow_close": self.allow_close, "alarm2": self.alarm2, "hoard": self.hoard,
                "customer": self.customer, "prices": None if self.prices is None else list(self.prices),
                "history": list(self.history)}


class Purses:
    """Every purse of one simulator process; ``cut`` changes the supply (the ledger's ``set_cut_off``)."""

    def __init__(self, model: MeterModel, cut: Callable[[str, float, bool], bool],
                 meter_of: Callable[[str], MeterSpec | None]) -> None:
        self._model = model
        self._cut = cut
        self._meter_of = meter_of
        self._purses: dict[str, Purse] = {}
        #: told of every alarm / trip / restore: (purse, event) — the concentrator turns them into ERC records
        self.listeners: list[Callable[[Purse, Event], None]] = []

    # ---- reading ---------------------------------------------------------------------------------
    def get(self, key: str) -> Purse | None:
        return self._purses.get(key)

    def all(self) -> list[Purse]:
        return [self._purses[k] for k in sorted(self._purses)]

    def used(self, purse: Purse, since: float, ts: float) -> float:
        """The counted register's increase over [since, ts], not truncated to the display's 0.01 (supply cuts
        taken out): a purse counts what flowed, however slowly."""
        meter = self._meter_of(purse.meter_id)
        if meter is None or ts <= since:
            return 0.0
        return self._increase(meter, _REGISTER.get(meter.utility, "vol"), since, ts)

    def _increase(self, meter: MeterSpec, register: str, since: float, ts: float) -> float:
        regs = self._model.regs
        return sum(f * (regs.effective(meter, ch, ts) - regs.effective(meter, ch, since))
                   for ch, f in self._model.sources(meter)[register])

    def cost(self, purse: Purse, since: float, ts: float) -> float:
        """What the purse counted over [since, ts], in its unit: the register's increase times the price — per
        half hour at that half hour's price when the purse has ``prices`` (a concentrator's TOU rates)."""
        if purse.prices is None:
            return self.used(purse, since, ts) * purse.price
        meter = self._meter_of(purse.meter_id)
        if meter is None or ts <= since:
            return 0.0
        register = _REGISTER.get(meter.utility, "vol")
        by_tariff = _price_of_meter_tariff(purse.prices)
        if by_tariff is not None and register == "imp0":  # the meter's own t1…t4 split the day the same way
            return sum(price * self._increase(meter, f"imp{k}", since, ts) for k, price in by_tariff.items())
        cal, total, start = self._model.cal, 0.0, since
        while start < ts:
            _, sec = cal.position_ts(start)
            half = min(int(sec // HALF_HOUR_S), len(purse.prices) - 1)
            end = min(ts, start - sec + (half + 1) * HALF_HOUR_S)
            end = end if end > start else min(ts, start + HALF_HOUR_S)
            total += purse.prices[half] * self._increase(meter, register, start, end)
            start = end
        return total

    def remaining(self, purse: Purse, ts: float) -> float:
        return purse.remaining_at_mark - self.cost(purse, purse.mark_ts, ts)

    # ---- changes ---------------------------------------------------------------------------------
    def open(self, owner: str, key: str, meter_id: str, price: float, alarm: float, trip: float, ts: float,
             prices: tuple[float, ...] | None = None) -> Purse:
        """The purse of ``key``, created (empty) or with new levels and price(s) (re-marked at ``ts``)."""
        purse = self._purses.get(key)
        if purse is None:
            purse = Purse(owner, key, meter_id, price, alarm, trip, control_on=owner != "terminal", prices=prices)
            self._purses[key] = purse
            self._mark(purse, 0.0, ts)
            purse.settled_ts = ts
        else:
            self.settle(purse, ts)
            left = self.remaining(purse, ts)
            purse.price, purse.alarm, purse.trip, purse.meter_id = price, alarm, trip, meter_id
            purse.prices = prices
            self._mark(purse, left, ts)
        return purse

    def _mark(self, purse: Purse, remaining: float, ts: float) -> None:
        purse.remaining_at_mark = remaining
        purse.mark_ts = ts

    def buy(self, purse: Purse, number: int, amount: float, refresh: bool, ts: float) -> bool:
        """Take a purchase; False when its number was taken before (nothing changes)."""
        if number == purse.bill_number:
            return False
        self.settle(purse, ts)
        left = self.remaining(purse, ts)
        self._mark(purse, amount if refresh else left + amount, ts)
        purse.bill_number = number
        purse.purchases += 1
        purse.total_bought += amount
        purse.last_bought = amount
        self._note(purse, {"kind": "purchase", "ts": ts, "number": number, "amount": amount, "refresh": refresh,
                           "remaining": round(purse.remaining_at_mark, 4)})
        self._after_change(purse, ts)
        return True

    def set_control(self, purse: Purse, on: bool, ts: float) -> None:
        """A concentrator's purchase control on (F16) / off (F24: a tripped purse releases the supply)."""
        self.settle(purse, ts)
        purse.control_on = on
        self._note(purse, {"kind": "control_on" if on else "control_off", "ts": ts})
        if not on and purse.tripped:
            self._restore(purse, ts)
        self._after_change(purse, ts)

    def _after_change(self, purse: Purse, ts: float) -> None:
        left = self.remaining(purse, ts)
        if purse.tripped and left > max(purse.trip, purse.trip if purse.allow_close is None else purse.allow_close):
            self._restore(purse, ts)
        if purse.alarmed and left > purse.alarm:
            purse.alarmed = False
        self.settle(purse, ts)

    def _restore(self, purse: Purse, ts: float) -> None:
        purse.tripped = False
        purse.tripped_at = None
        self._cut(purse.meter_id, ts, False)
        self._note(purse, {"kind": "restore", "ts": ts, "remaining": round(self.remaining(purse, ts), 4)})

    # ---- settling --------------------------------------------------------------------------------
    def settle_all(self, ts: float) -> None:
        for purse in list(self._purses.values()):
            self.settle(purse, ts)

    def settle_meter(self, meter_id: str, ts: float) -> None:
        for purse in list(self._purses.values()):
            if purse.meter_id == meter_id:
                self.settle(purse, ts)

    def settle_prefix(self, prefix: str, ts: float) -> None:
        for key, purse in list(self._purses.items()):
            if key.startswith(prefix):
                self.settle(purse, ts)

    def settle(self, purse: Purse, ts: float) -> None:
        """Carry out the alarm and the trip the purse crossed between its last settling and ``ts``."""
        start = max(purse.settled_ts, purse.mark_ts)
        if ts <= start:
            return
        purse.settled_ts = ts
        if not purse.control_on or not purse.purchases:  # nothing bought yet: not counting (a price alone)
            return
        if not purse.alarmed and self.remaining(purse, ts) <= purse.alarm:
            at = self._crossing(purse, purse.alarm, start, ts)
            purse.alarmed = True
            self._note(purse, {"kind": "alarm", "ts": at, "remaining": round(self.remaining(purse, at), 4)})
        if not purse.tripped and self.remaining(purse, ts) <= purse.trip:
            at = self._crossing(purse, purse.trip, start, ts)
            purse.tripped = True
            purse.tripped_at = at
            self._cut(purse.meter_id, at, True)
            self._note(purse, {"kind": "trip", "ts": at, "remaining": round(self.remaining(purse, at), 4)})

    def _crossing(self, purse: Purse, level: float, lo: float, hi: float) -> float:
        """The first instant in (lo, hi] at which what remains is at or below ``level`` (to a second)."""
        if self.remaining(purse, lo) <= level:
            return lo
        while hi - lo > RESOLUTION_S:
            mid = (lo + hi) / 2
            if self.remaining(purse, mid) <= level:
                hi = mid
            else:
                lo = mid
        return hi

    def _note(self, purse: Purse, event: Event) -> None:
        purse.history.append(event)
        del purse.history[:-50]
        if purse.owner == "terminal":
            purse.unreported.append(event)
        for listener in self.listeners:
            listener(purse, event)


@lru_cache(maxsize=256)
def _price_of_meter_tariff(prices: tuple[float, ...]) -> dict[int, float] | None:
    """Meter tariff k (its register t_k) → the price of every half hour it covers; None when some tariff's half
    hours differ in price (the purse then counts half hour by half hour)."""
    per_half = len(TARIFF_OF_SLOT) // len(prices)
    out: dict[int, float] = {}
    for slot, tariff in enumerate(TARIFF_OF_SLOT):
        price = prices[slot // per_half]
        if out.setdefault(tariff, price) != price:
            return None
    return out
