"""The bearer token a report's upstream requests carry.

A request's own token is forwarded (the caller's roles and data scope hold upstream). A scheduled
delivery has no caller: it uses a token of the reports service's API client from the identity
service's token endpoint (client credentials), kept until shortly before it expires; without a
configured client (development, tests) a development token of ``upstream.dev_token_role``.
"""

from __future__ import annotations

import time

import httpx

from emms_reports.settings import ReportsSettings
from emms_runtime import Unavailable
from emms_runtime.auth import issue_token


class ServiceToken:
    def __init__(self, settings: ReportsSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        self._token: str | None = None
        self._until = 0.0

    async def get(self) -> str:
        if self._token is not None and time.monotonic() < self._until:
            return self._token
        up = self._settings.upstream
        if up.client_id is None or up.client_secret is None:
            if self._settings.environment == "production":
                raise Unavailable("no API client for scheduled reports: set EMMS_REPORTS_UPSTREAM__CLIENT_ID and"
                                  " EMMS_REPORTS_UPSTREAM__CLIENT_SECRET")
            self._token = issue_token(self._settings.auth, "emms-reports", up.dev_token_role, ttl_s=3600)
            self._until = time.monotonic() + 3000
            return self._token
        resp = await self._client.post(up.token_url, data={"grant_type": "client_credentials"},
                                       auth=(up.client_id, up.client_secret.get_secret_value()))
        if resp.status_code != 200:
            raise Unavailable(f"the identity service refused the reports client's token: {resp.status_code}"
                              f" {resp.text[:200]}")
        body = resp.json()
        self._token = str(body["access_token"])
        self._until = time.monotonic() + max(5.0, float(body.get("expires_in", 300)) - 30)
        return self._token
