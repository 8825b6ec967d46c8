"""The command engine: sends what jobs ask for, follows the FEP's results, retries, verifies, finishes.

State lives in the database (``control.jobs``, ``control.job_devices``, ``control.requests``), so a
restart resumes: a device whose request has no result by its deadline (lost, or never published
because control died between commit and publish) is resent with that reason recorded; a late
result of an earlier request is still taken (correlated by request id). A device is finished
exactly once (its row leaves ``sent`` / ``pending`` under a row lock), and its final result is
logged and published on ``emms.control.command.v1`` once per finishing.

Per terminal at most ``Policy.terminal_in_flight`` devices have a request out (the FEP queues per
terminal beyond its own in-flight limit); each tick sends up to ``batch`` devices in one
transaction and one batched publish.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from emms_bus import BusProducer
from emms_control import metrics
from emms_control.commands import checks
from emms_control.commands.actions import EXPECTED_STATE, Action
from emms_control.commands.frames import NoFrame, command_units, verify_units
from emms_control.commands.log import detail_json
from emms_control.commands.policy import policy
from emms_control.commands.readback import switch_state
from emms_control.repository import command_log as log_sql
from emms_control.repository import devices as device_sql
from emms_control.repository import engine as eng_sql
from emms_control.repository.devices import Device
from emms_messages.control import CommandResult
from emms_messages.terminal import URGENT_PRIORITY, DownlinkRequest, DownlinkResult, RequestOutcome

log = structlog.get_logger("emms.control.commands")
REQUEST_PREFIX = "ctl-"
RETRYABLE = frozenset({RequestOutcome.TIMED_OUT, RequestOutcome.OFFLINE})


@dataclass(frozen=True, slots=True)
class Finish:
    """A device's final result, decided in a transaction and written with the others before it commits."""

    row: dict[str, Any]
    state: str
    reason: str
    verified: str | None
    outcome: str
    frames: list[dict[str, Any]]


@dataclass
class Outbox:
    """What a transaction decided: the rows written in one statement each before it commits (devices
    confirmed, devices finished, log rows), and what it publishes once it commits."""

    requests: list[DownlinkRequest] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    log_rows: list[tuple[Any, ...]] = field(default_factory=list)
    """Log rows of the transaction, written in one statement before it commits (in the order appended)."""
    confirmed: list[tuple[Any, str, str]] = field(default_factory=list)
    """(job_id, meter_id, terminal) of devices whose command was confirmed: on to their read-back."""
    finishing: dict[tuple[Any, str, str], Finish] = field(default_factory=dict)
    """Final results by device; the first decided for a device stands (a device is finished once)."""


def new_request_id() -> str:
    return f"{REQUEST_PREFIX}{secrets.token_hex(10)}"


