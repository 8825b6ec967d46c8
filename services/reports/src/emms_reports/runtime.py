"""The reports service's domain state: the runner, the stored definitions, the scheduled delivery."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import httpx

from emms_reports.dedicated import DEDICATED
from emms_reports.definition import ReportDefinition
from emms_reports.delivery import Delivery
from emms_reports.repository import definitions as repo
from emms_reports.run import Runner
from emms_reports.settings import ReportsSettings
from emms_reports.tokens import ServiceToken
from emms_runtime import NotFound


@dataclass
class ReportsRuntime:
    settings: ReportsSettings
    pool: asyncpg.Pool
    client: httpx.AsyncClient
    runner: Runner
    token: ServiceToken
    delivery: Delivery

    @classmethod
    def build(cls, settings: ReportsSettings, pool: asyncpg.Pool,
              transport: httpx.AsyncBaseTransport | None = None) -> ReportsRuntime:
        client = httpx.AsyncClient(timeout=httpx.Timeout(settings.upstream.timeout_s, connect=10.0),
                                   transport=transport)
        runner = Runner(settings, client)
        token = ServiceToken(settings, client)
        holder: dict[str, ReportsRuntime] = {}

        async def definition_of(report: str) -> ReportDefinition:
            return await holder["rt"].definition_of(report)

        rt = cls(settings, pool, client, runner, token, Delivery(runner, pool, token, definition_of))
        holder["rt"] = rt
        return rt

    async def definition_of(self, report: str, version: int | None = None) -> ReportDefinition:
        """A dedicated report by name, or a stored definition by id (its latest version unless asked)."""
        if report in DEDICATED:
            return DEDICATED[report]
        async with self.pool.acquire() as conn:
            found = await repo.get(conn, report, version)
        if found is None:
            raise NotFound(f"no report {report!r}" + (f" version {version}" if version else "")
                           + f": dedicated reports are {', '.join(DEDICATED)}, or a stored definition id")
        return ReportDefinition.model_validate(found["body"])

    async def close(self) -> None:
        await self.client.aclose()
