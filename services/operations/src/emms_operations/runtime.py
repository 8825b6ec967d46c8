"""The operations service's state: the poller, the lag watch, the detector, the gauges and the escalation, and
what the routes ask of them (the operating status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from emms_operations import availability_report, metrics
from emms_operations.consumers import Consumers
from emms_operations.faults.detector import Detector
from emms_operations.health.lag import LagWatch
from emms_operations.health.poller import HealthPoller
from emms_operations.repository import faults as fault_sql
from emms_operations.repository import fleet as fleet_sql
from emms_operations.repository import status as status_sql
from emms_operations.repository import tickets as ticket_sql
from emms_operations.settings import OperationsSettings
from emms_operations.tickets import service as tickets
from emms_operations.tickets.procedure import ACTIVE


@dataclass
class OperationsRuntime:
    settings: OperationsSettings
    pool: asyncpg.Pool
    poller: HealthPoller = field(init=False)
    lag: LagWatch = field(init=False)
    detector: Detector = field(init=False)
    consumers: Consumers = field(init=False)

    def __post_init__(self) -> None:
        self.poller = HealthPoller(self.pool, self.settings)
        self.lag = LagWatch(self.settings.kafka, self.settings.lag_groups)
        self.detector = Detector(self.pool, self.settings, self.poller.port_windows, self.poller.port_links)
        self.consumers = Consumers(self.pool, self.settings)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def escalate(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await tickets.escalate_overdue(conn, self.settings.tickets.due_h, self.now())
        await self.refresh_gauges()

    async def refresh_gauges(self) -> None:
        now = self.now()
        async with self.pool.acquire() as conn:
            fleet = await fleet_sql.fleet_counts(conn)
            active = await fault_sql.active_counts(conn)
            open_ = await ticket_sql.open_counts(conn, [s.value for s in ACTIVE], now)
        for state, n in fleet.items():
            metrics.TERMINALS.labels(state=state).set(n)
        metrics.FAULTS_ACTIVE.clear()
        for r in active:
            metrics.FAULTS_ACTIVE.labels(kind=r["kind"], level=r["level"], severity=r["severity"]).set(r["n"])
        counts = {r["severity"]: r for r in open_}
        for severity in ("critical", "major", "minor"):
            metrics.TICKETS_OPEN.labels(severity=severity).set(counts.get(severity, {}).get("open", 0))
            metrics.TICKETS_OVERDUE.labels(severity=severity).set(counts.get(severity, {}).get("overdue", 0))

    async def refresh_availability(self) -> None:
        """The month so far of the master, its services and the fleet, as gauges (dashboards, alerts)."""
        now = self.now()
        local = now.astimezone(self.settings.tz())
        async with self.pool.acquire() as conn:
            master = await availability_report.master(conn, self.settings, local.year, local.month, now)
            fleet = await availability_report.terminals(conn, self.settings, local.year, local.month, now, None)
        values = {"master": master["master"]["availability"], "fleet": fleet["fleet_availability"],
                  **{name: a["availability"] for name, a in master["services"].items()}}
        for subject, value in values.items():
            if value is not None:
                metrics.AVAILABILITY.labels(subject=subject).set(value)

    async def status(self, worst: int) -> dict[str, Any]:
        """The operating status: the master (services, broker, database), the channels and the fleet."""
        now = self.now()
        today = now.astimezone(self.settings.tz()).date()
        async with self.pool.acquire() as conn:
            database = await status_sql.database(conn)
            fleet = await fleet_sql.fleet_counts(conn)
            today_rate = await fleet_sql.success_total(conn, today)
            week_rate = await fleet_sql.success_total(conn, today - timedelta(days=6))
            worst_rows = await fleet_sql.success_rates(conn, today - timedelta(days=6), worst)
            active = await fault_sql.active_counts(conn)
            open_ = await ticket_sql.open_counts(conn, [s.value for s in ACTIVE], now)
        services = [{"service": name, "up": p["up"], "checked_at": p["checked_at"], "detail": p["detail"]}
                    for name, p in sorted(self.poller.latest.items())]
        windows = self.poller.windows
        requests = self.poller.requests
        ports = {port: {**fig.as_public(), "window_frames_in": windows.get(port, (0.0, 0.0))[0],
                        "window_illegal_frames": windows.get(port, (0.0, 0.0))[1],
                        **requests.get(port, {"requests": None, "answered": None, "success_rate": None})}
                 for port, fig in sorted(self.poller.ports.items())}
        return {
            "at": now,
            "master": {"up": bool(services) and all(s["up"] for s in services), "services": services,
                       "broker": self.lag.as_public(), "database": {"reachable": True, **database}},
            "channels": {"scraped_at": self.poller.scraped_at, "ports": ports},
            "fleet": {**fleet, "success_today": today_rate, "success_7d": week_rate,
                      "worst_terminals_7d": worst_rows},
            "faults": active,
            "tickets": open_,
        }
