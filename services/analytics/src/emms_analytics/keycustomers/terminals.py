"""The terminals' online state (``emms.terminal.session.v1``, published by the FEP on every login, logout,
time-out and clock reading) for the key-customer answer: the newest session message per terminal is kept
(an older one arriving late, or a redelivery, changes nothing), and a customer's answer lists the
terminal of each of its points with its state."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import asyncpg

from emms_bus import Delivery
from emms_db.connection import Connection
from emms_messages.terminal import TerminalSession

SESSION_TOPIC = "emms.terminal.session.v1"
_KEY = re.compile(r"^[0-9A-Fa-f]{4}-[0-9]{5}$")


def terminal_key(address: Any) -> str | None:
    """The bus address ``AAAA-TTTTT`` of an archive terminal address (that form, or 8 hex digits A1 A2)."""
    if not isinstance(address, str) or not address.strip():
        return None
    text = address.strip()
    if _KEY.match(text):
        return text.upper()
    if len(text) == 8 and all(ch in "0123456789abcdefABCDEF" for ch in text):
        return f"{text[:4].upper()}-{int(text[4:], 16):05d}"
    return None


async def store(pool: asyncpg.Pool, schema: str, deliveries: Sequence[Delivery]) -> None:
    """Consumer of the session topic: the newest state per terminal (natural key, idempotent)."""
    newest: dict[str, TerminalSession] = {}
    for d in deliveries:
        p = d.payload
        if isinstance(p, TerminalSession) and (p.terminal not in newest or p.last_seen >= newest[p.terminal].last_seen):
            newest[p.terminal] = p
    if not newest:
        return
    rows = list(newest.values())
    async with pool.acquire() as conn:
        await conn.execute(f"""
INSERT INTO {schema}.terminal_session AS t (terminal, state, since, last_seen, fep_instance, reason)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[])
ON CONFLICT (terminal) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since, last_seen = EXCLUDED.last_seen,
    fep_instance = EXCLUDED.fep_instance, reason = EXCLUDED.reason
WHERE EXCLUDED.last_seen >= t.last_seen""",
                           [r.terminal.upper() for r in rows], [str(r.state) for r in rows], [r.since for r in rows],
                           [r.last_seen for r in rows], [r.fep_instance for r in rows], [r.reason for r in rows])


async def of_points(conn: Connection, schema: str, point_ids: list[str]) -> list[dict[str, Any]]:
    """Each terminal the points are read through, its points and its latest state (None: never heard of)."""
    rows = await conn.fetch(f"""
SELECT mp.terminal, array_agg(mp.metering_point_id ORDER BY mp.metering_point_id) AS metering_points,
       s.state, s.since, s.last_seen, s.reason
FROM {schema}.metering_point mp LEFT JOIN {schema}.terminal_session s ON s.terminal = mp.terminal
WHERE mp.metering_point_id = ANY($1::text[]) AND mp.terminal IS NOT NULL
GROUP BY mp.terminal, s.state, s.since, s.last_seen, s.reason ORDER BY mp.terminal""", point_ids)
    return [{**dict(r), "online": r["state"] == "online"} for r in rows]
