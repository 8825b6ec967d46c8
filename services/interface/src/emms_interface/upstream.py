"""Calls to the owning services (archive, collector, control, analytics) with this service's identity.

A 4xx of the owner comes back to the caller as the same status with the owner's reason
(``UpstreamRefused``, mapped to the domain error of that status); an owner that is down or answers
5xx is ``UpstreamDown`` (retriable: jobs try again later, a request answers 503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from emms_interface.settings import InterfaceSettings
from emms_runtime import BadRequest, Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from emms_runtime.auth import issue_token

SERVICES = ("archive", "collector", "control", "analytics")


def seg(value: object) -> str:
    """``value`` as one path segment of an owner's URL: percent-encoded, so that a caller's id can
    neither leave its segment (``/``, ``?``, ``..``) nor make the URL invalid (control characters)."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


class UpstreamRefused(Exception):
    """The owning service refused the request (4xx): the caller's request is wrong."""

    def __init__(self, service: str, status: int, reason: str) -> None:
        super().__init__(f"{service} refused ({status}): {reason}")
        self.service = service
        self.status = status
        self.reason = reason

    def domain_error(self) -> DomainError:
        kind = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}.get(self.status, Invalid)
        return kind(f"{self.service}: {self.reason}")


class UpstreamDown(Exception):
    """The owning service did not answer or failed (5xx, timeout, refused connection)."""


class TokenSource:
    """This service's bearer token: a client-credentials grant, or a development token (not in production)."""

    def __init__(self, settings: InterfaceSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        self._token: str | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._until:
                self._token, ttl = await self._fetch()
                self._until = time.monotonic() + max(5.0, ttl - 30.0)
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        up = self._settings.upstream
        if up.client_id and up.client_secret:
            try:
                resp = await self._client.post(up.token_url, data={"grant_type": "client_credentials"},
                                               auth=(up.client_id, up.client_secret.get_secret_value()))
            except httpx.HTTPError as exc:
                raise UpstreamDown(f"identity: token endpoint unreachable: {exc!r}") from None
            if resp.status_code != 200:
                raise UpstreamDown(f"identity refused the interface's client ({resp.status_code}): {resp.text[:200]}")
            body = resp.json()
            return str(body["access_token"]), float(body.get("expires_in", 300))
        if self._settings.environment == "production":
            raise UpstreamDown("the interface has no API client: set EMMS_INTERFACE_UPSTREAM__CLIENT_ID and"
                               " EMMS_INTERFACE_UPSTREAM__CLIENT_SECRET (identity client, trust internal,"
                               " role operator)")
        return issue_token(self._settings.auth, "svc-interface", "operator", ttl_s=900, step_up=True), 900.0


def _reason(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:300]


class Upstream:
    """One HTTP client per owning service."""

    def __init__(self, settings: InterfaceSettings,
                 transports: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
        up = settings.upstream
        urls = {"archive": up.archive_url, "collector": up.collector_url, "control": up.control_url,
                "analytics": up.analytics_url}
        transports = transports or {}
        self._clients = {name: httpx.AsyncClient(base_url=urls[name], timeout=up.timeout_s,
                                                 transport=transports.get(name)) for name in SERVICES}
        self._plain = httpx.AsyncClient(timeout=up.timeout_s, transport=transports.get("identity"))
        self.tokens = TokenSource(settings, self._plain)

    async def aclose(self) -> None:
        for client in (*self._clients.values(), self._plain):
            await client.aclose()

    async def call(self, service: str, method: str, path: str, *, json: Any = None,
                   params: Any = None, bearer: str | None = None) -> Any:
        """The owner's JSON answer; ``bearer`` forwards the caller's own token instead of the service's."""
        token = bearer or await self.tokens.token()
        try:
            resp = await self._clients[service].request(method, path, json=json, params=params,
                                                        headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamDown(f"{service} unreachable: {exc!r}") from None
        if resp.status_code >= 500 or resp.status_code in (401, 429):
            raise UpstreamDown(f"{service} answered {resp.status_code}: {_reason(resp)}")
        if resp.status_code >= 400:
            raise UpstreamRefused(service, resp.status_code, _reason(resp))
        return resp.json() if resp.content else None

    async def pages(self, service: str, path: str, body: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a cursor-paged POST query (the archive's ``/readings/query``)."""
        cursor: str | None = None
        while True:
            page = await self.call(service, "POST", path, json={**body, "cursor": cursor})
            yield list(page["rows"])
            cursor = page.get("next_cursor")
            if not cursor:
                return


def as_domain_error(exc: UpstreamRefused | UpstreamDown) -> DomainError:
    """The error the caller sees: the owner's 4xx as the same status, an outage as 503."""
    if isinstance(exc, UpstreamRefused):
        return exc.domain_error()
    return Unavailable(str(exc))
