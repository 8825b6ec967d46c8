"""Canonical data items: the registry is consistent and every protocol mapping points into it."""

from __future__ import annotations

import math
import random
from datetime import datetime

import pytest

from emms_protocol import cjt188, dlt645
from emms_protocol.cjt188 import HeatData, Quantity, WaterGasData
from emms_protocol.dlt645.di_registry import representative
from emms_protocol.dlt645.dlt1997 import representative_1997
from emms_protocol.items import ITEMS, Item, items_from_188, items_from_645

ADDRESS = "00000805000001"


def test_registry_entries_are_well_formed() -> None:
    for code, item in ITEMS.items():
        assert isinstance(item, Item)
        assert item.code == code
        assert item.utility in {"electricity", "water", "gas", "heat", "any"}
        assert item.kind in {"cumulative", "instant", "state"}
        assert item.description
    for code in ("energy.active.import.total", "energy.active.import.t4", "energy.active.export.t1",
                 "energy.reactive.import.total", "energy.active.combined.total", "voltage.c", "current.a",
                 "power.active.b", "power.reactive.total", "power_factor.total", "frequency",
                 "demand.active.import.max", "water.volume", "gas.volume", "heat.energy", "heat.power", "flow.rate",
                 "volume.heat", "temperature.supply", "temperature.return", "working_hours", "pressure",
                 "valve.state", "relay.state", "battery.low", "balance.remaining"):
        assert code in ITEMS, code
    assert ITEMS["energy.active.import.total"].obis == "1-0:1.8.0"
    assert ITEMS["energy.active.import.t2"].obis == "1-0:1.8.2"
    assert ITEMS["voltage.a"].obis == "1-0:32.7.0"


def test_every_645_mapping_points_into_the_registry() -> None:
    mapped = 0
    for spec in [*representative(), *representative_1997()]:
        for code in spec.items:
            if code is not None:
                assert code in ITEMS, (spec.code, code)
                mapped += 1
    assert mapped > 100


def test_items_from_645_values_and_units() -> None:
    assert items_from_645(0x00010000, 6.78) == [("energy.active.import.total", 6.78)]
    assert items_from_645(0x00010100, 1.5) == [("energy.active.import.t1", 1.5)]
    assert items_from_645(0x0001FF00, (10.0, 1.0, 2.0, 3.0, 4.0, 5.0)) == [
        ("energy.active.import.total", 10.0), ("energy.active.import.t1", 1.0), ("energy.active.import.t2", 2.0),
        ("energy.active.import.t3", 3.0), ("energy.active.import.t4", 4.0)]
    assert items_from_645(0x0201FF00, (220.1, 221.0, None)) == [
        ("voltage.a", 220.1), ("voltage.b", 221.0), ("voltage.c", None)]
    assert items_from_645(0x01010000, (1.5, datetime(2024, 1, 1))) == [("demand.active.import.max", 1.5)]
    assert items_from_645(0x02800002, 50.01) == [("frequency", 50.01)]
    assert items_from_645(0x00010001, 6.78) == []  # last settlement: history, not a reading
    assert items_from_645(0x03300D00, 1) == []
    assert items_from_645(0x9010, 9580.15) == [("energy.active.import.total", 9580.15)]
    assert items_from_645(0x0000FF00, (1.0, 1.0), edition=2007) == [
        ("energy.active.combined.total", 1.0), ("energy.active.combined.t1", 1.0)]


@pytest.mark.parametrize(("di", "word", "expected"), [
    (0x04000503, 0x0050, [("relay.state", 0.0)]), (0x04000503, 0x0000, [("relay.state", 1.0)]),
    (0x04000501, 0x0004, [("battery.low", 1.0)]), (0x04000501, 0x0000, [("battery.low", 0.0)]),
    (0x040005FF, (0x0008, 0, 0x0010, 0, 0, 0, 0), [("battery.low", 1.0), ("relay.state", 0.0)])])
def test_status_words_to_state_items(di: int, word: object, expected: list[tuple[str, float]]) -> None:
    assert items_from_645(di, word) == expected


def test_decoded_645_reply_feeds_items() -> None:
    frame = dlt645.decode_frame(bytes.fromhex("68 61 10 01 30 12 15 68 91 06 36 38 33 37 83 33 BE 16"))
    assert isinstance(frame.body, dlt645.ReadReply)
    assert items_from_645(frame.body.di, frame.body.value) == [("relay.state", 0.0)]


def test_items_from_188_water_gas_units_converted() -> None:
    status = cjt188.status_word("closed", battery_low=True)
    data = WaterGasData(Quantity(1234.5, 0x29, "L"), Quantity(1.0, 0x2C, "m³"), None, status)
    water = cjt188.decode_frame(cjt188.read_reply(0x10, ADDRESS, 0x901F, data))
    items = dict(items_from_188(water))
    assert math.isclose(items["water.volume"] or 0, 1.2345)
    assert (items["valve.state"], items["battery.low"]) == (0.0, 1.0)
    gas = cjt188.decode_frame(cjt188.read_reply(0x30, ADDRESS, 0x901F, data))
    assert "gas.volume" in dict(items_from_188(gas))


def test_items_from_188_heat() -> None:
    data = HeatData(Quantity(1.0, 0x11, "GJ"), Quantity(2.0, 0x11, "GJ"), Quantity(3.5, 0x17, "kW"),
                    Quantity(0.25, 0x35, "m³/h"), Quantity(100.0, 0x2C, "m³"), 60.5, 40.25, 1234, None,
                    cjt188.status_word("fault"))
    frame = cjt188.decode_frame(cjt188.read_reply(0x20, ADDRESS, 0x901F, data))
    items = dict(items_from_188(frame))
    assert math.isclose(items["heat.energy"] or 0, 2000 / 3.6)
    assert (items["heat.power"], items["flow.rate"], items["volume.heat"]) == (3.5, 0.25, 100.0)
    assert (items["temperature.supply"], items["temperature.return"], items["working_hours"]) == (60.5, 40.25, 1234.0)
    assert items["valve.state"] == 2.0
    cooling = cjt188.decode_frame(cjt188.read_reply(0x21, ADDRESS, 0x901F, data))
    assert "cooling.energy" in dict(items_from_188(cooling))
    wrong_unit = HeatData(*(Quantity(1.0, 0x2C, "m³") for _ in range(5)), None, None, None, None,
                          cjt188.status_word("open"))
    frame = cjt188.decode_frame(cjt188.read_reply(0x20, ADDRESS, 0x901F, wrong_unit))
    assert dict(items_from_188(frame))["heat.energy"] is None


def test_every_188_mapping_points_into_the_registry() -> None:
    rng = random.Random(7)
    frames = [cjt188.read_reply(t, ADDRESS, 0x901F, WaterGasData(Quantity(rng.random(), 0x2C, "m³"),
                                                                 Quantity(None, 0x2C, "m³"), None,
                                                                 cjt188.status_word("open")))
              for t in (0x10, 0x30)]
    frames.append(cjt188.write_reply(0x10, ADDRESS, 0xA017, 1))
    for raw in frames:
        for code, _ in items_from_188(cjt188.decode_frame(raw)):
            assert code in ITEMS
    assert items_from_188(cjt188.decode_frame(cjt188.read_request(0x10, ADDRESS))) == []
