"""SQL of the local measurement-point table: which meter is behind which terminal and pn.

Rows come from master-data changes (:mod:`emms_collector.intake.masterdata`) and the
simulator's manifest (:mod:`emms_collector.intake.manifest`). A target (task or manual
read) is resolved against this table in one query, never by calling the archive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from emms_collector.local_scheme import scheme_of
from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_collector.tasks.model import Target
from emms_db.connection import Connection
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Point:
    meter_id: str
    terminal: str
    pn: int
    utility: str
    protocol: str
    meter_address: str = ""
    port: int | None = None
    region_id: str | None = None


POINT_FIELDS = ("meter_id", "terminal", "pn", "utility", "protocol", "meter_address", "port", "metering_point_id",
                "customer_id", "region_id", "category", "valid_from", "valid_to", "active", "source", "company_id",
                "local_scheme")
_SELECT = "p.meter_id, p.terminal, p.pn, p.utility, p.protocol, p.meter_address, p.port, p.region_id"


def _point(row: Any) -> Point:
    return Point(row["meter_id"], row["terminal"], row["pn"], row["utility"], row["protocol"], row["meter_address"],
                 row["port"], row["region_id"])


async def upsert_points(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace points (by meter id). An active point displaces any other active meter on
    its (terminal, pn): a terminal slot holds one meter at a time. A row's ``local_scheme`` is what master data
    declared; the point gets it, or the one its port stands for (:func:`~emms_collector.local_scheme.scheme_of`)."""
    if not rows:
        return 0
    cols = {f: [r.get(f) for r in rows] for f in POINT_FIELDS}
    cols["active"] = [r.get("active", True) for r in rows]
    cols["source"] = [r.get("source") or "masterdata" for r in rows]
    cols["protocol"] = [r.get("protocol") or "" for r in rows]
    cols["meter_address"] = [r.get("meter_address") or "" for r in rows]
    cols["local_scheme"] = [scheme_of(r.get("local_scheme"), r.get("port"), r.get("protocol")) for r in rows]
    await conn.execute(
        f"UPDATE {SCHEMA}.point p SET active = false, updated_at = now()"
        " FROM unnest($1::text[], $2::text[], $3::int[], $4::bool[]) AS u(m, t, pn, a)"
        " WHERE u.a AND p.active AND p.terminal = u.t AND p.pn = u.pn AND p.meter_id <> u.m",
        cols["meter_id"], cols["terminal"], cols["pn"], cols["active"])
    result = await conn.execute(
        f"""INSERT INTO {SCHEMA}.point AS p ({", ".join(POINT_FIELDS)}, updated_at)
            SELECT *, now() FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[],
                $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[],
                $14::bool[], $15::text[], $16::text[], $17::text[])
            ON CONFLICT (meter_id) DO UPDATE SET
                terminal = excluded.terminal, pn = excluded.pn, utility = excluded.utility,
                protocol = excluded.protocol, meter_address = excluded.meter_address, port = excluded.port,
                metering_point_id = coalesce(excluded.metering_point_id, p.metering_point_id),
                customer_id = coalesce(excluded.customer_id, p.customer_id),
                region_id = coalesce(excluded.region_id, p.region_id),
                category = coalesce(excluded.category, p.category),
                company_id = coalesce(excluded.company_id, p.company_id),
                valid_from = excluded.valid_from, valid_to = excluded.valid_to, active = excluded.active,
                source = excluded.source, local_scheme = excluded.local_scheme, updated_at = now()""",
        *[cols[f] for f in POINT_FIELDS])
    return int(result.split()[-1])


async def set_communication(conn: Connection, metering_point_id: str, port: int | None,
                            declared_scheme: object) -> int:
    """A metering point's port and local scheme changed in master data: its points follow (the scheme as
    declared, else derived from the new port)."""
    rows = await conn.fetch(f"SELECT meter_id, protocol FROM {SCHEMA}.point WHERE metering_point_id = $1",
                            metering_point_id)
    for row in rows:
        await conn.execute(f"UPDATE {SCHEMA}.point SET port = $2, local_scheme = $3, updated_at = now()"
                           " WHERE meter_id = $1", row["meter_id"], port,
                           scheme_of(declared_scheme, port, row["protocol"]))
    return len(rows)


