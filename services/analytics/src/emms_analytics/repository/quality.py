"""Data quality per network node: collected register values against expected, estimated share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_analytics.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where


async def by_node(conn: Connection, schema: str, nodes: list[str], scope: Scope, start: datetime, end: datetime,
                  main_items: dict[str, str], per_day: int) -> list[dict[str, Any]]:
    w = Where()
    roots = w.param(nodes)
    inner = Where(w.args)
    scope.owned("po", inner)
    util, items = w.param(list(main_items)), w.param(list(main_items.values()))
    lo, hi = w.param(start), w.param(end)
    days = (end - start).total_seconds() / 86_400
    sql = f"""
WITH roots AS (SELECT unnest({roots}::text[]) AS root),
members AS (SELECT roots.root, t.id AS node_id FROM roots, LATERAL {schema}.node_subtree(ARRAY[roots.root]) t(id)),
pts AS (SELECT m.root, po.metering_point_id, po.utility FROM members m
        JOIN {schema}.point_owner po ON po.node_id = m.node_id WHERE {inner.sql()}),
main AS (SELECT u, i FROM unnest({util}::text[], {items}::text[]) x(u, i)),
meters AS (SELECT pts.root, pts.metering_point_id, p.meter_id, main.i AS item,
                  greatest(p.valid_from, {lo}) AS lo, least(coalesce(p.valid_to, {hi}), {hi}) AS hi
           FROM pts JOIN main ON main.u = pts.utility
           JOIN {schema}.meter_period p ON p.metering_point_id = pts.metering_point_id
           WHERE p.valid_from < {hi} AND (p.valid_to IS NULL OR p.valid_to > {lo})),
got AS (SELECT me.root, me.metering_point_id,
               (SELECT count(*) FROM {schema}.register_value r WHERE r.meter_id = me.meter_id AND r.item = me.item
                  AND r.data_time >= me.lo AND r.data_time < me.hi AND r.value IS NOT NULL) AS collected,
               (SELECT count(*) FROM {schema}.usage_interval u WHERE u.meter_id = me.meter_id AND u.item = me.item
                  AND u.at >= me.lo AND u.at < me.hi) AS intervals,
               (SELECT count(*) FROM {schema}.usage_interval u WHERE u.meter_id = me.meter_id AND u.item = me.item
                  AND u.at >= me.lo AND u.at < me.hi AND u.estimated) AS estimated
        FROM meters me)
SELECT roots.root AS node_id, count(DISTINCT pts.metering_point_id) AS metering_points,
       coalesce((SELECT sum(collected) FROM got WHERE got.root = roots.root), 0)::bigint AS collected,
       coalesce((SELECT sum(intervals) FROM got WHERE got.root = roots.root), 0)::bigint AS intervals,
       coalesce((SELECT sum(estimated) FROM got WHERE got.root = roots.root), 0)::bigint AS estimated
FROM roots LEFT JOIN pts ON pts.root = roots.root
GROUP BY roots.root ORDER BY roots.root"""
    out = []
    for r in await conn.fetch(sql, *w.args):
        expected = round(r["metering_points"] * days * per_day)
        out.append({**dict(r), "expected": expected,
                    "completeness": (min(1.0, r["collected"] / expected) if expected else None),
                    "estimated_share": (r["estimated"] / r["intervals"] if r["intervals"] else None)})
    return out
