"""The detector: each step compares the conditions the rules see now with the active faults of each kind,
opens a fault (and its ticket) for every new condition, clears the faults whose condition ended (and
resolves their tickets), in one transaction per kind. Meter alarms are opened from the events consumer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from emms_db.connection import Connection
from emms_operations.faults.model import (
    CHANNEL_DOWN,
    METER_SILENT,
    PORT_ILLEGAL_FRAMES,
    SERVICE_UNHEALTHY,
    TERMINAL_OFFLINE,
    Condition,
    channel_down_fault,
    illegal_rate_fault,
)
from emms_operations.repository import faults as fault_sql
from emms_operations.repository import fleet as fleet_sql
from emms_operations.repository import health as health_sql
from emms_operations.settings import OperationsSettings
from emms_operations.tickets import service as tickets

log = structlog.get_logger("emms.operations.faults")


async def open_condition(conn: Connection, c: Condition, due_h: dict[str, float], at: datetime,
                         source_key: str | None = None) -> bool:
    """Open a fault for the condition and its ticket; False when one is active already."""
    fault = await fault_sql.open_fault(conn, kind=c.kind, level=c.level, subject=c.subject, terminal=c.terminal,
                                       meter_id=c.meter_id, severity=c.severity, summary=c.summary,
                                       detail=c.detail, at=at, source_key=source_key)
    if fault is None:
        return False
    await tickets.open_for_fault(conn, fault, due_h, at)
    log.info("fault opened", kind=c.kind, level=c.level, subject=c.subject, fault_id=fault["fault_id"])
    return True


async def reconcile(conn: Connection, kind: str, conditions: list[Condition], due_h: dict[str, float],
                    at: datetime) -> tuple[int, int]:
    """Open the new conditions of ``kind``, clear its faults no longer seen. Returns (opened, cleared)."""
    active = await fault_sql.active_subjects(conn, kind)
    seen = {c.subject for c in conditions}
    opened = 0
    for c in conditions:
        if c.subject not in active and await open_condition(conn, c, due_h, at):
            opened += 1
    gone = [fid for subject, fid in active.items() if subject not in seen]
    cleared = await fault_sql.clear(conn, gone, at)
    if cleared:
        await tickets.resolve_for_cleared(conn, cleared, at)
        log.info("faults cleared", kind=kind, count=len(cleared))
    return opened, len(cleared)


class Detector:
    def __init__(self, pool: asyncpg.Pool, settings: OperationsSettings,
                 port_windows: Callable[[], dict[str, tuple[float, float]]],
                 port_links: Callable[[], dict[str, tuple[float, bool]]] = dict,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.settings = settings
        self.port_windows = port_windows
        self.port_links = port_links
        self.now = now

    async def step(self) -> None:
        at = self.now()
        due_h = self.settings.tickets.due_h
        for kind, find in ((TERMINAL_OFFLINE, self._offline), (METER_SILENT, self._silent),
                           (SERVICE_UNHEALTHY, self._unhealthy), (PORT_ILLEGAL_FRAMES, self._ports),
                           (CHANNEL_DOWN, self._channels)):
            async with self.pool.acquire() as conn, conn.transaction():
                await reconcile(conn, kind, await find(conn, at), due_h, at)

    async def _offline(self, conn: Connection, at: datetime) -> list[Condition]:
        limit = self.settings.faults.terminal_offline_s
        rows = await fleet_sql.offline_since(conn, at - timedelta(seconds=limit))
        return [Condition(TERMINAL_OFFLINE, "terminal", r["terminal"], "major",
                          f"terminal {r['terminal']} offline since {r['since'].isoformat()}",
                          terminal=r["terminal"], detail={"since": r["since"].isoformat(), "limit_s": limit})
                for r in rows]

    async def _silent(self, conn: Connection, at: datetime) -> list[Condition]:
        days = self.settings.faults.meter_silent_days
        rows = await fleet_sql.silent_meters(conn, at - timedelta(days=days))
        return [Condition(METER_SILENT, "meter", r["meter_id"], "minor",
                          f"meter {r['meter_id']} not answering for {days:g} days",
                          terminal=r["terminal"], meter_id=r["meter_id"],
                          detail={"last_reading_at": None if r["last_reading_at"] is None
                                  else r["last_reading_at"].isoformat(), "days": days})
                for r in rows]

    async def _unhealthy(self, conn: Connection, at: datetime) -> list[Condition]:
        limit = timedelta(seconds=self.settings.faults.service_unhealthy_s)
        down = await health_sql.down_since(conn)
        return [Condition(SERVICE_UNHEALTHY, "master", service, "critical",
                          f"service {service} not ready since {since.isoformat()}",
                          detail={"since": since.isoformat()})
                for service, since in down.items() if at - since >= limit]

    async def _ports(self, conn: Connection, at: datetime) -> list[Condition]:
        rules = self.settings.faults
        out = []
        for port, (frames, illegal) in self.port_windows().items():
            c = illegal_rate_fault(port, frames, illegal, rules.illegal_frame_ratio, rules.illegal_frame_min)
            if c is not None:
                out.append(c)
        return out

    async def _channels(self, conn: Connection, at: datetime) -> list[Condition]:
        links = self.port_links()
        active = set(await fault_sql.active_subjects(conn, CHANNEL_DOWN))
        if not links:  # nothing scraped (yet): keep what is active rather than clear it
            return [Condition(CHANNEL_DOWN, "channel", s, "critical", "kept: the FEP not scraped") for s in active]
        out = []
        for port, (count, busy) in links.items():
            c = channel_down_fault(port, count, busy, f"fep-port:{port}" in active)
            if c is not None:
                out.append(c)
        return out
