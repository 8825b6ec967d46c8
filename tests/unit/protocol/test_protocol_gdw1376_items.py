"""1376.1 values → canonical items, and the plain-JSON view."""

from __future__ import annotations

import json
from datetime import date, datetime

from emms_protocol.gdw1376 import DEVICE_TZ, DataUnit, decode_frame
from emms_protocol.gdw1376.afn0c import PowerQuality, PurchaseInfo
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register
from emms_protocol.gdw1376.items_map import ItemValue, items_from_units, used_codes
from emms_protocol.gdw1376.json_view import to_jsonable
from emms_protocol.items import ITEMS

TM = datetime(2024, 5, 6, 7, 15, tzinfo=DEVICE_TZ)


def test_every_code_used_exists_in_the_registry() -> None:
    assert used_codes() <= set(ITEMS)


def test_f129_and_frozen_f161() -> None:
    units = [DataUnit(3, 129, EnergyReading(TM, 1234.5678, (600.0, None, 634.5678, 0.0, 1.0)))]
    items = items_from_units(0x0C, units)
    assert items[0] == ItemValue(3, "energy.active.import.total", 1234.5678, "kWh", TM)
    tariffs = [f"energy.active.import.t{t}" for t in range(1, 5)]
    assert [i.item for i in items] == ["energy.active.import.total", *tariffs]
    assert items[2].value is None
    frozen = items_from_units(0x0D, [DataUnit(3, 161, EnergyReading(TM, 10.0, (), date(2024, 5, 5)))])
    assert frozen == [ItemValue(3, "energy.active.import.total", 10.0, "kWh", date(2024, 5, 5), "day")]
    monthly = items_from_units(0x0D, [DataUnit(3, 177, EnergyReading(TM, 10.0, (), date(2024, 4, 1)))])
    assert monthly[0].freeze == "month" and monthly[0].data_time == date(2024, 4, 1)


def test_f25_power_quality() -> None:
    pq = PowerQuality(TM, 1.5, 0.5, 0.5, 0.5, 0.1, None, None, None, 98.7, 99.0, 98.0, 97.0, 242.7, 241.0, 240.0,
                      5.123, 5.0, 4.9, 0.01, 1.6, 0.55, 0.5, 0.55)
    items = {i.item: i for i in items_from_units(0x0C, [DataUnit(1, 25, pq)])}
    assert items["voltage.a"].value == 242.7 and items["voltage.a"].unit == "V"
    assert items["current.a"].value == 5.123 and items["current.n"].value == 0.01
    assert items["power.active.total"].value == 1.5
    assert items["power_factor.total"].value == 0.987
    assert items["power.reactive.a"].value is None


def test_f33_quadrants_and_f167_balance() -> None:
    reg = Register(1.0, (0.5, 0.5))
    fwd = ForwardEnergies(TM, reg, reg, reg, Register(2.0, (1.0, 1.0)))
    codes = {i.item: i.value for i in items_from_units(0x0C, [DataUnit(1, 33, fwd)])}
    assert codes["energy.active.import.t2"] == 0.5 and codes["energy.reactive.q4.total"] == 2.0
    assert "energy.reactive.q1.total" in codes and "energy.reactive.import.t1" in codes
    buy = PurchaseInfo(TM, 3, 88.5, 300.0, 120.0, 0.0, 500.0, 10.0, 20.0, 0.0)
    got = {i.item: (i.value, i.unit) for i in items_from_units(0x0C, [DataUnit(1, 167, buy)])}
    assert got == {"balance.remaining": (88.5, ITEMS["balance.remaining"].unit), "energy.remaining": (120.0, "kWh")}


def test_other_afns_map_to_nothing() -> None:
    assert items_from_units(0x02, [DataUnit(0, 1, None)]) == []


def test_json_view_keeps_numbers_as_numbers() -> None:
    frame = decode_frame(bytes.fromhex(
        "68 C6 00 C6 00 68 88 71 01 22 08 02 0C A2 01 01 01 10 18 16 28 08 18 04 00 01 00 00 00 EE EE EE "
        "EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE 02 39 19 16 28 00 8C 16"))
    view = to_jsonable(frame)
    text = json.dumps(view)
    assert json.loads(text) == view
    assert view["address"] == {"area": "0171", "terminal": 2082, "master": 1, "group": False, "key": "0171-02082",
                               "vendor_hex": "01710822"}
    unit = view["units"][0]
    assert unit["type"] == "EnergyReading"
    assert unit["value"] == {"type": "EnergyReading", "read_at": "2018-08-28T16:18:00+08:00", "total": 0.01,
                             "rates": [None] * 4, "td": None}
    assert view["seq"]["fir"] is False and view["tp"]["pfc"] == 2


def test_json_view_reports_undecodable_units_without_raising() -> None:
    # p1 F129 uplink claiming 4 rates but truncated: header fine, units not
    body = bytes.fromhex("01 01 01 10 18 16 28 08 18 04 00 01")
    from emms_protocol.gdw1376 import Address, Control, Frame, Seq

    frame = Frame(Control(1, 0, 0, 0, 8), Address(0x171, 2082), 0x0C, Seq(False, True, True, False, 1), body)
    view = to_jsonable(frame)
    assert view["units"] is None and "short" in view["units_error"] and view["body"] == body.hex()
