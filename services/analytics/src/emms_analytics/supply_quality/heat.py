"""Heat supply quality (R-4.5.5.4).

* **Hydraulic balance at one instant**: every heat meter below a node (a heat-exchange station) with its
  ``flow.rate`` at the instant (the latest value at or before it, within ``window``); each meter's ratio to
  the mean flow, the spread (max / min ratio), and the meters whose ratio is off 1 by more than the
  tolerance. One meter without a value in the window makes the node incomplete (a balance of part of the
  network is not a balance): the meters lacking are named and no balance figure is given.
* **Supply / return temperature difference** at the instant per meter and its mean over the node.
* **Flow deviation** (constant-flow systems) and **pressure deviation** (constant-pressure systems) of each
  meter over a period: max |x − mean| / mean of its ``flow.rate`` / ``pressure`` values, and the meters
  over the tolerance.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from emms_analytics.supply_quality.series import Series, missing_reason

BALANCE_ITEMS = ["flow.rate", "temperature.supply", "temperature.return"]


def balance(node: str, meters: list[str], values: dict[str, dict[str, tuple[datetime, float]]], at: datetime,
            tolerance: float, tz: tzinfo) -> dict[str, Any]:
    """``values``: point → item → (time, value) at the instant."""
    lacking = [p for p in meters if "flow.rate" not in values.get(p, {})]
    rows: list[dict[str, Any]] = []
    for p in meters:
        v = values.get(p, {})
        flow = v.get("flow.rate")
        sup, ret = v.get("temperature.supply"), v.get("temperature.return")
        rows.append({"metering_point_id": p, "flow": None if flow is None else flow[1],
                     "flow_at": None if flow is None else flow[0].astimezone(tz),
                     "supply": None if sup is None else sup[1], "return": None if ret is None else ret[1],
                     "delta_t": None if sup is None or ret is None else sup[1] - ret[1]})
    deltas = [r["delta_t"] for r in rows if r["delta_t"] is not None]
    out: dict[str, Any] = {"node_id": node, "at": at.astimezone(tz), "meters": len(meters),
                           "mean_delta_t": sum(deltas) / len(deltas) if deltas else None}
    if not meters or lacking:
        reason = (f"no flow value in the window for {', '.join(lacking[:10])}" if lacking
                  else "no heat meter below the node")
        return {**out, "status": "incomplete", "reason": reason, "lacking": lacking, "total_flow": None,
                "mean_flow": None, "spread": None, "imbalanced": None, "rows": rows}
    flows = [r["flow"] for r in rows]
    mean = sum(flows) / len(flows)
    for r in rows:
        r["ratio"] = r["flow"] / mean if mean > 0 else None
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    return {**out, "status": "complete", "lacking": [], "total_flow": sum(flows), "mean_flow": mean,
            "spread": (max(ratios) / min(ratios)) if ratios and min(ratios) > 0 else None,
            "imbalanced": [r["metering_point_id"] for r in rows
                           if r["ratio"] is not None and abs(r["ratio"] - 1) > tolerance],
            "rows": rows}


def deviation(point: str, series: Series, item: str, expected: int, tolerance: float) -> dict[str, Any]:
    """max |x − mean| / mean of one meter's values over the period."""
    reason = missing_reason(item, len(series), expected)
    out: dict[str, Any] = {"metering_point_id": point, "item": item, "values": len(series)}
    values = [v for _, v in series]
    if reason or not values:
        return {**out, "status": "incomplete", "reason": reason or f"no {item} values", "mean": None,
                "deviation": None, "over": None}
    mean = sum(values) / len(values)
    dev = max(abs(v - mean) for v in values) / mean if mean else None
    return {**out, "status": "complete", "mean": mean, "min": min(values), "max": max(values), "deviation": dev,
            "over": dev is not None and dev > tolerance}
