"""The FEP replicas' per-port request figures (``GET /api/v1/fep/ports``: requests, answered — the
communication success rate per port), read with a bearer token: an API client's (OAuth2 client credentials at
the identity service) or, outside production where development tokens are accepted, a development token."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from emms_operations.settings import OperationsSettings
from emms_runtime.auth import issue_token

log = structlog.get_logger("emms.operations.fep_api")


@dataclass
class FepApi:
    settings: OperationsSettings
    _token: str | None = None
    _expires: float = 0.0

    def urls(self) -> list[str]:
        if self.settings.fep_api_urls:
            return list(self.settings.fep_api_urls)
        base = self.settings.services.get("fep")
        return [base] if base else []

    async def _bearer(self, client: httpx.AsyncClient) -> str | None:
        if self._token is not None and time.monotonic() < self._expires:
            return self._token
        api = self.settings.api_client
        if api.client_id and api.client_secret_file is not None:
            secret = api.client_secret_file.read_text().strip()
            resp = await client.post(api.token_url, data={"grant_type": "client_credentials"},
                                     auth=(api.client_id, secret))
            resp.raise_for_status()
            body = resp.json()
            self._token, ttl = str(body["access_token"]), float(body.get("expires_in", 300))
        elif self.settings.environment != "production" and self.settings.auth.accept_dev_tokens:
            self._token, ttl = issue_token(self.settings.auth, "operations", "viewer", ttl_s=600), 600.0
        else:
            return None
        self._expires = time.monotonic() + max(ttl - 60.0, 10.0)
        return self._token

    async def ports(self, client: httpx.AsyncClient) -> dict[str, dict[str, Any]] | None:
        """port → {requests, answered, success_rate} summed over the replicas; None when not readable."""
        urls = self.urls()
        if not urls:
            return None
        try:
            token = await self._bearer(client)
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            log.warning("no token for the FEP API", error=repr(exc))
            return None
        if token is None:
            return None
        total: dict[str, dict[str, Any]] = {}
        for url in urls:
            try:
                resp = await client.get(url.rstrip("/") + "/api/v1/fep/ports",
                                        headers={"Authorization": f"Bearer {token}"})
                resp.raise_for_status()
                rows = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("FEP ports not read", url=url, error=repr(exc))
                self._token = None if isinstance(exc, httpx.HTTPStatusError) else self._token
                return None
            for row in rows:
                t = total.setdefault(str(row["port"]), {"requests": 0, "answered": 0})
                t["requests"] += int(row.get("requests") or 0)
                t["answered"] += int(row.get("answered") or 0)
        for t in total.values():
            t["success_rate"] = round(t["answered"] / t["requests"], 4) if t["requests"] else None
        return total
