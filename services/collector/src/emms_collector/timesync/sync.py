"""Layered time synchronisation (R-4.6.1): watch terminal clocks, sync those out of tolerance, meters too.

* **Deviation.** From heartbeats (the FEP publishes the terminal clock and its
  deviation on the session topic) or polled (AFN 0C F2) by ``clock`` tasks and
  on request.
* **Sync.** A terminal beyond its class's tolerance (``terminal_class``; ``tolerance_s`` by default) is
  measured first (a clock read
  gives the round trip and the bus latency to the FEP), then set (AFN 05 F31)
  to the master's time *at the moment the frame reaches it*: now + bus latency
  + half the round trip — the channel delay compensation — and read again to
  record the deviation left. Never within ``quiet_minutes`` of the hour or of
  midnight (the terminal freezes data then), never twice within
  ``min_interval_s``.
* **Meters.** A terminal's meter clock-drift event (ERC 12) is recorded as a
  meter sync awaiting approval (or approved at once by setting); an approved
  sync forwards the meter's own time-setting frame through the terminal
  (AFN 10 F1: DL/T 645 broadcast time, CJ/T 188 write time).

Every measurement and sync is recorded in ``clock_sync`` with its outcome.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import asyncpg
import structlog

from emms_bus import Delivery
from emms_collector import metrics
from emms_collector.intake.events import MeterClockEvent
from emms_collector.repository import clock as clock_sql
from emms_collector.repository import collector_clock as collector_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository import terminal_class as class_sql
from emms_collector.repository.runs import ClaimedRun
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.scheduling.scheduler import RunOutcome
from emms_collector.settings import TimeSyncSettings
from emms_collector.tasks.model import Task
from emms_collector.timesync import meter_clock
from emms_collector.timesync.clock_read import ClockReading, deviation_of, in_quiet_window
from emms_collector.timesync.collectors import CollectorClocks
from emms_collector.timesync.master_clock import MasterClock
from emms_db.connection import Connection
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome, SessionState, TerminalSession
from emms_protocol import cjt188, dlt645
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.collector.timesync")
_188_TYPES = {"water": cjt188.WATER_COLD, "gas": cjt188.GAS, "heat": cjt188.HEAT}


class TimeSync:
    def __init__(self, pool: asyncpg.Pool, dispatcher: Dispatcher, settings: TimeSyncSettings, tz: tzinfo,
                 me: str) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._settings = settings
        self._tz = tz
        self._me = me
        self.master = MasterClock(settings.master)
        self.collectors = CollectorClocks(pool, dispatcher, settings, tz)
        self._worker: PeriodicWorker | None = None

    # -- observations -------------------------------------------------------------------------------------
    async def handle_sessions(self, batch: Sequence[Delivery]) -> None:
        """Consumer of ``emms.terminal.session.v1``: latest clock deviation and online state per terminal."""
        latest: dict[str, TerminalSession] = {}
        for d in batch:
            s = d.payload
            if isinstance(s, TerminalSession):
                prev = latest.get(s.terminal)
                if prev is None or s.last_seen >= prev.last_seen:
                    latest[s.terminal] = s
        if not latest:
            return
        rows = list(latest.values())
        async with self._pool.acquire() as conn:
            await clock_sql.note_sessions(conn, [s.terminal for s in rows], [s.clock_deviation_s for s in rows],
                                          [s.last_seen for s in rows], [s.state is SessionState.ONLINE for s in rows])

    async def note_meter_clock_events(self, conn: Connection, events: list[MeterClockEvent]) -> None:
        """ERC 12 from a terminal: a meter sync to approve (or approved at once by setting)."""
        started = [e for e in events if e.started]
        if not started:
            return
        outcome = "approved" if self._settings.auto_approve_meter_sync else "awaiting_approval"
        await clock_sql.add_meter_syncs(
            conn, [(e.terminal, e.meter_id, outcome, f"ERC 12 at {e.occurred_at.isoformat()} (pn {e.pn})",
                    "auto" if outcome == "approved" else None) for e in started])

    # -- measurement and sync ---------------------------------------------------------------------------------
    async def read_clock(self, terminal: str, purpose: str = "clock") -> tuple[ClockReading | None, str]:
        request = DownlinkRequest(request_id=f"col-clock-{secrets.token_hex(8)}", terminal=terminal, afn=0x0C,
                                  units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="collector:timesync",
                                  timeout_s=10.0, retries=1, priority=1)
        published_at = datetime.now(UTC)
        result = await self._dispatcher.send(request, purpose)
        reading = deviation_of(result, published_at)
        return reading, "" if reading else f"{result.outcome.value}: {result.detail}".strip(": ")

    async def poll(self, terminal: str) -> ClockReading | None:
        """Read one terminal's clock and store the deviation (R-4.6.1.3, polled)."""
        reading, why = await self.read_clock(terminal)
        async with self._pool.acquire() as conn:
            await clock_sql.note_poll(conn, terminal, reading.deviation_s if reading else None,
                                      reading.round_trip_s * 1000 if reading else None, why)
        return reading

    async def sync_terminal(self, terminal: str, *, force: bool = False) -> dict[str, Any]:
        """Measure, set with delay compensation, measure again; record and return the result."""
        now = datetime.now(UTC)
        if not force and in_quiet_window(now, self._tz, self._settings.quiet_minutes):
            return {"terminal": terminal, "outcome": "deferred", "detail": "within the quiet minutes of the hour"}
        before, why = await self.read_clock(terminal, "clock-sync")
        if before is None:
            return await self._record(terminal, None, None, None, "failed", f"clock read failed: {why}")
        tolerance = await self.tolerance_of(terminal)
        if not force and abs(before.deviation_s) <= tolerance:
            return await self._record(terminal, before, None, None, "within_tolerance", "no sync needed")
        delay = before.bus_latency_s + before.round_trip_s / 2
        set_to = (datetime.now(UTC) + timedelta(seconds=delay)).astimezone(self._tz)
        set_to = set_to.replace(microsecond=0) + timedelta(seconds=1 if set_to.microsecond >= 500_000 else 0)
        request = DownlinkRequest(request_id=f"col-sync-{secrets.token_hex(8)}", terminal=terminal, afn=0x05,
                                  units=[DataUnitRequest(pn=[0], fn=[31], data={"value": set_to.isoformat()})],
                                  requested_by="collector:timesync", timeout_s=10.0, retries=1, priority=1)
        result = await self._dispatcher.send(request, "clock-sync")
        if result.outcome is not RequestOutcome.ANSWERED:
            return await self._record(terminal, before, set_to, None, "failed",
                                      f"time set {result.outcome.value}: {result.detail}")
        after, why = await self.read_clock(terminal, "clock-sync")
        ok = after is not None and abs(after.deviation_s) <= tolerance
        return await self._record(terminal, before, set_to, after, "synced" if ok else "still_off",
                                  f"delay compensated {delay:.3f} s" + (f"; re-read: {why}" if why else ""))

    async def tolerance_of(self, terminal: str) -> float:
        """The terminal's clock tolerance: its class's (``PUT /api/v1/terminal-classes/{class}``) or the default."""
        async with self._pool.acquire() as conn:
            return await class_sql.tolerance_of(conn, terminal, self._settings.tolerance_s)

    async def _record(self, terminal: str, before: ClockReading | None, set_to: datetime | None,
                      after: ClockReading | None, outcome: str, detail: str) -> dict[str, Any]:
        latest = after or before
        async with self._pool.acquire() as conn:
            row = await clock_sql.record_terminal_sync(
                conn, terminal, before_s=before.deviation_s if before else None,
                round_trip_ms=before.round_trip_s * 1000 if before else None, set_to=set_to,
                after_s=after.deviation_s if after else None, latest_s=latest.deviation_s if latest else None,
                outcome=outcome, detail=detail)
        metrics.CLOCK_SYNCS.labels(outcome).inc()
        return row

    async def approve_meter_sync(self, sync_id: int, approver: str) -> dict[str, Any]:
        """Send an approved meter clock sync through the meter's terminal (R-4.6.1.5)."""
        async with self._pool.acquire() as conn:
            row = await clock_sql.approve_meter_sync(conn, sync_id, approver)
            if row is None:
                raise LookupError(f"no meter sync {sync_id} awaiting approval")
            points = await point_sql.by_meters(conn, [row["meter_id"]] if row["meter_id"] else [])
        return await self._send_meter_sync(sync_id, points.get(row["meter_id"]))

    async def read_meter_clock(self, point: point_sql.Point) -> tuple[ClockReading | None, str]:
        """A DL/T 645 meter's clock read through its terminal (AFN 10 F1): the deviation, or why not."""
        published_at = datetime.now(UTC)
        result = await self._dispatcher.send(meter_clock.read_request(point, self._dispatcher.settings), "meter-clock")
        reading = meter_clock.meter_deviation(result, published_at)
        return reading, "" if reading else f"{result.outcome.value}: {result.detail}".strip(": ")

    async def check_meter(self, meter_id: str) -> dict[str, Any]:
        """Read a meter's clock (R-4.6.1.5); beyond ``meter_tolerance_s`` a sync is recorded to approve (or
        approved at once by setting), unless one is open. The measurement's record, with ``sync`` when one
        was recorded. LookupError for a meter not in the point table, ValueError for one that cannot be read."""
        async with self._pool.acquire() as conn:
            point = (await point_sql.by_meters(conn, [meter_id])).get(meter_id)
        if point is None:
            raise LookupError(f"meter {meter_id} is not in the measurement-point table")
        reading, why = await self.read_meter_clock(point)
        deviation = reading.deviation_s if reading else None
        async with self._pool.acquire() as conn, conn.transaction():
            row = await clock_sql.note_meter_read(conn, point.terminal, meter_id, deviation,
                                                  reading.round_trip_s * 1000 if reading else None,
                                                  why or "AFN10 forward, DL/T 645 0400010C")
            sync = None
            if deviation is not None and abs(deviation) > self._settings.meter_tolerance_s:
                auto = self._settings.auto_approve_meter_sync
                sync = await clock_sql.add_meter_sync_once(
                    conn, point.terminal, meter_id, "approved" if auto else "awaiting_approval",
                    f"read {deviation:+.1f} s beyond {self._settings.meter_tolerance_s:g} s", "auto" if auto else None,
                    deviation)
        if deviation is not None:
            metrics.CLOCK_DEVIATION.labels("meter").set(abs(deviation))
        return {**row, "sync": sync}

    async def _send_meter_sync(self, sync_id: int, point: point_sql.Point | None) -> dict[str, Any]:
        """Forward the meter's time setting through its terminal, then (DL/T 645) read the clock back: the
        deviation left is the sync's result (``synced`` within ``meter_tolerance_s``, else ``still_off``)."""
        if point is None:
            return await self._finish_meter(sync_id, "failed", "the meter is not in the measurement-point table")
        delay = 0.0
        if point.protocol == "dlt645-2007":  # a read first gives the forward's delay: half its round trip
            before, _ = await self.read_meter_clock(point)
            delay = before.bus_latency_s + before.round_trip_s / 2 if before else 0.0
        try:
            when = (datetime.now(self._tz) + timedelta(seconds=delay)).replace(tzinfo=None)
            when = when.replace(microsecond=0) + timedelta(seconds=1 if when.microsecond >= 500_000 else 0)
            if point.protocol.startswith("cjt188"):
                payload = cjt188.write_time(_188_TYPES.get(point.utility, cjt188.WATER_COLD), point.meter_address,
                                            when)
            else:
                payload = dlt645.broadcast_time_sync(when)
        except ValueError as exc:  # a meter address master data got wrong: nothing can be sent
            return await self._finish_meter(sync_id, "failed", f"no time-setting frame for the meter: {exc}")
        result = await self._dispatcher.send(meter_clock.forward_request(point, payload, "msync",
                                                                         self._dispatcher.settings), "meter-sync")
        what = "188 write time" if point.protocol.startswith("cjt188") else "645 broadcast time"
        detail = f"forwarded {what} (delay compensated {delay:.3f} s): {result.outcome.value} {result.detail}".strip()
        if result.outcome is not RequestOutcome.ANSWERED:
            return await self._finish_meter(sync_id, "failed", detail)
        set_to = when.replace(tzinfo=self._tz)
        if point.protocol != "dlt645-2007":
            return await self._finish_meter(sync_id, "synced", detail, set_to=set_to)
        after, why = await self.read_meter_clock(point)
        if after is None:
            return await self._finish_meter(sync_id, "synced", f"{detail}; read back: {why}", set_to=set_to)
        metrics.CLOCK_DEVIATION.labels("meter").set(abs(after.deviation_s))
        ok = abs(after.deviation_s) <= self._settings.meter_tolerance_s
        return await self._finish_meter(sync_id, "synced" if ok else "still_off",
                                        f"{detail}; read back {after.deviation_s:+.1f} s", set_to=set_to,
                                        after_s=after.deviation_s)

    async def _finish_meter(self, sync_id: int, outcome: str, detail: str, *, set_to: datetime | None = None,
                            after_s: float | None = None) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            row = await clock_sql.finish_sync(conn, sync_id, outcome, detail[:300], set_to=set_to, after_s=after_s)
        metrics.CLOCK_SYNCS.labels(f"meter_{outcome}").inc()
        return row

    # -- the worker and the clock task -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """The worker: a :meth:`pass_once` every ``every_s`` (and when a clock check is done)."""
        self._worker = PeriodicWorker("timesync", self.pass_once, self._settings.every_s)
        await self._worker.run(stop)

    async def pass_once(self) -> list[dict[str, Any]]:
        """Sync the online terminals out of tolerance (claimed with a lease so replicas do not collide)."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn:
            metrics.CLOCK_OUT_OF_TOLERANCE.set(await clock_sql.count_out_of_tolerance(conn, self._settings.tolerance_s))
            worst = await clock_sql.worst_deviation(conn)
            if worst is not None:
                metrics.CLOCK_DEVIATION.labels("terminal").set(worst)
            if in_quiet_window(now, self._tz, self._settings.quiet_minutes):
                return []
            terminals = await clock_sql.claim_to_sync(conn, self._settings.tolerance_s, self._settings.min_interval_s)
            approved = await clock_sql.approved_meter_syncs(conn)
            watched = [] if not self._settings.collector_check_every_s else await collector_sql.claim_to_check(
                conn, self._settings.collector_check_every_s, self._settings.collector_check_batch)
        results = list(await asyncio.gather(*(self.sync_terminal(t) for t in terminals)))
        results += await self._watch_collectors(watched)
        if len(terminals) >= clock_sql.CLAIM_LIMIT and self._worker is not None \
                and any(r.get("outcome") == "synced" for r in results):
            self._worker.poke()  # more are waiting: the next batch now, not after the interval
        for sync_id, meter_id in approved:
            async with self._pool.acquire() as conn:
                points = await point_sql.by_meters(conn, [meter_id] if meter_id else [])
            results.append(await self._send_meter_sync(sync_id, points.get(meter_id) if meter_id else None))
        return results

    async def _watch_collectors(self, terminals: list[str]) -> list[dict[str, Any]]:
        """The periodic watch of collectors' clocks (R-4.6.1.4): each claimed concentrator's collectors read and,
        beyond tolerance, set (broadcast or point to point, as ``auto`` decides); a failure is logged."""
        out: list[dict[str, Any]] = []
        checks = await asyncio.gather(*(self.collectors.check(t, sync=True, mode="auto") for t in terminals),
                                      return_exceptions=True)
        for terminal, found in zip(terminals, checks, strict=True):
            if isinstance(found, BaseException):
                log.warning("collectors' clocks not checked", terminal=terminal, error=repr(found))
                continue
            out.append(found)
        if len(terminals) >= self._settings.collector_check_batch and self._worker is not None:
            self._worker.poke()  # more concentrators are due: the next batch now
        return out

    async def clock_task(self, task: Task, run: ClaimedRun, terminals: list[str]) -> RunOutcome:
        """A ``clock`` task: poll the clocks of the target's terminals (sync follows from the deviations)."""
        readings = await asyncio.gather(*(self.poll(t) for t in terminals))
        ok = sum(1 for r in readings if r is not None)
        if self._worker is not None:  # the clocks found off are set now, not at the next interval
            self._worker.poke()
        return ("done" if ok or not terminals else "failed"), f"{ok} of {len(terminals)} terminal clocks read"
