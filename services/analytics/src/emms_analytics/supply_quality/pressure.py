"""Water and gas supply pressure (R-4.5.5.2, R-4.5.5.3): abnormal-pressure customers and their share.

Per point, from its ``pressure`` values in the period against the utility's limits (``sq_pressure_limit``,
MPa): values, minimum / maximum with their time, average, values outside the limits and their share, and
**alarms** — each entry into the abnormal band (a run of abnormal values is one alarm) — per day; the
validator's findings on ``pressure`` are counted beside them. A customer's figures join its points.

* water: a customer is abnormal when the share of its values outside the limits reaches ``min_share``;
* gas: a customer is abnormal when its alarms per day reach ``alarms_per_day`` (the alarm frequency).

A customer with a point short of values (``period / interval``) is incomplete, not judged and not in the
share's denominator.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from emms_analytics.supply_quality.series import Series, extreme, missing_reason, ratio

ITEM = "pressure"


def excursions(values: Series, low: float, high: float) -> int:
    """Entries into the abnormal band (a series that starts abnormal counts one)."""
    count, inside = 0, True
    for _, v in values:
        ok = low <= v <= high
        if inside and not ok:
            count += 1
        inside = ok
    return count


def customer_figures(customer: str, series: dict[str, Series], findings: dict[str, int], expected: int,
                     days: float, limits: tuple[float, float], utility: str, min_share: float,
                     alarms_per_day: float, tz: tzinfo) -> dict[str, Any]:
    low, high = limits
    values = sorted((p for s in series.values() for p in s), key=lambda p: p[0])
    reasons = [r for point, s in sorted(series.items())
               if (r := missing_reason(f"{point} {ITEM}", len(s), expected)) is not None]
    abnormal_values = sum(1 for _, v in values if not low <= v <= high)
    alarms = sum(excursions(s, low, high) for s in series.values())
    out: dict[str, Any] = {"customer_id": customer, "points": sorted(series), "values": len(values),
                           "validator_findings": sum(findings.get(p, 0) for p in series)}
    if reasons or not values:
        return {**out, "status": "incomplete", "reason": "; ".join(reasons) or "no pressure values",
                "abnormal": None}
    share = ratio(abnormal_values, len(values)) or 0.0
    per_day = alarms / days if days > 0 else None
    abnormal = share >= min_share if utility != "gas" else per_day is not None and per_day >= alarms_per_day
    return {**out, "status": "complete", "min": extreme(values, tz, highest=False),
            "max": extreme(values, tz, highest=True), "average": sum(v for _, v in values) / len(values),
            "abnormal_values": abnormal_values, "abnormal_share": share, "alarms": alarms,
            "alarms_per_day": per_day, "abnormal": abnormal}


def summary(rows: list[dict[str, Any]], limits: tuple[float, float], start: datetime, end: datetime,
            tz: tzinfo) -> dict[str, Any]:
    judged = [r for r in rows if r["status"] == "complete"]
    abnormal = [r["customer_id"] for r in judged if r["abnormal"]]
    return {"from": start.astimezone(tz), "to": end.astimezone(tz), "limits": {"min": limits[0], "max": limits[1]},
            "customers": len(rows), "judged": len(judged), "incomplete": len(rows) - len(judged),
            "abnormal_customers": abnormal, "abnormal_share": ratio(len(abnormal), len(judged))}
