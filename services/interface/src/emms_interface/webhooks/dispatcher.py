"""Sends due webhook deliveries: signed, at least once, retried with exponential back-off, parked after
``max_attempts`` (kept, replayable). State is in the database, so a restart resumes where it stopped;
a delivery is leased while it is being sent, so replicas never send one delivery at the same time.
Before each attempt the URL's host is resolved and checked again (:mod:`.targets`); a refused address is
not contacted, the attempt fails with the reason (retried, then parked, like any other failure).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import httpx
import structlog
from prometheus_client import Counter

from emms_interface.repository import webhooks as repo
from emms_interface.settings import WebhookSettings
from emms_interface.webhooks import signing, targets
from emms_interface.webhooks.sealing import SecretSealer
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.interface.webhooks")
ATTEMPTS = Counter("emms_interface_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])
SEAL_EVERY_S = 60.0


def backoff_s(settings: WebhookSettings, attempt: int) -> float:
    """The wait after failed attempt number ``attempt`` (1-based): base × 2^(attempt-1), capped."""
    return float(min(settings.max_backoff_s, settings.base_backoff_s * 2 ** (attempt - 1)))


def body_of(delivery: dict[str, Any]) -> bytes:
    document = {"event_id": str(delivery["event_id"]), "type": delivery["event_type"],
                "created_at": delivery["created_at"].isoformat(), "data": delivery["payload"]}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, settings: WebhookSettings, sealer: SecretSealer,
                 policy: targets.TargetPolicy, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._pool = pool
        self._settings = settings
        self.sealer = sealer
        self.policy = policy
        self._client = httpx.AsyncClient(timeout=settings.timeout_s, transport=transport, follow_redirects=False)
        self._worker = PeriodicWorker("webhook-deliveries", self.step, settings.poll_s)
        self._sealed_at = 0.0

    def poke(self) -> None:
        self._worker.poke()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._worker.run(stop)
        finally:
            await self._client.aclose()

    async def seal_stored(self, *, renew: bool = False) -> int:
        """Seal clear-text secrets left in the table (``renew``: reseal all under the first key)."""
        async with self._pool.acquire() as conn, conn.transaction():
            changed = await repo.seal_stored(conn, self.sealer, renew=renew)
        if changed:
            log.info("webhook secrets sealed", subscriptions=changed, renew=renew)
        self._sealed_at = time.monotonic()
        return changed

    async def step(self) -> int:
        """Send every due delivery (batch after batch); the number sent."""
        if time.monotonic() - self._sealed_at > SEAL_EVERY_S:
            await self.seal_stored()
        sent = 0
        while True:
            async with self._pool.acquire() as conn:
                due = await repo.claim_due(conn, self._settings.batch, self._settings.timeout_s + 30)
            if not due:
                return sent
            await asyncio.gather(*(self._send(d) for d in due))
            sent += len(due)

    def _headers(self, delivery: dict[str, Any], body: bytes) -> dict[str, str]:
        sealed = [delivery["secret_sealed"], delivery["previous_secret_sealed"]]
        secrets_in_force = [self.sealer.unseal(t) for t in sealed if t is not None]
        return {"Content-Type": "application/json", "X-EMMS-Event-Id": str(delivery["event_id"]),
                "X-EMMS-Event-Type": delivery["event_type"],
                "X-EMMS-Secret-Version": str(delivery["secret_version"]),
                signing.HEADER: signing.header(secrets_in_force, int(time.time()), body)}

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST to an address of the URL's host checked just now (in order; the next one if one refuses)."""
        target = await targets.resolve(self.policy, url)
        parsed = httpx.URL(url)
        headers = {**headers, "Host": parsed.netloc.decode("ascii")}
        for i, address in enumerate(target.addresses):
            try:
                return await self._client.post(parsed.copy_with(host=str(address)), content=body, headers=headers,
                                               extensions={"sni_hostname": target.host})
            except httpx.ConnectError:
                if i == len(target.addresses) - 1:
                    raise
        raise AssertionError("a target has at least one address")

    async def _send(self, delivery: dict[str, Any]) -> None:
        body = body_of(delivery)
        attempt = int(delivery["attempts"]) + 1
        started = time.perf_counter()
        status: int | None = None
        error = ""
        try:
            resp = await self._post(delivery["url"], body, self._headers(delivery, body))
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"answered {status}: {resp.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        except ValueError as exc:  # a refused target (TargetRefused), a secret that does not unseal
            error = f"refused: {exc}"[:300]
        elapsed = int((time.perf_counter() - started) * 1000)
        if not error:
            outcome, retry_in = "delivered", 0.0
        elif attempt >= self._settings.max_attempts:
            outcome, retry_in = "parked", 0.0
            log.warning("webhook parked", event_id=str(delivery["event_id"]), url=delivery["url"], error=error,
                        attempts=attempt)
        else:
            outcome, retry_in = "pending", backoff_s(self._settings, attempt)
        ATTEMPTS.labels(outcome if outcome != "pending" else "retry").inc()
        async with self._pool.acquire() as conn:
            await repo.record_attempt(conn, subscription_id=delivery["subscription_id"],
                                      event_id=delivery["event_id"], attempt=attempt, status=status, error=error,
                                      duration_ms=elapsed, outcome=outcome, retry_in_s=retry_in)
