"""Keeping the local measurement-point table from master-data changes (R-4.6.5).

The archive publishes ``MasterDataChange`` after every committed change. The
collector keeps what it needs to read meters and resolve targets:

* ``meter_installation`` (keyed by metering point; data = the archive's
  installation view: meter, terminal address, pn, port, local scheme, protocol,
  utility) → the point; created / replaced also put the meter into the automatic
  tasks of its type; removed takes it out of every task;
* ``metering_point`` → the port and local communication scheme of its points
  (the scheme derived from the port when master data names none,
  :mod:`emms_collector.local_scheme`);
* ``customer`` → region, category and company of its points;
* ``terminal`` → its bus address (``AAAA-TTTTT``), company and region;
* ``region`` → the region tree (a caller's regions include every region below them);
* ``group_member`` → group membership for group targets.

Each batch is applied in one transaction together with the inbox rows of its
messages, so a redelivered change does nothing.

:meth:`MasterDataSync.settled` waits until every change on the topic at the time
of the call has been applied (the group's committed offsets reach the end
offsets of that moment, whichever replica handled them): a run plans its
targets only then, so a fleet just loaded into the archive is collected whole
rather than as far as its changes had travelled.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from emms_bus import BusConsumer, Delivery
from emms_collector.repository import masterdata as md_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.repository import terminal_class as class_sql
from emms_collector.repository.templates import list_templates
from emms_collector.schema import SCHEMA
from emms_collector.tasks.auto_tasks import join
from emms_db import inbox
from emms_db.connection import Connection
from emms_messages.masterdata import ChangeKind, MasterDataChange

log = structlog.get_logger("emms.collector.masterdata")
CONSUMER = "masterdata"
_KEY = re.compile(r"^[0-9A-Fa-f]{4}-\d{5}$")


def terminal_key(address: str | None) -> str | None:
    """The bus address of a terminal from the archive's address: ``"3701-00012"`` as it is, or the
    8-hex-digit vendor form ``"3701000C"`` (A1 then A2 in hex)."""
    if not address:
        return None
    text = address.strip()
    if _KEY.match(text):
        return text.upper()
    if len(text) == 8 and all(ch in "0123456789abcdefABCDEF" for ch in text):
        return f"{text[:4].upper()}-{int(text[4:], 16):05d}"
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class MasterDataSync:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.applied = 0
        self.consumer: BusConsumer | None = None
        """The consumer of the master-data topic on this replica (none on an interactive one)."""

    async def settled(self, timeout_s: float, poll_s: float = 0.2) -> bool:
        """Wait until the changes published so far are applied; False when ``timeout_s`` passed first
        (the caller goes on: a run takes up points that arrive later while it runs)."""
        consumer = self.consumer
        if consumer is None or timeout_s <= 0:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        targets = None
        while True:
            try:
                targets = targets or await consumer.end_offsets()
                if targets is not None and await consumer.reached(targets):
                    return True
            except Exception as exc:  # the consumer not started yet, a rebalance, a broker hiccup: ask again
                log.debug("master-data catch-up not known yet", error=repr(exc))
            if loop.time() >= deadline:
                log.warning("master data not caught up in time; planning with the points known",
                            waited_s=timeout_s, targets={f"{tp.topic}/{tp.partition}": o
                                                         for tp, o in (targets or {}).items()})
                return False
            await asyncio.sleep(poll_s)

    async def handle(self, batch: Sequence[Delivery]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim(conn, SCHEMA, CONSUMER, [d.envelope.message_id for d in batch])
            templates = None
            for d in batch:
                change = d.payload
                if d.envelope.message_id not in fresh or not isinstance(change, MasterDataChange):
                    continue
                if change.entity == "meter_installation" and templates is None:
                    templates = await list_templates(conn)
                await self.apply(conn, change, templates or [])
                self.applied += 1

    async def apply(self, conn: Connection, change: MasterDataChange, templates: list[Any]) -> None:
        data = change.data
        if change.entity == "meter_installation":
            await self._installation(conn, change, templates)
        elif change.entity == "customer":
            await md_sql.upsert_customer(conn, change.entity_id, data.get("region_id"), data.get("category"),
                                         data.get("utility"), data.get("company_id"))
        elif change.entity == "terminal":
            await self._terminal(conn, change)
        elif change.entity == "metering_point" and change.kind is not ChangeKind.REMOVED:
            await point_sql.set_communication(conn, change.entity_id, _port(data.get("port")),
                                              data.get("local_scheme"))
        elif change.entity == "region":
            await md_sql.set_region(conn, change.entity_id, data.get("parent_id"))
        elif change.entity == "group_member":
            await self._group_member(conn, change)

    async def _installation(self, conn: Connection, change: MasterDataChange, templates: list[Any]) -> None:
        data = change.data
        meter_id = data.get("meter_id")
        if not meter_id:
            return
        if change.kind is ChangeKind.REMOVED or data.get("removed_at"):
            await point_sql.deactivate(conn, [str(meter_id)])
            await task_sql.remove_member_everywhere(conn, str(meter_id))
            return
        key = terminal_key(data.get("terminal_address"))
        if key is None or data.get("pn") is None:
            log.info("installation without a terminal and pn is not read by the collector", meter=meter_id)
            return
        customer = await md_sql.customer_scope(conn, data.get("customer_id"))
        replaced: list[str] = []
        if data.get("metering_point_id"):  # a replacement: the old meter of this point is no longer read
            replaced = await md_sql.deactivate_replaced(conn, data["metering_point_id"], str(meter_id))
        await point_sql.upsert_points(conn, [{
            "meter_id": str(meter_id), "terminal": key, "pn": int(data["pn"]), "utility": str(data.get("utility")),
            "protocol": str(data.get("protocol") or ""), "meter_address": str(data.get("meter_address") or ""),
            "port": data.get("port"), "local_scheme": data.get("local_scheme"),
            "metering_point_id": data.get("metering_point_id"),
            "customer_id": data.get("customer_id"),
            "region_id": (customer and customer[0]) or data.get("region_id"),
            "category": (customer and customer[1]) or data.get("customer_category"),
            "company_id": (customer and customer[2]) or data.get("company_id"),
            "valid_from": _time(data.get("valid_from")),
            "valid_to": _time(data.get("valid_to")), "active": True, "source": "masterdata"}])
        reason = f"{change.kind.value} {change.changed_at.isoformat()}"
        if replaced:  # the tasks that read the old meter read the new one
            tasks = await task_sql.substitute_meter(conn, replaced, str(meter_id), f"replaces {', '.join(replaced)}")
            if tasks:
                log.info("replaced meter substituted in tasks", meter=meter_id, old=replaced, tasks=tasks)
        await join(conn, templates, str(meter_id), str(data.get("utility")), str(data.get("protocol") or ""),
                   reason)

    async def _terminal(self, conn: Connection, change: MasterDataChange) -> None:
        data = change.data
        key = terminal_key(data.get("address"))
        await md_sql.upsert_terminal(conn, change.entity_id, data.get("address"), key, data.get("region_id"),
                                     data.get("status"), data.get("company_id"))
        await class_sql.note_terminal_class(conn, change.entity_id, data.get("kind"), data.get("model"))

    async def _group_member(self, conn: Connection, change: MasterDataChange) -> None:
        data = change.data
        keys = (data.get("group_id"), data.get("member_kind"), data.get("member_id"))
        if not all(keys):
            return
        await md_sql.set_group_member(conn, *keys, member=change.kind is not ChangeKind.REMOVED)
