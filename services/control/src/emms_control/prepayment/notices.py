"""Outbound notices on the bus: every notice row (alarm, trip, restore, alarm cleared, quantity exceeded) is
published once as a ``ControlNotice`` on ``emms.control.notice.v1`` for the customer channel.

The rows are written with the decision (same transaction); this worker publishes unsent rows in order
and marks them sent in the transaction that locked them (``FOR UPDATE SKIP LOCKED``): at least once —
a crash between the publish and the commit publishes the row again, with the same ``notice_id``, which
consumers use to drop the repeat.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from emms_bus import BusProducer
from emms_control.repository import prepayment as repo
from emms_messages.control import ControlNotice


def message(row: Any) -> ControlNotice:
    detail = row["detail"] if isinstance(row["detail"], dict) else json.loads(row["detail"] or "{}")
    return ControlNotice(notice_id=row["notice_id"], kind=row["kind"], account_id=row["account_id"],
                         meter_id=row["meter_id"], message=row["message"],
                         detail={str(k): str(v) for k, v in detail.items()}, created_at=row["created_at"])


async def publish_unsent(pool: asyncpg.Pool, producer: BusProducer, batch: int = 500) -> int:
    async with pool.acquire() as conn, conn.transaction():
        rows = await repo.unsent_notices(conn, batch)
        if rows:
            await producer.publish_many([message(r) for r in rows])
            await repo.mark_sent(conn, [r["notice_id"] for r in rows])
    return len(rows)
