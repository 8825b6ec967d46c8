"""All the SQL of the supply-quality analyses: the points in scope with their voltage level and limits,
their curve values over a period (raw meter values: voltage, power factor, harmonic content and pressure
are not scaled by a CT ratio), the values of many points at one instant, the validator's pressure findings,
and the limit tables the API edits. The same statements on both storage modes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emms_analytics.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Point:
    metering_point_id: str
    customer_id: str | None
    category: str | None
    utility: str | None
    node_id: str | None
    level: str | None


async def points(conn: Connection, schema: str, scope: Scope, *, utility: str, regions: list[str] | None = None,
                 companies: list[str] | None = None, customers: list[str] | None = None,
                 nodes: list[str] | None = None, levels: list[str] | None = None) -> list[Point]:
    """Metering points of a utility in the caller's scope and the filters (regions and nodes with their subtree)."""
    w = Where()
    scope.owned("po", w)
    w.add("po.utility = {}", utility)
    if regions:
        w.add(f"po.region_id IN (SELECT {schema}.region_subtree({{}}::text[]))", regions)
    if nodes:
        w.add(f"po.node_id IN (SELECT {schema}.node_subtree({{}}::text[]))", nodes)
    w.add_any("po.company_id", companies)
    w.add_any("po.customer_id", customers)
    if levels is not None:
        w.add("pl.level = ANY({}::text[])", levels)
    rows = await conn.fetch(f"""
SELECT po.metering_point_id, po.customer_id, po.category, po.utility, po.node_id, pl.level
FROM {schema}.point_owner po
LEFT JOIN {schema}.sq_point_level pl ON pl.metering_point_id = po.metering_point_id
WHERE {w.sql()} ORDER BY po.metering_point_id""", *w.args)
    return [Point(**dict(r)) for r in rows]


async def curves(conn: Connection, schema: str, point_ids: list[str], items: list[str], start: datetime,
                 end: datetime) -> list[tuple[str, str, datetime, float]]:
    """(point, item, time, value) of the points' curve values in [start, end), each from the meter that measured
    the point at that time; ordered by point, item and time."""
    rows = await conn.fetch(f"""
SELECT p.metering_point_id, c.item, c.data_time, c.value
FROM {schema}.meter_period p
JOIN {schema}.curve_value c ON c.meter_id = p.meter_id AND c.data_time >= p.valid_from
                            AND (p.valid_to IS NULL OR c.data_time < p.valid_to)
WHERE p.metering_point_id = ANY($1::text[]) AND c.item = ANY($2::text[])
  AND c.data_time >= $3 AND c.data_time < $4 AND c.value IS NOT NULL
ORDER BY p.metering_point_id, c.item, c.data_time""", point_ids, items, start, end)
    return [(r["metering_point_id"], r["item"], r["data_time"], float(r["value"])) for r in rows]


async def at_instant(conn: Connection, schema: str, point_ids: list[str], items: list[str], at: datetime,
                     earliest: datetime) -> list[tuple[str, str, datetime, float]]:
    """Per point and item the latest value at or before ``at`` and not before ``earliest``."""
    rows = await conn.fetch(f"""
SELECT pt.id AS metering_point_id, it.item, v.data_time, v.value
FROM unnest($1::text[]) pt(id) CROSS JOIN unnest($2::text[]) it(item)
CROSS JOIN LATERAL (
    SELECT c.data_time, c.value FROM {schema}.meter_period p
    JOIN {schema}.curve_value c ON c.meter_id = p.meter_id AND c.data_time >= p.valid_from
                                AND (p.valid_to IS NULL OR c.data_time < p.valid_to)
    WHERE p.metering_point_id = pt.id AND c.item = it.item AND c.data_time <= $3 AND c.data_time >= $4
      AND c.value IS NOT NULL
    ORDER BY c.data_time DESC LIMIT 1) v""", point_ids, items, at, earliest)
    return [(r["metering_point_id"], r["item"], r["data_time"], float(r["value"])) for r in rows]


async def pressure_findings(conn: Connection, schema: str, point_ids: list[str], start: datetime,
                            end: datetime) -> dict[str, int]:
    """The validator's findings on ``pressure`` per point in [start, end) (its pressure alarms)."""
    rows = await conn.fetch(f"""
SELECT p.metering_point_id, count(*) AS n
FROM {schema}.meter_period p
JOIN {schema}.anomaly a ON a.meter_id = p.meter_id AND a.data_time >= p.valid_from
                        AND (p.valid_to IS NULL OR a.data_time < p.valid_to)
WHERE p.metering_point_id = ANY($1::text[]) AND a.item = 'pressure' AND a.data_time >= $2 AND a.data_time < $3
GROUP BY p.metering_point_id""", point_ids, start, end)
    return {r["metering_point_id"]: int(r["n"]) for r in rows}


