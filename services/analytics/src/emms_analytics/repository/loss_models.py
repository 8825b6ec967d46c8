"""SQL of loss models: models, their versions and members, thresholds, and the topology they are generated from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection

MODEL_COLUMNS = ("model_id", "name", "utility", "model_class", "source", "node_id", "item", "region_id",
                 "company_id", "line_id", "voltage_level")


async def get_model(conn: Connection, schema: str, model_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT * FROM {schema}.loss_model WHERE model_id = $1", model_id)
    return dict(row) if row is not None else None


async def list_models(conn: Connection, schema: str, *, model_ids: Sequence[str] | None = None,
                      utility: str | None = None, model_class: str | None = None, source: str | None = None,
                      active_only: bool = True) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT * FROM {schema}.loss_model WHERE ($1::text[] IS NULL OR model_id = ANY($1::text[]))"
        " AND ($2::text IS NULL OR utility = $2) AND ($3::text IS NULL OR model_class = $3)"
        " AND ($4::text IS NULL OR source = $4) AND (active OR NOT $5) ORDER BY model_id",
        None if model_ids is None else list(model_ids), utility, model_class, source, active_only)
    return [dict(r) for r in rows]


async def insert_model(conn: Connection, schema: str, row: dict[str, Any]) -> None:
    cols = ", ".join(MODEL_COLUMNS)
    params = ", ".join(f"${i + 1}" for i in range(len(MODEL_COLUMNS)))
    await conn.execute(f"INSERT INTO {schema}.loss_model ({cols}) VALUES ({params})",
                       *[row.get(c) for c in MODEL_COLUMNS])


async def update_model(conn: Connection, schema: str, row: dict[str, Any], version: int, active: bool = True) -> None:
    sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(MODEL_COLUMNS[1:]))
    n = len(MODEL_COLUMNS)
    await conn.execute(f"UPDATE {schema}.loss_model SET {sets}, current_version = ${n + 1}, active = ${n + 2},"
                       f" updated_at = now() WHERE model_id = $1",
                       *[row.get(c) for c in MODEL_COLUMNS], version, active)


async def deactivate(conn: Connection, schema: str, model_id: str) -> None:
    await conn.execute(f"UPDATE {schema}.loss_model SET active = false, updated_at = now() WHERE model_id = $1",
                       model_id)


async def delete_model(conn: Connection, schema: str, model_id: str) -> bool:
    done = await conn.execute(f"DELETE FROM {schema}.loss_model WHERE model_id = $1", model_id)
    return str(done).endswith(" 1")


async def insert_version(conn: Connection, schema: str, model_id: str, version: int, reason: str, actor: str,
                         fingerprint: str, members: Sequence[dict[str, Any]],
                         valid_from: datetime | None = None) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.loss_model_version (model_id, version, valid_from, reason, actor, fingerprint)"
        " VALUES ($1, $2, coalesce($3, now()), $4, $5, $6)", model_id, version, valid_from, reason, actor, fingerprint)
    await conn.executemany(
        f"INSERT INTO {schema}.loss_model_member (model_id, version, metering_point_id, side, sign, multiplier)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(model_id, version, m["metering_point_id"], m["side"], m["sign"], m["multiplier"]) for m in members])


async def versions(conn: Connection, schema: str, model_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT model_id, version, valid_from, reason, actor, fingerprint FROM {schema}.loss_model_version"
        " WHERE model_id = ANY($1::text[]) ORDER BY model_id, version", list(model_ids))
    return [dict(r) for r in rows]


async def members(conn: Connection, schema: str, model_ids: Sequence[str],
                  version_of: dict[str, Sequence[int]] | None = None) -> list[dict[str, Any]]:
    """Members of the models (every version, or the versions given per model)."""
    if version_of is None:
        rows = await conn.fetch(
            f"SELECT model_id, version, metering_point_id, side, sign, multiplier FROM {schema}.loss_model_member"
            " WHERE model_id = ANY($1::text[]) ORDER BY model_id, version, side, metering_point_id", list(model_ids))
    else:
        pairs = [(m, v) for m in model_ids for v in version_of.get(m, ())]
        rows = await conn.fetch(
            f"SELECT mm.model_id, mm.version, mm.metering_point_id, mm.side, mm.sign, mm.multiplier"
            f" FROM unnest($1::text[], $2::int[]) AS t(model_id, version)"
            f" JOIN {schema}.loss_model_member mm ON mm.model_id = t.model_id AND mm.version = t.version"
            f" ORDER BY 1, 2, 4, 3", [m for m, _ in pairs], [v for _, v in pairs])
    return [dict(r) for r in rows]


async def known_points(conn: Connection, schema: str, point_ids: Sequence[str]) -> dict[str, str | None]:
    """The known points among ``point_ids`` with their utility."""
    rows = await conn.fetch(
        f"SELECT metering_point_id, utility FROM {schema}.point_owner WHERE metering_point_id = ANY($1::text[])",
        list(point_ids))
    return {r["metering_point_id"]: r["utility"] for r in rows}


async def thresholds(conn: Connection, schema: str) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"SELECT model_class, max_rate, min_rate, max_change, updated_at"
                            f" FROM {schema}.loss_threshold ORDER BY model_class")
    return {r["model_class"]: dict(r) for r in rows}


async def put_threshold(conn: Connection, schema: str, model_class: str, max_rate: float, min_rate: float,
                        max_change: float) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.loss_threshold (model_class, max_rate, min_rate, max_change) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (model_class) DO UPDATE SET max_rate = $2, min_rate = $3, max_change = $4, updated_at = now()",
        model_class, max_rate, min_rate, max_change)


# ---- topology ------------------------------------------------------------------------------------
async def topology_nodes(conn: Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT node_id, name, kind, utility, parent_id, company_id, region_id"
                            f" FROM {schema}.network_node")
    return [dict(r) for r in rows]


async def topology_points(conn: Connection, schema: str) -> list[dict[str, Any]]:
    """Every metering point placed on a network node, with its utility and its customer's category."""
    rows = await conn.fetch(
        f"SELECT mp.metering_point_id, mp.node_id, COALESCE(mp.utility, c.utility) AS utility, c.category"
        f" FROM {schema}.metering_point mp LEFT JOIN {schema}.customer c ON c.customer_id = mp.customer_id"
        f" WHERE mp.node_id IS NOT NULL")
    return [dict(r) for r in rows]


