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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from emms_protocol import cjt188
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.gdw1376.afn10 import control_word

SERIAL_188 = control_word(2400, "even")
FRAME_TIMEOUT = 0x80 | 5  # 5 s
BYTE_TIMEOUT = 10  # 100 ms
PORT_188 = 2
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


def forward_unit(payload: bytes, port: int | None) -> dict[str, Any]:
    return _unit(0, 1, {"type": "ForwardRequest", "port": port or PORT_188, "control": SERIAL_188,
                        "frame_timeout": FRAME_TIMEOUT, "byte_timeout": BYTE_TIMEOUT, "payload": payload.hex()})


def plan(payload: Mapping[str, Any], device: Mapping[str, Any]) -> Plan:
    """The operation of an action's ``payload`` (kind purchase / control_on / price) for ``device``."""
    kind, mode = payload["kind"], payload["mode"]
    pn = int(device["pn"] or 0)
    if mode == "terminal" and kind == "purchase":
        purchase = {"type": "PurchaseControl", "bill_number": int(payload["purchase_number"]), "refresh": False,
                    "amount": li(payload["amount"]), "alarm": li(payload["alarm"]), "trip": li(payload["trip"])}
        rates = {"type": "EnergyRates", "rates": [li(payload["price"])]}
        return Plan(0x04, [_unit(0, 22, rates), _unit(pn, 47, purchase)], {"afn": 0x0A, "units": [_unit(pn, 47)]},
                    f"purchase {payload['purchase_number']}")
    if mode == "terminal" and kind == "control_on":
        return Plan(0x05, [_unit(pn, 16)], None, "purchase control on")
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
            return Plan(0x10, [forward_unit(p188.write_purchase(meter_type, address, write), port)], read,
                        f"purchase {payload['purchase_number']}")
    raise ValueError(f"no operation for {kind!r} in {mode!r} mode")
