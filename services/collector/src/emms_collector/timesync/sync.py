"""Layered time synchronisation (R-4.6.1): watch terminal clocks, sync those out of tolerance, meters too.

* **Deviation.** From heartbeats (the FEP publishes the terminal clock and its
  deviation on the session topic) or polled (AFN 0C F2) by ``clock`` tasks and
  on request.
* **Sync.** A terminal beyond ``tolerance_s`` is measured first (a clock read
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
from emms_collector.reading.answers import typed_frames
from emms_collector.repository import points as point_sql
from emms_collector.repository.runs import ClaimedRun
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.scheduling.scheduler import RunOutcome
from emms_collector.schema import SCHEMA
from emms_collector.settings import TimeSyncSettings
from emms_collector.tasks.model import Task
from emms_db.connection import Connection
from emms_messages.terminal import (
    DataUnitRequest,
    DownlinkRequest,
    DownlinkResult,
    RequestOutcome,
    SessionState,
    TerminalSession,
)
from emms_protocol import cjt188, dlt645
from emms_protocol.gdw1376.afn10 import control_word

log = structlog.get_logger("emms.collector.timesync")
_188_TYPES = {"water": cjt188.WATER_COLD, "gas": cjt188.GAS, "heat": cjt188.HEAT}


def in_quiet_window(now: datetime, tz: tzinfo, minutes: int) -> bool:
    """Within ``minutes`` before or after a full hour (midnight included) on the local clock."""
    if minutes <= 0:
        return False
    minute = now.astimezone(tz).minute
    return minute < minutes or minute >= 60 - minutes


class ClockReading:
    """A terminal clock read: the terminal's time, the round trip and the deviation it implies."""

    __slots__ = ("bus_latency_s", "deviation_s", "round_trip_s", "terminal_clock")

    def __init__(self, terminal_clock: datetime, round_trip_s: float, bus_latency_s: float,
                 deviation_s: float) -> None:
        self.terminal_clock = terminal_clock
        self.round_trip_s = round_trip_s
        self.bus_latency_s = bus_latency_s
        self.deviation_s = deviation_s


def deviation_of(result: DownlinkResult, published_at: datetime) -> ClockReading | None:
    """The deviation measured by an answered clock read (AFN 0C F2): terminal time − master time at the
    instant the terminal answered (send time + half the round trip)."""
    if result.outcome is not RequestOutcome.ANSWERED:
        return None
    clock = None
    for frame in typed_frames(result.frames):
        clock = next((u.value for u in frame.units if u.fn == 2 and isinstance(u.value, datetime)), clock)
    if clock is None:
        return None
    sent = result.sent_at or published_at
    rtt = (result.round_trip_ms or 0.0) / 1000.0
    master_at_answer = sent + timedelta(seconds=rtt / 2)
    latency = max(0.0, (sent - published_at).total_seconds())
    return ClockReading(clock, rtt, latency, (clock - master_at_answer).total_seconds())


