"""The heat figures, pure: where each customer is (floor … station), per-customer period figures, totals
by level, heated / stopped area and households, counts by interval, same-period comparison.

A customer's place is its network node and the node's ancestors: the nearest ``floor``, ``unit``,
``building``, ``area`` (community) and ``heat_exchange_station`` on the way up. A customer without one
at the level asked for is grouped under ``None`` (unplaced), never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from emms_analytics.heat.repository import HeatCustomer, Node, PointFigures

Level = Literal["customer", "floor", "unit", "building", "community", "station", "total"]
LEVEL_KINDS: dict[str, str] = {"floor": "floor", "unit": "unit", "building": "building", "community": "area",
                               "station": "heat_exchange_station"}
Measure = Literal["heat", "supply_temperature", "thermal_power"]
MAX_DEPTH = 64  # a node tree deeper than this is a cycle in the data: stop walking


def places(customers: Iterable[HeatCustomer], nodes: Mapping[str, Node]) -> dict[str, dict[str, str | None]]:
    """customer → {level: node id or None} for every level of :data:`LEVEL_KINDS`."""
    out: dict[str, dict[str, str | None]] = {}
    for c in customers:
        found: dict[str, str | None] = dict.fromkeys(LEVEL_KINDS)
        node_id, depth = c.node_id, 0
        while node_id is not None and node_id in nodes and depth < MAX_DEPTH:
            node = nodes[node_id]
            for level, kind in LEVEL_KINDS.items():
                if node.kind == kind and found[level] is None:
                    found[level] = node.node_id
            node_id, depth = node.parent_id, depth + 1
        out[c.customer_id] = found
    return out


@dataclass(slots=True)
class CustomerFigures:
    heat_kwh: float = 0.0
    flow_m3: float = 0.0
    supply_temperature_c: float | None = None
    thermal_power_kw: float | None = None
    measured: bool = False
    _sums: dict[str, tuple[float, int]] = field(default_factory=dict)


def per_customer(figures: Iterable[PointFigures]) -> dict[str, CustomerFigures]:
    """Heat and flow (sum of the points' register increases), supply temperature and thermal power (mean of
    the readings of all the customer's points)."""
    out: dict[str, CustomerFigures] = defaultdict(CustomerFigures)
    for f in figures:
        c = out[f.customer_id]
        c.measured = True
        if f.item == "heat.energy":
            c.heat_kwh += f.increase
        elif f.item == "volume.heat":
            c.flow_m3 += f.increase
        else:
            total, n = c._sums.get(f.item, (0.0, 0))
            c._sums[f.item] = (total + f.mean * f.samples, n + f.samples)
    for c in out.values():
        for item, attr in (("temperature.supply", "supply_temperature_c"), ("heat.power", "thermal_power_kw")):
            total, n = c._sums.get(item, (0.0, 0))
            setattr(c, attr, round(total / n, 3) if n else None)
    return dict(out)


def _key(level: Level, customer: HeatCustomer, where: Mapping[str, dict[str, str | None]]) -> str | None:
    if level == "total":
        return "total"
    if level == "customer":
        return customer.customer_id
    return where[customer.customer_id][level]


def totals(level: Level, customers: Sequence[HeatCustomer], where: Mapping[str, dict[str, str | None]],
           figures: Mapping[str, CustomerFigures], names: Mapping[str, Node]) -> list[dict[str, Any]]:
    """Cumulative heat (kWh) and flow (m³) over the period per group; customers counted, and measured."""
    groups: dict[str | None, dict[str, Any]] = {}
    for c in customers:
        key = _key(level, c, where)
        row = groups.setdefault(key, {"key": key, "name": _name(names, key),
                                      "heat_kwh": 0.0, "flow_m3": 0.0, "customers": 0, "measured": 0})
        row["customers"] += 1
        f = figures.get(c.customer_id)
        if f is not None and f.measured:
            row["measured"] += 1
            row["heat_kwh"] += f.heat_kwh
            row["flow_m3"] += f.flow_m3
    return [_rounded(r) for r in sorted(groups.values(), key=lambda r: (r["key"] is None, r["key"] or ""))]


def heating(level: Level, customers: Sequence[HeatCustomer], where: Mapping[str, dict[str, str | None]],
            stopped: set[str], figures: Mapping[str, CustomerFigures], names: Mapping[str, Node]
            ) -> list[dict[str, Any]]:
    """Heated and stopped households and area, stop percentage (of households and of area), heat per m²
    of heated area, per group."""
    groups: dict[str | None, dict[str, Any]] = {}
    for c in customers:
        key = _key(level, c, where)
        row = groups.setdefault(key, {"key": key, "name": _name(names, key),
                                      "households": 0, "heated_households": 0, "stopped_households": 0,
                                      "heated_area_m2": 0.0, "stopped_area_m2": 0.0, "heat_kwh": 0.0})
        area = c.heated_area_m2 or 0.0
        row["households"] += 1
        if c.customer_id in stopped:
            row["stopped_households"] += 1
            row["stopped_area_m2"] += area
        else:
            row["heated_households"] += 1
            row["heated_area_m2"] += area
            f = figures.get(c.customer_id)
            row["heat_kwh"] += f.heat_kwh if f is not None else 0.0
    out = []
    for row in sorted(groups.values(), key=lambda r: (r["key"] is None, r["key"] or "")):
        total_area = row["heated_area_m2"] + row["stopped_area_m2"]
        row["stop_rate_households"] = round(row["stopped_households"] / row["households"], 4)
        row["stop_rate_area"] = round(row["stopped_area_m2"] / total_area, 4) if total_area else None
        row["heat_per_m2_kwh"] = round(row["heat_kwh"] / row["heated_area_m2"], 4) if row["heated_area_m2"] else None
        out.append(_rounded(row))
    return out


def measure_of(measure: Measure, f: CustomerFigures) -> float | None:
    if not f.measured:
        return None
    return {"heat": f.heat_kwh, "supply_temperature": f.supply_temperature_c,
            "thermal_power": f.thermal_power_kw}[measure]


def distribution(values: Iterable[float], edges: Sequence[float]) -> list[dict[str, Any]]:
    """Customer counts per interval: (−∞, e₀), [e₀, e₁) … [eₙ, ∞)."""
    bounds: list[float | None] = [None, *edges, None]
    counts = [0] * (len(edges) + 1)
    for v in values:
        i = sum(1 for e in edges if v >= e)
        counts[i] += 1
    return [{"from": bounds[i], "to": bounds[i + 1], "customers": n} for i, n in enumerate(counts)]


def compared(current: list[dict[str, Any]], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with the same period a year before: its heat and flow and the change rates."""
    before = {r["key"]: r for r in previous}
    out = []
    for row in current:
        p = before.get(row["key"])
        prev_heat = p["heat_kwh"] if p else None
        prev_flow = p["flow_m3"] if p else None
        out.append({**row, "previous_heat_kwh": prev_heat, "previous_flow_m3": prev_flow,
                    "heat_change_rate": _rate(row["heat_kwh"], prev_heat),
                    "flow_change_rate": _rate(row["flow_m3"], prev_flow)})
    return out


def _name(names: Mapping[str, Node], key: str | None) -> str | None:
    node = names.get(key) if key is not None else None
    return node.name if node is not None else None


def _rate(now: float, before: float | None) -> float | None:
    return None if not before else round((now - before) / before, 4)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
