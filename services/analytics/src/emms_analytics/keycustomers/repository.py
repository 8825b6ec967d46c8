"""SQL of the key customers: the hand list, the rules, the audit of both (in the change's
transaction), and what one customer's answer reads (its points, latest values, quality, anomalies)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from emms_analytics.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    utility: str
    top_n: int
    period_days: int
    regions: list[str] | None = None
    companies: list[str] | None = None
    categories: list[str] | None = None
    min_capacity_kva: float | None = None


RULE_COLUMNS = "rule_id, utility, top_n, period_days, regions, companies, categories, min_capacity_kva"


async def audit(conn: Connection, schema: str, actor: str, entity: str, entity_id: str, action: str,
                before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.key_customer_audit (actor, entity, entity_id, action, before, after)"
        f" VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)", actor, entity, entity_id, action,
        None if before is None else json.dumps(before, default=str),
        None if after is None else json.dumps(after, default=str))


async def audit_entries(conn: Connection, schema: str, entity_id: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT seq, at, actor, entity, entity_id, action, before::text AS before, after::text AS after"
        f" FROM {schema}.key_customer_audit WHERE $1::text IS NULL OR entity_id = $1 ORDER BY seq DESC LIMIT $2",
        entity_id, limit)
    return [{**dict(r), "before": json.loads(r["before"]) if r["before"] else None,
             "after": json.loads(r["after"]) if r["after"] else None} for r in rows]


async def customer(conn: Connection, schema: str, customer_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT customer_id, name, party_id, utility, category, industry, company_id,"
                              f" region_id, active FROM {schema}.customer WHERE customer_id = $1", customer_id)
    return dict(row) if row is not None else None


async def hand_marks(conn: Connection, schema: str, scope: Scope,
                     customer_id: str | None = None) -> list[dict[str, Any]]:
    w = Where()
    w.add_if("k.customer_id = {}", customer_id)
    scope.owned("c", w)
    rows = await conn.fetch(
        f"SELECT k.customer_id, k.reason, k.marked_by, k.marked_at FROM {schema}.key_customer k"
        f" LEFT JOIN {schema}.customer c ON c.customer_id = k.customer_id WHERE {w.sql()} ORDER BY k.customer_id",
        *w.args)
    return [dict(r) for r in rows]


async def mark(conn: Connection, schema: str, customer_id: str, reason: str, actor: str) -> dict[str, Any]:
    """Mark (or re-mark with a new reason) in one transaction with its audit row."""
    async with conn.transaction():
        before = await conn.fetchrow(f"SELECT reason, marked_by, marked_at FROM {schema}.key_customer"
                                     f" WHERE customer_id = $1 FOR UPDATE", customer_id)
        after = await conn.fetchrow(
            f"INSERT INTO {schema}.key_customer (customer_id, reason, marked_by, marked_at) VALUES ($1, $2, $3, now())"
            f" ON CONFLICT (customer_id) DO UPDATE SET reason = EXCLUDED.reason, marked_by = EXCLUDED.marked_by,"
            f" marked_at = EXCLUDED.marked_at RETURNING customer_id, reason, marked_by, marked_at",
            customer_id, reason, actor)
        assert after is not None  # an upsert returns its row
        await audit(conn, schema, actor, "key_customer", customer_id, "marked" if before is None else "re-marked",
                    dict(before) if before is not None else None, dict(after))
    return dict(after)


async def unmark(conn: Connection, schema: str, customer_id: str, actor: str) -> bool:
    async with conn.transaction():
        before = await conn.fetchrow(f"DELETE FROM {schema}.key_customer WHERE customer_id = $1"
                                     f" RETURNING reason, marked_by, marked_at", customer_id)
        if before is None:
            return False
        await audit(conn, schema, actor, "key_customer", customer_id, "unmarked", dict(before), None)
    return True


async def rules(conn: Connection, schema: str) -> list[Rule]:
    rows = await conn.fetch(f"SELECT {RULE_COLUMNS} FROM {schema}.key_customer_rule ORDER BY rule_id")
    return [Rule(**dict(r)) for r in rows]


async def put_rule(conn: Connection, schema: str, rule: Rule, actor: str) -> bool:
    """Create or replace a rule with its audit row; True when it was new."""
    async with conn.transaction():
        before = await conn.fetchrow(f"SELECT {RULE_COLUMNS} FROM {schema}.key_customer_rule WHERE rule_id = $1"
                                     f" FOR UPDATE", rule.rule_id)
        await conn.execute(
            f"INSERT INTO {schema}.key_customer_rule (rule_id, utility, top_n, period_days, regions, companies,"
            f" categories, created_by, min_capacity_kva) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            f" ON CONFLICT (rule_id) DO UPDATE SET utility = EXCLUDED.utility, top_n = EXCLUDED.top_n,"
            f" period_days = EXCLUDED.period_days, regions = EXCLUDED.regions, companies = EXCLUDED.companies,"
            f" categories = EXCLUDED.categories, created_by = EXCLUDED.created_by, created_at = now(),"
            f" min_capacity_kva = EXCLUDED.min_capacity_kva",
            rule.rule_id, rule.utility, rule.top_n, rule.period_days, rule.regions, rule.companies, rule.categories,
            actor, rule.min_capacity_kva)
        await audit(conn, schema, actor, "key_customer_rule", rule.rule_id, "created" if before is None else "changed",
                    dict(before) if before is not None else None, asdict(rule))
    return before is None


async def delete_rule(conn: Connection, schema: str, rule_id: str, actor: str) -> bool:
    async with conn.transaction():
        before = await conn.fetchrow(f"DELETE FROM {schema}.key_customer_rule WHERE rule_id = $1"
                                     f" RETURNING {RULE_COLUMNS}", rule_id)
        if before is None:
            return False
        await audit(conn, schema, actor, "key_customer_rule", rule_id, "deleted", dict(before), None)
    return True


async def points(conn: Connection, schema: str, customer_id: str) -> list[dict[str, Any]]:
    """The customer's metering points with the meter measuring each now (None once removed)."""
    rows = await conn.fetch(
        f"SELECT po.metering_point_id, po.utility, po.node_id,"
        f" (SELECT p.meter_id FROM {schema}.meter_period p WHERE p.metering_point_id = po.metering_point_id"
        f"  AND p.valid_to IS NULL ORDER BY p.valid_from DESC LIMIT 1) AS meter_id"
        f" FROM {schema}.point_owner po WHERE po.customer_id = $1 ORDER BY po.metering_point_id", customer_id)
    return [dict(r) for r in rows]


