"""COPY-based export and import of archive tables as CSV (application level, and system level
when pg_dump is missing).

Export: each table's scoped rows, in key order, to ``tables/<name>.csv`` with a header.
Import: each file into a temporary copy of its table, then ``INSERT … ON CONFLICT DO
NOTHING`` (rows already there are kept; master data may be overwritten on request), in one
transaction, after making the time partitions the rows need. CSV keeps values exact:
PostgreSQL prints floats with the shortest text that reads back identically.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from emms_archive.backup.tables import TIME_PARTITIONED, Table
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection

MASTER = ("company", "region", "service_area", "network_node", "terminal", "customer", "heating_season", "meter",
          "metering_point", "custom_group")


def file_of(directory: Path, table: Table) -> Path:
    return directory / "tables" / f"{table.name}.csv"


async def export_table(conn: Connection, directory: Path, table: Table, companies: list[str] | None,
                       start: datetime | None, end: datetime | None) -> None:
    path = file_of(directory, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    sql, args = table.select(companies, start, end)
    await conn.copy_from_query(sql, *args, output=path, format="csv", header=True)


async def _ensure_partitions(conn: Connection, stage: str, table: Table) -> None:
    if table.name not in TIME_PARTITIONED or table.time_column is None:
        return
    months = await conn.fetch(f"SELECT DISTINCT date_trunc('month', {table.time_column} AT TIME ZONE 'UTC')"
                              f" AT TIME ZONE 'UTC' AS m FROM {stage}")
    for m in months:
        await conn.fetchval(f"SELECT {SCHEMA}.ensure_partitions($1, $1)", m["m"])


async def import_table(conn: Connection, directory: Path, table: Table, *, overwrite: bool = False) -> dict[str, int]:
    """Load one table's CSV inside the caller's transaction; return rows in the file and rows added."""
    path = file_of(directory, table)
    stage = f"restore_{table.name}"
    await conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {SCHEMA}.{table.name}) ON COMMIT DROP")
    await conn.copy_to_table(stage, source=path, format="csv", header=True)
    await _ensure_partitions(conn, stage, table)
    keys = ", ".join(table.order)
    conflict = "DO NOTHING"
    if overwrite and table.name in MASTER:
        cols = [r["attname"] for r in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
            f"{SCHEMA}.{table.name}")]
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in table.order)
        conflict = f"DO UPDATE SET {sets}"
    status = await conn.execute(f"INSERT INTO {SCHEMA}.{table.name} SELECT * FROM {stage}"
                                f" ON CONFLICT ({keys}) {conflict}")
    total = await conn.fetchval(f"SELECT count(*) FROM {stage}")
    if table.sequence:
        await conn.execute(f"SELECT setval('{SCHEMA}.{table.sequence}',"
                           f" greatest((SELECT max({table.order[0]}) FROM {SCHEMA}.{table.name}), 1))")
    return {"rows": int(total), "added": int(status.split()[-1])}
