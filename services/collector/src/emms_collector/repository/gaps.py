"""SQL of the gap index: (meter, item, data time) expected and not collected (R-4.2.6).

A gap is opened by a run that ended without the item, by a run that was never
executed (missed), or by a back-fill request. It is filled by whatever brings
the value later — back-fill, an active report, a manual read — which also
credits the run it came from (its periodic success rate after back-fill).
Back-fill passes take due gaps with ``FOR UPDATE SKIP LOCKED`` and count the
attempt in the same statement, so replicas never back-fill the same gap at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emms_collector.repository import status as status_sql
from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Gap:
    meter_id: str
    item: str
    data_time: datetime
    task_type: str
    terminal: str
    attempts: int = 0
    task_id: str | None = None
    run_id: int | None = None
    reason: str = ""
    origin: str = "run"


async def open_gaps(conn: Connection, gaps: Sequence[Gap]) -> int:
    """Record gaps; an existing one keeps its history (a filled one stays filled)."""
    if not gaps:
        return 0
    rows = await conn.fetch(
        f"""INSERT INTO {SCHEMA}.gap AS g (meter_id, item, data_time, task_type, task_id, run_id, terminal, reason,
                                          origin)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::bigint[],
                                 $7::text[], $8::text[], $9::text[])
            ON CONFLICT (meter_id, item, data_time) DO UPDATE SET
                reason = excluded.reason, run_id = coalesce(g.run_id, excluded.run_id),
                task_id = coalesce(g.task_id, excluded.task_id),
                state = CASE WHEN g.state = 'abandoned' AND excluded.origin = 'request' THEN 'open' ELSE g.state END,
                attempts = CASE WHEN g.state = 'abandoned' AND excluded.origin = 'request' THEN 0 ELSE g.attempts END
            RETURNING 1""",
        [g.meter_id for g in gaps], [g.item for g in gaps], [g.data_time for g in gaps], [g.task_type for g in gaps],
        [g.task_id for g in gaps], [g.run_id for g in gaps], [g.terminal for g in gaps],
        [g.reason[:300] for g in gaps], [g.origin for g in gaps])
    return len(rows)


async def fill(conn: Connection, keys: Sequence[tuple[str, str, datetime]], by: str) -> int:
    """Close the open gaps among ``keys`` (meter, item, data time) and credit their runs."""
    if not keys:
        return 0
    rows = await conn.fetch(
        f"""UPDATE {SCHEMA}.gap g SET state = 'filled', filled_at = now(), filled_by = $4
            FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(m, i, t)
            WHERE g.meter_id = u.m AND g.item = u.i AND g.data_time = u.t AND g.state IN ('open', 'abandoned')
            RETURNING g.run_id, g.meter_id, g.item""",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], by)
    credited = [(r["run_id"], r["meter_id"], r["item"]) for r in rows if r["run_id"] is not None]
    if credited:
        per_run: dict[int, int] = {}
        for run_id, _, _ in credited:
            per_run[run_id] = per_run.get(run_id, 0) + 1
        await conn.execute(
            f"UPDATE {SCHEMA}.task_run r SET ok_final = r.ok_final + u.n"
            " FROM unnest($1::bigint[], $2::int[]) AS u(id, n) WHERE r.id = u.id",
            list(per_run), list(per_run.values()))
        await status_sql.add_collected(conn, credited)
    return len(rows)


async def take_due(conn: Connection, now: datetime, *, horizon: timedelta, retry_after: timedelta,
                   max_attempts: int, limit: int) -> list[Gap]:
    """Open gaps ready for another attempt (oldest data first), their attempt counted; abandon the exhausted."""
    await conn.execute(f"UPDATE {SCHEMA}.gap SET state = 'abandoned' WHERE state = 'open' AND attempts >= $1",
                       max_attempts)
    rows = await conn.fetch(
        f"""WITH due AS (
              SELECT g.meter_id, g.item, g.data_time FROM {SCHEMA}.gap g
              LEFT JOIN {SCHEMA}.task t ON t.id = g.task_id
              WHERE g.state = 'open' AND g.data_time >= $1::timestamptz - $2::interval
                AND g.data_time >= $1::timestamptz - make_interval(days => coalesce(nullif(t.backfill_days, 0), 100000))
                AND coalesce(t.backfill_days, 1) > 0
                AND (g.last_attempt_at IS NULL OR g.last_attempt_at <= $1::timestamptz - $3::interval)
              ORDER BY g.data_time LIMIT $4 FOR UPDATE OF g SKIP LOCKED)
            UPDATE {SCHEMA}.gap g SET attempts = g.attempts + 1, last_attempt_at = $1
            FROM due WHERE g.meter_id = due.meter_id AND g.item = due.item AND g.data_time = due.data_time
            RETURNING g.meter_id, g.item, g.data_time, g.task_type, g.terminal, g.attempts, g.task_id, g.run_id,
                      g.reason, g.origin""",
        now, horizon, retry_after, limit)
    return [Gap(r["meter_id"], r["item"], r["data_time"], r["task_type"], r["terminal"], r["attempts"], r["task_id"],
                r["run_id"], r["reason"], r["origin"]) for r in rows]


async def note_failure(conn: Connection, gaps: Sequence[Gap], reasons: Sequence[str]) -> None:
    if gaps:
        await conn.execute(
            f"UPDATE {SCHEMA}.gap g SET reason = u.r FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])"
            " AS u(m, i, t, r) WHERE g.meter_id = u.m AND g.item = u.i AND g.data_time = u.t",
            [g.meter_id for g in gaps], [g.item for g in gaps], [g.data_time for g in gaps], [r[:300] for r in reasons])


async def open_keys(conn: Connection, keys: Sequence[tuple[str, str, datetime]]) -> set[tuple[str, str, datetime]]:
    """Which of ``keys`` are open gaps (reports and manual reads only fill these)."""
    if not keys:
        return set()
    rows = await conn.fetch(
        f"SELECT g.meter_id, g.item, g.data_time FROM {SCHEMA}.gap g"
        " JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(m, i, t)"
        " ON g.meter_id = u.m AND g.item = u.i AND g.data_time = u.t WHERE g.state IN ('open', 'abandoned')",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
    return {(r["meter_id"], r["item"], r["data_time"]) for r in rows}


async def list_gaps(conn: Connection, *, meter_id: str | None, state: str | None, task_id: str | None,
                    since: datetime | None, limit: int, offset: int,
                    scope: Scope = UNRESTRICTED) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of gaps of meters in ``scope``, newest data first."""
    w = Where()
    w.add_if("g.meter_id = {}", meter_id)
    w.add_if("g.state = {}", state)
    w.add_if("g.task_id = {}", task_id)
    w.add_if("g.data_time >= {}", since)
    scope.meters("g.meter_id", w)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.gap g WHERE {w.sql()}", *w.args)
    rows = await conn.fetch(f"SELECT g.* FROM {SCHEMA}.gap g WHERE {w.sql()}"
                            f" ORDER BY g.data_time DESC, g.meter_id, g.item"
                            f" LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total), [dict(r) for r in rows]


async def count_open(conn: Connection, now: datetime, horizon: timedelta) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.gap WHERE state = 'open'"
                                   " AND data_time >= $1::timestamptz - $2::interval", now, horizon))
