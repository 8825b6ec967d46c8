"""Row checksums: per table, the row count and an MD5 over the MD5 of every row's text, in
primary-key order. Equal checksums before a backup and after a restore mean the same rows
with the same values, independent of physical order, partitioning or the dump format."""

from __future__ import annotations

from datetime import datetime

from emms_archive.backup.tables import Table
from emms_db.connection import Connection


async def table_checksum(conn: Connection, table: Table, companies: list[str] | None = None,
                         start: datetime | None = None, end: datetime | None = None) -> dict[str, object]:
    sql, args = table.select(companies, start, end)
    row = await conn.fetchrow(
        f"SELECT count(*) AS n, md5(coalesce(string_agg(md5(x::text), '' ORDER BY {', '.join(table.order)}), ''))"
        f" AS md5 FROM ({sql}) x", *args)
    assert row is not None
    return {"rows": int(row["n"]), "md5": row["md5"]}


async def checksums(conn: Connection, tables: tuple[Table, ...], companies: list[str] | None = None,
                    start: datetime | None = None, end: datetime | None = None) -> dict[str, dict[str, object]]:
    return {t.name: await table_checksum(conn, t, companies, start, end) for t in tables}
