"""Canonical data items: one code and one unit per metered quantity, whatever the protocol.

The collector stores readings under these codes (``energy.active.import.total``
in kWh, ``water.volume`` in m³ …), so a 1376.1 AFN0C F129 value, a 645 DI
00010000 reply and a 188 901F reply land in the same series. OBIS codes are
given where IEC 62056-61 defines one (electricity ``1-0:…``; heat ``6-0:…``,
gas ``7-0:…``, cold water ``8-0:…`` after EN 13757-1 value group C —
**UNVERIFIED** for the non-electric ones).

State items are numbers too: ``relay.state`` 1 = closed (supply on) / 0 = open;
``valve.state`` 1 = open / 0 = closed / 2 = fault; ``battery.low`` 1 / 0.

:func:`items_from_645` and :func:`items_from_188` map decoded values to
``(code, value)`` pairs in the item's unit (``None`` = absent, or reported in a
unit of another quantity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from emms_protocol.cjt188.bodies import StatusReply
from emms_protocol.cjt188.frame import Frame188
from emms_protocol.cjt188.layouts import HeatData, Quantity, Status188, WaterGasData
from emms_protocol.cjt188.meter_types import COOLING
from emms_protocol.cjt188.units import to_canonical
from emms_protocol.dlt645.di_registry import DataItem645, lookup
from emms_protocol.dlt645.dlt1997 import REGISTRY_1997


@dataclass(frozen=True, slots=True)
class Item:
    code: str
    unit: str
    utility: str  # electricity | water | gas | heat | any
    kind: str  # cumulative | instant | state
    description: str
    obis: str | None = None


def _tariffed(code: str, unit: str, text: str, obis_c: int | None) -> list[Item]:
    out = [Item(f"{code}.total", unit, "electricity", "cumulative", f"{text}, total",
                f"1-0:{obis_c}.8.0" if obis_c else None)]
    out += [Item(f"{code}.t{t}", unit, "electricity", "cumulative", f"{text}, tariff {t}",
                 f"1-0:{obis_c}.8.{t}" if obis_c else None) for t in range(1, 5)]
    return out


def _phased(code: str, unit: str, text: str, obis_c: dict[str, int | None]) -> list[Item]:
    return [Item(f"{code}.{p}", unit, "electricity", "instant", f"{text}, {'total' if p == 'total' else 'phase ' + p}",
                 f"1-0:{c}.7.0" if c else None) for p, c in obis_c.items()]


def _voltage_statistics() -> list[Item]:
    """A terminal's daily voltage statistics per phase (1376.1 AFN0D F27), stamped with the freeze day."""
    bands = {"within": "within the limits", "over_upper": "over the upper limit (upper-upper included)",
             "under_lower": "under the lower limit (lower-lower included)",
             "over_upper_upper": "over the upper-upper limit", "under_lower_lower": "under the lower-lower limit"}
    # not "voltage.…": the validator judges every "*voltage*" item as volts (0 … 300 V), a day has 1440 minutes
    out = [Item(f"qualification.minutes.{band}.{p}", "min", "electricity", "instant",
                f"voltage: minutes of the day {text}, phase {p}") for band, text in bands.items() for p in "abc"]
    out += [Item(f"voltage.day.{x}.{p}", "V", "electricity", "instant", f"{x} voltage of the day, phase {p}")
            for x in ("max", "min", "average") for p in "abc"]
    return out


def _harmonics() -> list[Item]:
    """Harmonic content (% of the fundamental) of orders 2 … 19 and THD per phase (1376.1 AFN0C F58)."""
    out = []
    for q, text in (("voltage", "voltage"), ("current", "current")):
        for p in "abc":
            out.append(Item(f"thd.{q}.{p}", "%", "electricity", "instant",
                            f"total harmonic distortion of the {text}, phase {p}"))
            out += [Item(f"harmonic.{q}.{p}.h{h}", "%", "electricity", "instant",
                         f"harmonic content of order {h} of the {text}, phase {p}") for h in range(2, 20)]
    return out


