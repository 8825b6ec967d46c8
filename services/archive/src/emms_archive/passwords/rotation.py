"""Rotating a terminal's password: AFN04 F5 to the terminal with the PW in force, switch on its confirm.

1. :func:`start` (an operator, step-up) records a pending rotation with the new PW sealed and an
   audit row, in one transaction; after commit the archive publishes a ``DownlinkRequest``
   (AFN 04, p0 F5) whose unit data is ``{"sealed_password": <token>}`` — the FEP unseals it with
   the shared key-encryption key and builds F5 (``emms_fep.auth_param``); the PW is never on the
   bus in clear. The FEP sends the frame with the terminal's current PW.
2. :class:`RotationResults` consumes ``DownlinkResult`` of rotation requests (``pwrot-…``): the
   terminal's confirm (``answered``) switches master data to the new PW (a published
   ``terminal_password`` change, which the FEP follows); any other outcome (denied, timed out,
   offline, rejected) marks the rotation failed and leaves the old PW in force. Each result is
   applied once (inbox row in the same transaction).
3. :func:`expire` reports a rotation failed when no result came within ``rotation_timeout_s``; a
   confirm that still arrives later switches master data all the same (the terminal has the new PW).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from emms_archive.passwords import store
from emms_archive.schema import SCHEMA
from emms_bus import BusProducer, Delivery
from emms_db.connection import Connection
from emms_db.inbox import claim
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, DownlinkResult, RequestOutcome
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.archive.passwords")
REQUEST_PREFIX = "pwrot-"
CONSUMER = "terminal-password-rotations"
RESULTS_GROUP = "archive-terminal-password-rotations"
RESULTS_TOPIC = "emms.downlink.result.v1"


class RotationPending(Exception):
    """The terminal already has a rotation in flight."""


def downlink_request(rotation: dict[str, Any], timeout_s: float) -> DownlinkRequest:
    """The AFN04 F5 request of a rotation: the new PW sealed, sent within half the rotation's time."""
    return DownlinkRequest(
        request_id=rotation["request_id"], terminal=rotation["terminal"], afn=0x04,
        units=[DataUnitRequest(pn=[0], fn=[5], data={"sealed_password": rotation["sealed"]})],
        requested_by=rotation["requested_by"], timeout_s=min(30.0, timeout_s / 4), retries=1, priority=1,
        expires_at=rotation["requested_at"] + timedelta(seconds=timeout_s / 2))


async def start(conn: Connection, terminal: dict[str, Any], terminal_key: str, sealed: str, *, actor: str,
                timeout_s: float) -> dict[str, Any]:
    """Record a pending rotation (inside the caller's transaction); RotationPending if one is in flight."""
    if await conn.fetchval(f"SELECT 1 FROM {SCHEMA}.terminal_password_rotation WHERE terminal_id = $1"
                           f" AND state = 'pending'", terminal["id"]):
        raise RotationPending(f"terminal {terminal['id']} has a password rotation in flight")
    rotation_id = uuid.uuid4()
    now = datetime.now(UTC)
    from_version = await store.current_version(conn, str(terminal["id"]))
    try:
        row = await conn.fetchrow(
            f"INSERT INTO {SCHEMA}.terminal_password_rotation (rotation_id, terminal_id, terminal, request_id,"
            f" sealed, from_version, requested_by, requested_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
            f" $9) RETURNING rotation_id, terminal_id, terminal, request_id, sealed, from_version, requested_by,"
            f" requested_at, expires_at, state",
            rotation_id, terminal["id"], terminal_key, f"{REQUEST_PREFIX}{rotation_id}", sealed, from_version, actor,
            now, now + timedelta(seconds=timeout_s))
    except asyncpg.UniqueViolationError:  # a concurrent request started one first
        raise RotationPending(f"terminal {terminal['id']} has a password rotation in flight") from None
    await store.note(conn, terminal, actor=actor, action="rotation_requested",
                     detail={"rotation_id": str(rotation_id), "from_version": from_version})
    assert row is not None
    return dict(row)


#: Outcomes after which the terminal surely kept its old PW (it refused, or never got the frame): the new
#: one is discarded. After a time-out the terminal may have switched and its confirm been lost, so the new
#: PW is kept sealed and a late confirm still switches master data.
_DEFINITE = frozenset({"denied", "rejected", "offline"})


