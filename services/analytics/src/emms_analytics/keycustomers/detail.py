"""One key customer in one answer: who it is and why it is key, the latest value of every item of its
points (real time), its usage curve over the period (from the rollups), data quality (completeness,
share estimated), working condition (the latest switch / valve state, and the online state of the
terminals its points are read through, from ``emms.terminal.session.v1``) and anomalies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_analytics import analyses
from emms_analytics.api.deps import Period, zone
from emms_analytics.keycustomers import repository as repo
from emms_analytics.keycustomers import terminals as terminal_repo
from emms_analytics.queries import usage_rows
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection
from emms_protocol.items import ITEMS

STATES = sorted(name for name, item in ITEMS.items() if item.kind == "state")
MAX_ANOMALIES = 200


def _local(rows: list[dict[str, Any]], rt: AnalyticsRuntime, *fields: str) -> list[dict[str, Any]]:
    tz = zone(rt)
    return [{**r, **{f: r[f].astimezone(tz) for f in fields if r.get(f) is not None}} for r in rows]


def _quality(rows: list[dict[str, Any]], period: Period, per_day: int) -> dict[str, Any]:
    days = (period.end - period.start).total_seconds() / 86_400
    out = []
    for r in rows:
        expected = round(days * per_day)
        out.append({**r, "expected": expected,
                    "completeness": min(1.0, r["collected"] / expected) if expected else None,
                    "estimated_share": r["estimated"] / r["intervals"] if r["intervals"] else None})
    collected, expected = sum(r["collected"] for r in out), sum(r["expected"] for r in out)
    intervals, estimated = sum(r["intervals"] for r in out), sum(r["estimated"] for r in out)
    return {"per_day": per_day, "points": out, "collected": collected, "expected": expected,
            "completeness": min(1.0, collected / expected) if expected else None, "intervals": intervals,
            "estimated": estimated, "estimated_share": estimated / intervals if intervals else None}


async def answer(rt: AnalyticsRuntime, scope: Scope, customer: dict[str, Any], key: list[dict[str, Any]],
                 period: Period, interval: str, per_day: int, now: datetime) -> dict[str, Any]:
    cid = customer["customer_id"]
    async with rt.pool.acquire() as conn:
        points = await repo.points(conn, SCHEMA, cid)
        ids = [p["metering_point_id"] for p in points]
        latest, states = await repo.latest_values(conn, SCHEMA, ids, now, STATES)
        quality = await repo.quality(conn, SCHEMA, ids, rt.settings.main_items, period.start, period.end)
        counts, found = await repo.anomalies(conn, SCHEMA, ids, period.start, period.end, MAX_ANOMALIES)
        terminals = await terminal_repo.of_points(conn, SCHEMA, ids)
    utilities = sorted({p["utility"] for p in points if p["utility"] in rt.settings.main_items})
    items = [rt.settings.main_items[u] for u in utilities]
    history = await usage_rows(rt, scope, Selection(customers=[cid]), period.start, period.end, interval,
                               "metering_point", items) if items else []
    tz = zone(rt)
    return {
        "customer": customer, "key": key, "from": period.start.astimezone(tz), "to": period.end.astimezone(tz),
        "metering_points": points,
        "realtime": _local(latest, rt, "data_time"),
        "history": {"interval": interval, "rows": history, "series": analyses.series(history)},
        "quality": _quality(quality, period, per_day),
        "condition": {"states": _local(states, rt, "data_time"),
                      "supply_off": sorted({s["metering_point_id"] for s in states
                                            if (s["item"] == "relay.state" and s["value"] == 0)
                                            or (s["item"] == "valve.state" and s["value"] != 1)}),
                      "terminals": _local(terminals, rt, "since", "last_seen"),
                      "terminals_offline": [t["terminal"] for t in terminals if not t["online"]]},
        "anomalies": {"total": sum(counts.values()), "by_severity": counts, "shown": len(found),
                      "rows": _local(found, rt, "data_time", "detected_at")},
    }
