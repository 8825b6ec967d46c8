"""Harmonics where a meter delivers them (R-4.5.5.1): per point, phase and local day the maximum of the THD
and of each order's content (2nd – 19th, % of the fundamental) with its time, and the violations.

Items: ``thd.voltage|current.<phase>`` and ``harmonic.voltage|current.<phase>.h<k>`` (1376.1 AFN0C F58).
Voltage limits (GB/T 14549-1993, public LV grid 0.38 kV): THD 5 %, odd orders 4 %, even orders 2 %; a
violation is a day's maximum over the limit, with the instants over it. Current harmonics are reported
without a judgement (their limits depend on the short-circuit capacity at the connection point, not in the
master data). Points without harmonic values are not in the answer: only some meters deliver them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, tzinfo
from typing import Any

from emms_analytics.supply_quality.series import Series

PHASES = ("a", "b", "c")
ORDERS = range(2, 20)
ITEMS = [f"thd.{q}.{p}" for q in ("voltage", "current") for p in PHASES] + [
    f"harmonic.{q}.{p}.h{h}" for q in ("voltage", "current") for p in PHASES for h in ORDERS]
THD_LIMIT, ODD_LIMIT, EVEN_LIMIT = 5.0, 4.0, 2.0


def voltage_limit(order: int | None) -> float:
    """The limit of the THD (``None``) or of one order's content, in %."""
    if order is None:
        return THD_LIMIT
    return ODD_LIMIT if order % 2 else EVEN_LIMIT


def _split(item: str) -> tuple[str, str, int | None]:
    parts = item.split(".")
    if parts[0] == "thd":
        return parts[1], parts[2], None
    return parts[1], parts[2], int(parts[3][1:])


def point_days(point: str, curves: dict[str, Series], tz: tzinfo) -> list[dict[str, Any]]:
    """One row per (local day, quantity, phase) with data."""
    groups: dict[tuple[str, str, str], dict[int | None, list[tuple[datetime, float]]]] = defaultdict(dict)
    for item, series in curves.items():
        quantity, phase, order = _split(item)
        for at, v in series:
            day = at.astimezone(tz).date().isoformat()
            groups[(day, quantity, phase)].setdefault(order, []).append((at, v))
    rows = []
    for (day, quantity, phase), orders in sorted(groups.items()):
        maxima: dict[str, Any] = {}
        violations = []
        for order, values in sorted(orders.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
            at, top = max(values, key=lambda p: p[1])
            key = "thd" if order is None else f"h{order}"
            maxima[key] = {"value": top, "at": at.astimezone(tz), "values": len(values)}
            if quantity == "voltage" and top > voltage_limit(order):
                limit = voltage_limit(order)
                violations.append({"of": key, "max": top, "limit": limit,
                                   "instants_over": sum(1 for _, v in values if v > limit)})
        rows.append({"metering_point_id": point, "day": day, "quantity": quantity, "phase": phase,
                     "thd": maxima.pop("thd", None), "orders": maxima, "violations": violations})
    return rows
