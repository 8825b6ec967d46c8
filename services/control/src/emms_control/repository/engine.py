"""SQL of the command engine: claiming devices to send, requests and their results, device transitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection

_DEVICE = ("d.*, j.action, j.origin, j.requested_by, j.params, j.state AS job_state")
_KEY = "job_id = $1 AND meter_id = $2 AND terminal = $3"


def _row(r: Any) -> dict[str, Any]:
    out = dict(r)
    if isinstance(out.get("params"), str):
        out["params"] = json.loads(out["params"])
    return out


def _rows(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [_row(r) for r in rows]


async def start_due_jobs(conn: Connection) -> None:
    await conn.execute("UPDATE control.jobs SET state = 'running', started_at = now()"
                       " WHERE state = 'scheduled' AND (not_before IS NULL OR not_before <= now())")


async def expire_unconfirmed(conn: Connection) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(
        "UPDATE control.jobs SET state = 'expired', finished_at = now()"
        " WHERE state = 'awaiting_confirmation' AND confirm_by < now() RETURNING *"))


async def cancel_devices(conn: Connection, job_id: str, reason: str) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(
        "UPDATE control.job_devices SET state = 'cancelled', outcome = 'cancelled', reason = $2, finished_at = now()"
        " WHERE job_id = $1::uuid AND state = 'pending' RETURNING *", job_id, reason))


async def overdue(conn: Connection, limit: int) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(
        f"SELECT {_DEVICE} FROM control.job_devices d JOIN control.jobs j USING (job_id)"
        " WHERE d.state = 'sent' AND d.due_at < now() ORDER BY d.due_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED", limit))


async def claim_pending(conn: Connection, in_flight: int, limit: int) -> list[dict[str, Any]]:
    """Pending devices to send now: at most ``in_flight`` out per terminal, terminals interleaved.

    The rows picked are locked by their ``ctid`` (a TID scan), not by joining the picked keys back to
    ``job_devices``: right after a large job is inserted the table has no statistics yet (autovacuum
    lags, or is off), the planner takes the candidates for one row and joined them back through the
    partial pending index with a filter on (meter, terminal) — a scan of every pending row of the job
    per candidate, 13–20 s per claim at 10,000 devices. A TID scan is one fetch per row whatever the
    statistics say."""
    return _rows(await conn.fetch(
        f"""
        WITH busy AS (SELECT terminal, count(*) AS n FROM control.job_devices WHERE state = 'sent' GROUP BY terminal),
        cand AS (
            SELECT d.ctid AS tid, d.terminal,
                   row_number() OVER (PARTITION BY d.terminal ORDER BY j.created_at, d.seq) AS rn
            FROM control.job_devices d JOIN control.jobs j USING (job_id)
            WHERE d.state = 'pending' AND (d.due_at IS NULL OR d.due_at <= now())
              AND (j.state = 'running' OR (j.state = 'cancelled' AND d.step = 'verify'))
        ),
        pick AS (
            SELECT c.tid FROM cand c LEFT JOIN busy b ON b.terminal = c.terminal
            WHERE c.rn <= $1 - COALESCE(b.n, 0)
            ORDER BY c.rn, c.terminal
            LIMIT $2
        )
        SELECT {_DEVICE}
        FROM control.job_devices d JOIN control.jobs j USING (job_id)
        WHERE d.ctid = ANY (ARRAY(SELECT tid FROM pick)) AND d.state = 'pending'
        FOR UPDATE OF d SKIP LOCKED
        """, in_flight, limit))


async def mark_sent(conn: Connection, sends: Sequence[tuple[Any, str, str, str, str, int]], due_at: datetime) -> None:
    """(job_id, meter_id, terminal, request_id, step, attempt) per device: the device is ``sent``; the request
    is recorded for correlating its result."""
    cols = list(zip(*sends, strict=True))
    args = [[str(j) for j in cols[0]], list(cols[1]), list(cols[2]), list(cols[3]), list(cols[4]), list(cols[5])]
    await conn.execute(
        "INSERT INTO control.requests (request_id, job_id, meter_id, terminal, step, attempt)"
        " SELECT r, j::uuid, m, t, s, a FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::int[]) AS u(j, m, t, r, s, a)", *args)
    await conn.execute(
        "UPDATE control.job_devices d SET state = 'sent', request_id = u.r, attempts = u.a, sent_at = now(),"
        " due_at = $7, retry_reason = NULL"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[]) AS u(j, m, t, r, s, a)"
        " WHERE d.job_id = u.j::uuid AND d.meter_id = u.m AND d.terminal = u.t", *args, due_at)


async def record_results(conn: Connection, results: Sequence[tuple[str, str, str, datetime]]
                         ) -> dict[str, dict[str, Any]]:
    """Record (request_id, outcome, detail, completed_at); returns the request rows newly answered (a request
    answered before is left out: its result was taken)."""
    cols = list(zip(*results, strict=True))
    rows = await conn.fetch(
        "UPDATE control.requests q SET outcome = u.o, detail = u.d, answered_at = u.c"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(r, o, d, c)"
        " WHERE q.request_id = u.r AND q.outcome IS NULL RETURNING q.*", *[list(c) for c in cols])
    return {r["request_id"]: dict(r) for r in rows}


async def devices_for_requests(conn: Connection, requests: Sequence[dict[str, Any]]
                               ) -> dict[tuple[Any, str, str], dict[str, Any]]:
    if not requests:
        return {}
    rows = await conn.fetch(
        f"SELECT {_DEVICE} FROM control.job_devices d JOIN control.jobs j USING (job_id)"
        " JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS u(j, m, t)"
        " ON d.job_id = u.j AND d.meter_id = u.m AND d.terminal = u.t"
        " ORDER BY d.job_id, d.seq FOR UPDATE OF d",
        [r["job_id"] for r in requests], [r["meter_id"] for r in requests], [r["terminal"] for r in requests])
    return {(r["job_id"], r["meter_id"], r["terminal"]): _row(r) for r in rows}


async def to_verify(conn: Connection, job_id: Any, meter_id: str, terminal: str) -> None:
    await conn.execute(
        "UPDATE control.job_devices SET step = 'verify', state = 'pending', attempts = 0, confirmed_at = now(),"
        f" due_at = NULL, retry_reason = NULL WHERE {_KEY}", job_id, meter_id, terminal)


async def to_retry(conn: Connection, job_id: Any, meter_id: str, terminal: str, why: str, at: datetime) -> None:
    await conn.execute(
        f"UPDATE control.job_devices SET state = 'pending', due_at = $5, retry_reason = $4 WHERE {_KEY}",
        job_id, meter_id, terminal, why, at)


async def finish_device(conn: Connection, job_id: Any, meter_id: str, terminal: str, state: str, outcome: str,
                        reason: str, verified: str | None) -> dict[str, Any] | None:
    """Finish a device still open; None when it was finished already."""
    row = await conn.fetchrow(
        "UPDATE control.job_devices SET state = $4, outcome = $5, reason = $6, verified_state = $7,"
        f" finished_at = now() WHERE {_KEY} AND state IN ('pending', 'sent')"
        " RETURNING *, (SELECT min(q.sent_at) FROM control.requests q WHERE q.job_id = $1 AND q.meter_id = $2"
        " AND q.terminal = $3) AS first_sent_at,"
        " (SELECT array_agg(q.request_id ORDER BY q.sent_at, q.request_id) FROM control.requests q"
        "  WHERE q.job_id = $1 AND q.meter_id = $2 AND q.terminal = $3) AS request_ids",
        job_id, meter_id, terminal, state, outcome, reason, verified)
    return None if row is None else dict(row)


async def request_ids(conn: Connection, job_id: Any, meter_id: str, terminal: str) -> list[str]:
    rows = await conn.fetch(f"SELECT request_id FROM control.requests WHERE {_KEY} ORDER BY sent_at, request_id",
                            job_id, meter_id, terminal)
    return [r["request_id"] for r in rows]


async def finish_done_jobs(conn: Connection) -> list[str]:
    rows = await conn.fetch(
        "UPDATE control.jobs j SET state = 'done', finished_at = now() WHERE j.state = 'running' AND NOT EXISTS"
        " (SELECT 1 FROM control.job_devices d WHERE d.job_id = j.job_id AND d.state IN ('pending', 'sent'))"
        " RETURNING j.job_id::text")
    return [r["job_id"] for r in rows]


async def gauges(conn: Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM control.jobs WHERE state = 'running') AS running,"
        " (SELECT count(*) FROM control.job_devices WHERE state IN ('pending', 'sent')) AS pending")
    assert row is not None
    return int(row["running"]), int(row["pending"])