class CommandEngine:
    def __init__(self, pool: asyncpg.Pool, producer: BusProducer | None, *, batch: int = 2000,
                 tick_s: float = 0.1) -> None:
        self._pool = pool
        self._producer = producer
        self._batch = batch
        self._tick_s = tick_s
        self.wake = asyncio.Event()

    # ---- publishing ---------------------------------------------------------------------------------
    async def publish(self, out: Outbox) -> None:
        if self._producer is None:
            return
        if out.requests:
            await self._producer.publish_many(out.requests)
        if out.results:
            await self._producer.publish_many(out.results)

    # ---- the worker -----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.tick()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("command engine tick failed; retrying", error=repr(exc))
                busy = False
            if busy:
                continue
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), self._tick_s)
            except TimeoutError:
                pass

    async def tick(self) -> bool:
        """One pass: start / expire jobs, resend overdue requests, send pending devices, finish jobs.
        True when it sent a full batch (call again at once)."""
        out = Outbox()
        async with self._pool.acquire() as conn, conn.transaction():
            await self._expire_and_start(conn)
            await self._overdue(conn, out)
            sent = await self._send_pending(conn, out)
            await self._write(conn, out)
            await self._finish_jobs(conn)
        await self.publish(out)
        return sent >= self._batch

    async def refresh_gauges(self) -> None:
        async with self._pool.acquire() as conn:
            running, pending = await eng_sql.gauges(conn)
        metrics.JOBS_RUNNING.set(running)
        metrics.DEVICES_PENDING.set(pending)

    async def _expire_and_start(self, conn: Any) -> None:
        await eng_sql.start_due_jobs(conn)
        for job in await eng_sql.expire_unconfirmed(conn):
            rows = await eng_sql.cancel_devices(conn, str(job["job_id"]), "the second confirmation expired")
            await log_sql.insert_many(conn, [
                ("command", "final", str(job["job_id"]), d["meter_id"] or None, d["terminal"], job["requested_by"],
                 job["origin"], job["action"], None, "cancelled", None,
                 detail_json({"reason": "the second confirmation expired"})) for d in rows])

    async def _overdue(self, conn: Any, out: Outbox) -> None:
        for row in await eng_sql.overdue(conn, self._batch):
            why = (f"resent: no result recorded for request {row['request_id']} by its deadline (lost, or control"
                   " restarted before it was published)")
            await self._retry_or_fail(conn, row, why, "no_result", out)

    async def _send_pending(self, conn: Any, out: Outbox) -> int:
        p = policy()
        rows = await eng_sql.claim_pending(conn, p.terminal_in_flight, self._batch)
        if not rows:
            return 0
        devices = await device_sql.by_ids(conn, [r["meter_id"] for r in rows if r["meter_id"]])
        now = datetime.now(UTC)
        sends: list[tuple[dict[str, Any], DownlinkRequest]] = []
        for row in rows:
            device = devices.get(row["meter_id"]) if row["meter_id"] else None
            try:
                request = self._request(row, device, now)
            except (NoFrame, ValueError) as exc:
                self._finish(row, "failed", f"no frame: {exc}", None, out)
                continue
            if request is None:  # nothing to verify: confirmed is final
                self._finish(row, "confirmed", "confirmed by the device; no read-back for this action", None, out)
                continue
            sends.append((row, request))
        if sends:
            await eng_sql.mark_sent(conn, [(r["job_id"], r["meter_id"], r["terminal"], q.request_id, r["step"],
                                            r["attempts"] + 1) for r, q in sends],
                                    now + timedelta(seconds=p.result_deadline_s))
            out.log_rows.extend([
                ("command" if r["action"] != "operation" or r["params"].get("afn") != 4 else "parameter",
                 "sent" if not r["retry_reason"] else "resent", str(r["job_id"]), r["meter_id"] or None,
                 r["terminal"], r["requested_by"], r["origin"], r["action"], q.request_id, None, None,
                 detail_json({"step": r["step"], "attempt": r["attempts"] + 1, "afn": q.afn,
                              "retry_reason": r["retry_reason"],
                              "units": [u.model_dump() for u in q.units]})) for r, q in sends])
            out.requests.extend(q for _, q in sends)
        return len(rows)

    def _request(self, row: dict[str, Any], device: Device | None, now: datetime) -> DownlinkRequest | None:
        action = Action(row["action"])
        params = dict(row["params"])
        if row["step"] == "command":
            afn, units = command_units(action, device, params, now)
        else:
            built = verify_units(action, device, params)
            if built is None:
                return None
            afn, units = built
        p = policy()
        return DownlinkRequest(request_id=new_request_id(), terminal=row["terminal"], afn=afn, units=units,
                               requested_by=f"control:{row['requested_by']}"[:200], timeout_s=p.request_timeout_s,
                               retries=p.fep_retries, priority=URGENT_PRIORITY,
                               expires_at=now + timedelta(seconds=p.result_deadline_s))

    async def _finish_jobs(self, conn: Any) -> None:
        for job_id in await eng_sql.finish_done_jobs(conn):
            log.info("job finished", job=job_id)

    # ---- results ------------------------------------------------------------------------------------------
    async def handle_results(self, conn: Any, results: Sequence[DownlinkResult], out: Outbox) -> None:
        """Apply FEP results (inside the consumer's transaction, after its inbox claim)."""
        mine = [r for r in results if r.request_id.startswith(REQUEST_PREFIX)]
        if not mine:
            return
        by_id = {r.request_id: r for r in mine}
        recorded = await eng_sql.record_results(conn, [(r.request_id, r.outcome.value, r.detail[:500],
                                                        r.completed_at) for r in mine])
        rows = await eng_sql.devices_for_requests(conn, list(recorded.values()))
        for req in recorded.values():
            row = rows.get((req["job_id"], req["meter_id"], req["terminal"]))
            result = by_id[req["request_id"]]
            if row is None:
                continue
            await self._apply(conn, row, req, result, out)
        await self._write(conn, out)

    async def _apply(self, conn: Any, row: dict[str, Any], req: dict[str, Any], result: DownlinkResult,
                     out: Outbox) -> None:
        current = row["state"] == "sent" and row["request_id"] == req["request_id"]
        late = not current and row["state"] in ("sent", "pending") and row["step"] == req["step"] \
            and result.outcome is RequestOutcome.ANSWERED
        out.log_rows.extend([(
            "command", "result" if current else "late_result", str(row["job_id"]), row["meter_id"] or None,
            row["terminal"], row["requested_by"], row["origin"], row["action"], req["request_id"],
            result.outcome.value, None,
            detail_json({"step": req["step"], "attempts_fep": result.attempts, "detail": result.detail,
                         "round_trip_ms": result.round_trip_ms, "taken": current or late}))])
        if not (current or late):
            return
        if result.outcome is not RequestOutcome.ANSWERED:
            why = f"{result.outcome.value} on request {req['request_id']}" + (f": {result.detail}" if result.detail
                                                                               else "")
            if result.outcome in RETRYABLE:
                await self._retry_or_fail(conn, row, why, result.outcome.value, out)
            else:
                self._finish(row, "failed", why, None, out, outcome=result.outcome.value)
            return
        if req["step"] == "command":
            sent_at = row["sent_at"]
            if sent_at is not None:
                metrics.TIME_TO_CONFIRM.observe(max(0.0, (result.completed_at - sent_at).total_seconds()))
            out.confirmed.append((row["job_id"], row["meter_id"], row["terminal"]))
            return
        action = Action(row["action"])
        if action is Action.OPERATION:
            expect = (dict(row["params"]).get("verify") or {}).get("expect")
            if expect:
                holds, seen = checks.evaluate(expect, result)
                if not holds:
                    self._finish(row, "failed", f"read back {seen}, expected {expect.get('value')}", None, out,
                                 outcome="state_mismatch", frames=result.frames)
                    return
                self._finish(row, "verified", f"read back {seen}", None, out, frames=result.frames)
                return
            self._finish(row, "verified", "read back", None, out, frames=result.frames)
            return
        state = switch_state(result.frames)
        wanted = EXPECTED_STATE.get(action)
        if state is None:
            await self._retry_or_fail(conn, row, f"the read-back on request {req['request_id']} carried no state",
                                      "no_state", out)
        elif state == wanted:
            self._finish(row, "verified", f"{state} read back", state, out)
        else:
            self._finish(row, "failed", f"read back {state}, expected {wanted}", state, out, outcome="state_mismatch")

    async def _retry_or_fail(self, conn: Any, row: dict[str, Any], why: str, outcome: str, out: Outbox) -> None:
        p = policy()
        if row["job_state"] == "cancelled" and row["step"] == "command":
            self._finish(row, "cancelled", f"job cancelled; last request: {why}", None, out, outcome="cancelled")
        elif row["attempts"] < p.attempts:
            await eng_sql.to_retry(conn, row["job_id"], row["meter_id"], row["terminal"], why,
                                   datetime.now(UTC) + timedelta(seconds=p.retry_delay_s))
            out.log_rows.extend([(
                "command", "retry", str(row["job_id"]), row["meter_id"] or None, row["terminal"],
                row["requested_by"], row["origin"], row["action"], row["request_id"], outcome, None,
                detail_json({"reason": why, "step": row["step"], "attempts": row["attempts"]}))])
            metrics.RETRIES.labels(outcome).inc()
        else:
            self._finish(row, "failed", f"{why} (after {row['attempts']} attempts of the {row['step']})", None, out,
                         outcome=outcome)

    @staticmethod
    def _finish(row: dict[str, Any], state: str, reason: str, verified: str | None, out: Outbox, *,
                outcome: str | None = None, frames: list[dict[str, Any]] | None = None) -> None:
        """Decide a device's final result (written by :meth:`_write` with the transaction's others)."""
        out.finishing.setdefault((row["job_id"], row["meter_id"], row["terminal"]),
                                 Finish(row, state, reason[:500], verified, outcome or state, frames or []))

    async def _write(self, conn: Any, out: Outbox) -> None:
        """The transaction's device transitions and log rows, one statement each (not one per device): at
        10,000 devices a statement per device made the result consumer the group command's bottleneck."""
        await eng_sql.to_verify(conn, out.confirmed)
        out.confirmed.clear()
        finishing = list(out.finishing.values())
        out.finishing.clear()
        done = await eng_sql.finish_devices(conn, [
            (f.row["job_id"], f.row["meter_id"], f.row["terminal"], f.state, f.outcome, f.reason, f.verified)
            for f in finishing])
        now = datetime.now(UTC)
        for f in finishing:
            row = f.row
            d = done.get((row["job_id"], row["meter_id"], row["terminal"]))
            if d is None:
                continue  # finished already (never twice)
            request_ids = list(d["request_ids"] or [])
            out.log_rows.append((
                "command" if row["action"] != "operation" or row["params"].get("afn") != 4 else "parameter",
                "final", str(row["job_id"]), row["meter_id"] or None, row["terminal"], row["requested_by"],
                row["origin"], row["action"], request_ids[-1] if request_ids else None, f.state, f.verified,
                detail_json({"reason": f.reason, "request_ids": request_ids, "outcome": f.outcome,
                             "frames": f.frames})))
            metrics.COMMANDS.labels(row["action"], f.state).inc()
            if f.state == "verified" and d["first_sent_at"] is not None:
                metrics.TIME_TO_VERIFY.observe(max(0.0, (now - d["first_sent_at"]).total_seconds()))
            out.results.append(CommandResult(
                job_id=str(row["job_id"]), meter_id=row["meter_id"] or None, terminal=row["terminal"],
                action=row["action"], origin=row["origin"], requested_by=row["requested_by"], state=f.state,
                reason=f.reason, verified_state=f.verified, attempts=int(d["attempts"]), request_ids=request_ids,
                finished_at=now))
        await log_sql.insert_many(conn, out.log_rows)
        out.log_rows.clear()