async def fail(conn: Connection, request_id: str, outcome: str, detail: str) -> bool:
    """Mark a rotation failed (the old PW stays in force) and audit it; False if it was not pending."""
    row = await conn.fetchrow(
        f"UPDATE {SCHEMA}.terminal_password_rotation SET state = 'failed', outcome = $2, detail = $3,"
        f" completed_at = now(), sealed = CASE WHEN $4 THEN '' ELSE sealed END"
        f" WHERE request_id = $1 AND state = 'pending'"
        f" RETURNING rotation_id, terminal_id, from_version", request_id, outcome, detail[:500],
        outcome in _DEFINITE)
    if row is None:
        return False
    terminal = await _terminal(conn, row["terminal_id"])
    await store.note(conn, terminal, actor="system", action="rotation_failed",
                     detail={"rotation_id": str(row["rotation_id"]), "outcome": outcome, "detail": detail[:500],
                             "version_in_force": row["from_version"]})
    log.warning("terminal password rotation failed; the old password stays in force",
                terminal_id=row["terminal_id"], rotation_id=str(row["rotation_id"]), outcome=outcome, detail=detail)
    return True


async def confirm(conn: Connection, request_id: str) -> bool:
    """The terminal confirmed: its new PW becomes master data (published); False if nothing to switch."""
    row = await conn.fetchrow(
        f"SELECT rotation_id, terminal_id, sealed, requested_by, state FROM {SCHEMA}.terminal_password_rotation"
        f" WHERE request_id = $1 FOR UPDATE", request_id)
    if row is None or row["state"] == "confirmed" or not row["sealed"]:
        return False
    terminal = await _terminal(conn, row["terminal_id"])
    version = await store.put(conn, terminal, row["sealed"], actor=row["requested_by"], how="rotation",
                              note=f"rotation {row['rotation_id']} confirmed by the terminal")
    await conn.execute(
        f"UPDATE {SCHEMA}.terminal_password_rotation SET state = 'confirmed', outcome = 'answered', detail = '',"
        f" to_version = $2, completed_at = now(), sealed = '' WHERE request_id = $1", request_id, version)
    log.info("terminal password rotated", terminal_id=row["terminal_id"], rotation_id=str(row["rotation_id"]),
             version=version)
    return True


async def _terminal(conn: Connection, terminal_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT id, address, company_id, region_id FROM {SCHEMA}.terminal WHERE id = $1",
                              terminal_id)
    return dict(row) if row is not None else {"id": terminal_id}


async def conclude(conn: Connection, result: DownlinkResult) -> None:
    if result.outcome is RequestOutcome.ANSWERED:
        await confirm(conn, result.request_id)
    else:
        await fail(conn, result.request_id, result.outcome.value, result.detail)


async def publish(pool: asyncpg.Pool, producer: BusProducer, rotation: dict[str, Any], timeout_s: float) -> bool:
    """Send the rotation's request (after its row is committed); a failure to publish fails the rotation."""
    try:
        await producer.publish(downlink_request(rotation, timeout_s))
        return True
    except Exception as exc:  # the broker is down or refused: the terminal never hears of it
        async with pool.acquire() as conn, conn.transaction():
            await fail(conn, rotation["request_id"], "rejected", f"not sent: {type(exc).__name__}")
        return False


class RotationResults:
    """Consumer of ``DownlinkResult``: applies the results of rotation requests, once each."""

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        results = {d.envelope.message_id: d.payload for d in deliveries
                   if isinstance(d.payload, DownlinkResult) and d.payload.request_id.startswith(REQUEST_PREFIX)}
        if not results:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, CONSUMER, list(results))
            for message_id, result in results.items():
                if message_id in fresh:
                    await conclude(conn, result)

    async def expire(self) -> int:
        """Rotations past their time without a result: failed (the old PW stays)."""
        async with self._pool.acquire() as conn, conn.transaction():
            late = await conn.fetch(f"SELECT request_id FROM {SCHEMA}.terminal_password_rotation"
                                    f" WHERE state = 'pending' AND expires_at < now()")
            for row in late:
                await fail(conn, row["request_id"], "timed_out",
                           f"no result from the FEP within {self._timeout_s:g} s")
        return len(late)

    async def run_expiry(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("archive-password-rotations", self.expire, 5.0).run(stop)
