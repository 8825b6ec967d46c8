"""Usage inquiry with a comparison to similar customers, and the advice to shift load to valley hours.

Similar customers: those of the same utility, Table-2 category and region. Usage is the archive's
``/usage`` of validated readings (register increments × multiplier, the utility's local calendar), the
same figures the analytics service aggregates.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from emms_interface.upstream import Upstream, seg

MAIN_ITEM = {"electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
             "heat": "heat.energy"}


def _totals(usage: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in usage.get("rows", []):
        key = str(row.get("key") or row.get("customer_id") or "")
        out[key] = out.get(key, 0.0) + float(row.get("usage") or 0.0)
    return out


async def comparison(up: Upstream, customer: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    utility = customer["utility"]
    item = MAIN_ITEM[utility]
    common = {"from": start.isoformat(), "to": end.isoformat(), "items": item, "group_by": "customer",
              "layer": "validated"}
    own_series = await up.call("archive", "GET", "/api/v1/usage",
                               params={**common, "interval": "month", "customers": customer["id"]})
    peers_usage = await up.call("archive", "GET", "/api/v1/usage", params={
        **common, "interval": "range", "categories": customer["category"], "regions": customer["region_id"],
        "utilities": utility})
    totals = _totals(peers_usage)
    own = totals.get(customer["id"], sum(_totals(own_series).values()))
    values = sorted(totals.values()) or [own]
    below = sum(1 for v in values if v < own)
    peers = {"count": len(values), "mean": round(statistics.fmean(values), 3),
             "median": round(statistics.median(values), 3),
             "percentile": round(100.0 * below / len(values), 1),
             "category": customer["category"], "region_id": customer["region_id"]}
    return {"customer_id": customer["id"], "utility": utility, "item": item,
            "period": {"from": start, "to": end}, "own": round(own, 3), "peers": peers,
            "series": own_series.get("rows", [])}


async def advice(up: Upstream, customer: dict[str, Any], account: dict[str, Any], tz: ZoneInfo, now: datetime,
                 days: int, shift_share: float) -> dict[str, Any]:
    """Usage per local hour of day over the last ``days`` days, the tariff's price of each hour, and the
    saving of moving ``shift_share`` of the usage of each hour dearer than the cheapest to the cheapest."""
    start = now - timedelta(days=days)
    usage = await up.call("archive", "GET", "/api/v1/usage", params={
        "from": start.isoformat(), "to": now.isoformat(), "items": MAIN_ITEM[customer["utility"]],
        "group_by": "customer", "interval": "hour", "customers": customer["id"], "layer": "validated"})
    by_hour = [0.0] * 24
    for row in usage.get("rows", []):
        bucket = datetime.fromisoformat(str(row["bucket"])).astimezone(tz)
        by_hour[bucket.hour] += float(row.get("usage") or 0.0)
    day = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    prices = []
    for hour in range(24):
        quote = await up.call("control", "GET", f"/api/v1/tariffs/{seg(account['tariff_id'])}/price", params={
            "at": (day + timedelta(hours=hour, minutes=30)).isoformat(), "category": account["category"]})
        prices.append(Decimal(str(quote["price"])))
    valley = min(prices)
    share = Decimal(str(shift_share))
    saving = sum((Decimal(str(by_hour[h])) * share * (prices[h] - valley) for h in range(24)), Decimal(0))
    monthly = (saving * Decimal(30) / Decimal(days)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    hours = [{"hour": h, "usage": round(by_hour[h], 3), "price": prices[h], "valley": prices[h] == valley}
             for h in range(24)]
    valley_hours = [h for h in range(24) if prices[h] == valley]
    return {"customer_id": customer["id"], "account_id": account["account_id"], "hours": hours,
            "shift_share": shift_share, "monthly_saving": monthly,
            "detail": f"moving {shift_share:.0%} of the usage of dearer hours to the valley hours {valley_hours}"
                      f" (price {valley}) saves about {monthly} a month at your usage of the last {days} days"}
