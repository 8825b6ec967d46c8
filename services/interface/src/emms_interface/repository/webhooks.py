"""Statements on the webhook tables: subscriptions, events, deliveries and the attempt log."""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

from emms_db.connection import Connection
from emms_interface.schema import SCHEMA

_SUB = ("subscription_id, owner, url, events, companies, secret_version, previous_until, active, created_at,"
        " rotated_at")


def _sub(rec: Any) -> dict[str, Any]:
    row = dict(rec)
    row["subscription_id"] = str(row["subscription_id"])
    row["events"] = list(row["events"])
    row["companies"] = list(row["companies"])
    return row


async def create_subscription(conn: Connection, *, owner: str, url: str, events: list[str], companies: list[str],
                              secret_sealed: bytes) -> dict[str, Any]:
    rec = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.webhook_subscription (subscription_id, owner, url, events, companies, secret_sealed)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_SUB}", uuid.uuid4(), owner, url, events, companies,
        secret_sealed)
    return _sub(rec)


async def subscriptions(conn: Connection, owner: str | None) -> list[dict[str, Any]]:
    recs = await conn.fetch(f"SELECT {_SUB} FROM {SCHEMA}.webhook_subscription WHERE ($1::text IS NULL OR owner = $1)"
                            " ORDER BY created_at, subscription_id", owner)
    return [_sub(r) for r in recs]


async def subscription(conn: Connection, subscription_id: str) -> dict[str, Any] | None:
    try:
        ident = uuid.UUID(subscription_id)
    except ValueError:
        return None
    rec = await conn.fetchrow(f"SELECT {_SUB} FROM {SCHEMA}.webhook_subscription WHERE subscription_id = $1", ident)
    return _sub(rec) if rec else None


async def rotate_secret(conn: Connection, subscription_id: str, secret_sealed: bytes,
                        overlap_s: int) -> dict[str, Any]:
    """The new secret signs from now on; the old one signs too (a second signature) for ``overlap_s``."""
    rec = await conn.fetchrow(
        f"UPDATE {SCHEMA}.webhook_subscription SET previous_secret_sealed = secret_sealed, secret_sealed = $2,"
        " secret_version = secret_version + 1, previous_until = now() + make_interval(secs => $3), rotated_at = now()"
        f" WHERE subscription_id = $1 RETURNING {_SUB}", uuid.UUID(subscription_id), secret_sealed, overlap_s)
    assert rec is not None
    return _sub(rec)


class Sealer(Protocol):
    def seal(self, secret: str) -> bytes: ...
    def renew(self, token: bytes) -> bytes | None: ...


async def seal_stored(conn: Connection, sealer: Sealer, *, renew: bool = False,
                      subscription_id: str | None = None) -> int:
    """Seal secrets left in the clear columns (written before 0002, or by an older replica) and empty those;
    with ``renew`` also reseal every token under the first key (KEK rotation). The rows changed."""
    ident = uuid.UUID(subscription_id) if subscription_id is not None else None
    recs = await conn.fetch(
        f"SELECT subscription_id, secret, previous_secret, secret_sealed, previous_secret_sealed"
        f" FROM {SCHEMA}.webhook_subscription WHERE ($1::uuid IS NULL OR subscription_id = $1)"
        " AND ($2 OR secret IS NOT NULL OR previous_secret IS NOT NULL) FOR UPDATE", ident, renew)
    changed = 0
    for r in recs:
        current = sealer.seal(r["secret"]) if r["secret"] is not None else _renewed(sealer, r["secret_sealed"])
        previous = (sealer.seal(r["previous_secret"]) if r["previous_secret"] is not None
                    else _renewed(sealer, r["previous_secret_sealed"]))
        if current is None and previous is None and r["secret"] is None and r["previous_secret"] is None:
            continue
        await conn.execute(
            f"UPDATE {SCHEMA}.webhook_subscription SET secret = NULL, previous_secret = NULL,"
            " secret_sealed = coalesce($2, secret_sealed),"
            " previous_secret_sealed = coalesce($3, previous_secret_sealed)"
            " WHERE subscription_id = $1", r["subscription_id"], current, previous)
        changed += 1
    return changed


def _renewed(sealer: Sealer, token: bytes | None) -> bytes | None:
    return sealer.renew(token) if token is not None else None


async def set_active(conn: Connection, subscription_id: str, active: bool) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.webhook_subscription SET active = $2 WHERE subscription_id = $1",
                       uuid.UUID(subscription_id), active)


