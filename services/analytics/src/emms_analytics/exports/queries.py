"""The SQL an export streams: usage rows exactly as ``/usage`` computes them, and the validated
register values of the selected metering points (while each meter measured the point)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_analytics.calendar import Piece
from emms_analytics.repository.usage import usage_sql
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection, points_sql
from emms_db.where import Where


def usage_export(schema: str, sel: Selection, scope: Scope, parts: list[Piece], items: list[str], interval: str,
                 group_by: str, period_start: datetime, local_tz: str) -> tuple[str, list[Any]]:
    query, args = usage_sql(schema, sel, scope, parts, items, interval, group_by, period_start, local_tz)
    return f"SELECT bucket, key, item, usage, intervals, estimated, metering_points FROM ({query}) u", args


def readings_export(schema: str, sel: Selection, scope: Scope, items: list[str], start: datetime,
                    end: datetime) -> tuple[str, list[Any]]:
    w = Where()
    pts = points_sql(schema, sel, "metering_point", scope, w)
    items_p, lo, hi = w.param(items), w.param(start), w.param(end)
    query = f"""
WITH pts AS ({pts})
SELECT p.metering_point_id, v.meter_id, v.item, v.data_time, v.value, v.status, coalesce(m.multiplier, 1) AS multiplier
FROM pts
JOIN {schema}.meter_period p ON p.metering_point_id = pts.metering_point_id
JOIN {schema}.register_value v ON v.meter_id = p.meter_id AND v.item = ANY({items_p}::text[])
     AND v.data_time >= greatest(p.valid_from, {lo}) AND v.data_time < {hi}
     AND (p.valid_to IS NULL OR v.data_time < p.valid_to)
LEFT JOIN {schema}.meter m ON m.meter_id = p.meter_id
WHERE v.value IS NOT NULL
ORDER BY p.metering_point_id, v.item, v.data_time"""
    return query, w.args