async def mark_topology_changed(conn: Connection, schema: str, as_of: datetime) -> None:
    await conn.execute(f"UPDATE {schema}.loss_topology SET changed_at = clock_timestamp(),"
                       f" as_of = greatest(coalesce(as_of, '-infinity'), $1)", as_of)


async def topology_state(conn: Connection, schema: str) -> tuple[datetime | None, datetime | None, datetime | None]:
    """(changed at — the service's clock —, the newest change time of the topology's changes, generated at)."""
    row = await conn.fetchrow(f"SELECT changed_at, as_of, generated_at FROM {schema}.loss_topology")
    return (row["changed_at"], row["as_of"], row["generated_at"]) if row is not None else (None, None, None)


async def mark_generated(conn: Connection, schema: str, seen: datetime | None) -> None:
    await conn.execute(f"UPDATE {schema}.loss_topology SET generated_at = $1", seen)


async def lock_generation(conn: Connection, key: int) -> None:
    """One generation at a time across instances (transaction-scoped)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)


async def region_subtree(conn: Connection, schema: str, roots: Sequence[str]) -> set[str]:
    rows = await conn.fetch(f"SELECT * FROM {schema}.region_subtree($1::text[]) AS id", list(roots))
    return {r["id"] for r in rows}


async def member_count(conn: Connection, schema: str, model_ids: Sequence[str]) -> int:
    """Members of the models' current versions."""
    n = await conn.fetchval(
        f"SELECT count(*) FROM {schema}.loss_model_member mm JOIN {schema}.loss_model m USING (model_id)"
        f" WHERE m.model_id = ANY($1::text[]) AND mm.version = m.current_version", list(model_ids))
    return int(n or 0)
