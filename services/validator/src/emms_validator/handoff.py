"""Hand-off of anomalies and their workflow to other departments' systems by webhook (R-4.5.4.1).

Besides the bus (``emms.anomaly.v1``), every anomaly at or above the configured
severity and every workflow transition is POSTed as JSON to each configured
URL, important ones first. A row is marked handed off only after every webhook
answered 2xx; failures are retried on the next poll, so delivery is
at-least-once (receivers deduplicate on ``anomaly_id`` / transition ``id``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import structlog
from pydantic_core import to_jsonable_python

from emms_runtime.periodic import PeriodicWorker
from emms_validator import metrics
from emms_validator.repository.anomalies import mark_handed_off, pending_handoff, pending_transitions, skip_handoff
from emms_validator.settings import HandoffSettings

log = structlog.get_logger("emms.validator.handoff")


def severities(settings: HandoffSettings) -> list[str]:
    return ["important"] if settings.min_severity == "important" else ["important", "normal"]


class Handoff:
    def __init__(self, pool: asyncpg.Pool, schema: str, settings: HandoffSettings) -> None:
        self._pool = pool
        self._schema = schema
        self._settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=self._settings.timeout_s) as client:

            async def drain() -> None:
                while await self.deliver_once(client) >= self._settings.batch and not stop.is_set():
                    pass

            await PeriodicWorker("validator-handoff", drain, self._settings.poll_s).run(stop)

    async def deliver_once(self, client: httpx.AsyncClient) -> int:
        """Send one batch; returns how many rows were handed off."""
        wanted = severities(self._settings)
        async with self._pool.acquire() as conn:
            if not self._settings.webhooks:
                await skip_handoff(conn, self._schema, [])
                return 0
            await skip_handoff(conn, self._schema, wanted)
            anomalies = await pending_handoff(conn, self._schema, wanted, self._settings.batch)
            transitions = await pending_transitions(conn, self._schema, self._settings.batch)
        if not anomalies and not transitions:
            return 0
        body = to_jsonable_python({"source": "emms-validator", "anomalies": anomalies, "transitions": transitions})
        if not await self._post_all(client, body):
            return 0
        async with self._pool.acquire() as conn:
            await mark_handed_off(conn, self._schema, [a["anomaly_id"] for a in anomalies],
                                  [t["id"] for t in transitions])
        metrics.HANDOFF.labels("delivered").inc(len(anomalies) + len(transitions))
        return len(anomalies) + len(transitions)

    async def _post_all(self, client: httpx.AsyncClient, body: dict[str, Any]) -> bool:
        for url in self._settings.webhooks:
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as exc:
                log.warning("webhook unreachable; will retry", url=url, error=repr(exc))
                metrics.HANDOFF.labels("failed").inc()
                return False
            if response.status_code // 100 != 2:
                log.warning("webhook refused; will retry", url=url, status=response.status_code)
                metrics.HANDOFF.labels("failed").inc()
                return False
        return True
