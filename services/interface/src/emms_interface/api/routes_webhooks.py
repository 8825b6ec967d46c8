"""``/api/v1/webhooks``: subscriptions, secret rotation, the delivery log and replay."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from emms_interface.api.deps import Runtime, Subscriber
from emms_interface.api.responses import Attempt, Delivery, Replayed, Subscription, SubscriptionWithSecret
from emms_interface.repository import webhooks as repo
from emms_interface.webhooks import targets
from emms_interface.webhooks.events import BUS_EVENT_TYPES, EVENT_TYPES
from emms_interface.webhooks.signing import new_secret
from emms_runtime import Forbidden, Invalid, NotFound, Principal

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))


class ReplayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000,
                                              description="these events; none: every delivery in `states`")
    states: list[str] = Field(default_factory=lambda: ["parked"])


async def _own(rt: Any, principal: Principal, subscription_id: str) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        sub = await repo.subscription(conn, subscription_id)
    if sub is None or sub["owner"] != principal.key:
        raise NotFound(f"no webhook subscription {subscription_id} of yours")
    return sub


@router.post("/subscriptions", response_model=SubscriptionWithSecret, status_code=201,
             summary="Subscribe a URL to events; the answer holds the signing secret, once")
async def subscribe(rt: Runtime, principal: Subscriber, body: Annotated[NewSubscription, Body(openapi_examples={
        "billing": {"value": {"url": "https://billing.example/emms/hooks",
                              "events": ["workorder.completed", "readings.ready"]}}})]) -> dict[str, Any]:
    try:
        targets.check_url(rt.dispatcher.policy, body.url)
    except targets.TargetRefused as exc:
        raise Invalid(str(exc)) from None
    unknown = sorted(set(body.events) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(f"events: unknown {unknown}; known: {list(EVENT_TYPES)}")
    if set(body.events) & set(BUS_EVENT_TYPES) and not principal.unrestricted:
        raise Forbidden(f"{sorted(set(body.events) & set(BUS_EVENT_TYPES))} cover every company's meters: only a"
                        " caller without a company / region restriction may subscribe to them")
    try:  # the addresses its host resolves to now (again before every delivery)
        await targets.resolve(rt.dispatcher.policy, body.url)
    except targets.TargetRefused as exc:
        raise Invalid(str(exc)) from None
    secret = new_secret()
    async with rt.pool.acquire() as conn:
        sub = await repo.create_subscription(conn, owner=principal.key, url=body.url, events=sorted(set(body.events)),
                                             companies=list(principal.companies),
                                             secret_sealed=rt.dispatcher.sealer.seal(secret))
    return {**sub, "secret": secret}


@router.get("/subscriptions", response_model=list[Subscription], summary="Your subscriptions")
async def subscriptions(rt: Runtime, principal: Subscriber) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return await repo.subscriptions(conn, principal.key)


@router.post("/subscriptions/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret,
             summary="A new signing secret; the previous one keeps signing (second signature) during the overlap")
async def rotate(rt: Runtime, principal: Subscriber, subscription_id: str) -> dict[str, Any]:
    await _own(rt, principal, subscription_id)
    secret = new_secret()
    async with rt.pool.acquire() as conn, conn.transaction():
        await repo.seal_stored(conn, rt.dispatcher.sealer, subscription_id=subscription_id)  # an older replica's row
        sub = await repo.rotate_secret(conn, subscription_id, rt.dispatcher.sealer.seal(secret),
                                       rt.settings.webhooks.rotation_overlap_s)
    return {**sub, "secret": secret}


@router.post("/subscriptions/{subscription_id}/active", response_model=Subscription,
             summary="Pause (false) or resume (true) a subscription; paused deliveries wait")
async def set_active(rt: Runtime, principal: Subscriber, subscription_id: str,
                     active: Annotated[bool, Query()]) -> dict[str, Any]:
    await _own(rt, principal, subscription_id)
    async with rt.pool.acquire() as conn:
        await repo.set_active(conn, subscription_id, active)
    return await _own(rt, principal, subscription_id)


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=list[Delivery],
            summary="The delivery log: every event for this subscription and its state")
async def deliveries(rt: Runtime, principal: Subscriber, subscription_id: str,
                     state: Annotated[str | None, Query(pattern="^(pending|delivered|parked)$")] = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                     offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0) -> list[dict[str, Any]]:
    await _own(rt, principal, subscription_id)
    async with rt.pool.acquire() as conn:
        return await repo.deliveries(conn, subscription_id, state, limit, offset)


@router.get("/subscriptions/{subscription_id}/deliveries/{event_id}/attempts", response_model=list[Attempt],
            summary="Every attempt to deliver one event")
async def attempts(rt: Runtime, principal: Subscriber, subscription_id: str,
                   event_id: uuid.UUID) -> list[dict[str, Any]]:
    await _own(rt, principal, subscription_id)
    async with rt.pool.acquire() as conn:
        return await repo.attempts(conn, subscription_id, event_id)


@router.post("/subscriptions/{subscription_id}/replay", response_model=Replayed,
             summary="Send events again (parked ones by default, or the given event ids)")
async def replay(rt: Runtime, principal: Subscriber, subscription_id: str, body: ReplayBody) -> dict[str, Any]:
    await _own(rt, principal, subscription_id)
    bad = sorted(set(body.states) - {"pending", "delivered", "parked"})
    if bad:
        raise Invalid(f"states: unknown {bad}")
    async with rt.pool.acquire() as conn:
        n = await repo.replay(conn, subscription_id, body.event_ids, body.states)
    rt.dispatcher.poke()
    return {"replayed": n}
