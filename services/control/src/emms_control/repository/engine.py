"""SQL of the command engine: claiming devices to send, requests and their results, device transitions."""

from __future__ import annotations

import json
import uuid
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


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


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

    One pass over the open rows: per terminal the rows with a request out (``sent``, of any job) rank
    first, then the sendable pending ones in job order; a pending row ranked within ``in_flight`` is
    claimed. The picked rows are locked by their ``ctid`` (a TID scan). No join of the candidates back
    to ``job_devices`` nor to a per-terminal count: right after a large job is inserted the table has
    no statistics (autovacuum lags, or is off), the planner takes the candidates for one row and such
    joins become a scan per candidate — the claim took 13–20 s at 10,000 devices (joined back through
    the pending index) and still up to seconds joined to the counts. Every step here is linear."""
    return _rows(await conn.fetch(
        f"""
        WITH cand AS (
            SELECT d.ctid AS tid, d.terminal, d.state,
                   row_number() OVER (PARTITION BY d.terminal ORDER BY d.state = 'sent' DESC, j.created_at, d.seq)
                       AS rn
            FROM control.job_devices d JOIN control.jobs j USING (job_id)
            WHERE d.state = 'sent'
               OR (d.state = 'pending' AND (d.due_at IS NULL OR d.due_at <= now())
                   AND (j.state = 'running' OR (j.state = 'cancelled' AND d.step = 'verify')))
        ),
        pick AS (
            SELECT tid FROM cand WHERE state = 'pending' AND rn <= $1 ORDER BY rn, terminal LIMIT $2
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


async def to_verify(conn: Connection, devices: Sequence[tuple[Any, str, str]]) -> None:
    """(job_id, meter_id, terminal) of devices that confirmed their command: on to the read-back, in one statement."""
    if not devices:
        return
    cols = list(zip(*devices, strict=True))
    await conn.execute(
        "UPDATE control.job_devices d SET step = 'verify', state = 'pending', attempts = 0, confirmed_at = now(),"
        " due_at = NULL, retry_reason = NULL FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(j, m, t)"
        " WHERE d.job_id = u.j AND d.meter_id = u.m AND d.terminal = u.t",
        [_uuid(j) for j in cols[0]], list(cols[1]), list(cols[2]))


async def to_retry(conn: Connection, job_id: Any, meter_id: str, terminal: str, why: str, at: datetime) -> None:
    await conn.execute(
        f"UPDATE control.job_devices SET state = 'pending', due_at = $5, retry_reason = $4 WHERE {_KEY}",
        job_id, meter_id, terminal, why, at)


async def finish_devices(conn: Connection, finishes: Sequence[tuple[Any, str, str, str, str, str, str | None]]
                         ) -> dict[tuple[Any, str, str], dict[str, Any]]:
    """(job_id, meter_id, terminal, state, outcome, reason, verified_state) of devices to finish, in one statement:
    the rows of those still open (a device finished already is left out), each with its first send and request
    ids. A device appears once in ``finishes``."""
    if not finishes:
        return {}
    cols = list(zip(*finishes, strict=True))
    rows = await conn.fetch(
        "WITH done AS (UPDATE control.job_devices d SET state = u.s, outcome = u.o, reason = u.r,"
        " verified_state = u.v, finished_at = now()"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
        " AS u(j, m, t, s, o, r, v)"
        " WHERE d.job_id = u.j AND d.meter_id = u.m AND d.terminal = u.t AND d.state IN ('pending', 'sent')"
        " RETURNING d.*)"
        " SELECT done.*, q.first_sent_at, q.request_ids FROM done LEFT JOIN LATERAL"
        " (SELECT min(r.sent_at) AS first_sent_at, array_agg(r.request_id ORDER BY r.sent_at, r.request_id)"
        "  AS request_ids FROM control.requests r WHERE r.job_id = done.job_id AND r.meter_id = done.meter_id"
        "  AND r.terminal = done.terminal) q ON true",
        [_uuid(j) for j in cols[0]], *[list(c) for c in cols[1:]])
    return {(r["job_id"], r["meter_id"], r["terminal"]): dict(r) for r in rows}


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
