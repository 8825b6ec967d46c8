"""The duty log from any service: ``await oplog.record(producer, ...)`` after an important operation.

One line where the operation has committed::

    await oplog.record(rt.producer, service="control", category="control", action="command.submitted",
                       actor=principal.subject, target=job_id, reason=body.reason)

It publishes one :class:`~emms_messages.oplog.OperationLogged` on ``emms.operation.log.v1`` (the
service must be listed as its producer in ``emms_messages.topics``); the operations service keeps it
in its append-only duty log. ``entry_id`` defaults to a new uuid: give a stable one (``"control/<job>/
submitted"``) when the same operation may be recorded twice, the log keeps it once. Recording never
fails the operation it describes: when the broker does not take the message within ``timeout_s`` it
is logged as a warning (the service's own log keeps the operation) and ``False`` is returned.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from emms_bus import BusProducer
from emms_messages.oplog import OperationLogged

log = structlog.get_logger("emms.oplog")


def entry(*, service: str, category: str, action: str, actor: str, target: str | None = None,
          outcome: str = "success", terminal: str | None = None, meter_id: str | None = None,
          reason: str | None = None, detail: dict[str, Any] | None = None, at: datetime | None = None,
          entry_id: str | None = None) -> OperationLogged:
    """The duty-log message of one operation (not yet published)."""
    return OperationLogged(
        entry_id=entry_id or f"{service}/{uuid.uuid4().hex}", service=service, category=category, action=action,
        actor=actor[:200], at=at or datetime.now(UTC), outcome=outcome,
        target=None if target is None else target[:500], terminal=terminal, meter_id=meter_id,
        reason=None if reason is None else reason[:1000], detail=dict(detail or {}))


async def record(producer: BusProducer | None, *, service: str, category: str, action: str, actor: str,
                 target: str | None = None, outcome: str = "success", terminal: str | None = None,
                 meter_id: str | None = None, reason: str | None = None, detail: dict[str, Any] | None = None,
                 at: datetime | None = None, entry_id: str | None = None, timeout_s: float = 5.0) -> bool:
    """Publish one duty-log entry; True once the broker has it. See the module's docstring."""
    message = entry(service=service, category=category, action=action, actor=actor, target=target,
                    outcome=outcome, terminal=terminal, meter_id=meter_id, reason=reason, detail=detail, at=at,
                    entry_id=entry_id)
    if producer is None:
        log.warning("duty-log entry not published: no producer", entry_id=message.entry_id, action=action)
        return False
    try:
        async with asyncio.timeout(timeout_s):
            await producer.publish(message)
    except Exception as exc:  # the operation stands; its own service's log keeps it
        log.warning("duty-log entry not published", entry_id=message.entry_id, action=action, error=repr(exc))
        return False
    return True
