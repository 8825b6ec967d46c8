"""The token endpoint's rate limits: per username and per client address, 429 with Retry-After in
the RFC 6749 error shape, counted before any password is checked."""

from __future__ import annotations

import secrets

import httpx
import pytest
from identity_harness import settings

from emms_bus import KafkaSettings
from emms_identity.app import create_app
from emms_identity.settings import ThrottleSettings

pytestmark = pytest.mark.integration


async def test_too_many_attempts_are_429_with_retry_after(database_url: str, kafka_settings: KafkaSettings) -> None:
    config = settings(database_url, kafka_settings, audit_access_denied=False,
                      throttle=ThrottleSettings(per_username=3, per_address=6, per_client=3))
    app = create_app(config)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
        form = {"grant_type": "password", "username": f"target-{secrets.token_hex(3)}", "password": "guess"}
        answers = [await client.post("/oauth/token", data=form) for _ in range(4)]
        assert [a.status_code for a in answers] == [400, 400, 400, 429]
        assert int(answers[3].headers["retry-after"]) >= 1
        assert answers[3].json()["error"] == "too_many_requests"
        assert "3 token requests a minute for username" in answers[3].json()["error_description"]
        others = [await client.post("/oauth/token", data={**form, "username": f"u{i}"}) for i in range(3)]
        assert [a.status_code for a in others] == [400, 400, 429], "the address's own limit"
