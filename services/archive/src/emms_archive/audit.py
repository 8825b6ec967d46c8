"""The audit log: who changed what, when, with before and after images.

Every master-data change, meter installation / replacement / removal, backup and restore is
recorded here in the same transaction as the change. Changes other services must hear about
also get an outbox row; :mod:`emms_archive.outbox` publishes them as ``MasterDataChange``.
The table is append-only (the database refuses UPDATE and DELETE).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Change:
    change_id: uuid.UUID
    entity: str
    entity_id: str
    action: str


async def record(conn: Connection, *, actor: str, entity: str, entity_id: str, action: str,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                 note: str | None = None, publish: bool = True) -> Change:
    """Write one audit row (and its outbox row when ``publish``); call inside the change's transaction."""
    change_id = await conn.fetchval(
        f"INSERT INTO {SCHEMA}.audit_log (actor, entity, entity_id, action, before, after, note)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7) RETURNING change_id",
        actor, entity, entity_id, action,
        None if before is None else json.dumps(before, default=str),
        None if after is None else json.dumps(after, default=str), note,
    )
    if publish:
        await conn.execute(f"INSERT INTO {SCHEMA}.outbox (change_id) VALUES ($1)", change_id)
    return Change(change_id, entity, entity_id, action)


async def entries(conn: Connection, *, entity: str | None = None, entity_id: str | None = None,
                  actor: str | None = None, since: datetime | None = None, after_seq: int = 0,
                  limit: int = 100, companies: tuple[str, ...] = (), regions: tuple[str, ...] = ()
                  ) -> list[dict[str, Any]]:
    """Audit rows in order, filtered; page with ``after_seq`` (the last ``seq`` seen).

    A caller restricted to ``companies`` / ``regions`` sees only changes of rows that belong to
    them (by the row's ``company_id`` / ``region_id`` before or after the change, or the
    company / region row itself); changes of nobody's rows (backups, catalogues) are not theirs."""
    where = Where()
    if companies:
        where.add("((entity = 'company' AND entity_id = ANY({0}::text[]))"
                  " OR COALESCE(after->>'company_id', before->>'company_id') = ANY({0}::text[]))", list(companies))
    if regions:
        where.add(f"((entity = 'region' AND entity_id IN (SELECT {SCHEMA}.region_subtree({{0}}::text[])))"
                  f" OR COALESCE(after->>'region_id', before->>'region_id') IN"
                  f" (SELECT {SCHEMA}.region_subtree({{0}}::text[])))", list(regions))
    where.add("seq > {}", after_seq)
    if entity:
        where.add("entity = {}", entity)
    if entity_id:
        where.add("entity_id = {}", entity_id)
    if actor:
        where.add("actor = {}", actor)
    if since:
        where.add("at >= {}", since)
    rows = await conn.fetch(
        f"SELECT seq, change_id, at, actor, entity, entity_id, action, before, after, note"
        f" FROM {SCHEMA}.audit_log WHERE {where.sql()} ORDER BY seq LIMIT {int(limit)}", *where.args)
    return [{**dict(r), "before": _json(r["before"]), "after": _json(r["after"])} for r in rows]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