async def deactivate(conn: Connection, meter_ids: Iterable[str]) -> int:
    result = await conn.execute(f"UPDATE {SCHEMA}.point SET active = false, updated_at = now()"
                                " WHERE meter_id = ANY($1::text[]) AND active", list(meter_ids))
    return int(result.split()[-1])


async def by_meters(conn: Connection, meter_ids: Sequence[str], *, active_only: bool = True) -> dict[str, Point]:
    extra = " AND p.active" if active_only else ""
    rows = await conn.fetch(f"SELECT {_SELECT} FROM {SCHEMA}.point p WHERE p.meter_id = ANY($1::text[]){extra}",
                            list(meter_ids))
    return {r["meter_id"]: _point(r) for r in rows}


async def by_terminal_pn(conn: Connection, terminal: str) -> dict[int, Point]:
    rows = await conn.fetch(f"SELECT {_SELECT} FROM {SCHEMA}.point p WHERE p.terminal = $1 AND p.active", terminal)
    return {r["pn"]: _point(r) for r in rows}


async def resolve(conn: Connection, task_id: str | None, target: Target, owner: Scope = UNRESTRICTED) -> list[Point]:
    """Active points selected by ``target`` (and the task's member list when ``members``), inside the scope
    of the task's ``owner``."""
    w = Where()
    w.add("p.active")
    owner.points("p", w)
    sel = target.selectors()
    for selector, column in (("meters", "p.meter_id"), ("terminals", "p.terminal"), ("regions", "p.region_id"),
                             ("categories", "p.category"), ("utilities", "p.utility"),
                             ("protocols", "p.protocol")):
        w.add_any(column, sel.get(selector))
    if "groups" in sel:
        w.add(f"EXISTS (SELECT 1 FROM {SCHEMA}.md_group_member g WHERE g.group_id = ANY({{}}::text[]) AND ("
              " (g.member_kind = 'meter' AND g.member_id = p.meter_id)"
              " OR (g.member_kind = 'metering_point' AND g.member_id = p.metering_point_id)"
              " OR (g.member_kind = 'customer' AND g.member_id = p.customer_id)))", sel["groups"])
    if target.members:
        if task_id is None:
            return []
        w.add(f"EXISTS (SELECT 1 FROM {SCHEMA}.task_member m WHERE m.task_id = {{}} AND m.meter_id = p.meter_id)",
              task_id)
    rows = await conn.fetch(f"SELECT {_SELECT} FROM {SCHEMA}.point p WHERE {w.sql()}"
                            " ORDER BY p.terminal, p.pn", *w.args)
    return [_point(r) for r in rows]


async def count(conn: Connection, scope: Scope = UNRESTRICTED) -> dict[str, int]:
    """Active points per utility (of meters in ``scope``)."""
    w = Where()
    w.add("p.active")
    scope.points("p", w)
    rows = await conn.fetch(f"SELECT p.utility, count(*) AS n FROM {SCHEMA}.point p WHERE {w.sql()}"
                            " GROUP BY p.utility", *w.args)
    return {r["utility"]: int(r["n"]) for r in rows}


async def list_points(conn: Connection, *, terminal: str | None, utility: str | None, limit: int,
                      offset: int, scope: Scope = UNRESTRICTED) -> tuple[int, list[dict[str, Any]]]:
    w = Where()
    w.add("p.active")
    w.add_if("p.terminal = {}", terminal)
    w.add_if("p.utility = {}", utility)
    scope.points("p", w)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.point p WHERE {w.sql()}", *w.args)
    columns = ", ".join(f"p.{f}" for f in POINT_FIELDS)
    rows = await conn.fetch(f"SELECT {columns}, p.updated_at FROM {SCHEMA}.point p WHERE {w.sql()}"
                            f" ORDER BY p.terminal, p.pn LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total), [dict(r) for r in rows]