# --- limits -------------------------------------------------------------------------------------

async def voltage_levels(conn: Connection, schema: str) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"SELECT level, nominal_v, upper_pct, lower_pct, updated_by, updated_at"
                            f" FROM {schema}.sq_voltage_level ORDER BY level")
    return {r["level"]: dict(r) for r in rows}


async def put_voltage_level(conn: Connection, schema: str, level: str, nominal_v: float, upper_pct: float,
                            lower_pct: float, by: str) -> None:
    await conn.execute(f"""
INSERT INTO {schema}.sq_voltage_level (level, nominal_v, upper_pct, lower_pct, updated_by, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (level) DO UPDATE SET nominal_v = EXCLUDED.nominal_v, upper_pct = EXCLUDED.upper_pct,
    lower_pct = EXCLUDED.lower_pct, updated_by = EXCLUDED.updated_by, updated_at = now()""",
                       level, nominal_v, upper_pct, lower_pct, by)


async def assign_levels(conn: Connection, schema: str, level: str, point_ids: list[str], by: str) -> None:
    await conn.execute(f"""
INSERT INTO {schema}.sq_point_level (metering_point_id, level, updated_by, updated_at)
SELECT p, $2, $3, now() FROM unnest($1::text[]) p
ON CONFLICT (metering_point_id) DO UPDATE SET level = EXCLUDED.level, updated_by = EXCLUDED.updated_by,
    updated_at = now()""", point_ids, level, by)


async def known_points(conn: Connection, schema: str, point_ids: list[str]) -> set[str]:
    rows = await conn.fetch(f"SELECT metering_point_id FROM {schema}.metering_point"
                            f" WHERE metering_point_id = ANY($1::text[])", point_ids)
    return {r[0] for r in rows}


async def known(conn: Connection, schema: str, kind: str, scope_id: str) -> bool:
    """Whether a customer (``kind`` customer) or a customer category (``category``) is known here."""
    column = "customer_id" if kind == "customer" else "category"
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {schema}.customer WHERE {column} = $1)",
                                    scope_id))


async def pf_limits(conn: Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT scope_kind, scope_id, pf_min, pf_max, updated_by, updated_at"
                            f" FROM {schema}.sq_pf_limit ORDER BY scope_kind, scope_id")
    return [dict(r) for r in rows]


async def put_pf_limit(conn: Connection, schema: str, kind: str, scope_id: str, pf_min: float, pf_max: float,
                       by: str) -> None:
    await conn.execute(f"""
INSERT INTO {schema}.sq_pf_limit (scope_kind, scope_id, pf_min, pf_max, updated_by, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (scope_kind, scope_id) DO UPDATE SET pf_min = EXCLUDED.pf_min, pf_max = EXCLUDED.pf_max,
    updated_by = EXCLUDED.updated_by, updated_at = now()""", kind, scope_id, pf_min, pf_max, by)


async def delete_pf_limit(conn: Connection, schema: str, kind: str, scope_id: str) -> bool:
    status = await conn.execute(f"DELETE FROM {schema}.sq_pf_limit WHERE scope_kind = $1 AND scope_id = $2",
                                kind, scope_id)
    return not str(status).endswith(" 0")


async def pressure_limits(conn: Connection, schema: str) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"SELECT utility, min_mpa, max_mpa, updated_by, updated_at"
                            f" FROM {schema}.sq_pressure_limit ORDER BY utility")
    return {r["utility"]: dict(r) for r in rows}


async def put_pressure_limit(conn: Connection, schema: str, utility: str, min_mpa: float, max_mpa: float,
                             by: str) -> None:
    await conn.execute(f"""
INSERT INTO {schema}.sq_pressure_limit (utility, min_mpa, max_mpa, updated_by, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (utility) DO UPDATE SET min_mpa = EXCLUDED.min_mpa, max_mpa = EXCLUDED.max_mpa,
    updated_by = EXCLUDED.updated_by, updated_at = now()""", utility, min_mpa, max_mpa, by)


async def heat_stations(conn: Connection, schema: str) -> list[str]:
    rows = await conn.fetch(f"SELECT node_id FROM {schema}.network_node WHERE kind = 'heat_exchange_station'"
                            f" ORDER BY node_id")
    return [r[0] for r in rows]



