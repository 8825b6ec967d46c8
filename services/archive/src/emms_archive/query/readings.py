"""Reading queries: pages of raw or validated readings, and the latest value per point and item.

Pages are ordered by the raw table's primary key (metering point, item, data time, source),
so each page is an index range scan inside the time partitions of the range. The validated
layer shows the latest version of each reading; ``held`` versions (not repaired, publication
restricted by R-4.3.1) are shown only to operators and admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_archive.query import cursor
from emms_archive.query.filters import ReadingQuery
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

RAW_COLUMNS = ("metering_point_id", "item", "data_time", "source", "meter_id", "value", "unit", "quality",
               "collected_at", "terminal", "pn")
VALIDATED_COLUMNS = ("metering_point_id", "item", "data_time", "status", "meter_id", "value", "unit", "method",
                     "raw_source", "rules_failed", "validated_at")


def _conditions(q: ReadingQuery, points: list[str] | None, alias: str, w: Where) -> None:
    w.add(f"{alias}.data_time >= {{}} AND {alias}.data_time < {{}}", q.start, q.end)
    w.add_any(f"{alias}.metering_point_id", points)
    w.add_any(f"{alias}.item", q.items)
    w.add_any(f"{alias}.meter_id", q.meters)


def raw_sql(q: ReadingQuery, points: list[str] | None, limit: int) -> tuple[str, list[Any]]:
    w = Where()
    _conditions(q, points, "r", w)
    w.add_any("r.source", [s.value for s in q.sources] if q.sources is not None else None)
    w.add_any("r.quality", q.quality, "int[]")
    if q.good_only:
        w.add("r.quality = 0")
    if q.cursor:
        mp, item, t, source = cursor.decode(q.cursor, 4)
        w.add("(r.metering_point_id, r.item, r.data_time, r.source) > ({}, {}, {}, {})",
              mp, item, datetime.fromisoformat(t), source)
    cols = ", ".join(f"r.{c}" for c in RAW_COLUMNS)
    return (f"SELECT {cols} FROM {SCHEMA}.reading_raw r WHERE {w.sql()}"
            f" ORDER BY r.metering_point_id, r.item, r.data_time, r.source LIMIT {int(limit)}", w.args)


def validated_sql(q: ReadingQuery, points: list[str] | None, limit: int, show_held: bool) -> tuple[str, list[Any]]:
    w = Where()
    _conditions(q, points, "v", w)
    if q.cursor:
        mp, item, t, _ = cursor.decode(q.cursor, 4)
        w.add("(v.metering_point_id, v.item, v.data_time) > ({}, {}, {})", mp, item, datetime.fromisoformat(t))
    cols = ", ".join(f"v.{c}" for c in VALIDATED_COLUMNS)
    held = "" if show_held else "WHERE latest.status <> 'held'"
    return (f"SELECT * FROM (SELECT DISTINCT ON (v.metering_point_id, v.item, v.data_time) {cols}"
            f" FROM {SCHEMA}.reading_validated v WHERE {w.sql()}"
            f" ORDER BY v.metering_point_id, v.item, v.data_time, v.validated_at DESC, v.status) latest {held}"
            f" ORDER BY metering_point_id, item, data_time LIMIT {int(limit)}", w.args)


def _key(row: dict[str, Any], layer: str) -> list[Any]:
    last = row["source"] if layer == "raw" else ""
    return [row["metering_point_id"], row["item"], row["data_time"].isoformat(), last]


async def page(conn: Connection, q: ReadingQuery, points: list[str] | None, *,
               show_held: bool) -> dict[str, Any]:
    """One page of readings and the cursor of the next (``None`` at the end)."""
    if points is not None and not points:
        return {"layer": q.layer, "rows": [], "count": 0, "next_cursor": None}
    if q.layer == "raw":
        sql, args = raw_sql(q, points, q.limit + 1)
    else:
        sql, args = validated_sql(q, points, q.limit + 1, show_held)
    rows = [dict(r) for r in await conn.fetch(sql, *args)]
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    return {"layer": q.layer, "rows": rows, "count": len(rows),
            "next_cursor": cursor.encode(_key(rows[-1], q.layer)) if more and rows else None}


async def latest(conn: Connection, points: list[str], items: list[str] | None) -> list[dict[str, Any]]:
    """The newest raw reading of each (point, item): the near-real-time data service view."""
    w = Where([points])
    w.add_any("r.item", items)
    rows = await conn.fetch(
        f"SELECT p.id AS metering_point_id, x.* FROM unnest($1::text[]) AS p(id)"
        f" CROSS JOIN LATERAL (SELECT DISTINCT ON (r.item) r.item, r.data_time, r.source, r.meter_id, r.value,"
        f"  r.unit, r.quality, r.collected_at FROM {SCHEMA}.reading_raw r"
        f"  WHERE r.metering_point_id = p.id AND r.data_time > now() - interval '400 days' AND {w.sql()}"
        f"  ORDER BY r.item, r.data_time DESC, r.source) x"
        f" ORDER BY 1, x.item", *w.args)
    return [dict(r) for r in rows]
