"""Collectors' clocks (采集器, R-4.6.1.4): found through the concentrator, read, corrected within tolerance.

* **Which collectors.** The concentrator's measurement-point table names, per meter, the collector it sits
  behind (AFN 0A F10 record: 所属采集器通信地址); the master reads the table back for the pns it knows and
  takes every non-zero collector address, with the port of its meters.
* **Read.** Each collector's clock through the concentrator: AFN 10 F1 forwarding a DL/T 645 read of
  DI 0400010C (date, weekday, time); the deviation is delay compensated (half the forward's round trip).
* **Sync.** Collectors beyond ``collector_tolerance_s`` are set: one by one (**point to point**: 645 write,
  14H, DI 0400010C, to the collector's address, the master's time + bus latency + half the round trip) — or,
  when at least half of a concentrator's collectors are off (and more than one), by one 645 **broadcast
  time** on their port, which every collector (and 645 meter) behind it takes. Each is read again: the
  deviation left is the sync's result (``synced`` / ``still_off``).

Every read and sync is a ``clock_sync`` row (level ``collector``); the latest clock per collector is in
``collector_clock``.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import asyncpg

from emms_collector import metrics
from emms_collector.reading.answers import typed_frames
from emms_collector.repository import collector_clock as collector_sql
from emms_collector.repository import points as point_sql
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.settings import TimeSyncSettings
from emms_collector.timesync.clock_read import ClockReading
from emms_collector.timesync.meter_clock import CLOCK_DI, forward_to, meter_deviation
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome
from emms_protocol import dlt645
from emms_protocol.gdw1376.afn04_0a import MeterConfig

NO_COLLECTOR = "000000000000"
WRITE_PASSWORD = "02000000"  # level 02, password 000000: the collectors' default (a setting when fields differ)


class CollectorClocks:
    def __init__(self, pool: asyncpg.Pool, dispatcher: Dispatcher, settings: TimeSyncSettings, tz: tzinfo) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._settings = settings
        self._tz = tz

    async def collectors_of(self, terminal: str) -> tuple[dict[str, int], str]:
        """collector address → port, from the concentrator's point table (AFN 0A F10); and why not."""
        async with self._pool.acquire() as conn:
            pns = sorted((await point_sql.by_terminal_pn(conn, terminal)).keys())
        if not pns:
            return {}, "no measurement points of the terminal in master data"
        request = DownlinkRequest(request_id=f"col-f10-{secrets.token_hex(8)}", terminal=terminal, afn=0x0A,
                                  units=[DataUnitRequest(pn=[0], fn=[10], data={"value": {
                                      "type": "MeterConfigQuery", "serials": pns[:255]}})],
                                  requested_by="collector:timesync", priority=1,
                                  timeout_s=self._dispatcher.settings.request_timeout_s,
                                  retries=self._dispatcher.settings.fep_retries)
        result = await self._dispatcher.send(request, "collector-clock")
        if result.outcome is not RequestOutcome.ANSWERED:
            return {}, f"point table not read: {result.outcome.value} {result.detail}".strip()
        found: dict[str, int] = {}
        for frame in typed_frames(result.frames):
            for unit in frame.units:
                if isinstance(unit.value, MeterConfig):
                    for r in unit.value.records:
                        if r.collector and r.collector.strip("0"):
                            found.setdefault(r.collector, r.port)
        return found, "" if found else "no meter of the terminal sits behind a collector"

    async def read(self, terminal: str, collector: str, port: int) -> tuple[ClockReading | None, str]:
        published_at = datetime.now(UTC)
        request = forward_to(terminal, port, dlt645.read_request(collector, CLOCK_DI), "cclock",
                             self._dispatcher.settings)
        result = await self._dispatcher.send(request, "collector-clock")
        reading = meter_deviation(result, published_at)
        return reading, "" if reading else f"{result.outcome.value}: {result.detail}".strip(": ")

    def _time_at_arrival(self, before: ClockReading | None) -> datetime:
        delay = before.bus_latency_s + before.round_trip_s / 2 if before else 0.0
        at = (datetime.now(UTC) + timedelta(seconds=delay)).astimezone(self._tz)
        return at.replace(microsecond=0) + timedelta(seconds=1 if at.microsecond >= 500_000 else 0)

    async def check(self, terminal: str, *, sync: bool = True, mode: str = "auto") -> dict[str, Any]:
        """Find the terminal's collectors, read their clocks, set those beyond tolerance (``sync``): by
        ``broadcast``, ``point`` to point, or ``auto`` (broadcast when half or more, and more than one, are off)."""
        found, why = await self.collectors_of(terminal)
        readings = await asyncio.gather(*(self.read(terminal, c, port) for c, port in found.items()))
        tolerance = self._settings.collector_tolerance_s
        out: list[dict[str, Any]] = []
        off: list[tuple[str, int, ClockReading]] = []
        async with self._pool.acquire() as conn:
            for (collector, port), (reading, failure) in zip(found.items(), readings, strict=True):
                dev = reading.deviation_s if reading else None
                await collector_sql.note(conn, terminal, collector, port, deviation_s=dev,
                                         round_trip_ms=reading.round_trip_s * 1000 if reading else None,
                                         result="measured" if reading else "failed", synced=False)
                out.append(await collector_sql.record(
                    conn, terminal, collector, before_s=dev, round_trip_ms=reading.round_trip_s * 1000
                    if reading else None, set_to=None, after_s=None, outcome="measured" if reading else "failed",
                    detail=failure or "AFN10 forward, DL/T 645 0400010C"))
                if reading is not None:
                    metrics.CLOCK_DEVIATION.labels("collector").set(abs(reading.deviation_s))
                    if abs(reading.deviation_s) > tolerance:
                        off.append((collector, port, reading))
        if mode == "auto":
            mode = "broadcast" if len(off) > 1 and 2 * len(off) >= len(found) else "point"
        synced: list[dict[str, Any]] = []
        if sync and off:
            synced = await (self._broadcast(terminal, off) if mode == "broadcast" else self._point(terminal, off))
        return {"terminal": terminal, "collectors": len(found), "detail": why, "tolerance_s": tolerance,
                "out_of_tolerance": len(off), "mode": mode if off and sync else None, "reads": out,
                "syncs": synced}

    async def _point(self, terminal: str, off: list[tuple[str, int, ClockReading]]) -> list[dict[str, Any]]:
        async def one(collector: str, port: int, before: ClockReading) -> dict[str, Any]:
            set_to = self._time_at_arrival(before)
            payload = dlt645.write_request(collector, CLOCK_DI, set_to.replace(tzinfo=None),
                                           password=WRITE_PASSWORD, operator="00000000")
            request = forward_to(terminal, port, payload, "csync", self._dispatcher.settings)
            result = await self._dispatcher.send(request, "collector-sync")
            return await self._finish(terminal, collector, port, before, set_to, result.outcome, "point-to-point")

        return list(await asyncio.gather(*(one(c, p, r) for c, p, r in off)))

    async def _broadcast(self, terminal: str, off: list[tuple[str, int, ClockReading]]) -> list[dict[str, Any]]:
        """One 645 broadcast time per port; each collector read back."""
        out: list[dict[str, Any]] = []
        for port in sorted({p for _, p, _ in off}):
            on_port = [(c, r) for c, p, r in off if p == port]
            slowest = max((r for _, r in on_port), key=lambda r: r.round_trip_s)
            set_to = self._time_at_arrival(slowest)
            payload = dlt645.broadcast_time_sync(set_to.replace(tzinfo=None))
            result = await self._dispatcher.send(forward_to(terminal, port, payload, "cbcast",
                                                            self._dispatcher.settings), "collector-sync")
            out.extend(await asyncio.gather(*(self._finish(terminal, c, port, r, set_to, result.outcome, "broadcast")
                                              for c, r in on_port)))
        return out

    async def _finish(self, terminal: str, collector: str, port: int, before: ClockReading, set_to: datetime,
                      outcome: RequestOutcome, how: str) -> dict[str, Any]:
        if outcome is not RequestOutcome.ANSWERED:
            after, result, detail = None, "failed", f"{how} time {outcome.value}"
        else:
            after, why = await self.read(terminal, collector, port)
            ok = after is not None and abs(after.deviation_s) <= self._settings.collector_tolerance_s
            result = "synced" if ok else "still_off"
            detail = f"{how} time, delay compensated {before.bus_latency_s + before.round_trip_s / 2:.3f} s" + (
                f"; re-read: {why}" if why else "")
        async with self._pool.acquire() as conn:
            await collector_sql.note(conn, terminal, collector, port, deviation_s=after.deviation_s if after else None,
                                     round_trip_ms=None, result=result, synced=True)
            row = await collector_sql.record(conn, terminal, collector, before_s=before.deviation_s,
                                             round_trip_ms=before.round_trip_s * 1000, set_to=set_to,
                                             after_s=after.deviation_s if after else None, outcome=result,
                                             detail=detail)
        metrics.CLOCK_SYNCS.labels(f"collector_{result}").inc()
        return row
