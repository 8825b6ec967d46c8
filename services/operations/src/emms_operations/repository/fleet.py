"""Terminals and meters (master data), session history and state, downlink outcomes per terminal and day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.schema import SCHEMA

S = SCHEMA


async def upsert_terminal(conn: Connection, terminal_id: str, terminal: str | None, fields: dict[str, Any]) -> None:
    cols = ["kind", "model", "vendor", "firmware", "company_id", "region_id", "status"]
    given = {c: fields[c] for c in cols if c in fields}
    names = ", ".join(given)
    values = ", ".join(f"${i + 3}" for i in range(len(given)))
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in given)
    await conn.execute(
        f"DELETE FROM {S}.terminals WHERE terminal = $2 AND terminal_id <> $1", terminal_id, terminal)
    await conn.execute(
        f"INSERT INTO {S}.terminals (terminal_id, terminal{', ' + names if given else ''}) VALUES ($1, $2"
        f"{', ' + values if given else ''}) ON CONFLICT (terminal_id) DO UPDATE SET terminal = EXCLUDED.terminal,"
        f" updated_at = now(){', ' + sets if given else ''}", terminal_id, terminal, *given.values())


async def upsert_meter(conn: Connection, meter_id: str, terminal: str | None, active: bool) -> None:
    await conn.execute(
        f"INSERT INTO {S}.meters (meter_id, terminal, active) VALUES ($1, $2, $3) ON CONFLICT (meter_id) DO UPDATE"
        " SET terminal = COALESCE(EXCLUDED.terminal, meters.terminal), active = EXCLUDED.active,"
        " installed_at = CASE WHEN EXCLUDED.active AND NOT meters.active THEN now() ELSE meters.installed_at END",
        meter_id, terminal, active)


async def touch_meters(conn: Connection, last: dict[str, tuple[str, datetime]]) -> None:
    """The newest reading time of each meter (meter → (terminal, time)); an older time changes nothing."""
    if not last:
        return
    ids = list(last)
    await conn.execute(
        f"INSERT INTO {S}.meters (meter_id, terminal, last_reading_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
        " ON CONFLICT (meter_id) DO UPDATE SET last_reading_at = GREATEST(meters.last_reading_at,"
        " EXCLUDED.last_reading_at), terminal = COALESCE(meters.terminal, EXCLUDED.terminal)",
        ids, [last[m][0] for m in ids], [last[m][1] for m in ids])


async def record_sessions(conn: Connection, rows: Sequence[tuple[str, datetime, bool, str, str]]) -> None:
    """Session events (terminal, at, online, connection id, reason), each once; the state follows the newest."""
    if not rows:
        return
    await conn.executemany(
        f"INSERT INTO {S}.session_events (terminal, at, online, connection_id, reason) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT DO NOTHING", rows)
    await conn.executemany(
        f"INSERT INTO {S}.terminal_state (terminal, online, since, connection_id, first_seen)"
        " VALUES ($1, $3, $2, $4, $2) ON CONFLICT (terminal) DO UPDATE SET online = EXCLUDED.online,"
        " since = EXCLUDED.since, connection_id = EXCLUDED.connection_id,"
        " first_seen = LEAST(terminal_state.first_seen, EXCLUDED.first_seen)"
        " WHERE EXCLUDED.since > terminal_state.since"
        " OR (EXCLUDED.since = terminal_state.since AND NOT EXCLUDED.online)",
        [r[:4] for r in rows])
    await conn.executemany(
        f"UPDATE {S}.terminal_state SET first_seen = $2 WHERE terminal = $1 AND first_seen > $2",
        [(r[0], r[1]) for r in rows])


async def add_requests(conn: Connection, counts: dict[tuple[str, date], tuple[int, int]]) -> None:
    if not counts:
        return
    keys = list(counts)
    await conn.execute(
        f"INSERT INTO {S}.terminal_requests_daily (terminal, day, requests, answered)"
        " SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[], $4::bigint[])"
        " ON CONFLICT (terminal, day) DO UPDATE SET requests = terminal_requests_daily.requests + EXCLUDED.requests,"
        " answered = terminal_requests_daily.answered + EXCLUDED.answered",
        [k[0] for k in keys], [k[1] for k in keys], [counts[k][0] for k in keys], [counts[k][1] for k in keys])


async def offline_since(conn: Connection, before: datetime) -> list[dict[str, Any]]:
    """Terminals offline since before ``before`` (installed or not)."""
    rows = await conn.fetch(
        f"SELECT s.terminal, s.since, t.terminal_id FROM {S}.terminal_state s"
        f" LEFT JOIN {S}.terminals t ON t.terminal = s.terminal"
        " WHERE NOT s.online AND s.since < $1 AND COALESCE(t.status, 'active') = 'active'", before)
    return [dict(r) for r in rows]


async def online_terminals(conn: Connection) -> list[str]:
    return [r["terminal"] for r in await conn.fetch(f"SELECT terminal FROM {S}.terminal_state WHERE online")]


async def silent_meters(conn: Connection, before: datetime) -> list[dict[str, Any]]:
    """Active meters whose newest reading (or installation, when never read) is older than ``before``."""
    rows = await conn.fetch(
        f"SELECT meter_id, terminal, last_reading_at FROM {S}.meters"
        " WHERE active AND COALESCE(last_reading_at, installed_at) < $1", before)
    return [dict(r) for r in rows]


async def answering_meters(conn: Connection, since: datetime) -> list[str]:
    return [r["meter_id"] for r in await conn.fetch(
        f"SELECT meter_id FROM {S}.meters WHERE NOT active OR last_reading_at >= $1", since)]


async def session_history(conn: Connection, terminals: Sequence[str] | None,
                          until: datetime) -> dict[str, list[tuple[datetime, bool]]]:
    rows = await conn.fetch(
        f"SELECT terminal, at, online FROM {S}.session_events WHERE at < $2"
        " AND ($1::text[] IS NULL OR terminal = ANY($1::text[])) ORDER BY terminal, at",
        None if terminals is None else list(terminals), until)
    out: dict[str, list[tuple[datetime, bool]]] = {}
    for r in rows:
        out.setdefault(r["terminal"], []).append((r["at"], r["online"]))
    return out


async def fleet_counts(conn: Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM {S}.terminals) AS installed,"
        f" (SELECT count(*) FROM {S}.terminals WHERE status = 'active') AS in_operation,"
        f" (SELECT count(*) FROM {S}.terminal_state WHERE online) AS online,"
        f" (SELECT count(*) FROM {S}.terminal_state WHERE NOT online) AS offline,"
        f" (SELECT count(*) FROM {S}.terminals t WHERE status = 'active' AND NOT EXISTS"
        f"   (SELECT 1 FROM {S}.terminal_state s WHERE s.terminal = t.terminal)) AS never_seen")
    assert row is not None
    return {k: int(v) for k, v in dict(row).items()}


async def success_rates(conn: Connection, since: date, limit: int) -> list[dict[str, Any]]:
    """Per terminal since a day: requests, answered, rate; the worst first."""
    rows = await conn.fetch(
        f"SELECT terminal, sum(requests)::bigint AS requests, sum(answered)::bigint AS answered,"
        " round(sum(answered)::numeric / NULLIF(sum(requests), 0), 4)::float8 AS success_rate"
        f" FROM {S}.terminal_requests_daily WHERE day >= $1 GROUP BY terminal"
        " ORDER BY success_rate ASC NULLS LAST, terminal LIMIT $2", since, limit)
    return [dict(r) for r in rows]


async def success_total(conn: Connection, since: date) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"SELECT COALESCE(sum(requests), 0)::bigint AS requests, COALESCE(sum(answered), 0)::bigint AS answered"
        f" FROM {S}.terminal_requests_daily WHERE day >= $1", since)
    assert row is not None
    requests, answered = int(row["requests"]), int(row["answered"])
    return {"requests": requests, "answered": answered,
            "success_rate": round(answered / requests, 4) if requests else None}


async def terminals(conn: Connection, wanted: Sequence[str] | None) -> list[dict[str, Any]]:
    """Terminals known from master data or sessions, with their make and first session record."""
    rows = await conn.fetch(
        f"SELECT COALESCE(t.terminal, s.terminal) AS terminal, t.terminal_id, t.kind, t.model, t.vendor,"
        f" t.firmware, t.status, s.online, s.since, s.first_seen FROM {S}.terminals t"
        f" FULL JOIN {S}.terminal_state s ON s.terminal = t.terminal"
        " WHERE COALESCE(t.terminal, s.terminal) IS NOT NULL"
        " AND ($1::text[] IS NULL OR COALESCE(t.terminal, s.terminal) = ANY($1::text[]))"
        " ORDER BY 1", None if wanted is None else list(wanted))
    return [dict(r) for r in rows]


async def make_of(conn: Connection, terminal: str | None) -> dict[str, Any]:
    if terminal is None:
        return {}
    row = await conn.fetchrow(
        f"SELECT kind, model, vendor, firmware FROM {S}.terminals WHERE terminal = $1", terminal)
    return dict(row) if row else {}


async def terminal_of_meter(conn: Connection, meter_id: str) -> str | None:
    value = await conn.fetchval(f"SELECT terminal FROM {S}.meters WHERE meter_id = $1", meter_id)
    return None if value is None else str(value)