_ALL: list[Item] = [
    *_tariffed("energy.active.import", "kWh", "active energy import (forward)", 1),
    *_tariffed("energy.active.export", "kWh", "active energy export (reverse)", 2),
    *_tariffed("energy.active.combined", "kWh", "combined active energy (per the meter's combination word)", None),
    *_tariffed("energy.reactive.import", "kvarh", "reactive energy import (combined reactive 1)", 3),
    *_tariffed("energy.reactive.export", "kvarh", "reactive energy export (combined reactive 2)", 4),
    *_tariffed("energy.reactive.q1", "kvarh", "reactive energy quadrant I", 5),
    *_tariffed("energy.reactive.q2", "kvarh", "reactive energy quadrant II", 6),
    *_tariffed("energy.reactive.q3", "kvarh", "reactive energy quadrant III", 7),
    *_tariffed("energy.reactive.q4", "kvarh", "reactive energy quadrant IV", 8),
    *_phased("voltage", "V", "voltage", {"a": 32, "b": 52, "c": 72}),
    *_phased("current", "A", "current", {"a": 31, "b": 51, "c": 71, "n": 91}),
    *_phased("power.active", "kW", "active power (signed, + = import)", {"total": 16, "a": 36, "b": 56, "c": 76}),
    *_phased("power.reactive", "kvar", "reactive power (signed)", {"total": None, "a": None, "b": None, "c": None}),
    *_phased("power.apparent", "kVA", "apparent power", {"total": 9, "a": 29, "b": 49, "c": 69}),
    *_phased("power_factor", "", "power factor", {"total": 13, "a": 33, "b": 53, "c": 73}),
    Item("frequency", "Hz", "electricity", "instant", "grid frequency", "1-0:14.7.0"),
    Item("demand.active", "kW", "electricity", "instant", "current active demand", "1-0:1.4.0"),
    Item("demand.active.import.max", "kW", "electricity", "instant", "maximum active import demand", "1-0:1.6.0"),
    Item("demand.active.export.max", "kW", "electricity", "instant", "maximum active export demand", "1-0:2.6.0"),
    Item("energy.remaining", "kWh", "electricity", "instant", "remaining prepaid energy"),
    Item("balance.remaining", "CNY", "any", "instant", "remaining prepaid amount"),
    Item("relay.state", "", "electricity", "state", "supply relay: 1 closed (supply on), 0 open (tripped)"),
    Item("water.volume", "m³", "water", "cumulative", "cumulative water volume", "8-0:1.0.0"),
    Item("gas.volume", "m³", "gas", "cumulative", "cumulative gas volume at metering conditions", "7-0:3.0.0"),
    Item("heat.energy", "kWh", "heat", "cumulative", "cumulative heat energy", "6-0:1.0.0"),
    Item("cooling.energy", "kWh", "heat", "cumulative", "cumulative cooling energy", "5-0:1.0.0"),
    Item("heat.power", "kW", "heat", "instant", "thermal power", "6-0:8.0.0"),
    Item("flow.rate", "m³/h", "any", "instant", "volume flow rate", "6-0:9.0.0"),
    Item("volume.heat", "m³", "heat", "cumulative", "cumulative volume through a heat meter", "6-0:2.0.0"),
    Item("temperature.supply", "°C", "heat", "instant", "supply (flow) water temperature", "6-0:10.0.0"),
    Item("temperature.return", "°C", "heat", "instant", "return water temperature", "6-0:11.0.0"),
    Item("working_hours", "h", "any", "cumulative", "cumulative working time"),
    Item("pressure", "MPa", "any", "instant", "line pressure"),
    Item("valve.state", "", "any", "state", "valve: 1 open, 0 closed, 2 fault"),
    Item("battery.low", "", "any", "state", "battery low: 1 yes, 0 no"),
    *_voltage_statistics(),
    *_harmonics(),
]
ITEMS: Mapping[str, Item] = MappingProxyType({item.code: item for item in _ALL})

_RELAY_OPEN_BIT = 0x0010  # status word 3 bit 4: relay open (断)
_BATTERY_BITS = 0x000C  # status word 1 bits 2 / 3: clock / reading battery under-voltage


def _flatten(value: object) -> list[object]:
    return list(value) if isinstance(value, tuple) else [value]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _status_words(di: int, value: object) -> list[tuple[str, float | None]]:
    words = _flatten(value)
    if di == 0x040005FF and len(words) == 7:
        word1, word3 = words[0], words[2]
    elif di == 0x04000501:
        word1, word3 = words[0], None
    else:
        word1, word3 = None, words[0]
    out: list[tuple[str, float | None]] = []
    if isinstance(word1, int):
        out.append(("battery.low", 1.0 if word1 & _BATTERY_BITS else 0.0))
    if isinstance(word3, int):
        out.append(("relay.state", 0.0 if word3 & _RELAY_OPEN_BIT else 1.0))
    return out


def items_from_645(di: int, value: object, *, edition: int | None = None) -> list[tuple[str, float | None]]:
    """Canonical items in a 645 read value (as decoded for ``di``); [] when the DI maps to none.

    ``edition`` 1997 / 2007; by default a DI of the 1997 registry is taken as 1997.
    """
    if di in (0x04000501, 0x04000503, 0x040005FF) and edition != 1997:
        return _status_words(di, value)
    use_1997 = edition == 1997 or (edition is None and di in REGISTRY_1997)
    spec: DataItem645 | None = REGISTRY_1997.get(di) if use_1997 else lookup(di)
    if spec is None or not spec.items:
        return []
    out: list[tuple[str, float | None]] = []
    for code, element in zip(spec.items, _flatten(value), strict=False):
        if code is not None:
            out.append((code, _number(element)))
    return out


def _status_items(st: Status188) -> list[tuple[str, float | None]]:
    valve = {"open": 1.0, "closed": 0.0}.get(st.valve, 2.0)
    return [("valve.state", valve), ("battery.low", 1.0 if st.battery_low else 0.0)]


def _canonical(code: str, q: Quantity) -> tuple[str, float | None]:
    return code, to_canonical(q.value, q.unit_code, ITEMS[code].unit)


def items_from_188(frame: Frame188) -> list[tuple[str, float | None]]:
    """Canonical items in a decoded 188 frame (901F replies and status replies); [] otherwise."""
    body = frame.body
    if isinstance(body, WaterGasData):
        volume = {"water": "water.volume", "gas": "gas.volume"}.get(frame.utility)
        out = [_canonical(volume, body.current)] if volume else []
        return out + _status_items(body.status)
    if isinstance(body, HeatData):
        energy = "cooling.energy" if frame.meter_type == COOLING else "heat.energy"
        return [
            _canonical(energy, body.current_heat),
            _canonical("heat.power", body.heat_power),
            _canonical("flow.rate", body.flow_rate),
            _canonical("volume.heat", body.cumulative_flow),
            ("temperature.supply", body.supply_temperature),
            ("temperature.return", body.return_temperature),
            ("working_hours", None if body.working_hours is None else float(body.working_hours)),
            *_status_items(body.status),
        ]
    if isinstance(body, StatusReply):
        return _status_items(body.status)
    return []
