"""All the SQL of the heat analyses: heat customers in scope, the network-node tree, heating seasons, and
per-point figures of a period from the archive's validated readings (newest version of each reading;
``held`` versions are not figures).

The archive is read directly (same database, schema ``archive``): the analytics copy of master data has
no heat attributes, and heat meters are read daily, so a period's figures come from a few rows per point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_db.connection import Connection
from emms_db.owner_scope import OwnerScope
from emms_db.where import Where

ARCHIVE = "archive"
CUMULATIVE = ("heat.energy", "volume.heat")
INSTANT = ("temperature.supply", "heat.power")


@dataclass(frozen=True, slots=True)
class HeatCustomer:
    customer_id: str
    node_id: str | None
    heated_area_m2: float | None
    company_id: str
    region_id: str


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    kind: str
    name: str
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class PointFigures:
    """One point's figures over a period: register increases of cumulative items, means of instant ones."""

    metering_point_id: str
    customer_id: str
    item: str
    first: float
    last: float
    mean: float
    samples: int

    @property
    def increase(self) -> float:
        return self.last - self.first


def scope_in_archive(scope: OwnerScope) -> OwnerScope:
    """The caller's restrictions, applied to the archive's customers (its ``region_subtree``)."""
    return OwnerScope(scope.companies, scope.regions, scope.customers, schema=ARCHIVE)


async def customers(conn: Connection, scope: OwnerScope, *, companies: list[str] | None = None,
                    regions: list[str] | None = None, customer_ids: list[str] | None = None) -> list[HeatCustomer]:
    where = Where()
    where.parts.append("c.utility = 'heat' AND c.status <> 'removed'")
    scope_in_archive(scope).owned("c", where)
    if companies:
        where.add("c.company_id = ANY({}::text[])", companies)
    if regions:
        where.add(f"c.region_id IN (SELECT {ARCHIVE}.region_subtree({{}}::text[]))", regions)
    if customer_ids:
        where.add("c.id = ANY({}::text[])", customer_ids)
    rows = await conn.fetch(
        f"SELECT c.id, c.node_id, c.heated_area_m2, c.company_id, c.region_id FROM {ARCHIVE}.customer c"
        f" WHERE {where.sql()} ORDER BY c.id", *where.args)
    return [HeatCustomer(r["id"], r["node_id"], r["heated_area_m2"], r["company_id"], r["region_id"]) for r in rows]


async def nodes(conn: Connection) -> dict[str, Node]:
    """Every network node a heat customer can hang under (heat nodes and the common building / unit / floor /
    area kinds)."""
    rows = await conn.fetch(
        f"SELECT id, kind, name, parent_id FROM {ARCHIVE}.network_node"
        " WHERE utility = 'heat' OR kind IN ('area', 'building', 'unit', 'floor')")
    return {r["id"]: Node(r["id"], r["kind"], r["name"], r["parent_id"]) for r in rows}


async def stopped(conn: Connection, season: str, customer_ids: list[str]) -> set[str]:
    """Customers whose heating is off in ``season`` (no row: heated)."""
    rows = await conn.fetch(
        f"SELECT customer_id FROM {ARCHIVE}.heating_season WHERE season = $1 AND NOT heating"
        " AND customer_id = ANY($2::text[])", season, customer_ids)
    return {r["customer_id"] for r in rows}


async def known_season(conn: Connection, season: str) -> bool:
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {ARCHIVE}.heating_season WHERE season = $1)",
                                    season))


_FIGURES = f"""
WITH pts AS (
    SELECT mp.id, mp.customer_id FROM {ARCHIVE}.metering_point mp
    WHERE mp.customer_id = ANY($1::text[]) AND mp.utility = 'heat'
), v AS (
    SELECT DISTINCT ON (r.metering_point_id, r.item, r.data_time)
           r.metering_point_id, r.item, r.data_time, r.value, r.status
    FROM {ARCHIVE}.reading_validated r
    WHERE r.metering_point_id IN (SELECT id FROM pts) AND r.item = ANY($2::text[])
      AND r.data_time >= $3 AND r.data_time <= $4
    ORDER BY r.metering_point_id, r.item, r.data_time, r.validated_at DESC
)
SELECT v.metering_point_id, pts.customer_id, v.item,
       (array_agg(v.value ORDER BY v.data_time))[1] AS first,
       (array_agg(v.value ORDER BY v.data_time DESC))[1] AS last,
       avg(v.value) AS mean, count(*) AS samples
FROM v JOIN pts ON pts.id = v.metering_point_id
WHERE v.status <> 'held' AND v.value IS NOT NULL
GROUP BY v.metering_point_id, pts.customer_id, v.item"""


async def point_figures(conn: Connection, customer_ids: list[str], start: datetime, end: datetime
                        ) -> list[PointFigures]:
    """Figures of every heat point of ``customer_ids`` from the validated readings in [start, end]: the
    cumulative items' first and last values (their increase), the instant items' mean."""
    rows = await conn.fetch(_FIGURES, customer_ids, [*CUMULATIVE, *INSTANT], start, end)
    return [PointFigures(r["metering_point_id"], r["customer_id"], r["item"], float(r["first"]), float(r["last"]),
                         float(r["mean"]), int(r["samples"])) for r in rows]


async def missing(conn: Connection, table: str, ids: list[str]) -> list[str]:
    """Which of ``ids`` are not rows of the archive's ``table`` (``region`` or ``customer``)."""
    if table not in ("region", "customer", "company"):
        raise ValueError(table)
    rows = await conn.fetch(f"SELECT id FROM {ARCHIVE}.{table} WHERE id = ANY($1::text[])", ids)
    found = {r["id"] for r in rows}
    return [i for i in ids if i not in found]
