"""Webhooks survive a receiver that is down: deliveries retried with back-off, nothing lost, each event id
delivered once; a rotated secret still verifies with the old one during the overlap; a delivery the
receiver refuses is parked after the last attempt and replayed on request. Secrets are stored sealed only
(clear rows of before are sealed by the service); a URL whose host resolves to a refused address is refused
at subscription and, when it comes to resolve there later, at delivery."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Stack
from interface_harness import Receiver, eventually
from service_harness import FreshBearer

from emms_interface.schema import SCHEMA
from emms_interface.webhooks.signing import new_secret
from emms_messages.events import Anomaly, EventClass

pytestmark = pytest.mark.integration
ADMIN = FreshBearer("ops-system", "admin")


def _anomaly(run: str, i: int) -> Anomaly:
    now = datetime.now(UTC)
    return Anomaly(anomaly_id=f"a-{run}-{i}", meter_id=f"m-{run}-{i}", rule="reverse_flow",
                   item="energy.active.import.total", data_time=now, severity=EventClass.IMPORTANT,
                   values={"delta": -i}, detected_at=now)


async def _async(value: object) -> object:
    return value


@pytest.mark.parametrize("outage_s", [pytest.param(3.0, id="seconds"),
                                      pytest.param(300.0, id="five-minutes",
                                                   marks=[pytest.mark.slow, pytest.mark.timeout(600)])])
async def test_a_receiver_down_for_a_while_loses_nothing_and_gets_each_event_once(stack: Stack,
                                                                                   outage_s: float) -> None:
    run = secrets.token_hex(3)
    # back-off up to 10 s in the long outage: 60 attempts outlast it (no delivery parks meanwhile)
    stack.rt.dispatcher._settings = stack.rt.settings.webhooks.model_copy(
        update={"max_backoff_s": 10.0 if outage_s > 60 else 1.0})
    receiver = Receiver()  # not listening yet: connections are refused
    resp = await stack.interface.post("/api/v1/webhooks/subscriptions", headers=ADMIN,
                                      json={"url": receiver.url, "events": ["anomaly.detected"]})
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    old_secret = sub["secret"]
    receiver.secrets.append(old_secret)
    anomalies = [_anomaly(run, i) for i in range(20)]
    for a in anomalies:
        await stack.producer.publish(a)
    await stack.producer.publish(anomalies[3])  # a redelivered message: the same event

    async def failing() -> bool:
        log = (await stack.interface.get(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries",
                                         headers=ADMIN)).json()
        ours = [d for d in log if d["state"] == "pending" and d["attempts"] >= 2]
        return len(log) == 20 and len(ours) == 20

    await eventually(failing, 60)  # every event queued, each tried and refused at least twice
    await asyncio.sleep(outage_s)  # the outage goes on: still nothing lost

    # the secret is rotated meanwhile; the receiver still knows only the old one (both sign in the overlap)
    rotated = await stack.interface.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/rotate-secret",
                                         headers=ADMIN)
    assert rotated.status_code == 200 and rotated.json()["secret"] != old_secret
    assert rotated.json()["secret_version"] == 2

    await receiver.up()
    try:
        await eventually(lambda: _async(len(set(receiver.event_ids())) >= 20), 60)
        stack.rt.dispatcher._settings = stack.rt.settings.webhooks
        await asyncio.sleep(1.0)
        log = (await stack.interface.get(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries",
                                         headers=ADMIN)).json()
        assert {d["state"] for d in log} == {"delivered"} and len(log) == 20
        ids = receiver.event_ids()
        assert len(ids) == len(set(ids)) == 20, "each event once"
        assert sorted(d["body"]["data"]["anomaly_id"] for d in receiver.deliveries) == sorted(
            a.anomaly_id for a in anomalies)
        assert receiver.bad_signatures == 0
        assert {d["headers"]["x-emms-secret-version"] for d in receiver.deliveries} == {"2"}
        attempts = (await stack.interface.get(
            f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries/{ids[0]}/attempts",
            headers=ADMIN)).json()
        assert len(attempts) >= 3 and attempts[-1]["status"] == 200
        assert all(a["status"] is None and "Connect" in a["error"] for a in attempts[:-1])
    finally:
        await receiver.down()


async def test_a_refused_delivery_is_parked_and_replayed(stack: Stack) -> None:
    run = secrets.token_hex(3)
    receiver = Receiver()  # knows no secret yet: answers 401 to everything
    await receiver.up()
    try:
        resp = await stack.interface.post("/api/v1/webhooks/subscriptions", headers=ADMIN,
                                          json={"url": receiver.url, "events": ["anomaly.detected"]})
        sub = resp.json()
        stack.rt.dispatcher._settings = stack.rt.settings.webhooks.model_copy(update={"max_attempts": 3})
        try:
            await stack.producer.publish(_anomaly(run, 0))

            async def parked() -> list[dict] | None:
                log = (await stack.interface.get(
                    f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries?state=parked",
                    headers=ADMIN)).json()
                return log or None

            (entry,) = await eventually(parked, 60)
            assert entry["attempts"] == 3 and entry["last_status"] == 401
            receiver.secrets.append(sub["secret"])  # the receiver is fixed
            replay = await stack.interface.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/replay",
                                                headers=ADMIN, json={})
            assert replay.json() == {"replayed": 1}
            await eventually(lambda: _async(len(receiver.deliveries) == 1), 30)
            assert receiver.deliveries[0]["body"]["event_id"] == entry["event_id"]
        finally:
            stack.rt.dispatcher._settings = stack.rt.settings.webhooks
    finally:
        await receiver.down()


async def _row_text(stack: Stack, subscription_id: str) -> tuple[dict[str, Any], str]:
    async with stack.rt.pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT s.*, s::text AS whole FROM {SCHEMA}.webhook_subscription s"
                                  " WHERE subscription_id = $1::uuid", subscription_id)
    assert row is not None
    return dict(row), row["whole"]


async def test_secrets_are_stored_sealed_and_deliveries_verify_with_the_secret_shown(stack: Stack) -> None:
    run = secrets.token_hex(3)
    receiver = Receiver()
    await receiver.up()
    try:
        sub = (await stack.interface.post("/api/v1/webhooks/subscriptions", headers=ADMIN,
                                          json={"url": receiver.url, "events": ["anomaly.detected"]})).json()
        rotated = (await stack.interface.post(
            f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/rotate-secret", headers=ADMIN)).json()
        row, whole = await _row_text(stack, sub["subscription_id"])
        assert row["secret"] is None and row["previous_secret"] is None
        assert row["secret_sealed"] and row["previous_secret_sealed"]
        for shown in (sub["secret"], rotated["secret"]):
            assert shown not in whole and shown.encode() not in row["secret_sealed"] + row["previous_secret_sealed"]
        receiver.secrets.append(rotated["secret"])
        await stack.producer.publish(_anomaly(run, 0))
        await eventually(lambda: _async(len(receiver.deliveries) == 1), 30)
        receiver.secrets[:] = [sub["secret"]]  # the old one signs too during the overlap
        await stack.producer.publish(_anomaly(run, 1))
        await eventually(lambda: _async(len(receiver.deliveries) == 2), 30)
        assert receiver.bad_signatures == 0

        # a subscription stored in clear text before the secrets were sealed: sealed when the service starts
        clear = new_secret()
        async with stack.rt.pool.acquire() as conn:
            await conn.execute(f"UPDATE {SCHEMA}.webhook_subscription SET secret = $2, secret_sealed = NULL,"
                               " previous_secret = NULL, previous_secret_sealed = NULL"
                               " WHERE subscription_id = $1::uuid", sub["subscription_id"], clear)
        await stack.rt.dispatcher.seal_stored(renew=True)  # what the start-up does
        row, whole = await _row_text(stack, sub["subscription_id"])
        assert row["secret"] is None and clear not in whole and row["secret_sealed"]
        receiver.secrets[:] = [clear]
        await stack.producer.publish(_anomaly(run, 2))
        await eventually(lambda: _async(len(receiver.deliveries) == 3), 30)
        assert receiver.bad_signatures == 0
    finally:
        await receiver.down()


async def test_a_refused_address_is_refused_at_subscription_and_at_delivery(stack: Stack) -> None:
    run = secrets.token_hex(3)
    receiver = Receiver()
    await receiver.up()
    allowing = stack.rt.dispatcher.policy
    try:
        sub = (await stack.interface.post("/api/v1/webhooks/subscriptions", headers=ADMIN,
                                          json={"url": receiver.url, "events": ["anomaly.detected"]})).json()
        receiver.secrets.append(sub["secret"])
        stack.rt.dispatcher.policy = replace(allowing, allow_private=False)  # as in production
        refused = await stack.interface.post("/api/v1/webhooks/subscriptions", headers=ADMIN,
                                             json={"url": receiver.url, "events": ["anomaly.detected"]})
        assert refused.status_code == 422
        assert "'127.0.0.1' resolves to 127.0.0.1 (loopback)" in refused.text
        assert "allow_private_targets" in refused.text
        # the subscription made before: its target is refused now, nothing is sent, the attempt says why
        await stack.producer.publish(_anomaly(run, 0))

        async def tried() -> list[dict[str, Any]] | None:
            log = (await stack.interface.get(
                f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries", headers=ADMIN)).json()
            return [d for d in log if d["attempts"] >= 1] or None

        (entry,) = await eventually(tried, 30)
        assert entry["state"] == "pending" and entry["last_status"] is None
        assert entry["last_error"].startswith("refused: url: host '127.0.0.1' resolves to 127.0.0.1 (loopback)")
        assert receiver.deliveries == [] and receiver.bad_signatures == 0
        stack.rt.dispatcher.policy = allowing
        await eventually(lambda: _async(len(receiver.deliveries) == 1), 30)
    finally:
        stack.rt.dispatcher.policy = allowing
        await receiver.down()
