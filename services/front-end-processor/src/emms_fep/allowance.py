"""SIM traffic against its allowance (R-4.6.6): every ``CHECK_S`` the terminals whose bytes (in + out) of today
or of this month exceed the allowance set for their SIM are counted into
``emms_fep_traffic_over_allowance_terminals{period}`` (alert ``EmmsSimTrafficOverAllowance``) and logged.
Every replica computes the same figure from the shared tables (the alert takes the max)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import structlog

from emms_fep import metrics
from emms_fep.repository import channels as channel_sql
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.fep.allowance")
CHECK_S = 60.0


class AllowanceWatch:
    def __init__(self, pool: asyncpg.Pool, schema: str, every_s: float = CHECK_S) -> None:
        self._pool = pool
        self._schema = schema
        self._every_s = every_s
        self.over: list[dict[str, object]] = []

    async def check(self) -> list[dict[str, object]]:
        today = datetime.now(UTC).date()
        async with self._pool.acquire() as conn:
            over = await channel_sql.usage(conn, self._schema, today, over_only=True)
        metrics.TRAFFIC_OVER_ALLOWANCE.labels("day").set(sum(1 for o in over if o["day_over"]))
        metrics.TRAFFIC_OVER_ALLOWANCE.labels("month").set(sum(1 for o in over if o["month_over"]))
        for o in over:
            log.warning("sim traffic over its allowance", terminal=o["terminal"], sim=o["sim_iccid"],
                        day_bytes=o["day_bytes"], month_bytes=o["month_bytes"])
        self.over = list(over)
        return self.over

    async def run(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("traffic-allowance", self.check, self._every_s).run(stop)
