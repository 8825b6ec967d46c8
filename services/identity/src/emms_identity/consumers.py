"""The refusals of every service's access check (``emms.access.denied.v1``) into the audit log, so
one place answers "who was refused what, where". Idempotent: each refusal's ``event_id`` is
unique in the audit table, a redelivery inserts nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from emms_bus.consumer import Delivery
from emms_identity.repository import audit as repo
from emms_messages.access import AccessDenied

ACCESS_TOPIC = "emms.access.denied.v1"
ACCESS_GROUP = "identity-access-audit"


def access_denied_handler(pool: asyncpg.Pool) -> Callable[[Sequence[Delivery]], Awaitable[None]]:
    async def handle(deliveries: Sequence[Delivery]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            for delivery in deliveries:
                refusal = delivery.payload
                assert isinstance(refusal, AccessDenied)
                await repo.insert(
                    conn, actor=refusal.subject or "anonymous", action="access.denied", outcome="denied",
                    target=f"{refusal.method} {refusal.path}", reason=refusal.reason,
                    detail={"status": refusal.status, "kind": refusal.kind, "instance": refusal.instance},
                    client_ip=refusal.client_ip, source_service=refusal.service, event_id=refusal.event_id,
                    at=refusal.at)

    return handle
