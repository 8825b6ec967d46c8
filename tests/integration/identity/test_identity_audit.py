"""The audit log gathers every service's refusals from the bus (``emms.access.denied.v1``) —
the identity service's own included — once each, and filters by actor, action and time."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from identity_harness import Identity

from emms_bus import BusProducer, KafkaSettings
from emms_messages.access import AccessDenied
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration


async def _until(identity: Identity, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    for _ in range(150):
        found = await identity.audit(headers, **params)
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"no audit entry {params}")


async def test_refusals_of_other_services_reach_the_audit_log_once(identity: Identity,
                                                                   kafka_settings: KafkaSettings) -> None:
    subject = f"intruder-{secrets.token_hex(3)}"
    refusal = AccessDenied(event_id=secrets.token_hex(8), service="collector", instance="collector-1",
                           at=datetime.now(UTC), status=403, reason="permission 'collection:run' is needed",
                           method="POST", path="/api/v1/tasks", subject=subject, kind="user", client_ip="10.0.0.9")
    producer = BusProducer(kafka_settings, source="identity-test")
    await producer.start()
    try:
        await producer.publish(refusal)
        await producer.publish(refusal)  # a redelivery
    finally:
        await producer.stop()
    admin = await identity.admin()
    found = await _until(identity, admin, actor=subject)
    await asyncio.sleep(1.0)
    found = await identity.audit(admin, actor=subject)
    assert len(found) == 1
    entry = found[0]
    assert (entry["action"], entry["outcome"], entry["source_service"]) == ("access.denied", "denied", "collector")
    assert entry["target"] == "POST /api/v1/tasks" and entry["client_ip"] == "10.0.0.9"
    assert entry["detail"]["status"] == 403


async def test_the_identity_services_own_refusals_are_audited(identity: Identity) -> None:
    subject = f"viewer-{secrets.token_hex(3)}"
    token = issue_token(AuthSettings(), subject, "viewer")
    resp = await identity.client.post("/api/v1/keys/rotate", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    found = await _until(identity, await identity.admin(), actor=subject, action="access.denied")
    assert found[0]["source_service"] == "identity" and "keys:rotate" in found[0]["reason"]


async def test_filters_by_action_prefix_outcome_and_time(identity: Identity) -> None:
    admin = await identity.admin()
    since = datetime.now(UTC) - timedelta(seconds=1)
    await identity.client.post("/oauth/token", data={"grant_type": "password", "username": "admin",
                                                     "password": "wrong-one"})
    recent = await identity.audit(admin, action="signin", since=since.isoformat())
    assert {e["action"] for e in recent} >= {"signin.success", "signin.failure"}
    assert all(e["action"].startswith("signin.") for e in recent)
    failures = await identity.audit(admin, action="signin", outcome="failure", since=since.isoformat())
    assert failures and all(e["outcome"] == "failure" for e in failures)
    page = await identity.audit(admin, limit=2)
    after = await identity.audit(admin, limit=2, after_id=page[-1]["id"])
    assert after[0]["id"] > page[-1]["id"]
    nothing = await identity.audit(admin, until=(since - timedelta(days=3650)).isoformat())
    assert nothing == []


async def test_the_audit_log_is_append_only(identity: Identity, db: Any) -> None:
    with pytest.raises(Exception, match="append-only"):
        await db.execute("DELETE FROM identity.audit WHERE id = (SELECT min(id) FROM identity.audit)")
