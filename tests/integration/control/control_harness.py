"""Running the control service in the test's event loop; tokens; a tariff and an account to start from."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from service_harness import FreshBearer, in_process

from emms_bus import KafkaSettings
from emms_control.app import create_app
from emms_control.runtime import ControlRuntime
from emms_control.settings import ControlSettings
from emms_db.settings import DatabaseSettings

DAY = [{"start": s, "end": e, "period": p} for s, e, p in (
    ("23:00", "07:00", "valley"), ("07:00", "10:00", "flat"), ("10:00", "12:00", "peak"), ("12:00", "19:00", "flat"),
    ("19:00", "21:00", "sharp"), ("21:00", "23:00", "peak"))]
PRICES = {"e_residential": {"sharp": "1.0", "peak": "0.8", "flat": "0.6", "valley": "0.3"}}
TIERS = {"basis": "month", "blocks": [{"up_to": "100", "surcharge": "0"}, {"up_to": "200", "surcharge": "0.05"},
                                      {"up_to": None, "surcharge": "0.3"}]}


def token(role: str = "operator", *, step_up: bool = True, **scope: tuple[str, ...]) -> FreshBearer:
    """Headers of ``role``; the token is signed at each request, so a step-up never goes stale in a long run."""
    return FreshBearer(f"test-{role}", role, step_up=step_up, **scope)


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class Control:
    app: FastAPI
    cr: ControlRuntime
    client: httpx.AsyncClient

    async def tariff(self, **changes: Any) -> str:
        tariff_id = uid("T")
        version = {"effective_from": "2026-01-01T00:00:00+08:00", "day_table": DAY, "prices": PRICES,
                   "tiers": TIERS, **changes}
        resp = await self.client.post("/api/v1/tariffs", headers=token(), json={
            "tariff_id": tariff_id, "utility": "electricity", "name": "residential TOU", "version": version})
        assert resp.status_code == 201, resp.text
        return tariff_id

    async def account(self, tariff_id: str, meter_id: str, *, company: str = "CO-A",
                      charge_from: str = "2026-02-01T00:00:00+08:00",
                      **headers_scope: tuple[str, ...]) -> dict[str, Any]:
        resp = await self.client.post("/api/v1/accounts", headers=token(**headers_scope), json={
            "customer_id": uid("C"), "company_id": company, "region_id": f"{company}-R1", "utility": "electricity",
            "category": "e_residential", "tariff_id": tariff_id, "meters": [{"meter_id": meter_id}],
            "charge_from": charge_from})
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        return body


def control_settings(database_url: str, kafka: KafkaSettings) -> ControlSettings:
    return ControlSettings(_env_file=None, environment="test", instance_id=f"control-{secrets.token_hex(2)}",  # type: ignore[call-arg]
                           database=DatabaseSettings(url=database_url), kafka=kafka, shutdown_grace_s=5.0)


@contextlib.asynccontextmanager
async def running_control(database_url: str, kafka: KafkaSettings) -> AsyncIterator[Control]:
    async with in_process(create_app(control_settings(database_url, kafka)), "http://control") as (app, cr, client):
        assert isinstance(cr, ControlRuntime)
        yield Control(app, cr, client)
