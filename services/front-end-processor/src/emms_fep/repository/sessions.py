"""``fep.sessions``: the batched session writer, and the queries the API and routing read.

Writes are coalesced per terminal and flushed in one statement per batch, so a
login storm of twenty thousand terminals is a handful of round trips. A row is
only overwritten by the same connection or by a newer session (``since``), so
a replica that lost a terminal to another never marks it offline there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from emms_db.where import Where
from emms_fep.scope import Scope
from emms_messages.terminal import TerminalSession

UPSERT = """
INSERT INTO {schema}.sessions AS s (terminal, state, fep_instance, connection_id, port, peer, since, last_seen,
                                   reason, terminal_clock, clock_deviation_s, updated_at)
SELECT *, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::timestamptz[], $8::timestamptz[], $9::text[], $10::timestamptz[], $11::float8[])
ON CONFLICT (terminal) DO UPDATE SET
    state = EXCLUDED.state, fep_instance = EXCLUDED.fep_instance, connection_id = EXCLUDED.connection_id,
    port = EXCLUDED.port, peer = EXCLUDED.peer, since = EXCLUDED.since,
    last_seen = GREATEST(EXCLUDED.last_seen, CASE WHEN s.connection_id = EXCLUDED.connection_id
                                                  THEN s.last_seen END),
    reason = EXCLUDED.reason, terminal_clock = COALESCE(EXCLUDED.terminal_clock, s.terminal_clock),
    clock_deviation_s = COALESCE(EXCLUDED.clock_deviation_s, s.clock_deviation_s), updated_at = now()
WHERE s.connection_id = EXCLUDED.connection_id OR EXCLUDED.since > s.since
"""

SEEN = """
UPDATE {schema}.sessions s SET last_seen = v.ts, updated_at = now()
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v(terminal, connection_id, ts)
WHERE s.terminal = v.terminal AND s.connection_id = v.connection_id AND s.last_seen < v.ts
"""


CHUNK = 1000  # rows per statement


@dataclass(frozen=True, slots=True)
class _Row:
    payload: TerminalSession
    port: str


class SessionWriter:
    """Buffers session changes and heartbeat times; :meth:`flush` writes them."""

    def __init__(self, schema: str) -> None:
        self._upsert = UPSERT.format(schema=schema)
        self._seen_sql = SEEN.format(schema=schema)
        self._rows: dict[str, _Row] = {}
        self._seen: dict[str, tuple[str, float]] = {}
        self.flushed = 0
        self._flushing = 0

    def __len__(self) -> int:
        """Changes not yet committed (buffered, or in the flush under way)."""
        return len(self._rows) + len(self._seen) + self._flushing

    def put(self, payload: TerminalSession, port: str) -> None:
        self._rows[payload.terminal] = _Row(payload, port)

    def seen(self, terminal: str, connection_id: str, at: float) -> None:
        self._seen[terminal] = (connection_id, at)

    async def flush(self, pool: asyncpg.Pool) -> int:
        rows, self._rows = self._rows, {}
        seen, self._seen = self._seen, {}
        self._flushing = len(rows) + len(seen)
        try:
            async with pool.acquire() as conn, conn.transaction():
                values = list(rows.values())
                for i in range(0, len(values), CHUNK):  # bounded statements: encoding them blocks the loop
                    await conn.execute(self._upsert, *_columns(values[i:i + CHUNK]))
                marks = list(seen.items())
                for i in range(0, len(marks), CHUNK):
                    part = marks[i:i + CHUNK]
                    await conn.execute(self._seen_sql, [t for t, _ in part], [c for _, (c, _) in part],
                                       [datetime.fromtimestamp(at, UTC) for _, (_, at) in part])
        except BaseException:
            for terminal, row in rows.items():
                self._rows.setdefault(terminal, row)
            for terminal, value in seen.items():
                self._seen.setdefault(terminal, value)
            raise
        finally:
            self._flushing = 0
        self.flushed += len(rows) + len(seen)
        return len(rows) + len(seen)


def _columns(rows: list[_Row]) -> list[list[Any]]:
    p = [r.payload for r in rows]
    return [[x.terminal for x in p], [x.state.value for x in p], [x.fep_instance for x in p],
            [x.connection_id for x in p], [r.port for r in rows], [x.peer for x in p], [x.since for x in p],
            [x.last_seen for x in p], [x.reason for x in p], [x.terminal_clock for x in p],
            [x.clock_deviation_s for x in p]]


COLUMNS = ("terminal, state, fep_instance, connection_id, port, peer, since, last_seen, reason, terminal_clock,"
           " clock_deviation_s, updated_at")


async def list_sessions(pool: asyncpg.Pool, schema: str, *, state: str | None, replica: str | None,
                        prefix: str | None, limit: int, offset: int,
                        scope: Scope | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Session rows matching the filters, of terminals in ``scope`` when given."""
    where = Where()
    where.add_if("state = {}", state)
    where.add_if("fep_instance = {}", replica)
    where.add_if("starts_with(terminal, {})", prefix)
    if scope is not None:
        scope.restrict_terminals("terminal", where)
    cond = where.sql()
    async with pool.acquire() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM {schema}.sessions WHERE {cond}", *where.args)
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM {schema}.sessions WHERE {cond} ORDER BY terminal"
            f" LIMIT ${len(where.args) + 1} OFFSET ${len(where.args) + 2}", *where.args, limit, offset)
    return int(total), [dict(r) for r in rows]


async def get_session(pool: asyncpg.Pool, schema: str, terminal: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT {COLUMNS} FROM {schema}.sessions WHERE terminal = $1", terminal)
    return dict(row) if row else None


async def holders(pool: asyncpg.Pool, schema: str, terminals: list[str]) -> dict[str, tuple[str, str]]:
    """terminal → (state, replica) as recorded, for the terminals that have a row."""
    rows = await pool.fetch(
        f"SELECT terminal, state, fep_instance FROM {schema}.sessions WHERE terminal = ANY($1::text[])", terminals)
    return {r["terminal"]: (r["state"], r["fep_instance"]) for r in rows}


async def count_by_state(pool: asyncpg.Pool, schema: str) -> dict[str, int]:
    rows = await pool.fetch(f"SELECT state, count(*) AS n FROM {schema}.sessions GROUP BY state")
    return {r["state"]: int(r["n"]) for r in rows}


async def mark_replica_offline(pool: asyncpg.Pool, schema: str, replica: str, reason: str) -> int:
    """At start-up and shutdown: rows this replica left online are offline now."""
    result = await pool.execute(
        f"UPDATE {schema}.sessions SET state = 'offline', reason = $2, updated_at = now()"
        " WHERE fep_instance = $1 AND state = 'online'", replica, reason)
    return int(result.split()[-1])
