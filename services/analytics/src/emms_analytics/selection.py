"""Which metering points an analysis covers, and the key each one is grouped under.

Filters combine with AND; a list is "any of". ``regions`` and ``nodes`` include every region /
network node below the named ones; ``groups`` match a custom group's members (customers,
metering points, meters). A name this service does not know is a 404 naming it
(:func:`unknown_names`); the caller's company / region scope always applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emms_analytics.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where

GroupBy = Literal["metering_point", "customer", "party", "region", "industry", "category", "node", "group",
                  "company", "utility", "voltage_level", "transformer_capacity", "total"]
KEYS: dict[str, str] = {"metering_point": "po.metering_point_id", "customer": "po.customer_id",
                        "party": "po.party_id", "region": "po.region_id", "industry": "coalesce(po.industry, '')",
                        "category": "po.category", "node": "po.node_id", "group": "gm.group_id",
                        "company": "po.company_id", "utility": "po.utility",
                        "voltage_level": "coalesce(po.voltage_level_kv::text, '')",  # nominal kV, '' unknown
                        "transformer_capacity": "coalesce(po.transformer_kva::text, '')",  # kVA, '' unknown
                        "total": "'total'"}
CHECKED = {"regions": ("region", "region_id"), "customers": ("customer", "customer_id"),
           "groups": ("custom_group", "group_id"), "nodes": ("network_node", "node_id"),
           "companies": ("company", "company_id"), "metering_points": ("metering_point", "metering_point_id")}
NAMES = {"regions": "region", "customers": "customer", "groups": "group", "nodes": "network node",
         "companies": "company", "metering_points": "metering point"}


@dataclass(frozen=True, slots=True)
class Selection:
    regions: list[str] | None = None
    customers: list[str] | None = None
    parties: list[str] | None = None
    companies: list[str] | None = None
    industries: list[str] | None = None
    categories: list[str] | None = None
    nodes: list[str] | None = None
    groups: list[str] | None = None
    utilities: list[str] | None = None
    metering_points: list[str] | None = None
    extra: dict[str, list[str]] = field(default_factory=dict)
    min_capacity_kva: float | None = None
    """Only customers whose contracted capacity is at least this (key-customer rules)."""


def _group_join(schema: str) -> str:
    return (f"JOIN {schema}.group_member gm ON (gm.member_kind = 'customer' AND gm.member_id = po.customer_id)"
            f" OR (gm.member_kind = 'metering_point' AND gm.member_id = po.metering_point_id)"
            f" OR (gm.member_kind = 'meter' AND EXISTS (SELECT 1 FROM {schema}.meter_period mp"
            f" WHERE mp.meter_id = gm.member_id AND mp.metering_point_id = po.metering_point_id))")


def points_sql(schema: str, sel: Selection, group_by: str, scope: Scope, w: Where) -> str:
    """``SELECT metering_point_id, key`` of the selected points (parameters appended to ``w``)."""
    inner = Where(w.args)
    if sel.regions is not None:
        inner.add(f"po.region_id IN (SELECT {schema}.region_subtree({{}}::text[]))", sel.regions)
    if sel.nodes is not None:
        inner.add(f"po.node_id IN (SELECT {schema}.node_subtree({{}}::text[]))", sel.nodes)
    inner.add_any("po.customer_id", sel.customers)
    inner.add_any("po.party_id", sel.parties)
    inner.add_any("po.company_id", sel.companies)
    inner.add_any("po.industry", sel.industries)
    inner.add_any("po.category", sel.categories)
    inner.add_any("po.utility", sel.utilities)
    inner.add_any("po.metering_point_id", sel.metering_points)
    inner.add_if("po.contracted_capacity_kva >= {}", sel.min_capacity_kva)
    grouped = group_by == "group" or sel.groups is not None
    inner.add_any("gm.group_id", sel.groups)
    scope.owned("po", inner)
    join = _group_join(schema) if grouped else ""
    return (f"SELECT DISTINCT po.metering_point_id, {KEYS[group_by]} AS key FROM {schema}.point_owner po {join}"
            f" WHERE {inner.sql()}")


async def unknown_names(conn: Connection, schema: str, sel: Selection) -> str | None:
    """The first named region / customer / group / node / company / point this service does not know."""
    for attr, (table, column) in CHECKED.items():
        names = getattr(sel, attr)
        if not names:
            continue
        known = {r[0] for r in await conn.fetch(
            f"SELECT {column} FROM {schema}.{table} WHERE {column} = ANY($1::text[])", names)}
        missing = [n for n in names if n not in known]
        if missing:
            return f"unknown {NAMES[attr]}: {', '.join(missing)}"
    return None
