"""SQL of collectors' clocks (``collector_clock``, R-4.6.1.4) and their measurement / sync records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


async def note(conn: Connection, terminal: str, collector: str, port: int, *, deviation_s: float | None,
               round_trip_ms: float | None, result: str, synced: bool) -> None:
    """A collector's latest clock (a read leaves the last known deviation when it got no answer)."""
    await conn.execute(
        f"INSERT INTO {SCHEMA}.collector_clock AS c (terminal, collector, port, deviation_s, round_trip_ms,"
        " observed_at, last_sync_at, last_result) VALUES ($1, $2, $3, $4, $5, CASE WHEN $4::float8 IS NULL THEN"
        " NULL ELSE now() END, CASE WHEN $7 THEN now() END, $6) ON CONFLICT (terminal, collector) DO UPDATE SET"
        " port = excluded.port, deviation_s = coalesce(excluded.deviation_s, c.deviation_s),"
        " round_trip_ms = coalesce(excluded.round_trip_ms, c.round_trip_ms),"
        " observed_at = coalesce(excluded.observed_at, c.observed_at),"
        " last_sync_at = coalesce(excluded.last_sync_at, c.last_sync_at), last_result = excluded.last_result",
        terminal, collector, port, deviation_s, round_trip_ms, result, synced)


async def claim_to_check(conn: Connection, every_s: float, limit: int) -> list[str]:
    """Online terminals with active points whose collectors were not checked within ``every_s``, never
    checked first, marked checked now (skipping rows another replica holds)."""
    rows = await conn.fetch(
        f"""UPDATE {SCHEMA}.terminal_clock c SET collectors_checked_at = now()
            WHERE c.terminal IN (SELECT o.terminal FROM {SCHEMA}.terminal_clock o
                WHERE o.online AND (o.collectors_checked_at IS NULL
                                    OR o.collectors_checked_at < now() - make_interval(secs => $1))
                  AND EXISTS (SELECT 1 FROM {SCHEMA}.point p WHERE p.terminal = o.terminal AND p.active)
                ORDER BY o.collectors_checked_at NULLS FIRST LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING c.terminal""", every_s, limit)
    return [r["terminal"] for r in rows]


async def record(conn: Connection, terminal: str, collector: str, *, before_s: float | None,
                 round_trip_ms: float | None, set_to: datetime | None, after_s: float | None, outcome: str,
                 detail: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.clock_sync (terminal, collector, level, deviation_before_s, round_trip_ms, set_to,"
        " outcome, deviation_after_s, detail, finished_at) VALUES ($1, $2, 'collector', $3, $4, $5, $6, $7, $8,"
        " now()) RETURNING *", terminal, collector, before_s, round_trip_ms, set_to, outcome, after_s, detail[:300])
    return dict(row) if row else {}


async def listed(conn: Connection, *, terminal: str | None, out_of_tolerance_s: float | None, limit: int,
                 scope: Scope = UNRESTRICTED) -> list[dict[str, Any]]:
    """Collectors' latest clocks (of terminals in ``scope``), worst first."""
    w = Where()
    w.add_if("c.terminal = {}", terminal)
    w.add_if("abs(c.deviation_s) > {}", out_of_tolerance_s)
    scope.terminals("c.terminal", w)
    rows = await conn.fetch(f"SELECT c.* FROM {SCHEMA}.collector_clock c WHERE {w.sql()}"
                            f" ORDER BY abs(c.deviation_s) DESC NULLS LAST, c.terminal, c.collector"
                            f" LIMIT {int(limit)}", *w.args)
    return [dict(r) for r in rows]
