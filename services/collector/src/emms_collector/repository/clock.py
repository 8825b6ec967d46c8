"""SQL of clocks: the latest deviation per terminal (``terminal_clock``) and every measurement and sync
(``clock_sync``), terminal and meter level."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.repository.terminal_class import tolerance_sql
from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


async def note_sessions(conn: Connection, terminals: Sequence[str], deviations: Sequence[float | None],
                        seen: Sequence[datetime], online: Sequence[bool]) -> None:
    """Online state and heartbeat deviation per terminal; an older observation never overwrites a newer one."""
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.terminal_clock AS c (terminal, deviation_s, observed_at, source, online)
            SELECT t, d, o, CASE WHEN d IS NULL THEN '' ELSE 'heartbeat' END, on_ FROM
            unnest($1::text[], $2::float8[], $3::timestamptz[], $4::bool[]) AS u(t, d, o, on_)
            ON CONFLICT (terminal) DO UPDATE SET online = excluded.online,
              deviation_s = coalesce(excluded.deviation_s, c.deviation_s),
              observed_at = CASE WHEN excluded.deviation_s IS NULL THEN c.observed_at
                                 ELSE excluded.observed_at END,
              source = CASE WHEN excluded.deviation_s IS NULL THEN c.source ELSE 'heartbeat' END
            WHERE c.observed_at IS NULL OR excluded.observed_at >= c.observed_at
               OR excluded.deviation_s IS NULL""",
        list(terminals), list(deviations), list(seen), list(online))


async def add_meter_syncs(conn: Connection, rows: Sequence[tuple[str, str | None, str, str, str | None]]) -> None:
    """Meter syncs (terminal, meter, outcome, detail, approved by) reported by terminals (ERC 12)."""
    await conn.executemany(
        f"INSERT INTO {SCHEMA}.clock_sync (terminal, meter_id, level, outcome, detail, approved_by)"
        " VALUES ($1, $2, 'meter', $3, $4, $5)", rows)


async def note_poll(conn: Connection, terminal: str, deviation_s: float | None, round_trip_ms: float | None,
                    detail: str) -> None:
    """A polled clock read: the terminal's deviation (when it answered) and the measurement's record."""
    if deviation_s is not None:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.terminal_clock AS c (terminal, deviation_s, observed_at, source)"
            " VALUES ($1, $2, now(), 'poll') ON CONFLICT (terminal) DO UPDATE SET"
            " deviation_s = excluded.deviation_s, observed_at = excluded.observed_at, source = 'poll'",
            terminal, deviation_s)
    await conn.execute(
        f"INSERT INTO {SCHEMA}.clock_sync (terminal, level, deviation_before_s, round_trip_ms, outcome,"
        " detail, finished_at) VALUES ($1, 'terminal', $2, $3, $4, $5, now())",
        terminal, deviation_s, round_trip_ms, "measured" if deviation_s is not None else "failed", detail)


async def record_terminal_sync(conn: Connection, terminal: str, *, before_s: float | None,
                               round_trip_ms: float | None, set_to: datetime | None, after_s: float | None,
                               latest_s: float | None, outcome: str, detail: str) -> dict[str, Any]:
    """A terminal sync's record, and the terminal's latest deviation and sync result; the record."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"INSERT INTO {SCHEMA}.clock_sync (terminal, level, deviation_before_s, round_trip_ms, set_to, outcome,"
            " deviation_after_s, detail, finished_at) VALUES ($1, 'terminal', $2, $3, $4, $5, $6, $7, now())"
            " RETURNING *", terminal, before_s, round_trip_ms, set_to, outcome, after_s, detail)
        await conn.execute(
            f"INSERT INTO {SCHEMA}.terminal_clock AS c (terminal, deviation_s, observed_at, source, last_sync_at,"
            " last_result, syncs) VALUES ($1, $2, now(), 'sync', now(), $3, 1)"
            " ON CONFLICT (terminal) DO UPDATE SET deviation_s = coalesce($2, c.deviation_s),"
            " observed_at = CASE WHEN $2 IS NULL THEN c.observed_at ELSE now() END, source = 'sync',"
            " last_sync_at = now(), last_result = $3, syncs = c.syncs + 1",
            terminal, latest_s, outcome)
    return dict(row) if row else {}


async def approve_meter_sync(conn: Connection, sync_id: int, approver: str) -> dict[str, Any] | None:
    """Mark a meter sync awaiting approval (or failed) approved; the record, None if there is none such."""
    row = await conn.fetchrow(
        f"UPDATE {SCHEMA}.clock_sync SET outcome = 'approved', approved_by = $2 WHERE id = $1"
        " AND level = 'meter' AND outcome IN ('awaiting_approval', 'failed') RETURNING *", sync_id, approver)
    return dict(row) if row else None


async def finish_sync(conn: Connection, sync_id: int, outcome: str, detail: str, *, set_to: datetime | None = None,
                      after_s: float | None = None) -> dict[str, Any]:
    row = await conn.fetchrow(f"UPDATE {SCHEMA}.clock_sync SET outcome = $2, detail = $3, finished_at = now(),"
                              " set_to = coalesce($4, set_to), deviation_after_s = coalesce($5, deviation_after_s)"
                              " WHERE id = $1 RETURNING *", sync_id, outcome, detail, set_to, after_s)
    return dict(row) if row else {}


async def note_meter_read(conn: Connection, terminal: str, meter_id: str, deviation_s: float | None,
                          round_trip_ms: float | None, detail: str) -> dict[str, Any]:
    """A meter clock read through its terminal: the measurement's record."""
    row = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.clock_sync (terminal, meter_id, level, deviation_before_s, round_trip_ms, outcome,"
        " detail, finished_at) VALUES ($1, $2, 'meter', $3, $4, $5, $6, now()) RETURNING *",
        terminal, meter_id, deviation_s, round_trip_ms, "measured" if deviation_s is not None else "failed", detail)
    return dict(row) if row else {}