async def add_events(conn: Connection, events: list[dict[str, Any]]) -> int:
    """Store events (a known event id is skipped) and queue one delivery per matching active subscription.

    A bus-wide event nobody subscribes to is not stored; a job's event always is (the job's history).
    An event with an ``owner`` goes to that owner's subscriptions; one without (bus-wide facts) to the
    subscriptions of unrestricted callers only."""
    if not events:
        return 0
    result = await conn.execute(
        f"""WITH e AS (INSERT INTO {SCHEMA}.webhook_event (event_id, event_type, companies, owner, payload)
                      SELECT x.event_id, x.event_type, coalesce(x.companies, '{{}}'), x.owner, x.payload
                      FROM jsonb_to_recordset($1::jsonb)
                           AS x(event_id uuid, event_type text, companies text[], owner text, payload jsonb)
                      WHERE x.owner IS NOT NULL OR EXISTS (SELECT 1 FROM {SCHEMA}.webhook_subscription s
                            WHERE s.active AND x.event_type = ANY(s.events))
                      ON CONFLICT (event_id) DO NOTHING RETURNING event_id, event_type, owner)
            INSERT INTO {SCHEMA}.webhook_delivery (subscription_id, event_id)
            SELECT s.subscription_id, e.event_id FROM e JOIN {SCHEMA}.webhook_subscription s
              ON s.active AND e.event_type = ANY(s.events)
             AND (CASE WHEN e.owner IS NULL THEN cardinality(s.companies) = 0 ELSE s.owner = e.owner END)
            ON CONFLICT DO NOTHING""", json.dumps(events, default=str))
    return int(result.split()[-1])


async def claim_due(conn: Connection, limit: int, lease_s: float) -> list[dict[str, Any]]:
    """Pending deliveries that are due, leased for ``lease_s``, with their event and subscription."""
    recs = await conn.fetch(
        f"""WITH due AS (SELECT subscription_id, event_id FROM {SCHEMA}.webhook_delivery
                        WHERE state = 'pending' AND next_attempt_at <= now()
                        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED),
                leased AS (UPDATE {SCHEMA}.webhook_delivery d SET next_attempt_at = now() + make_interval(secs => $2)
                           FROM due WHERE d.subscription_id = due.subscription_id AND d.event_id = due.event_id
                           RETURNING d.subscription_id, d.event_id, d.attempts)
            SELECT l.subscription_id, l.event_id, l.attempts, e.event_type, e.payload, e.created_at,
                   s.url, s.secret_sealed, s.secret_version,
                   CASE WHEN s.previous_until > now() THEN s.previous_secret_sealed END AS previous_secret_sealed
            FROM leased l JOIN {SCHEMA}.webhook_event e USING (event_id)
            JOIN {SCHEMA}.webhook_subscription s USING (subscription_id)""", limit, lease_s)
    out = []
    for r in recs:
        row = dict(r)
        if isinstance(row["payload"], str):
            row["payload"] = json.loads(row["payload"])
        out.append(row)
    return out


async def record_attempt(conn: Connection, *, subscription_id: uuid.UUID, event_id: uuid.UUID, attempt: int,
                         status: int | None, error: str, duration_ms: int, outcome: str,
                         retry_in_s: float) -> None:
    """Log the attempt and move the delivery on: ``delivered``, ``parked`` or ``pending`` (retry later)."""
    await conn.execute(
        f"INSERT INTO {SCHEMA}.webhook_attempt (subscription_id, event_id, attempt, status, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6)", subscription_id, event_id, attempt, status, error, duration_ms)
    await conn.execute(
        f"UPDATE {SCHEMA}.webhook_delivery SET attempts = $3, last_status = $4, last_error = $5, state = $6,"
        " delivered_at = CASE WHEN $6 = 'delivered' THEN now() END,"
        " next_attempt_at = now() + make_interval(secs => $7)"
        " WHERE subscription_id = $1 AND event_id = $2",
        subscription_id, event_id, attempt, status, error, outcome, retry_in_s)


async def deliveries(conn: Connection, subscription_id: str, state: str | None, limit: int,
                     offset: int) -> list[dict[str, Any]]:
    recs = await conn.fetch(
        f"SELECT d.event_id, e.event_type, d.state, d.attempts, d.last_status, d.last_error, d.next_attempt_at,"
        f" d.delivered_at, d.created_at FROM {SCHEMA}.webhook_delivery d JOIN {SCHEMA}.webhook_event e USING (event_id)"
        " WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.state = $2)"
        " ORDER BY d.created_at, d.event_id LIMIT $3 OFFSET $4", uuid.UUID(subscription_id), state, limit, offset)
    return [{**dict(r), "event_id": str(r["event_id"])} for r in recs]


async def attempts(conn: Connection, subscription_id: str, event_id: uuid.UUID) -> list[dict[str, Any]]:
    recs = await conn.fetch(
        f"SELECT attempt, at, status, error, duration_ms FROM {SCHEMA}.webhook_attempt"
        " WHERE subscription_id = $1 AND event_id = $2 ORDER BY attempt_id", uuid.UUID(subscription_id), event_id)
    return [dict(r) for r in recs]


async def replay(conn: Connection, subscription_id: str, event_ids: list[uuid.UUID] | None,
                 states: list[str]) -> int:
    """Send deliveries again now (the given events, or every delivery in ``states``); attempts start over."""
    result = await conn.execute(
        f"UPDATE {SCHEMA}.webhook_delivery SET state = 'pending', attempts = 0, next_attempt_at = now()"
        " WHERE subscription_id = $1 AND ($2::uuid[] IS NULL OR event_id = ANY($2)) AND state = ANY($3)",
        uuid.UUID(subscription_id), event_ids, states)
    return int(result.split()[-1])
