"""Automatic meter parameters (R-4.6.5): the concentrator's measurement-point table follows master data.

* **Master data → terminal.** A ``meter_installation`` change (installed, replaced, removed) becomes an
  F10 record for the meter's terminal: serial = pn, the meter's port, protocol code and address (pn 0: the
  record is deleted). Records for one terminal gather in one pending push (one frame), which the
  terminal-config worker sends, has confirmed and reads back like any push; while the terminal is offline
  it waits for its next login. The change's inbox claim and the push commit together (a redelivered change
  adds nothing).
* **Terminal → master data.** Every full read of a concentrator's table (first connect, drift check, or
  ``POST …/table/read``) lists the records whose measurement point has no active meter in master data
  (``unknown_meter``). An operator adopts one in one action: the meter becomes a point of the collector
  (source ``terminal``) in the automatic tasks of its type — collected in the next run — and the adoption
  is recorded with who did it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from emms_bus import Delivery
from emms_collector.intake.masterdata import terminal_key
from emms_collector.repository import points as point_sql
from emms_collector.repository import terminal_config as sql
from emms_collector.repository.templates import list_templates
from emms_collector.schema import SCHEMA
from emms_collector.tasks.auto_tasks import join
from emms_collector.terminal_config import values
from emms_collector.terminal_config.pushes import TerminalConfig
from emms_db import inbox
from emms_messages.masterdata import ChangeKind, MasterDataChange

log = structlog.get_logger("emms.collector.meter_table")
CONSUMER = "terminal-config-masterdata"
UTILITY_OF_PROTOCOL = {"dlt645-2007": "electricity", "dlt645-1997": "electricity", "cjt188-2004": "water"}


class MeterTable:
    def __init__(self, config: TerminalConfig) -> None:
        self.config = config

    async def handle_masterdata(self, batch: Sequence[Delivery]) -> None:
        """Consumer of ``emms.masterdata.change.v1`` (its own group): installations → F10 records."""
        if not self.config.settings.meter_table_push:
            return
        woken = False
        async with self.config.pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim(conn, SCHEMA, CONSUMER, [d.envelope.message_id for d in batch])
            per_terminal: dict[str, list[dict[str, Any]]] = {}
            for d in batch:
                change = d.payload
                if d.envelope.message_id not in fresh or not isinstance(change, MasterDataChange) \
                        or change.entity != "meter_installation":
                    continue
                found = await self._record(conn, change)
                if found is not None:
                    per_terminal.setdefault(found[0], []).append(found[1])
            for terminal, records in per_terminal.items():
                await sql.merge_table_push(conn, terminal, records, f"masterdata:{batch[0].payload.changed_by}"
                                           if isinstance(batch[0].payload, MasterDataChange) else "masterdata")
                woken = True
        if woken:
            self.config.poke()

    async def _record(self, conn: Any, change: MasterDataChange) -> tuple[str, dict[str, Any]] | None:
        data = change.data
        removed = change.kind is ChangeKind.REMOVED or bool(data.get("removed_at"))
        terminal, pn = terminal_key(data.get("terminal_address")), data.get("pn")
        if (terminal is None or pn is None) and data.get("meter_id"):
            known = await sql.point_of(conn, str(data["meter_id"]))
            if known is not None:
                terminal, pn = known
        if terminal is None or pn is None or not 1 <= int(pn) <= 2040:
            return None
        pn = int(pn)
        if removed:
            return terminal, values.record(pn, 0, 31, "", "")
        port = int(data.get("port") or 31)
        return terminal, values.record(pn, pn, port, str(data.get("protocol") or ""),
                                       str(data.get("meter_address") or ""))

    async def read_table(self, terminal: str) -> dict[str, Any]:
        """Read the concentrator's whole F10 table and list the meters master data lacks."""
        reported, result = await self.config.read(terminal, [10])
        if reported is None or 10 not in reported:
            return {"terminal": terminal, "outcome": result.outcome.value, "detail": result.detail, "records": [],
                    "unknown": []}
        records = values.records_of(reported[10])
        async with self.config.pool.acquire() as conn, conn.transaction():
            await sql.note_table(conn, terminal, records)
            unknown = await sql.unknown_meters(conn, terminal, "listed", 10_000)
        return {"terminal": terminal, "outcome": "answered", "detail": "", "records": records, "unknown": unknown}

    async def adopt(self, terminal: str, pn: int, meter_id: str, utility: str | None, actor: str
                    ) -> dict[str, Any] | None:
        """Adopt a listed meter: a point of the collector, in the automatic tasks of its type; None when not
        listed."""
        async with self.config.pool.acquire() as conn, conn.transaction():
            row = await sql.take_unknown(conn, terminal, pn)
            if row is None:
                return None
            protocol = values.PROTOCOL_OF_CODE.get(row["protocol_code"], "dlt645-2007")
            kind = utility or UTILITY_OF_PROTOCOL.get(protocol, "electricity")
            owner = await sql.terminal_company(conn, terminal)
            await point_sql.upsert_points(conn, [{
                "meter_id": meter_id, "terminal": terminal, "pn": pn, "utility": kind, "protocol": protocol,
                "meter_address": row["meter_address"], "port": row["port"], "active": True, "source": "terminal",
                "company_id": owner}])
            templates = await list_templates(conn)
            await join(conn, templates, meter_id, kind, protocol, f"adopted from {terminal} by {actor}")
            adopted = await sql.mark_adopted(conn, terminal, pn, meter_id, actor)
            await sql.add_action(conn, actor, terminal, "adopt_meter", {"pn": pn, "meter_id": meter_id,
                                                                        "utility": kind}, "adopted")
        log.info("meter adopted from a concentrator's table", terminal=terminal, pn=pn, meter=meter_id, by=actor)
        return adopted
