"""``validator.anomalies``: list, detail, workflow transitions, statistics per rule, hand-off queue.

Workflow (R-4.5.4.1): ``new`` → ``acknowledged`` → ``resolved`` | ``dismissed``;
``new`` may go straight to ``resolved`` or ``dismissed``; every transition is
kept with who, when and a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from emms_db.connection import Connection
from emms_db.where import Where
from emms_validator.scope import Scope

TRANSITIONS = {
    "new": ("acknowledged", "resolved", "dismissed"),
    "acknowledged": ("resolved", "dismissed"),
    "resolved": (),
    "dismissed": (),
}


class TransitionError(ValueError):
    """The anomaly is not in a state that allows the requested transition."""


def _row(r: asyncpg.Record) -> dict[str, Any]:
    out = dict(r)
    out["detail"] = json.loads(out["detail"]) if isinstance(out.get("detail"), str) else out.get("detail")
    return out


_SELECT = ("SELECT anomaly_id, meter_id, item, rule, data_time, severity, action, detail::text AS detail,"
           " detected_at, status, status_by, status_at, note, handed_off_at FROM {s}.anomalies")


@dataclass(frozen=True, slots=True)
class AnomalyFilter:
    meter_id: str | None = None
    rule: str | None = None
    status: str | None = None
    severity: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    scope: Scope | None = None
    """Only anomalies of meters in this scope (the caller's), when given."""

    def where(self) -> tuple[str, list[Any]]:
        w = Where()
        if self.scope is not None:
            self.scope.restrict_meters("meter_id", w)
        w.add_if("meter_id = {}", self.meter_id)
        w.add_if("rule = {}", self.rule)
        w.add_if("status = {}", self.status)
        w.add_if("severity = {}", self.severity)
        w.add_if("detected_at >= {}", self.since)
        w.add_if("detected_at < {}", self.until)
        return f" WHERE {w.sql()}", w.args


async def list_anomalies(conn: Connection, schema: str, f: AnomalyFilter, limit: int,
                         offset: int) -> tuple[int, list[dict[str, Any]]]:
    where, args = f.where()
    total = await conn.fetchval(f"SELECT count(*) FROM {schema}.anomalies{where}", *args)
    rows = await conn.fetch(_SELECT.format(s=schema) + where +
                            f" ORDER BY detected_at DESC, anomaly_id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
                            *args, limit, offset)
    return int(total), [_row(r) for r in rows]


async def meter_of(conn: Connection, schema: str, anomaly_id: str) -> str | None:
    """The meter of an anomaly; None when there is no such anomaly."""
    found = await conn.fetchval(f"SELECT meter_id FROM {schema}.anomalies WHERE anomaly_id = $1", anomaly_id)
    return None if found is None else str(found)


async def get_anomaly(conn: Connection, schema: str, anomaly_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(_SELECT.format(s=schema) + " WHERE anomaly_id = $1", anomaly_id)
    if row is None:
        return None
    out = _row(row)
    out["transitions"] = [dict(t) for t in await conn.fetch(
        f"SELECT from_status, to_status, actor, note, at FROM {schema}.anomaly_transitions"
        " WHERE anomaly_id = $1 ORDER BY id", anomaly_id)]
    return out


async def transition(conn: Connection, schema: str, anomaly_id: str, to: str, actor: str,
                     note: str) -> dict[str, Any] | None:
    """Move an anomaly along its workflow; ``None`` if it does not exist."""
    async with conn.transaction():
        current = await conn.fetchval(f"SELECT status FROM {schema}.anomalies WHERE anomaly_id = $1 FOR UPDATE",
                                      anomaly_id)
        if current is None:
            return None
        if to not in TRANSITIONS[current]:
            allowed = ", ".join(TRANSITIONS[current]) or "none (final)"
            raise TransitionError(f"anomaly is {current}; it may go to: {allowed}")
        await conn.execute(
            f"UPDATE {schema}.anomalies SET status = $2, status_by = $3, status_at = now(), note = $4"
            " WHERE anomaly_id = $1", anomaly_id, to, actor, note)
        await conn.execute(
            f"INSERT INTO {schema}.anomaly_transitions (anomaly_id, from_status, to_status, actor, note)"
            " VALUES ($1, $2, $3, $4, $5)", anomaly_id, current, to, actor, note)
    return await get_anomaly(conn, schema, anomaly_id)


async def statistics(conn: Connection, schema: str, since: datetime | None, until: datetime | None,
                     scope: Scope | None = None) -> list[dict[str, Any]]:
    """Findings per rule, over the anomalies of meters in ``scope`` (every meter when None)."""
    where, args = AnomalyFilter(since=since, until=until, scope=scope).where()
    rows = await conn.fetch(
        f"SELECT rule, count(*) AS total, count(*) FILTER (WHERE severity = 'important') AS important,"
        " count(*) FILTER (WHERE action = 'hold') AS held,"
        " count(*) FILTER (WHERE status = 'new') AS new, count(*) FILTER (WHERE status = 'acknowledged')"
        " AS acknowledged, count(*) FILTER (WHERE status = 'resolved') AS resolved,"
        " count(*) FILTER (WHERE status = 'dismissed') AS dismissed, count(DISTINCT meter_id) AS meters"
        f" FROM {schema}.anomalies{where} GROUP BY rule ORDER BY total DESC, rule", *args)
    return [dict(r) for r in rows]


async def pending_handoff(conn: Connection, schema: str, severities: list[str], limit: int) -> list[dict[str, Any]]:
    """Anomalies and transitions not yet handed off, important ones first."""
    rows = await conn.fetch(
        _SELECT.format(s=schema) + " WHERE handed_off_at IS NULL AND severity = ANY($1::text[])"
        " ORDER BY (severity = 'important') DESC, created_at LIMIT $2", severities, limit)
    return [_row(r) for r in rows]


async def pending_transitions(conn: Connection, schema: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT id, anomaly_id, from_status, to_status, actor, note, at FROM {schema}.anomaly_transitions"
        " WHERE handed_off_at IS NULL ORDER BY id LIMIT $1", limit)
    return [dict(r) for r in rows]


async def mark_handed_off(conn: Connection, schema: str, anomaly_ids: list[str], transition_ids: list[int]) -> None:
    if anomaly_ids:
        await conn.execute(f"UPDATE {schema}.anomalies SET handed_off_at = now() WHERE anomaly_id = ANY($1::text[])",
                           anomaly_ids)
    if transition_ids:
        await conn.execute(f"UPDATE {schema}.anomaly_transitions SET handed_off_at = now()"
                           " WHERE id = ANY($1::bigint[])", transition_ids)


async def skip_handoff(conn: Connection, schema: str, severities: list[str]) -> None:
    """Anomalies below the hand-off severity are never handed off: mark them so the queue stays small."""
    await conn.execute(f"UPDATE {schema}.anomalies SET handed_off_at = created_at WHERE handed_off_at IS NULL"
                       " AND NOT (severity = ANY($1::text[]))", severities)
    if not severities:  # no hand-off configured at all
        await conn.execute(f"UPDATE {schema}.anomaly_transitions SET handed_off_at = at WHERE handed_off_at IS NULL")
