"""Event and anomaly queries: by metering point selection, terminal, class, code, time range;
keyset-paged on (time, id), newest first."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from emms_archive.query import cursor
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


async def events(conn: Connection, *, points: list[str] | None, start: datetime, end: datetime,
                 terminals: list[str] | None = None, classes: list[str] | None = None,
                 codes: list[str] | None = None, limit: int = 100, after: str | None = None) -> dict[str, Any]:
    w = Where()
    w.add("e.occurred_at >= {} AND e.occurred_at < {}", start, end)
    w.add_any("e.metering_point_id", points)
    w.add_any("e.terminal", terminals)
    w.add_any("e.event_class", classes)
    w.add_any("e.code", codes)
    if after:
        t, event_id = cursor.decode(after, 2)
        w.add("(e.occurred_at, e.event_id) < ({}, {}::uuid)", datetime.fromisoformat(t), event_id)
    rows = [_row(r) for r in await conn.fetch(
        f"SELECT e.event_id, e.occurred_at, e.terminal, e.meter_id, e.metering_point_id, e.code, e.event_class,"
        f" e.received_at, e.detail FROM {SCHEMA}.event e WHERE {w.sql()}"
        f" ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT {int(limit) + 1}", *w.args)]
    return _page(rows, limit, lambda r: [r["occurred_at"].isoformat(), str(r["event_id"])])


async def anomalies(conn: Connection, *, points: list[str] | None, start: datetime, end: datetime,
                    severities: list[str] | None = None, rules: list[str] | None = None,
                    limit: int = 100, after: str | None = None) -> dict[str, Any]:
    w = Where()
    w.add("a.data_time >= {} AND a.data_time < {}", start, end)
    w.add_any("a.metering_point_id", points)
    w.add_any("a.severity", severities)
    w.add_any("a.rule", rules)
    if after:
        t, anomaly_id = cursor.decode(after, 2)
        w.add("(a.data_time, a.anomaly_id) < ({}, {})", datetime.fromisoformat(t), anomaly_id)
    rows = [_row(r) for r in await conn.fetch(
        f"SELECT a.anomaly_id, a.data_time, a.meter_id, a.metering_point_id, a.rule, a.item, a.severity,"
        f" a.detail, a.detected_at FROM {SCHEMA}.anomaly a WHERE {w.sql()}"
        f" ORDER BY a.data_time DESC, a.anomaly_id DESC LIMIT {int(limit) + 1}", *w.args)]
    return _page(rows, limit, lambda r: [r["data_time"].isoformat(), r["anomaly_id"]])


def _row(record: Any) -> dict[str, Any]:
    """A row as the API returns it: ``detail`` (jsonb, which asyncpg hands over as text) as an object."""
    row = dict(record)
    if isinstance(row.get("detail"), str):
        row["detail"] = json.loads(row["detail"])
    return row


def _page(rows: list[dict[str, Any]], limit: int, key: Any) -> dict[str, Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return {"rows": rows, "count": len(rows), "next_cursor": cursor.encode(key(rows[-1])) if more and rows else None}


async def counts(conn: Connection, kind: Literal["event", "anomaly"], points: list[str], start: datetime,
                 end: datetime) -> dict[str, dict[str, int]]:
    """Per metering point: how many important and normal events (or anomalies) in the range."""
    column, t = ("event_class", "occurred_at") if kind == "event" else ("severity", "data_time")
    rows = await conn.fetch(
        f"SELECT metering_point_id, {column} AS cls, count(*) AS n FROM {SCHEMA}.{kind}"
        f" WHERE metering_point_id = ANY($1::text[]) AND {t} >= $2 AND {t} < $3 GROUP BY 1, 2", points, start, end)
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["metering_point_id"], {})[r["cls"]] = r["n"]
    return out
