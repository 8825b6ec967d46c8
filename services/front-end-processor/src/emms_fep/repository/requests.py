"""``fep.requests``: claims that make downlink requests idempotent across redeliveries and replicas.

The replica whose INSERT creates a request's row is the only one that acts on
it — sends it to the terminal, or answers "offline". A redelivered request (a
consumer restart, a rebalance, the same request consumed by every replica's
group) finds the row and is dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from emms_messages.terminal import RequestOutcome


class RequestLedger:
    def __init__(self, pool: asyncpg.Pool, schema: str, replica: str) -> None:
        self._pool = pool
        self._schema = schema
        self._replica = replica
        self._done: dict[str, tuple[str, int, datetime]] = {}

    async def claim(self, requests: list[tuple[str, str]]) -> set[str]:
        """Claim ``(request_id, terminal)`` pairs; return the ids this replica now owns."""
        if not requests:
            return set()
        rows = await self._pool.fetch(
            f"INSERT INTO {self._schema}.requests (request_id, terminal, replica)"
            " SELECT r, t, $3 FROM unnest($1::text[], $2::text[]) AS v(r, t)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
            [r for r, _ in requests], [t for _, t in requests], self._replica)
        return {r["request_id"] for r in rows}

    def completed(self, request_id: str, outcome: RequestOutcome, attempts: int) -> None:
        """Record the outcome (written by the next :meth:`flush`)."""
        self._done[request_id] = (outcome.value, attempts, datetime.now(UTC))

    async def flush(self) -> int:
        done, self._done = self._done, {}
        if not done:
            return 0
        try:
            await self._pool.execute(
                f"UPDATE {self._schema}.requests r SET outcome = v.o, attempts = v.a, completed_at = v.t"
                " FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) AS v(id, o, a, t)"
                " WHERE r.request_id = v.id",
                list(done), [o for o, _, _ in done.values()], [a for _, a, _ in done.values()],
                [t for _, _, t in done.values()])
        except BaseException:
            for key, value in done.items():
                self._done.setdefault(key, value)
            raise
        return len(done)

    async def abandon_open(self) -> list[tuple[str, str, int]]:
        """Requests this replica claimed and never finished (it stopped or crashed meanwhile)."""
        rows = await self._pool.fetch(
            f"UPDATE {self._schema}.requests SET outcome = $2, completed_at = now()"
            " WHERE replica = $1 AND outcome IS NULL RETURNING request_id, terminal, attempts",
            self._replica, RequestOutcome.TIMED_OUT.value)
        return [(r["request_id"], r["terminal"], int(r["attempts"])) for r in rows]

    async def abandon_of_dead(self, live: list[str], dead_after_s: float) -> list[tuple[str, str, str, int]]:
        """Open claims of replicas that are not live (crashed, or restarted under another id).

        The UPDATE marks them concluded and returns them to exactly one caller, whichever replica
        runs it first; that replica publishes their results.
        """
        rows = await self._pool.fetch(
            f"UPDATE {self._schema}.requests SET outcome = $2, completed_at = now()"
            " WHERE outcome IS NULL AND NOT (replica = ANY($1::text[]))"
            " AND claimed_at < now() - make_interval(secs => $3)"
            " RETURNING request_id, terminal, replica, attempts",
            live, RequestOutcome.TIMED_OUT.value, dead_after_s)
        return [(r["request_id"], r["terminal"], r["replica"], int(r["attempts"])) for r in rows]

    async def forget_older_than(self, hours: float) -> int:
        result = await self._pool.execute(
            f"DELETE FROM {self._schema}.requests WHERE claimed_at < now() - make_interval(secs => $1)",
            hours * 3600.0)
        return int(result.split()[-1])