async def add_meter_sync_once(conn: Connection, terminal: str, meter_id: str, outcome: str, detail: str,
                              approved_by: str | None, deviation_s: float | None) -> dict[str, Any] | None:
    """A meter sync to approve (or approved), unless one for the meter is still open; the new record or None."""
    row = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.clock_sync (terminal, meter_id, level, outcome, detail, approved_by,"
        " deviation_before_s) SELECT $1, $2, 'meter', $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM"
        f" {SCHEMA}.clock_sync WHERE meter_id = $2 AND level = 'meter' AND finished_at IS NULL"
        " AND outcome IN ('awaiting_approval', 'approved')) RETURNING *",
        terminal, meter_id, outcome, detail, approved_by, deviation_s)
    return dict(row) if row else None


async def count_out_of_tolerance(conn: Connection, tolerance_s: float) -> int:
    """Online terminals whose clock is off by more than their class's tolerance (``tolerance_s`` by default)."""
    return int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.terminal_clock c WHERE online"
                                   f" AND abs(deviation_s) > {tolerance_sql('c.terminal', '$1')}", tolerance_s) or 0)


async def worst_deviation(conn: Connection) -> float | None:
    """The largest absolute clock deviation among online terminals."""
    value = await conn.fetchval(f"SELECT max(abs(deviation_s)) FROM {SCHEMA}.terminal_clock WHERE online")
    return None if value is None else float(value)


CLAIM_LIMIT = 200


async def claim_to_sync(conn: Connection, tolerance_s: float, min_interval_s: float,
                        limit: int = CLAIM_LIMIT) -> list[str]:
    """The online terminals out of their class's tolerance (``tolerance_s`` by default) and not synced within
    ``min_interval_s``, worst first, marked
    ``syncing`` (skipping rows another replica holds)."""
    rows = await conn.fetch(
        f"""UPDATE {SCHEMA}.terminal_clock c SET last_sync_at = now(), last_result = 'syncing'
            WHERE c.terminal IN (SELECT o.terminal FROM {SCHEMA}.terminal_clock o
                WHERE online AND abs(deviation_s) > {tolerance_sql('o.terminal', '$1')}
                  AND (last_sync_at IS NULL OR last_sync_at < now() - make_interval(secs => $2))
                ORDER BY abs(deviation_s) DESC LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)
            RETURNING c.terminal""", tolerance_s, min_interval_s)
    return [r["terminal"] for r in rows]


async def approved_meter_syncs(conn: Connection, limit: int = 200) -> list[tuple[int, str | None]]:
    """(sync id, meter id) of approved meter syncs not yet sent."""
    rows = await conn.fetch(f"SELECT id, meter_id FROM {SCHEMA}.clock_sync WHERE level = 'meter'"
                            f" AND outcome = 'approved' AND finished_at IS NULL LIMIT {int(limit)}")
    return [(r["id"], r["meter_id"]) for r in rows]


async def terminal_clocks(conn: Connection, *, tolerance_s: float, out_of_tolerance: bool, limit: int,
                          offset: int, scope: Scope = UNRESTRICTED) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of the latest clock per terminal in ``scope``, worst deviation first."""
    w = Where([tolerance_s])
    w.add(f"abs(c.deviation_s) > {tolerance_sql('c.terminal', '$1')}" if out_of_tolerance
          else "$1::float8 IS NOT NULL")
    scope.terminals("c.terminal", w)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.terminal_clock c WHERE {w.sql()}", *w.args)
    rows = await conn.fetch(f"SELECT c.*, {tolerance_sql('c.terminal', '$1')} AS tolerance_s"
                            f" FROM {SCHEMA}.terminal_clock c WHERE {w.sql()}"
                            f" ORDER BY abs(c.deviation_s) DESC NULLS LAST, c.terminal"
                            f" LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total or 0), [dict(r) for r in rows]


def _syncs_in(scope: Scope, w: Where) -> None:
    """Clock records of terminals in ``scope`` (and, at meter level, of meters in it)."""
    scope.terminals("s.terminal", w)
    if not scope.unrestricted:
        meters = Where(w.args)
        scope.meters("s.meter_id", meters)
        w.parts.append(f"s.meter_id IS NULL OR {meters.sql()}")


async def list_syncs(conn: Connection, *, terminal: str | None, level: str | None, limit: int,
                     scope: Scope = UNRESTRICTED) -> list[dict[str, Any]]:
    """Clock measurements and syncs (of terminals and meters in ``scope``), newest first."""
    w = Where()
    w.add_if("s.terminal = {}", terminal)
    w.add_if("s.level = {}", level)
    _syncs_in(scope, w)
    rows = await conn.fetch(f"SELECT s.* FROM {SCHEMA}.clock_sync s WHERE {w.sql()}"
                            f" ORDER BY s.requested_at DESC, s.id DESC LIMIT {int(limit)}", *w.args)
    return [dict(r) for r in rows]


async def sync_in_scope(conn: Connection, sync_id: int, scope: Scope) -> bool:
    """Whether the clock record exists and its terminal (and meter) are in ``scope``."""
    w = Where([sync_id])
    w.add("s.id = $1")
    _syncs_in(scope, w)
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.clock_sync s WHERE {w.sql()})",
                                    *w.args))