class TimeSync:
    def __init__(self, pool: asyncpg.Pool, dispatcher: Dispatcher, settings: TimeSyncSettings, tz: tzinfo,
                 me: str) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._settings = settings
        self._tz = tz
        self._me = me

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
            await conn.execute(
                f"""INSERT INTO {SCHEMA}.terminal_clock AS c (terminal, deviation_s, observed_at, source, online)
                    SELECT t, d, o, CASE WHEN d IS NULL THEN '' ELSE 'heartbeat' END, on_ FROM
                    unnest($1::text[], $2::float8[], $3::timestamptz[], $4::bool[]) AS u(t, d, o, on_)
                    ON CONFLICT (terminal) DO UPDATE SET online = excluded.online,
                      deviation_s = coalesce(excluded.deviation_s, c.deviation_s),
                      observed_at = CASE WHEN excluded.deviation_s IS NULL THEN c.observed_at
                                         ELSE excluded.observed_at END,
                      source = CASE WHEN excluded.deviation_s IS NULL THEN c.source ELSE 'heartbeat' END
                    WHERE c.observed_at IS NULL OR excluded.observed_at >= c.observed_at
                       OR excluded.deviation_s IS NULL""",
                [s.terminal for s in rows], [s.clock_deviation_s for s in rows], [s.last_seen for s in rows],
                [s.state is SessionState.ONLINE for s in rows])

    async def note_meter_clock_events(self, conn: Connection, events: list[MeterClockEvent]) -> None:
        """ERC 12 from a terminal: a meter sync to approve (or approved at once by setting)."""
        started = [e for e in events if e.started]
        if not started:
            return
        outcome = "approved" if self._settings.auto_approve_meter_sync else "awaiting_approval"
        await conn.executemany(
            f"INSERT INTO {SCHEMA}.clock_sync (terminal, meter_id, level, outcome, detail, approved_by)"
            " VALUES ($1, $2, 'meter', $3, $4, $5)",
            [(e.terminal, e.meter_id, outcome, f"ERC 12 at {e.occurred_at.isoformat()} (pn {e.pn})",
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
            if reading is not None:
                await conn.execute(
                    f"INSERT INTO {SCHEMA}.terminal_clock AS c (terminal, deviation_s, observed_at, source)"
                    " VALUES ($1, $2, now(), 'poll') ON CONFLICT (terminal) DO UPDATE SET"
                    " deviation_s = excluded.deviation_s, observed_at = excluded.observed_at, source = 'poll'",
                    terminal, reading.deviation_s)
            await conn.execute(
                f"INSERT INTO {SCHEMA}.clock_sync (terminal, level, deviation_before_s, round_trip_ms, outcome,"
                " detail, finished_at) VALUES ($1, 'terminal', $2, $3, $4, $5, now())",
                terminal, reading.deviation_s if reading else None,
                reading.round_trip_s * 1000 if reading else None, "measured" if reading else "failed", why)
        return reading

    async def sync_terminal(self, terminal: str, *, force: bool = False) -> dict[str, Any]:
        """Measure, set with delay compensation, measure again; record and return the result."""
        now = datetime.now(UTC)
        if not force and in_quiet_window(now, self._tz, self._settings.quiet_minutes):
            return {"terminal": terminal, "outcome": "deferred", "detail": "within the quiet minutes of the hour"}
        before, why = await self.read_clock(terminal, "clock-sync")
        if before is None:
            return await self._record(terminal, None, None, None, "failed", f"clock read failed: {why}")
        if not force and abs(before.deviation_s) <= self._settings.tolerance_s:
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
        ok = after is not None and abs(after.deviation_s) <= self._settings.tolerance_s
        return await self._record(terminal, before, set_to, after, "synced" if ok else "still_off",
                                  f"delay compensated {delay:.3f} s" + (f"; re-read: {why}" if why else ""))

    async def _record(self, terminal: str, before: ClockReading | None, set_to: datetime | None,
                      after: ClockReading | None, outcome: str, detail: str) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"INSERT INTO {SCHEMA}.clock_sync (terminal, level, deviation_before_s, round_trip_ms, set_to, outcome,"
                " deviation_after_s, detail, finished_at) VALUES ($1, 'terminal', $2, $3, $4, $5, $6, $7, now())"
                " RETURNING *", terminal, before.deviation_s if before else None,
                before.round_trip_s * 1000 if before else None, set_to, outcome,
                after.deviation_s if after else None, detail)
            latest = after or before
            await conn.execute(
                f"INSERT INTO {SCHEMA}.terminal_clock AS c (terminal, deviation_s, observed_at, source, last_sync_at,"
                " last_result, syncs) VALUES ($1, $2, now(), 'sync', now(), $3, 1)"
                " ON CONFLICT (terminal) DO UPDATE SET deviation_s = coalesce($2, c.deviation_s),"
                " observed_at = CASE WHEN $2 IS NULL THEN c.observed_at ELSE now() END, source = 'sync',"
                " last_sync_at = now(), last_result = $3, syncs = c.syncs + 1",
                terminal, latest.deviation_s if latest else None, outcome)
        metrics.CLOCK_SYNCS.labels(outcome).inc()
        return dict(row) if row else {}

    async def approve_meter_sync(self, sync_id: int, approver: str) -> dict[str, Any]:
        """Send an approved meter clock sync through the meter's terminal (R-4.6.1.5)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"UPDATE {SCHEMA}.clock_sync SET outcome = 'approved', approved_by = $2 WHERE id = $1"
                " AND level = 'meter' AND outcome IN ('awaiting_approval', 'failed') RETURNING *", sync_id, approver)
            if row is None:
                raise LookupError(f"no meter sync {sync_id} awaiting approval")
            points = await point_sql.by_meters(conn, [row["meter_id"]] if row["meter_id"] else [])
        return await self._send_meter_sync(sync_id, points.get(row["meter_id"]))

    async def _send_meter_sync(self, sync_id: int, point: point_sql.Point | None) -> dict[str, Any]:
        if point is None:
            return await self._finish_meter(sync_id, "failed", "the meter is not in the measurement-point table")
        when = datetime.now(self._tz).replace(microsecond=0, tzinfo=None)
        if point.protocol.startswith("cjt188"):
            payload = cjt188.write_time(_188_TYPES.get(point.utility, cjt188.WATER_COLD), point.meter_address, when)
            control = control_word(2400, "even")
        else:
            payload = dlt645.broadcast_time_sync(when)
            control = control_word(2400, "even")
        value = {"type": "ForwardRequest", "port": point.port or 31, "control": control,
                 "frame_timeout": 0x80 | 5, "byte_timeout": 10, "payload": payload.hex()}
        request = DownlinkRequest(request_id=f"col-msync-{secrets.token_hex(8)}", terminal=point.terminal, afn=0x10,
                                  units=[DataUnitRequest(pn=[0], fn=[1], data={"value": value})],
                                  requested_by="collector:timesync", timeout_s=10.0, retries=1, priority=1)
        result = await self._dispatcher.send(request, "meter-sync")
        ok = result.outcome is RequestOutcome.ANSWERED
        what = "188 write time" if point.protocol.startswith("cjt188") else "645 broadcast time"
        return await self._finish_meter(sync_id, "synced" if ok else "failed",
                                        f"forwarded {what}: {result.outcome.value} {result.detail}")

    async def _finish_meter(self, sync_id: int, outcome: str, detail: str) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(f"UPDATE {SCHEMA}.clock_sync SET outcome = $2, detail = $3, finished_at = now()"
                                      " WHERE id = $1 RETURNING *", sync_id, outcome, detail[:300])
        metrics.CLOCK_SYNCS.labels(f"meter_{outcome}").inc()
        return dict(row) if row else {}

    # -- the worker and the clock task -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.pass_once()
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                log.warning("time-sync pass failed; retrying", error=repr(exc))
            except Exception:
                log.exception("time-sync pass failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), self._settings.every_s)
            except TimeoutError:
                pass

    async def pass_once(self) -> list[dict[str, Any]]:
        """Sync the online terminals out of tolerance (claimed with a lease so replicas do not collide)."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn:
            out_of = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.terminal_clock WHERE online"
                                         " AND abs(deviation_s) > $1", self._settings.tolerance_s)
            metrics.CLOCK_OUT_OF_TOLERANCE.set(out_of or 0)
            if in_quiet_window(now, self._tz, self._settings.quiet_minutes):
                return []
            rows = await conn.fetch(
                f"""UPDATE {SCHEMA}.terminal_clock c SET last_sync_at = now(), last_result = 'syncing'
                    WHERE c.terminal IN (SELECT terminal FROM {SCHEMA}.terminal_clock
                        WHERE online AND abs(deviation_s) > $1
                          AND (last_sync_at IS NULL OR last_sync_at < now() - make_interval(secs => $2))
                        ORDER BY abs(deviation_s) DESC LIMIT 200 FOR UPDATE SKIP LOCKED)
                    RETURNING c.terminal""", self._settings.tolerance_s, self._settings.min_interval_s)
            approved = await conn.fetch(f"SELECT id, meter_id FROM {SCHEMA}.clock_sync WHERE level = 'meter'"
                                        " AND outcome = 'approved' AND finished_at IS NULL LIMIT 200")
        results = list(await asyncio.gather(*(self.sync_terminal(r["terminal"]) for r in rows)))
        for a in approved:
            async with self._pool.acquire() as conn:
                points = await point_sql.by_meters(conn, [a["meter_id"]] if a["meter_id"] else [])
            results.append(await self._send_meter_sync(a["id"], points.get(a["meter_id"])))
        return results

    async def clock_task(self, task: Task, run: ClaimedRun, terminals: list[str]) -> RunOutcome:
        """A ``clock`` task: poll the clocks of the target's terminals (sync follows from the deviations)."""
        readings = await asyncio.gather(*(self.poll(t) for t in terminals))
        ok = sum(1 for r in readings if r is not None)
        return ("done" if ok or not terminals else "failed"), f"{ok} of {len(terminals)} terminal clocks read"
