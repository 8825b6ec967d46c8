"""The outbox relay: publish committed master-data changes as ``MasterDataChange`` (R-4.6.5).

A change is written with its audit row and an outbox row in one transaction; this relay
publishes pending outbox rows in commit order and marks them published. A crash between
publishing and marking republishes the same ``change_id`` (the same stable message id), which
consumers deduplicate. Rows are locked with ``SKIP LOCKED`` so several replicas can relay.
Writers call :meth:`OutboxRelay.poke` after commit so changes go out at once; the relay also
sweeps on a timer for anything a crashed writer left behind.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import structlog

from emms_archive.metrics import OUTBOX_PUBLISHED
from emms_archive.schema import SCHEMA
from emms_bus import BusProducer
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.archive.outbox")

KINDS = {"created": ChangeKind.CREATED, "updated": ChangeKind.UPDATED,
         "replaced": ChangeKind.REPLACED, "removed": ChangeKind.REMOVED}


def to_message(row: Any) -> MasterDataChange:
    """The bus message for one audit row: the after image (the before image for removals), plus the
    outbox row's sealed secrets (``sealed``: Fernet tokens, e.g. a terminal's password; never audited)."""
    after = _json(row["after"])
    before = _json(row["before"])
    data = dict(after if after is not None else before or {})
    if row["action"] == "updated" and before is not None:
        data["changed_fields"] = sorted(k for k in data if k not in ("updated_at",) and before.get(k) != data[k])
    sealed = _json(row.get("sealed"))
    if sealed:
        data.update(sealed)
    return MasterDataChange(change_id=str(row["change_id"]), entity=row["entity"], entity_id=row["entity_id"],
                            kind=KINDS[row["action"]], changed_at=row["at"], changed_by=row["actor"], data=data)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, producer: BusProducer, *, batch: int = 2000,
                 sweep_s: float = 2.0) -> None:
        self._pool = pool
        self._producer = producer
        self._batch = batch
        self._sweep_s = sweep_s
        self._worker = PeriodicWorker("archive-outbox", self._drain, sweep_s, on_stop=self.publish_pending)

    def poke(self) -> None:
        """A writer committed changes: publish them now rather than at the next sweep."""
        self._worker.poke()

    async def run(self, stop: asyncio.Event) -> None:
        await self._worker.run(stop)

    async def _drain(self) -> None:
        while await self.publish_pending() >= self._batch:
            pass

    async def publish_pending(self) -> int:
        """Publish one batch of pending changes; return how many went out."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT a.change_id, a.at, a.actor, a.entity, a.entity_id, a.action, a.before, a.after, o.sealed"
                f" FROM {SCHEMA}.outbox o JOIN {SCHEMA}.audit_log a USING (change_id)"
                f" WHERE o.published_at IS NULL ORDER BY a.seq LIMIT {self._batch}"
                f" FOR UPDATE OF o SKIP LOCKED")
            if not rows:
                return 0
            await self._producer.publish_many([to_message(r) for r in rows])
            await conn.execute(f"UPDATE {SCHEMA}.outbox SET published_at = now(), sealed = NULL"
                               f" WHERE change_id = ANY($1::uuid[])",
                               [r["change_id"] for r in rows])
        OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)
