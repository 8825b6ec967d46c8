"""Key customers chosen by rule, kept in ``key_customer_chosen`` for Grafana's reporting view.

Every rule is evaluated in the whole scope (the dashboards filter by the viewer's company and region
themselves) at the current instant, every ``key_customer_refresh_s`` and at once when a rule is created
or changed; a rule's rows are replaced in one transaction, under one advisory lock so that replicas do
not interleave. A removed rule's rows go with it (foreign key, ``ON DELETE CASCADE``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from emms_analytics.keycustomers import repository as repo
from emms_analytics.keycustomers import rules
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.analytics.keycustomers")
LOCK = (0x414E, 0x4B43)
"""Advisory lock (analytics' class, "KC") held while the chosen rows are replaced."""


async def refresh(rt: AnalyticsRuntime, at: datetime | None = None, rule_id: str | None = None) -> int:
    """Evaluate every rule (or one) at ``at`` (now) and replace its rows; returns the rows written."""
    when = at or datetime.now(UTC)
    async with rt.pool.acquire() as conn:
        chosen_rules = [r for r in await repo.rules(conn, SCHEMA) if rule_id is None or r.rule_id == rule_id]
    picks = [(rule, rules.window(rt, rule, when), await rules.chosen(rt, Scope(), rule, when)) for rule in chosen_rules]
    written = 0
    async with rt.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *LOCK)
        for rule, (start, end), rows in picks:
            await conn.execute(f"DELETE FROM {SCHEMA}.key_customer_chosen WHERE rule_id = $1", rule.rule_id)
            # the rule may have been removed meanwhile: nothing is written for it then
            done = await conn.fetch(
                f"""INSERT INTO {SCHEMA}.key_customer_chosen
                        (rule_id, customer_id, rank, usage, period_from, period_to, chosen_at)
                    SELECT $1, c, r, u, $5, $6, $7 FROM unnest($2::text[], $3::int[], $4::float8[]) AS x(c, r, u)
                    WHERE EXISTS (SELECT 1 FROM {SCHEMA}.key_customer_rule WHERE rule_id = $1)
                    RETURNING customer_id""",
                rule.rule_id, [p["customer_id"] for p in rows], [p["rank"] for p in rows],
                [p["usage"] for p in rows], start, end, when)
            written += len(done)
    return written


async def run(rt: AnalyticsRuntime, stop: asyncio.Event) -> None:
    async def once() -> None:
        n = await refresh(rt)
        log.debug("key_customers_chosen", rows=n)

    await PeriodicWorker("analytics-key-customers-by-rule", once, rt.settings.key_customer_refresh_s).run(stop)
