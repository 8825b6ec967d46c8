"""Polls every service's ``/readyz`` (the master's up/down history, stored) and the FEP replicas'
``/metrics`` (per port: links, frames, illegal frames — the channels' figures, kept in memory with the
last poll's increase for the illegal-frame rule)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

from emms_operations import metrics
from emms_operations.health.fep_api import FepApi
from emms_operations.repository import health as health_sql
from emms_operations.settings import OperationsSettings

log = structlog.get_logger("emms.operations.health")


@dataclass
class PortFigures:
    connections: float = 0.0
    frames_in: float = 0.0
    frames_out: float = 0.0
    illegal: float = 0.0
    logins: float = 0.0

    def as_public(self) -> dict[str, float]:
        return {"connections": self.connections, "frames_in": self.frames_in, "frames_out": self.frames_out,
                "illegal_frames": self.illegal, "logins": self.logins}


def parse_fep_metrics(text: str) -> dict[str, PortFigures]:
    """Per-port figures from one FEP replica's Prometheus text."""
    ports: dict[str, PortFigures] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            port = sample.labels.get("port")
            if port is None:
                continue
            fig = ports.setdefault(port, PortFigures())
            if sample.name == "emms_fep_connections":
                fig.connections += sample.value
            elif sample.name == "emms_fep_frames_total":
                if sample.labels.get("direction") == "in":
                    fig.frames_in += sample.value
                else:
                    fig.frames_out += sample.value
            elif sample.name == "emms_fep_illegal_frames_total":
                fig.illegal += sample.value
            elif sample.name == "emms_fep_logins_total":
                fig.logins += sample.value
    return ports


@dataclass
class HealthPoller:
    pool: asyncpg.Pool
    settings: OperationsSettings
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    """service → {up, checked_at, detail, body} of the last poll."""
    ports: dict[str, PortFigures] = field(default_factory=dict)
    """port → figures summed over the FEP replicas, as of the last scrape."""
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    """port → (frames in, illegal frames) counted between the last two scrapes."""
    scraped_at: datetime | None = None
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    """port → {requests, answered, success_rate} from the FEP API (empty when not readable)."""
    busy: set[str] = field(default_factory=set)
    """Ports that carried at least ``faults.channel_min_links`` links at a scrape (a channel in use)."""
    _purged_at: datetime | None = None
    _api: FepApi = field(init=False)

    def __post_init__(self) -> None:
        self._api = FepApi(self.settings)

    def port_windows(self) -> dict[str, tuple[float, float]]:
        return dict(self.windows)

    def port_links(self) -> dict[str, tuple[float, bool]]:
        """port → (links at the last scrape, whether the port carried a channel's worth of links before)."""
        return {p: (f.connections, p in self.busy) for p, f in self.ports.items()}

    async def _ready(self, client: httpx.AsyncClient, name: str, base: str) -> tuple[bool, str, Any]:
        try:
            resp = await client.get(base.rstrip("/") + "/readyz")
        except httpx.HTTPError as exc:
            return False, f"unreachable: {exc!r}"[:300], None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code == 200:
            return True, "ready", body
        checks = body.get("checks") if isinstance(body, dict) else None
        return False, f"HTTP {resp.status_code}: {checks}"[:300], body

    async def _scrape(self, client: httpx.AsyncClient) -> dict[str, PortFigures] | None:
        urls = self.settings.fep_metrics_urls or (
            [self.settings.services["fep"].rstrip("/") + "/metrics"] if "fep" in self.settings.services else [])
        if not urls:
            return None
        total: dict[str, PortFigures] = {}
        for url in urls:
            try:
                resp = await client.get(url)
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("FEP metrics not scraped", url=url, error=repr(exc))
                return None
            for port, fig in parse_fep_metrics(resp.text).items():
                t = total.setdefault(port, PortFigures())
                t.connections += fig.connections
                t.frames_in += fig.frames_in
                t.frames_out += fig.frames_out
                t.illegal += fig.illegal
                t.logins += fig.logins
        return total

    async def step(self) -> None:
        at = self.now()
        async with httpx.AsyncClient(timeout=self.settings.poll_timeout_s) as client:
            names = list(self.settings.services)
            results = await asyncio.gather(*(self._ready(client, n, self.settings.services[n]) for n in names))
            scraped = await self._scrape(client)
            requests = await self._api.ports(client)
        rows = []
        for name, (up, detail, body) in zip(names, results, strict=True):
            self.latest[name] = {"up": up, "checked_at": at, "detail": detail, "body": body}
            rows.append((name, at, up, detail))
            metrics.SERVICE_UP.labels(service=name).set(1 if up else 0)
        self.requests = requests or {}
        if scraped is not None:
            self.windows = {p: (max(f.frames_in - self.ports.get(p, PortFigures()).frames_in, 0.0),
                                max(f.illegal - self.ports.get(p, PortFigures()).illegal, 0.0))
                            for p, f in scraped.items()} if self.ports else {}
            self.ports, self.scraped_at = scraped, at
            self.busy |= {p for p, f in scraped.items() if f.connections >= self.settings.faults.channel_min_links}
        async with self.pool.acquire() as conn:
            await health_sql.insert_polls(conn, rows)
            if self._purged_at is None or at - self._purged_at > timedelta(hours=1):
                await health_sql.purge(conn, at - timedelta(days=self.settings.health_retention_days))
                self._purged_at = at
