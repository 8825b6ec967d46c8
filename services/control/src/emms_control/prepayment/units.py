"""The data units a decided prepayment operation sends to a device, in the FEP's request shape
(``DataUnitRequest`` dicts, see docs/fep.md), with the read that verifies it.

* terminal mode (1376.1 purchase control of the meter's total-add group; the group number is the
  meter's measurement point — F14 group tables are not written): a purchase is AFN04 p0 F22 (the
  rate the terminal counts fee with: the account's price in 厘 per kWh) and pn F47 (purchase number,
  add, amount, alarm and trip levels in 厘), verified by reading F47 back (AFN0A); then AFN05 F16
  (purchase control on).
* meter mode (a prepaid CJ/T 188 meter behind the concentrator, AFN10 F1 forwarding): the price is
  A010 (cents per unit), a purchase A013 (purchase number mod 100, cents), verified by reading 8105.
  Plaintext: the standard's security layer (keys, MAC) cannot be had here.
* meter mode for electricity (a DL/T 645-2007 cost-control meter, AFN10 F1 forwarding on port 31): the price
  is 14H 04050101 (yuan per kWh), each threshold one 14H write (04001001 / 04001002 alarm amounts, 04001003
  overdraft limit, 04001005 allow-close limit; kind ``threshold``), a purchase the recharge 03H 070102FF
  (amount in 0.01 yuan, the account's purchase number as the meter's purchase count, the account's customer
  number) with its MACs zero-filled — no ESAM here (docs/control.md) — verified by reading the purchase
  count 03330201. A repeated recharge is refused by the meter (SERR "repeated recharge"): a retry cannot pay
  twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from emms_control.commands.frames import OPERATOR_645, PASSWORD_645
from emms_protocol import cjt188
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.dlt645 import purchase as p645
from emms_protocol.gdw1376.afn10 import control_word

SERIAL_188 = control_word(2400, "even")
FRAME_TIMEOUT = 0x80 | 5  # 5 s
BYTE_TIMEOUT = 10  # 100 ms
PORT_188 = 2
PORT_645 = 31
PREAMBLE_645 = 4
METER_TYPE_188 = {"water": cjt188.WATER_COLD, "gas": cjt188.GAS, "heat": cjt188.HEAT}


@dataclass(frozen=True, slots=True)
class Plan:
    afn: int
    units: list[dict[str, Any]]
    verify: dict[str, Any] | None
    what: str


def li(value: str | Decimal) -> int:
    """元 → 厘 (0.001 元): the small unit of 1376.1 data format A.3 for a fee."""
    return int((Decimal(value) * 1000).to_integral_value())


def cents(value: str | Decimal) -> int:
    return int((Decimal(value) * 100).to_integral_value())


def _unit(pn: int, fn: int, value: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"pn": [pn], "fn": [fn], "data": {} if value is None else {"value": dict(value)}}


def forward_unit(payload: bytes, port: int | None, default_port: int = PORT_188) -> dict[str, Any]:
    return _unit(0, 1, {"type": "ForwardRequest", "port": port or default_port, "control": SERIAL_188,
                        "frame_timeout": FRAME_TIMEOUT, "byte_timeout": BYTE_TIMEOUT, "payload": payload.hex()})


def customer_number(account_id: str) -> str:
    """The 12-digit customer number a cost-control meter keeps for ``account_id`` (stable, from its id)."""
    return f"{int.from_bytes(hashlib.sha256(account_id.encode()).digest()[:8], 'big') % 10**12:012d}"


def thresholds_645(alarm: str | Decimal, trip: str | Decimal) -> list[tuple[int, Decimal]]:
    """(DI, yuan) of the threshold writes of an electricity meter-mode account: alarm amounts 1 and 2 at the
    alarm threshold, the overdraft limit at minus the trip threshold (the meter trips at −limit), the
    allow-close limit at 0 (after a trip, supply returns once what remains is above zero)."""
    alarm_yuan, trip_yuan = Decimal(alarm), Decimal(trip)
    return [(p645.ALARM_1, alarm_yuan), (p645.ALARM_2, alarm_yuan), (p645.OVERDRAFT_LIMIT, -trip_yuan),
            (p645.ALLOW_CLOSE_LIMIT, Decimal(0))]


def _plan_645(kind: str, payload: Mapping[str, Any], device: Mapping[str, Any]) -> Plan:
    address = str(device["meter_address"])
    port = device.get("port") or PORT_645
    count = {"afn": 0x10, "units": [forward_unit(p645.read_purchase_count(address, preamble=PREAMBLE_645), port)]}
    if kind == "price":
        raw = p645.price_write(address, Decimal(str(payload["price"])), password=PASSWORD_645, operator=OPERATOR_645,
                               preamble=PREAMBLE_645)
        return Plan(0x10, [forward_unit(raw, port)], None, "price")
    if kind == "threshold":
        di = int(str(payload["di"]), 16)
        raw = p645.threshold_write(address, di, Decimal(str(payload["amount"])), password=PASSWORD_645,
                                   operator=OPERATOR_645, preamble=PREAMBLE_645)
        return Plan(0x10, [forward_unit(raw, port)], None, f"threshold {payload['di']}")
    if kind == "purchase":
        recharge = p645.Recharge(cents(payload["amount"]), int(payload["purchase_number"]), str(payload["customer"]))
        raw = p645.recharge_request(address, recharge, OPERATOR_645, preamble=PREAMBLE_645)
        expect = {"check": "purchase_count", "value": int(payload["purchase_number"])}
        return Plan(0x10, [forward_unit(raw, port)], {**count, "expect": expect},
                    f"purchase {payload['purchase_number']}")
    raise ValueError(f"no operation for {kind!r} in meter mode for electricity")


def plan(payload: Mapping[str, Any], device: Mapping[str, Any]) -> Plan:
    """The operation of an action's ``payload`` (kind purchase / control_on / price) for ``device``."""
    kind, mode = payload["kind"], payload["mode"]
    pn = int(device["pn"] or 0)
    if mode == "terminal" and kind == "purchase":
        purchase = {"type": "PurchaseControl", "bill_number": int(payload["purchase_number"]), "refresh": False,
                    "amount": li(payload["amount"]), "alarm": li(payload["alarm"]), "trip": li(payload["trip"])}
        rates = {"type": "EnergyRates", "rates": [li(payload["price"])]}
        read = {"afn": 0x0A, "units": [_unit(pn, 47)],
                "expect": {"check": "purchase_count", "value": int(payload["purchase_number"])}}
        return Plan(0x04, [_unit(0, 22, rates), _unit(pn, 47, purchase)], read,
                    f"purchase {payload['purchase_number']}")
    if mode == "terminal" and kind == "control_on":
        return Plan(0x05, [_unit(pn, 16)], None, "purchase control on")
    if mode == "meter" and device["utility"] == "electricity":
        return _plan_645(kind, payload, device)
    if mode == "meter":
        meter_type = METER_TYPE_188[device["utility"]]
        address = str(device["meter_address"])
        port = device.get("port")
        read = {"afn": 0x10, "units": [forward_unit(p188.read_purchase(meter_type, address), port)]}
        if kind == "price":
            raw = p188.write_price(meter_type, address, cents(payload["price"]))
            return Plan(0x10, [forward_unit(raw, port)], None, "price")
        if kind == "purchase":
            write = p188.PurchaseWrite(int(payload["purchase_number"]) % 100, cents(payload["amount"]))
            expect = {"check": "purchase_count", "value": int(payload["purchase_number"]) % 100, "modulo": 100}
            return Plan(0x10, [forward_unit(p188.write_purchase(meter_type, address, write), port)],
                        {**read, "expect": expect}, f"purchase {payload['purchase_number']}")
    raise ValueError(f"no operation for {kind!r} in {mode!r} mode")
