"""Refusals onto the bus: every 401/403/429/503 of the access check as an ``AccessDenied`` message.

The identity service consumes them into its audit log, so one place answers "who was refused
what, where". Publishing never delays or fails the refused request: messages go out from a
background task through a bounded queue, and when a flood of bad requests fills it the rest are
counted (``emms_access_audit_dropped_total``) and left to the log line every refusal writes anyway.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter
from starlette.requests import Request

from emms_bus import BusProducer
from emms_messages.access import AccessDenied
from emms_runtime.auth.principal import Principal

log = structlog.get_logger("emms.access")
DROPPED = Counter("emms_access_audit_dropped_total", "Refusals not published to the bus (queue full)")


class BusAccessAudit:
    def __init__(self, producer: BusProducer, service: str, instance: str, capacity: int = 1000) -> None:
        self.producer = producer
        self.service = service
        self.instance = instance
        self.queue: asyncio.Queue[AccessDenied] = asyncio.Queue(capacity)
        self._task: asyncio.Task[None] | None = None

    def __call__(self, request: Request, status: int, reason: str, principal: Principal | None) -> None:
        message = AccessDenied(
            event_id=uuid.uuid4().hex, service=self.service, instance=self.instance, at=datetime.now(UTC),
            status=status, reason=reason[:500], method=request.method, path=request.url.path[:500],
            subject=principal.subject if principal else None, kind=principal.kind if principal else None,
            client_ip=request.client.host if request.client else None)
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            DROPPED.inc()

    def start(self) -> None:
        self._task = asyncio.create_task(self._publish(), name="access-audit")

    async def stop(self) -> None:
        """Publish what is queued (briefly), then stop."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), timeout=2.0)
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _drain(self) -> None:
        await self.queue.join()

    async def _publish(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.producer.publish(message)
            except Exception as exc:  # the broker is away: the refusal's log line remains
                DROPPED.inc()
                log.warning("access refusal not published", error=str(exc), event_id=message.event_id)
            finally:
                self.queue.task_done()