_LATEST = """
SELECT DISTINCT ON (p.metering_point_id, v.item) p.metering_point_id, v.meter_id, v.item, v.data_time, v.value,
       v.status, coalesce(m.multiplier, 1) AS multiplier
FROM {schema}.meter_period p
JOIN {schema}.{table} v ON v.meter_id = p.meter_id AND v.data_time >= p.valid_from
                         AND (p.valid_to IS NULL OR v.data_time < p.valid_to)
LEFT JOIN {schema}.meter m ON m.meter_id = p.meter_id
WHERE p.metering_point_id = ANY($1::text[]) AND v.data_time < $2 AND v.value IS NOT NULL
ORDER BY p.metering_point_id, v.item, v.data_time DESC"""


async def latest_values(conn: Connection, schema: str, point_ids: list[str], before: datetime,
                        states: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The latest stored value per (point, item) before ``before``: registers and curve values, then the
    switch / valve state items among the curve values (the working condition)."""
    registers = await conn.fetch(_LATEST.format(schema=schema, table="register_value"), point_ids, before)
    curves = await conn.fetch(_LATEST.format(schema=schema, table="curve_value"), point_ids, before)
    values = [dict(r) for r in [*registers, *curves]]
    return values, [v for v in values if v["item"] in states]


async def quality(conn: Connection, schema: str, point_ids: list[str], main_items: dict[str, str], start: datetime,
                  end: datetime) -> list[dict[str, Any]]:
    """Per point: register values of its utility's main item collected in the period (while each meter
    measured it), usage intervals and how many of them were estimated."""
    rows = await conn.fetch(f"""
WITH main AS (SELECT u, i FROM unnest($2::text[], $3::text[]) x(u, i)),
meters AS (SELECT po.metering_point_id, p.meter_id, main.i AS item,
                  greatest(p.valid_from, $4) AS lo, least(coalesce(p.valid_to, $5), $5) AS hi
           FROM {schema}.point_owner po JOIN main ON main.u = po.utility
           JOIN {schema}.meter_period p ON p.metering_point_id = po.metering_point_id
           WHERE po.metering_point_id = ANY($1::text[]) AND p.valid_from < $5
             AND (p.valid_to IS NULL OR p.valid_to > $4))
SELECT me.metering_point_id,
       sum((SELECT count(*) FROM {schema}.register_value r WHERE r.meter_id = me.meter_id AND r.item = me.item
              AND r.data_time >= me.lo AND r.data_time < me.hi AND r.value IS NOT NULL))::bigint AS collected,
       sum((SELECT count(*) FROM {schema}.usage_interval u WHERE u.meter_id = me.meter_id AND u.item = me.item
              AND u.at >= me.lo AND u.at < me.hi))::bigint AS intervals,
       sum((SELECT count(*) FROM {schema}.usage_interval u WHERE u.meter_id = me.meter_id AND u.item = me.item
              AND u.at >= me.lo AND u.at < me.hi AND u.estimated))::bigint AS estimated
FROM meters me GROUP BY me.metering_point_id ORDER BY me.metering_point_id""",
                            point_ids, list(main_items), list(main_items.values()), start, end)
    return [dict(r) for r in rows]


async def anomalies(conn: Connection, schema: str, point_ids: list[str], start: datetime, end: datetime,
                    limit: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Anomalies of the meters that measured the points, with data times in the period (while they measured):
    the count per severity and the newest ``limit``."""
    sql = f"""
FROM {schema}.anomaly a JOIN {schema}.meter_period p ON p.meter_id = a.meter_id AND a.data_time >= p.valid_from
     AND (p.valid_to IS NULL OR a.data_time < p.valid_to)
WHERE p.metering_point_id = ANY($1::text[]) AND a.data_time >= $2 AND a.data_time < $3"""
    counts = {r["severity"]: int(r["n"]) for r in await conn.fetch(
        f"SELECT a.severity, count(*) AS n {sql} GROUP BY a.severity", point_ids, start, end)}
    rows = await conn.fetch(
        f"SELECT p.metering_point_id, a.anomaly_id, a.meter_id, a.rule, a.item, a.data_time, a.severity,"
        f" a.detected_at, a.detail::text AS detail {sql} ORDER BY a.data_time DESC, a.anomaly_id LIMIT $4",
        point_ids, start, end, limit)
    return counts, [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
