"""A DL/T 645-2007 cost-control (费控) meter's purse (the meter-executed prepayment mode for electricity), behind
:mod:`emms_sim.meter_side`. Every simulated 645-2007 meter is a cost-control meter once a price is written.

* 14H 04050101 writes the price (XXXX.XXXX yuan per kWh → cents per kWh); 04001001 / 04001002 alarm amount 1 / 2,
  04001003 the overdraft limit (the meter trips when what remains falls to minus it), 04001004 the hoarding
  limit (a recharge that would lift the purse above it is refused), 04001005 the allow-close limit (after a
  trip, a recharge restores the supply only when what remains is above it) — XXXXXX.XX yuan → cents.
* 03H 070102FF recharge (plaintext, MACs not checked: the simulator has no ESAM): taken when its count is the
  meter's count + 1 (the first one records the customer number, later ones must carry it), answered 83H; the
  meter's own count again is a repeated recharge and any other count a count error — answered C3H with SERR,
  nothing changes (a real meter does the same: a master that retries a recharge cannot pay twice).
* 11H reads: 00900200 remaining (never below 0 on the wire), 00900201 overdraft (what was used past 0),
  03330201 the purchase count, the thresholds and the price as written.

The purse counts the import register (kWh) × price in cents, alarms once at the alarm amount, cuts the supply
at the overdraft limit (:mod:`emms_sim.purses`); status word 3 then reads relay open.
"""

from __future__ import annotations

from emms_protocol.dlt645 import purchase as p645
from emms_protocol.errors import ProtocolError
from emms_sim.fleet import MeterSpec
from emms_sim.purses import Purse, Purses

DEFAULT_ALARM_CENTS = 1000.0
"""Alarm amount 1 until one is written: 10.00 yuan."""
SETTINGS = (p645.PRICE_1, *p645.THRESHOLDS)
READS = (p645.REMAINING, p645.OVERDRAFT, p645.PURCHASE_COUNT, *SETTINGS)
MAX_CENTS = 99_999_999


class NotHeld:
    """The meter keeps no purse (no price written): a read of a cost-control item has no data."""


NOT_HELD = NotHeld()


def _cents(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(round(value * 100))


def write(purses: Purses, meter: MeterSpec, di: int, value: object, ts: float) -> bool:
    """A 14H write of a price or threshold: True when taken."""
    cents = _cents(value)
    if cents is None or cents < 0:
        return False
    purse = purses.get(meter.meter_id)
    if di == p645.PRICE_1:  # XXXX.XXXX yuan: cents per kWh with two decimals, kept exact
        alarm, trip = (purse.alarm, purse.trip) if purse is not None else (DEFAULT_ALARM_CENTS, 0.0)
        purses.open("meter", meter.meter_id, meter.meter_id, float(value) * 100, alarm, trip, ts)  # type: ignore[arg-type]
        return True
    if purse is None:
        purse = purses.open("meter", meter.meter_id, meter.meter_id, 0.0, DEFAULT_ALARM_CENTS, 0.0, ts)
    if di == p645.ALARM_1:
        purses.open("meter", meter.meter_id, meter.meter_id, purse.price, cents, purse.trip, ts)
        if purse.alarmed and purses.remaining(purse, ts) > cents:
            purse.alarmed = False
        return True
    if di == p645.OVERDRAFT_LIMIT:
        purses.open("meter", meter.meter_id, meter.meter_id, purse.price, purse.alarm, -cents, ts)
        return True
    if di == p645.ALARM_2:
        purse.alarm2 = cents
    elif di == p645.HOARD_LIMIT:
        purse.hoard = cents or None  # 0: no limit
    elif di == p645.ALLOW_CLOSE_LIMIT:
        purse.allow_close = cents
    else:
        return False
    return True


def recharge(purses: Purses, meter: MeterSpec, address: str, payload: bytes, ts: float) -> bytes:
    """The answer to a 070102FF recharge (83H taken, C3H with SERR refused)."""
    try:
        bought = p645.parse_recharge(payload)
    except ProtocolError:
        return p645.security_error(address, ["other"], preamble=4)
    purse = purses.get(meter.meter_id)
    if purse is None or purse.price <= 0:
        return p645.security_error(address, ["other"], preamble=4)  # no price: not opened as a cost-control meter
    count = max(purse.bill_number, 0)
    if bought.count == count:
        return p645.security_error(address, ["repeated_recharge"], preamble=4)
    if bought.count != count + 1:
        return p645.security_error(address, ["recharge_count_error"], preamble=4)
    if count > 0 and bought.customer != purse.customer:
        return p645.security_error(address, ["customer_mismatch"], preamble=4)
    purses.settle(purse, ts)
    if purse.hoard is not None and purses.remaining(purse, ts) + bought.amount_cents > purse.hoard:
        return p645.security_error(address, ["hoarding_limit_exceeded"], preamble=4)
    if count == 0:
        purse.customer = bought.customer
    purses.buy(purse, bought.count, float(bought.amount_cents), False, ts)
    return p645.recharge_ack(address, preamble=4)


def value(purses: Purses, meter: MeterSpec, di: int, ts: float) -> object:
    """The 11H answer for a cost-control DI (:data:`READS`), :data:`NOT_HELD` when the meter keeps no purse."""
    purse = purses.get(meter.meter_id)
    if purse is None:
        return NOT_HELD
    purses.settle(purse, ts)
    left = round(purses.remaining(purse, ts))
    if di == p645.REMAINING:
        return min(max(0, left), MAX_CENTS) / 100
    if di == p645.OVERDRAFT:
        return min(max(0, -left), MAX_CENTS) / 100
    if di == p645.PURCHASE_COUNT:
        return max(purse.bill_number, 0) % 10_000
    return _setting(purse, di)


def _setting(purse: Purse, di: int) -> object:
    if di == p645.PRICE_1:
        return round(purse.price * 100) / 10_000
    cents = {p645.ALARM_1: purse.alarm, p645.ALARM_2: purse.alarm2, p645.OVERDRAFT_LIMIT: -purse.trip,
             p645.HOARD_LIMIT: purse.hoard, p645.ALLOW_CLOSE_LIMIT: purse.allow_close}.get(di)
    return 0.0 if cents is None else round(cents) / 100
