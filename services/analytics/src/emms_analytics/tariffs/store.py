"""Consumer of ``emms.terminal.tariff.v1`` (the collector publishes a terminal's tariff each time it stores a read
of F21 / F22): the newest tariff per terminal by ``read_at``. At least once on the bus: a redelivered message, or
an older read arriving late, changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from emms_analytics.keycustomers.terminals import terminal_key
from emms_bus import Delivery
from emms_db.connection import Connection
from emms_messages.terminal import TerminalTariff

TARIFF_TOPIC = "emms.terminal.tariff.v1"


async def store(pool: asyncpg.Pool, schema: str, deliveries: Sequence[Delivery]) -> None:
    """Upsert the newest tariff of each terminal in the batch where it is newer than the one held."""
    newest: dict[str, TerminalTariff] = {}
    for d in deliveries:
        p = d.payload
        if not isinstance(p, TerminalTariff):
            continue
        key = terminal_key(p.terminal) or p.terminal.upper()
        if key not in newest or p.read_at > newest[key].read_at:
            newest[key] = p
    if not newest:
        return
    async with pool.acquire() as conn:
        await conn.executemany(f"""
INSERT INTO {schema}.terminal_tariff AS t (terminal, slots, rate_count, rates, read_at)
VALUES ($1, $2::smallint[], $3, $4::int[], $5)
ON CONFLICT (terminal) DO UPDATE SET slots = EXCLUDED.slots, rate_count = EXCLUDED.rate_count,
    rates = EXCLUDED.rates, read_at = EXCLUDED.read_at
WHERE EXCLUDED.read_at > t.read_at""",
                               [(key, p.slots, p.rate_count, p.rates, p.read_at) for key, p in newest.items()])


async def held(conn: Connection, schema: str, terminals: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The tariffs held for ``terminals``: slots (0-based), M, rates (厘 per kWh or None) and when read."""
    rows = await conn.fetch(f"SELECT terminal, slots, rate_count, rates, read_at FROM {schema}.terminal_tariff"
                            f" WHERE terminal = ANY($1::text[])", list(terminals))
    return {r["terminal"]: {"slots": list(r["slots"]), "rate_count": r["rate_count"],
                            "rates": None if r["rates"] is None else list(r["rates"]), "read_at": r["read_at"]}
            for r in rows}
