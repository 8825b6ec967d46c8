"""Remote configuration of terminals (R-4.6.3): push, confirm, read back, compare; drift.

* **Push.** A desired value (operator, or the measurement-point table from master data) becomes a
  ``param_push`` row in the database first, so nothing is lost on a restart. The worker claims due
  pushes with a lease and for each sends AFN04 (set), takes the terminal's AFN00 verdict, then reads
  the parameter back (AFN0A) and compares: ``done`` (equal), ``mismatch`` (confirmed but held
  differently), ``denied`` (AFN00 deny — the terminal refused the value), ``failed`` (the FEP could not
  send it, or no answer after ``max_attempts``). A terminal that is offline keeps its push
  ``pending`` (``waiting_online``) until its next login (the FEP's session topic) wakes it.
* **Drift.** A read-back (periodic, every ``check_every_s``, or on request) that differs from the desired
  value puts the parameter in ``drift``: shown by the API, counted
  (``emms_collector_terminal_param_drift_total``, gauge ``…_params_drifting``) and alarmed once per
  finding as a ``parameter_drift`` device event (important) on ``emms.device.event.v1``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from emms_bus import BusProducer, Delivery
from emms_collector import duty_log
from emms_collector.reading.answers import typed_frames
from emms_collector.repository import tariff as tariff_sql
from emms_collector.repository import terminal_config as sql
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.terminal_config import metrics, values
from emms_collector.terminal_config.settings import TerminalConfigSettings
from emms_messages.events import DeviceEvent, EventClass
from emms_messages.terminal import (
    DataUnitRequest,
    DownlinkRequest,
    DownlinkResult,
    RequestOutcome,
    SessionState,
    TerminalSession,
)
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.collector.terminal_config")
SOURCE = "collector:terminal-config"


class TerminalConfig:
    def __init__(self, pool: asyncpg.Pool, dispatcher: Dispatcher, producer: BusProducer,
                 settings: TerminalConfigSettings, me: str) -> None:
        self.pool = pool
        self.dispatcher = dispatcher
        self.producer = producer
        self.settings = settings
        self.me = me
        self.first_connect: Any = None  # FirstConnect, set by the runtime (it reads through this object)
        self.tariffs: Any = None  # TariffReads, set by the runtime (the tariff in force, read at first login)
        self._worker = PeriodicWorker("terminal-config", self.step, settings.every_s)
        self._last_check = 0.0

    # -- the worker ---------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        async with self.pool.acquire() as conn:
            await sql.restart_reads(conn)
            await tariff_sql.restart(conn)
        await self._worker.run(stop)

    def poke(self) -> None:
        self._worker.poke()

    async def step(self) -> int:
        """Due pushes, first-connect reads (configuration of new terminals, every terminal's tariff), and (every
        ``check_every_s``) the drift check of stale terminals."""
        async with self.pool.acquire() as conn:
            due = await sql.claim_due(conn, self.me, self.settings.lease_s, self.settings.batch)
        work: list[Any] = [self.carry_out(p) for p in due]
        if self.first_connect is not None and self.settings.first_connect_read:
            work.append(self.first_connect.read_due())
        if self.tariffs is not None and self.settings.tariff_read:
            work.append(self.tariffs.read_due())
        loop = asyncio.get_running_loop()
        if self.settings.check_every_s and loop.time() - self._last_check >= min(self.settings.check_every_s, 300.0):
            self._last_check = loop.time()
            async with self.pool.acquire() as conn:
                stale = await sql.terminals_to_check(conn, self.settings.check_every_s, self.settings.check_batch)
            work += [self.check(t) for t in stale]
        await asyncio.gather(*work)
        async with self.pool.acquire() as conn:
            metrics.DRIFTING.set(await sql.count_drift(conn))
        return len(due)

    # -- requests -------------------------------------------------------------------------------------------------
    async def send(self, terminal: str, afn: int, units: list[DataUnitRequest], purpose: str) -> DownlinkResult:
        request = DownlinkRequest(request_id=f"col-cfg-{secrets.token_hex(8)}", terminal=terminal, afn=afn,
                                  units=units, requested_by=SOURCE, timeout_s=self.settings.request_timeout_s,
                                  retries=self.settings.fep_retries, priority=self.settings.priority)
        return await self.dispatcher.send(request, purpose)

    async def read(self, terminal: str, fns: Sequence[int], serials: Sequence[int] = ()
                   ) -> tuple[dict[int, Any] | None, DownlinkResult]:
        """AFN0A read of ``fns`` (p0); F10 restricted to ``serials`` when given. None when not answered."""
        units = []
        for fn in fns:
            data = {"value": {"type": "MeterConfigQuery", "serials": list(serials)}} if fn == 10 else {}
            units.append(DataUnitRequest(pn=[0], fn=[fn], data=data))
        result = await self.send(terminal, 0x0A, units, "param-read")
        if result.outcome is not RequestOutcome.ANSWERED:
            return None, result
        return values.reported_units(typed_frames(result.frames), 0x0A), result

    # -- pushes ---------------------------------------------------------------------------------------------------
    async def request_push(self, terminal: str, fn: int, value: Any, actor: str, kind: str = "operator"
                           ) -> dict[str, Any]:
        """Store a push (and, for an operator, the action) and wake the worker."""
        canonical = values.canonical(fn, value)
        async with self.pool.acquire() as conn, conn.transaction():
            push = await sql.add_push(conn, terminal, fn, canonical, actor, kind)
            if kind == "operator":
                await sql.add_action(conn, actor, terminal, "set_parameter", {"fn": fn, "value": canonical,
                                                                              "push_id": push["id"]}, "requested")
        self.poke()
        if kind == "operator":
            await duty_log.push_requested(self.producer, push)
        return push

    async def _finished(self, push: dict[str, Any], state: str, detail: str) -> str:
        """A push reached a final state (stored by the caller): counted, and in the duty log with its detail as
        stored."""
        metrics.PUSHES.labels(state).inc()
        await duty_log.push_finished(self.producer, push, state, detail[:sql.DETAIL_MAX])
        return state

    async def carry_out(self, push: dict[str, Any]) -> str:
        """One claimed push, from where it stands (``sending``: set first; ``readback``: read back only)."""
        terminal, fn, pid = push["terminal"], push["fn"], push["id"]
        if push["state"] != "readback":
            result = await self.send(terminal, 0x04, [DataUnitRequest(pn=[0], fn=[fn], data={"value": push["value"]})],
                                     "param-set")
            if result.outcome is not RequestOutcome.ANSWERED:
                return await self._not_set(push, result)
            async with self.pool.acquire() as conn:
                await sql.push_confirmed(conn, pid)
        serials = [r["serial"] for r in values.records_of(push["value"])] if fn == 10 else []
        reported, result = await self.read(terminal, [fn], serials)
        if reported is None or fn not in reported:
            why = f"read-back {result.outcome.value}: {result.detail}".strip(": ") if reported is None \
                else f"read-back answered without F{fn}"
            return await self._retry(push, "readback", result.outcome is RequestOutcome.OFFLINE, why)
        ok = values.same(fn, push["value"], reported[fn])
        state = "done" if ok else "mismatch"
        detail = "confirmed and read back equal" if ok else \
            "confirmed, but read back different: " + ", ".join(values.differences(fn, push["value"], reported[fn]))
        async with self.pool.acquire() as conn, conn.transaction():
            await sql.push_finished(conn, pid, state, detail, reported[fn])
            if fn != 10:
                found = await sql.note_reported(conn, terminal, fn, reported[fn], ok)
            else:
                found = "in_sync" if ok else "drift_new"
        if found == "drift_new":
            await self.alarm(terminal, fn, push["value"], reported[fn], "push read back different")
        if fn in tariff_sql.FNS and self.tariffs is not None:  # the tariff in force changed: on the bus
            await self.tariffs.publish(terminal)
        return await self._finished(push, state, detail)

    async def _not_set(self, push: dict[str, Any], result: DownlinkResult) -> str:
        outcome = result.outcome
        if outcome is RequestOutcome.DENIED:
            detail = f"refused by the terminal ({result.detail or 'AFN00 deny'})"
            async with self.pool.acquire() as conn, conn.transaction():
                await sql.push_finished(conn, push["id"], "denied", detail)
                await sql.restore_desired(conn, push["terminal"], push["fn"])
            return await self._finished(push, "denied", detail)
        if outcome is RequestOutcome.REJECTED:
            detail = f"the FEP could not send it: {result.detail}"
            async with self.pool.acquire() as conn, conn.transaction():
                await sql.push_finished(conn, push["id"], "failed", detail)
                await sql.restore_desired(conn, push["terminal"], push["fn"])
            return await self._finished(push, "failed", detail)
        return await self._retry(push, "pending", outcome is RequestOutcome.OFFLINE,
                                 f"set {outcome.value}: {result.detail}".strip(": "))

    async def _retry(self, push: dict[str, Any], state: str, offline: bool, detail: str) -> str:
        if not offline and push["attempts"] + 1 >= self.settings.max_attempts:
            gave_up = f"{detail}; gave up after {push['attempts'] + 1} attempts"
            async with self.pool.acquire() as conn, conn.transaction():
                await sql.push_finished(conn, push["id"], "failed", gave_up)
                if state == "pending":  # never confirmed: the terminal holds what it held
                    await sql.restore_desired(conn, push["terminal"], push["fn"])
            return await self._finished(push, "failed", gave_up)
        wait = self.settings.offline_retry_s if offline else self.settings.retry_s * (push["attempts"] + 1)
        async with self.pool.acquire() as conn:
            await sql.push_retry(conn, push["id"], state=state, waiting_online=offline, retry_in_s=wait,
                                 detail=("terminal offline: retried at its next login; " if offline else "") + detail)
        return "waiting_online" if offline else state

    # -- drift ----------------------------------------------------------------------------------------------------
    async def check(self, terminal: str) -> dict[str, Any]:
        """Read back every managed parameter of a terminal (and its F10 table) and compare with the desired."""
        async with self.pool.acquire() as conn:
            desired = await sql.desired_of(conn, terminal)
        fns = sorted(set(desired) | {10})
        reported, result = await self.read(terminal, fns)
        if reported is None:
            return {"terminal": terminal, "outcome": result.outcome.value, "detail": result.detail, "params": []}
        alarms = []
        async with self.pool.acquire() as conn, conn.transaction():
            for fn in fns:
                if fn == 10 or fn not in reported:
                    continue
                want = desired.get(fn)
                state = await sql.note_reported(conn, terminal, fn, reported[fn],
                                                None if want is None else values.same(fn, want, reported[fn]))
                if state == "drift_new":
                    alarms.append((fn, want, reported[fn]))
            unknown = await sql.note_table(conn, terminal, values.records_of(reported.get(10)))
            params = await sql.params_of(conn, terminal)
        for fn, want, got in alarms:
            await self.alarm(terminal, fn, want, got, "read-back differs from the master's value")
        if self.tariffs is not None and any(fn in reported for fn in tariff_sql.FNS):
            await self.tariffs.publish(terminal)
        metrics.UNKNOWN_METERS.set(unknown)
        return {"terminal": terminal, "outcome": "answered", "detail": "", "params": params,
                "unknown_meters": unknown}

    async def alarm(self, terminal: str, fn: int, desired: Any, reported: Any, why: str) -> None:
        metrics.DRIFT_FOUND.inc()
        now = datetime.now(UTC)
        log.warning("terminal parameter drift", terminal=terminal, fn=fn, why=why)
        await self.producer.publish(DeviceEvent(
            terminal=terminal, code="parameter_drift", event_class=EventClass.IMPORTANT, occurred_at=now,
            received_at=now, detail={"fn": fn, "why": why, "fields": values.differences(fn, desired, reported),
                                     "desired": desired, "reported": reported}))

    # -- sessions -------------------------------------------------------------------------------------------------
    async def handle_sessions(self, batch: Sequence[Delivery]) -> None:
        """Consumer of ``emms.terminal.session.v1``: logins wake pushes waiting for the terminal, register
        terminals seen for the first time and make the tariff of a terminal never read (or whose read failed) due.
        Idempotent (upserts and a wake-up)."""
        online: dict[str, TerminalSession] = {}
        for d in batch:
            s = d.payload
            if isinstance(s, TerminalSession) and s.state is SessionState.ONLINE:
                online[s.terminal] = s
        if not online:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            woken = await sql.wake_terminals(conn, list(online))
            new = await sql.note_logins(conn, [(t, s.since, s.peer) for t, s in online.items()])
            tariffs = await tariff_sql.due_on_login(conn, list(online)) if self.settings.tariff_read else 0
        if new:
            metrics.NEW_TERMINALS.inc(len(new))
            log.info("new terminals logged in", terminals=new)
        if woken or new or tariffs:
            self.poke()