def _point_curve(schema: str, joins: str = "") -> str:
    """Curve values of the points ``$1`` in [``$2``, ``$3``) from the meter that measured each point then."""
    return f"""
FROM {schema}.meter_period p
JOIN {schema}.curve_value c ON c.meter_id = p.meter_id AND c.data_time >= p.valid_from
                            AND (p.valid_to IS NULL OR c.data_time < p.valid_to){joins}
WHERE p.metering_point_id = ANY($1::text[]) AND c.data_time >= $2 AND c.data_time < $3 AND c.value IS NOT NULL"""


async def voltage_counts(conn: Connection, schema: str, point_ids: list[str], start: datetime, end: datetime,
                         default_level: str) -> list[dict[str, Any]]:
    """Per point and phase: voltage values, those over the level's upper and under its lower limit (the point's
    level, else ``default_level``)."""
    joins = f"""
LEFT JOIN {schema}.sq_point_level pl ON pl.metering_point_id = p.metering_point_id
JOIN {schema}.sq_voltage_level lv ON lv.level = coalesce(pl.level, $4)"""
    rows = await conn.fetch(f"""
SELECT p.metering_point_id, right(c.item, 1) AS phase, count(*) AS n,
       count(*) FILTER (WHERE c.value > lv.nominal_v * (1 + lv.upper_pct / 100)) AS over_upper,
       count(*) FILTER (WHERE c.value < lv.nominal_v * (1 - lv.lower_pct / 100)) AS under_lower
{_point_curve(schema, joins)}
  AND c.item IN ('voltage.a', 'voltage.b', 'voltage.c')
GROUP BY p.metering_point_id, right(c.item, 1)""", point_ids, start, end, default_level)
    return [dict(r) for r in rows]


async def unbalance(conn: Connection, schema: str, point_ids: list[str], start: datetime, end: datetime,
                    quantity: str, limit: float) -> list[dict[str, Any]]:
    """Per point, over the instants with all three phase values of ``quantity`` (voltage: (max − mean) / mean,
    current: (max − min) / max): instants, worst with its (first) time, average, instants over ``limit``."""
    if quantity not in ("voltage", "current"):
        raise ValueError(quantity)
    ratio = ("(max(c.value) - avg(c.value)) / nullif(avg(c.value), 0)" if quantity == "voltage"
             else "(max(c.value) - min(c.value)) / nullif(max(c.value), 0)")
    rows = await conn.fetch(f"""
SELECT metering_point_id, count(*) AS instants, max(r) AS worst, avg(r) AS average,
       count(*) FILTER (WHERE r > $4) AS over_limit,
       (array_agg(data_time ORDER BY r DESC, data_time))[1] AS at
FROM (SELECT p.metering_point_id, c.data_time, {ratio} AS r
      {_point_curve(schema)}
        AND c.item IN ('{quantity}.a', '{quantity}.b', '{quantity}.c')
      GROUP BY p.metering_point_id, c.data_time HAVING count(*) = 3) i
WHERE r IS NOT NULL
GROUP BY metering_point_id""", point_ids, start, end, limit)
    return [dict(r) for r in rows]


async def power_factor_points(conn: Connection, schema: str, point_ids: list[str], start: datetime, end: datetime,
                              default_min: float, default_max: float) -> list[dict[str, Any]]:
    """Per point: ``power_factor.total`` values, their sum, min and max with their (first) time, and the values
    outside the customer's limits (its own, else its category's, else the default)."""
    joins = f"""
JOIN {schema}.metering_point mp ON mp.metering_point_id = p.metering_point_id
LEFT JOIN {schema}.customer cu ON cu.customer_id = mp.customer_id
LEFT JOIN {schema}.sq_pf_limit lc ON lc.scope_kind = 'customer' AND lc.scope_id = mp.customer_id
LEFT JOIN {schema}.sq_pf_limit lk ON lk.scope_kind = 'category' AND lk.scope_id = cu.category"""
    rows = await conn.fetch(f"""
SELECT p.metering_point_id, count(*) AS n, sum(c.value) AS total,
       min(c.value) AS min, (array_agg(c.data_time ORDER BY c.value, c.data_time))[1] AS min_at,
       max(c.value) AS max, (array_agg(c.data_time ORDER BY c.value DESC, c.data_time))[1] AS max_at,
       count(*) FILTER (WHERE c.value < coalesce(lc.pf_min, lk.pf_min, $4)
                           OR c.value > coalesce(lc.pf_max, lk.pf_max, $5)) AS outside
{_point_curve(schema, joins)}
  AND c.item = 'power_factor.total'
GROUP BY p.metering_point_id""", point_ids, start, end, default_min, default_max)
    return [dict(r) for r in rows]
