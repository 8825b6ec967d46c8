"""Power factor of customers against their limits (R-4.5.5.1): maximum and minimum with their time, average,
range (max − min), instants outside the limits, the customers outside.

Limits: the customer's own row, else its category's (a segment), else the default (0.90 … 1.00, the usual
floor of the power-factor adjustment for industrial customers). A customer is outside when its average power
factor over the period is below the minimum or above the maximum. Values are ``power_factor.total`` of the
customer's electricity points (all its points' values together); a customer with a point short of values
for the period is incomplete and not judged. Each point's figures are aggregated in SQL
(``repository.supply_quality.power_factor_points``, with the same limits), joined per customer here.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from emms_analytics.supply_quality.series import missing_reason

ITEM = "power_factor.total"
DEFAULT_LIMITS = (0.90, 1.00)


def limits_for(customer: str | None, category: str | None,
               table: dict[tuple[str, str], tuple[float, float]]) -> tuple[tuple[float, float], str]:
    """The (min, max) a customer is judged by and where it comes from."""
    if customer is not None and ("customer", customer) in table:
        return table[("customer", customer)], "customer"
    if category is not None and ("category", category) in table:
        return table[("category", category)], "category"
    return DEFAULT_LIMITS, "default"


def customer_from_points(customer: str, category: str | None, points: dict[str, dict[str, Any] | None],
                         expected: int, table: dict[tuple[str, str], tuple[float, float]],
                         tz: tzinfo) -> dict[str, Any]:
    """``points``: point → the repository's ``power_factor_points`` row (None: no value in the period)."""
    (low, high), source = limits_for(customer, category, table)
    rows = [r for r in points.values() if r is not None]
    n = sum(int(r["n"]) for r in rows)
    reasons = [r for point, row in sorted(points.items())
               if (r := missing_reason(f"{point} {ITEM}", 0 if row is None else int(row["n"]), expected)) is not None]
    out: dict[str, Any] = {"customer_id": customer, "category": category, "limits": {"min": low, "max": high,
                           "source": source}, "points": sorted(points), "values": n}
    if reasons or not rows:
        return {**out, "status": "incomplete", "reason": "; ".join(reasons) or f"no {ITEM} values",
                "max": None, "min": None, "average": None, "range": None, "instants_outside": None,
                "outside": None}
    top = min(rows, key=lambda r: (-float(r["max"]), r["max_at"]))
    bottom = min(rows, key=lambda r: (float(r["min"]), r["min_at"]))
    average = sum(float(r["total"]) for r in rows) / n
    return {**out, "status": "complete",
            "max": {"value": float(top["max"]), "at": top["max_at"].astimezone(tz)},
            "min": {"value": float(bottom["min"]), "at": bottom["min_at"].astimezone(tz)},
            "average": average, "range": float(top["max"]) - float(bottom["min"]),
            "instants_outside": sum(int(r["outside"]) for r in rows),
            "outside": average < low or average > high}
