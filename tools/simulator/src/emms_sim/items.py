"""The quantities the truth knows, by name, with units and the utilities that have them.

Names are the canonical codes of ``emms_protocol.items.ITEMS`` (what the
collector stores), plus two the simulator adds: ``battery.voltage`` and
``clock.offset`` (meter clock minus true time).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    unit: str
    utilities: tuple[str, ...]
    decimals: int
    cumulative: bool = False


def _elec_energy() -> list[Item]:
    out = []
    for direction in ("import", "export"):
        for t in ("total", "t1", "t2", "t3", "t4"):
            out.append(Item(f"energy.active.{direction}.{t}", "kWh", ("electricity",), 2, True))
    for q in ("q1", "q2", "q3", "q4"):
        for t in ("total", "t1", "t2", "t3", "t4"):
            out.append(Item(f"energy.reactive.{q}.{t}", "kvarh", ("electricity",), 2, True))
    for combo in ("import", "export"):  # combined reactive 1 = Q1+Q2, 2 = Q3+Q4
        for t in ("total", "t1", "t2", "t3", "t4"):
            out.append(Item(f"energy.reactive.{combo}.{t}", "kvarh", ("electricity",), 2, True))
    return out


_E = ("electricity",)
_PHASES = ("total", "a", "b", "c")
_ITEMS = [
    *_elec_energy(),
    *(Item(f"power.active.{p}", "kW", _E, 4) for p in _PHASES),
    *(Item(f"power.reactive.{p}", "kvar", _E, 4) for p in _PHASES),
    *(Item(f"power.apparent.{p}", "kVA", _E, 4) for p in _PHASES),
    *(Item(f"power_factor.{p}", "", _E, 3) for p in _PHASES),
    *(Item(f"voltage.{p}", "V", _E, 1) for p in ("a", "b", "c")),
    *(Item(f"current.{p}", "A", _E, 3) for p in ("a", "b", "c", "n")),
    Item("frequency", "Hz", _E, 2),
    Item("relay.state", "closed=1", _E, 0),
    Item("clock.offset", "s", ("electricity", "water", "gas", "heat"), 1),
    Item("water.volume", "m3", ("water",), 2, True),
    Item("gas.volume", "m3", ("gas",), 2, True),
    Item("volume.heat", "m3", ("heat",), 2, True),
    Item("flow.rate", "m3/h", ("water", "gas", "heat"), 4),
    Item("pressure", "MPa", ("water", "gas", "heat"), 5),
    Item("valve.state", "open=1", ("water", "gas", "heat"), 0),
    Item("battery.voltage", "V", ("water", "gas"), 2),
    Item("battery.low", "low=1", ("water", "gas"), 0),
    Item("heat.energy", "kWh", ("heat",), 2, True),
    Item("heat.power", "kW", ("heat",), 2),
    Item("temperature.supply", "degC", ("heat",), 2),
    Item("temperature.return", "degC", ("heat",), 2),
    Item("working_hours", "h", ("heat",), 0, True),
]
ITEMS: dict[str, Item] = {i.name: i for i in _ITEMS}

TARIFF_SUFFIX = ("total", "t1", "t2", "t3", "t4")
