"""The bus handlers: session history, downlink outcomes, readings' last times, alarms, master data, the duty log.

Idempotent each: session events, the duty log and meter times by natural key (``ON CONFLICT``, ``GREATEST``),
downlink counts and master data through the inbox, alarms by their message id (``faults.source_key``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from emms_bus import Delivery
from emms_db.inbox import claim
from emms_messages.control import CommandResult
from emms_messages.events import DeviceEvent
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.oplog import OperationLogged
from emms_messages.readings import RawReadingBatch
from emms_messages.terminal import DownlinkResult, RequestOutcome, SessionState, TerminalSession
from emms_operations.faults.detector import open_condition
from emms_operations.faults.model import METER_ALARM, Condition, alarm_severity
from emms_operations.masterdata import terminal_fields, terminal_key
from emms_operations.repository import fleet as fleet_sql
from emms_operations.repository import oplog as oplog_sql
from emms_operations.schema import SCHEMA
from emms_operations.settings import OperationsSettings

SESSION_TOPIC = "emms.terminal.session.v1"
RESULT_TOPIC = "emms.downlink.result.v1"
RAW_TOPIC = "emms.reading.raw.v1"
EVENT_TOPIC = "emms.device.event.v1"
MASTERDATA_TOPIC = "emms.masterdata.change.v1"
COMMAND_TOPIC = "emms.control.command.v1"
OPLOG_TOPIC = "emms.operation.log.v1"


def oplog_row(e: OperationLogged) -> tuple[Any, ...]:
    return (e.entry_id, e.service, e.category, e.action, e.actor, e.at, e.outcome, e.target, e.terminal, e.meter_id,
            e.reason, e.detail)


def command_row(r: CommandResult) -> tuple[Any, ...]:
    """A command's final result on one device as a duty-log entry (the command's history)."""
    category = "parameter" if r.action in ("parameter", "set_parameters") else "control"
    outcome = "success" if r.state in ("verified", "confirmed") else r.state
    return (f"control/{r.job_id}/{r.meter_id or ''}/{r.terminal}/final", "control", category,
            f"command.{r.state}", r.requested_by, r.finished_at, outcome, f"job {r.job_id}", r.terminal, r.meter_id,
            r.reason or None, {"action": r.action, "origin": r.origin, "verified_state": r.verified_state,
                               "attempts": r.attempts})


DUTY_ENTITIES = frozenset({"terminal", "meter", "meter_installation"})
"""Master-data changes that are duty-log operations: adding, replacing and removing terminals and meters."""


def masterdata_row(c: MasterDataChange) -> tuple[Any, ...]:
    data = c.data
    terminal = terminal_key(data.get("address")) if c.entity == "terminal" else terminal_key(
        data.get("terminal_address"))
    meter = str(data["meter_id"]) if data.get("meter_id") else (c.entity_id if c.entity == "meter" else None)
    return (f"archive/{c.change_id}", "archive", "masterdata", f"{c.entity}.{c.kind.value}", c.changed_by,
            c.changed_at, "success", f"{c.entity} {c.entity_id}", terminal, meter, None,
            {k: v for k, v in data.items() if k in ("address", "terminal_address", "meter_id", "pn", "status",
                                                    "model", "vendor", "removed_at", "metering_point_id")})


class Consumers:
    def __init__(self, pool: asyncpg.Pool, settings: OperationsSettings) -> None:
        self.pool = pool
        self.settings = settings

    async def sessions(self, deliveries: Sequence[Delivery]) -> None:
        rows = [(p.terminal, p.last_seen if p.state is SessionState.OFFLINE else p.since,
                 p.state is SessionState.ONLINE, p.connection_id, p.reason)
                for d in deliveries if isinstance(p := d.payload, TerminalSession)]
        async with self.pool.acquire() as conn, conn.transaction():
            await fleet_sql.record_sessions(conn, rows)

    async def results(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries if isinstance(d.payload, DownlinkResult)}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "downlink-results", list(unique))
            counts: dict[Any, tuple[int, int]] = {}
            for mid, r in unique.items():
                if mid not in fresh or not isinstance(r, DownlinkResult) or r.outcome is RequestOutcome.REJECTED:
                    continue
                key = (r.terminal, r.completed_at.astimezone(self.settings.tz()).date())
                n, ok = counts.get(key, (0, 0))
                counts[key] = (n + 1, ok + (r.outcome is RequestOutcome.ANSWERED))
            await fleet_sql.add_requests(conn, counts)

    async def readings(self, deliveries: Sequence[Delivery]) -> None:
        last: dict[str, tuple[str, datetime]] = {}
        for d in deliveries:
            if not isinstance(batch := d.payload, RawReadingBatch):
                continue
            for r in batch.readings:
                if r.value is None:
                    continue
                seen = last.get(r.meter_id)
                if seen is None or r.collected_at > seen[1]:
                    last[r.meter_id] = (r.terminal or batch.terminal, r.collected_at)
        async with self.pool.acquire() as conn:
            await fleet_sql.touch_meters(conn, last)

    async def events(self, deliveries: Sequence[Delivery]) -> None:
        rules, due_h = self.settings.faults, self.settings.tickets.due_h
        async with self.pool.acquire() as conn, conn.transaction():
            for d in deliveries:
                e = d.payload
                if not isinstance(e, DeviceEvent) or e.code not in rules.alarm_codes:
                    continue
                terminal = e.terminal
                where = f"meter {e.meter_id}" if e.meter_id else f"terminal {terminal}"
                c = Condition(METER_ALARM, "meter" if e.meter_id else "terminal",
                              f"{e.meter_id or terminal}/{e.code}", alarm_severity(e.code, rules.critical_codes),
                              f"{e.code} alarm at {where} ({e.occurred_at.isoformat()})", terminal=terminal,
                              meter_id=e.meter_id, detail={"code": e.code, "occurred_at": e.occurred_at.isoformat(),
                                                           "event": e.detail})
                await open_condition(conn, c, due_h, e.received_at, source_key=str(d.envelope.message_id))

    async def masterdata(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries if isinstance(d.payload, MasterDataChange)}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "masterdata", list(unique))
            rows = []
            for mid, change in unique.items():
                if mid in fresh and isinstance(change, MasterDataChange):
                    await self._apply(conn, change)
                    if change.entity in DUTY_ENTITIES:
                        rows.append(masterdata_row(change))
            await oplog_sql.insert_many(conn, rows)

    async def _apply(self, conn: Any, change: MasterDataChange) -> None:
        data = change.data
        if change.entity == "terminal":
            fields = terminal_fields(data)
            if change.kind is ChangeKind.REMOVED:
                fields["status"] = "removed"
            await fleet_sql.upsert_terminal(conn, change.entity_id, terminal_key(data.get("address")), fields)
        elif change.entity == "meter_installation" and data.get("meter_id"):
            removed = change.kind is ChangeKind.REMOVED or bool(data.get("removed_at"))
            await fleet_sql.upsert_meter(conn, str(data["meter_id"]), terminal_key(data.get("terminal_address")),
                                         not removed)

    async def oplog(self, deliveries: Sequence[Delivery]) -> None:
        rows = [oplog_row(p) for d in deliveries if isinstance(p := d.payload, OperationLogged)]
        async with self.pool.acquire() as conn:
            await oplog_sql.insert_many(conn, rows)

    async def commands(self, deliveries: Sequence[Delivery]) -> None:
        rows = [command_row(p) for d in deliveries if isinstance(p := d.payload, CommandResult)]
        async with self.pool.acquire() as conn:
            await oplog_sql.insert_many(conn, rows)
