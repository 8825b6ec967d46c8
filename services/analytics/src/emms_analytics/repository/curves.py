"""Curve values (instantaneous: power, current …) of one metering point, and the load figures over them."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from emms_analytics.analyses import trend
from emms_db.connection import Connection

_POINT_METERS = """
SELECT c.data_time, c.item, c.value * coalesce(m.multiplier, 1) AS value
FROM {schema}.meter_period p
JOIN {schema}.curve_value c ON c.meter_id = p.meter_id AND c.data_time >= p.valid_from
                            AND (p.valid_to IS NULL OR c.data_time < p.valid_to)
LEFT JOIN {schema}.meter m ON m.meter_id = p.meter_id
WHERE p.metering_point_id = $1 AND c.item = ANY($2::text[]) AND c.data_time >= $3 AND c.data_time < $4
  AND c.value IS NOT NULL
ORDER BY c.data_time, c.item"""
MAX_CURVE = 20_000


async def values(conn: Connection, schema: str, point: str, item: str, start: datetime,
                 end: datetime) -> list[tuple[datetime, float]]:
    rows = await conn.fetch(_POINT_METERS.format(schema=schema) + f" LIMIT {MAX_CURVE}", point, [item], start, end)
    return [(r["data_time"], float(r["value"])) for r in rows]


async def phase_currents(conn: Connection, schema: str, point: str, start: datetime,
                         end: datetime) -> dict[datetime, dict[str, float]]:
    """Phase currents by instant (current transformer ratio applied)."""
    rows = await conn.fetch(_POINT_METERS.format(schema=schema) + f" LIMIT {3 * MAX_CURVE}", point,
                            ["current.a", "current.b", "current.c"], start, end)
    out: dict[datetime, dict[str, float]] = {}
    for r in rows:
        out.setdefault(r["data_time"], {})[r["item"]] = float(r["value"])
    return out


def load_figures(curve: list[tuple[datetime, float]], tz: tzinfo) -> dict[str, Any]:
    if not curve:
        return {"points": 0, "max": None, "min": None, "average": None, "load_rate": None, "curve": [],
                "trend": trend([])}
    top = max(curve, key=lambda p: p[1])
    low = min(curve, key=lambda p: p[1])
    average = sum(v for _, v in curve) / len(curve)
    return {"points": len(curve), "max": {"value": top[1], "at": top[0].astimezone(tz)},
            "min": {"value": low[1], "at": low[0].astimezone(tz)}, "average": average,
            "load_rate": average / top[1] if top[1] > 0 else None,
            "curve": [[t.astimezone(tz), v] for t, v in curve], "trend": trend([v for _, v in curve])}


def unbalance(phases: dict[datetime, dict[str, float]], tz: tzinfo) -> dict[str, Any] | None:
    """Three-phase current unbalance (max − min) / max per instant with all three phases: worst and average."""
    ratios = [(t, (max(p.values()) - min(p.values())) / max(p.values()))
              for t, p in sorted(phases.items()) if len(p) == 3 and max(p.values()) > 0]
    if not ratios:
        return None
    worst = max(ratios, key=lambda r: r[1])
    return {"worst": worst[1], "at": worst[0].astimezone(tz), "average": sum(r for _, r in ratios) / len(ratios),
            "instants": len(ratios)}
