"""A prepaid CJ/T 188 meter's purse (the meter-executed prepayment mode), behind :mod:`emms_sim.meter_side`.

A010 writes the price (the price table's first price, XXXX.XX yuan per unit → cents per unit), A013
takes a purchase (its number must be the one after the meter's last, mod 100; the first one any
number), 8105 reads the last purchase number, the last and total purchase and what remains (cents;
never below 0 on the wire). The meter alarms at :data:`METER_ALARM_CENTS` and closes its valve at 0:
CJ/T 188 has no data item for the levels, they are the meter's own.
"""

from __future__ import annotations

from emms_protocol.cjt188 import data_ids as ids
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.errors import ProtocolError
from emms_sim.fleet import MeterSpec
from emms_sim.purses import Purses

METER_ALARM_CENTS = 1000.0
"""A prepaid 188 meter's own alarm level: 10.00 yuan."""


def write(purses: Purses, meter: MeterSpec, di: int | None, payload: bytes, ts: float) -> bool:
    """A010 / A013 written to the meter: True when taken."""
    try:
        if di == ids.WRITE_PRICE:
            return _price(purses, meter, payload, ts)
        if di == ids.WRITE_PURCHASE:
            return _purchase(purses, meter, p188.parse_write(payload), ts)
    except ProtocolError:
        return False
    return False


def _price(purses: Purses, meter: MeterSpec, payload: bytes, ts: float) -> bool:
    if len(payload) < 3:
        return False
    digits = payload[:3][::-1].hex()
    if not digits.isdigit():
        return False
    purse = purses.get(meter.meter_id)
    alarm, trip = (purse.alarm, purse.trip) if purse is not None else (METER_ALARM_CENTS, 0.0)
    purses.open("meter", meter.meter_id, meter.meter_id, float(int(digits)), alarm, trip, ts)
    return True


def _purchase(purses: Purses, meter: MeterSpec, write: p188.PurchaseWrite, ts: float) -> bool:
    purse = purses.get(meter.meter_id)
    if purse is None or purse.price <= 0:
        return False  # no price: not set up as a prepaid meter
    expected = (purse.bill_number + 1) % 100 if purse.bill_number >= 0 else write.number
    if write.number != expected:
        return False
    return purses.buy(purse, write.number, float(write.amount_cents), False, ts)


def state(purses: Purses, meter: MeterSpec, ts: float) -> p188.PurchaseState | None:
    """The 8105 answer; None for a meter that is not prepaid (no price written)."""
    purse = purses.get(meter.meter_id)
    if purse is None:
        return None
    purses.settle(purse, ts)
    left = max(0, round(purses.remaining(purse, ts)))
    return p188.PurchaseState(max(purse.bill_number, 0), round(purse.last_bought), round(purse.total_bought),
                              min(left, p188.MAX_CENTS))
