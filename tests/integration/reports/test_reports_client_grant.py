"""A scheduled delivery has no caller: the reports service signs in as its own API client at the identity
service (client credentials) and the sources accept that token (they verify it with identity's JWKS). A
wrong secret is a failed delivery with identity's refusal recorded."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import date, datetime

import asyncpg
import httpx
import openpyxl
import pytest
from reports_harness import ADMIN, METERS, TZ, World, used

from emms_reports.app import create_app
from emms_reports.settings import ReportsSettings
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = [pytest.mark.integration]


async def _reports(world: World, client_id: str, secret: str, store: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = ReportsSettings(
        _env_file=None, environment="test", instance_id=f"reports-client-{world.run}",
        database=world.state.settings.database, kafka=world.state.settings.kafka, shutdown_grace_s=5.0,
        upstream={"analytics_url": world.analytics_url, "archive_url": world.archive_url,
                  "token_url": f"{world.identity_url}/oauth/token", "client_id": client_id, "client_secret": secret},
        delivery={"store_dir": store, "tick_s": 3600})
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://reports", headers=ADMIN, timeout=120) as c:
        yield c


async def _schedule_due(api: httpx.AsyncClient, database_url: str, target: str) -> str:
    made = await api.post("/api/v1/reports/schedules", json={
        "report": "daily-collection", "format": "xlsx", "cadence": "daily", "at_hour": 1, "target": target})
    assert made.status_code == 201, made.text
    sid = str(made.json()["schedule_id"])
    conn = await asyncpg.connect(database_url)
    try:  # every other schedule of the module's database stays where it is: only this one is due
        await conn.execute("UPDATE reports.schedule SET run_for = $2, next_run_at = now() - interval '1 second'"
                           " WHERE schedule_id = $1", sid, datetime(2026, 2, 11, 1, tzinfo=TZ))
    finally:
        await conn.close()
    return sid


async def test_a_scheduled_run_uses_the_reports_client_token(world: World, database_url: str,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    step_up = {"Authorization": f"Bearer {issue_token(AuthSettings(), 'admin-r', 'admin', step_up=True)}"}
    async with httpx.AsyncClient(base_url=world.identity_url, headers=step_up) as identity:
        made = await identity.post("/api/v1/clients", json={
            "client_id": f"emms-reports-{world.run}", "name": "Scheduled reports", "trust_level": "internal",
            "roles": ["viewer"]})
        assert made.status_code == 201, made.text
        client_id, secret = made.json()["client_id"], made.json()["client_secret"]
    store = tmp_path_factory.mktemp("rpt-client")
    gen = _reports(world, client_id, "not-the-secret", store)
    api = await anext(gen)
    try:
        sid = await _schedule_due(api, database_url, "client/wrong")
        assert (await api.post("/api/v1/reports/schedules/run-due", params={"limit": 1})).json() == {"tried": 1}
        (failed,) = (await api.get(f"/api/v1/reports/schedules/{sid}/deliveries")).json()
        assert failed["status"] == "failed" and "identity service refused" in failed["error"]
        await api.delete(f"/api/v1/reports/schedules/{sid}")
    finally:
        await gen.aclose()

    gen = _reports(world, client_id, secret, store)
    api = await anext(gen)
    try:
        sid = await _schedule_due(api, database_url, "client/ok")
        assert (await api.post("/api/v1/reports/schedules/run-due", params={"limit": 1})).json() == {"tried": 1}
        (done,) = (await api.get(f"/api/v1/reports/schedules/{sid}/deliveries")).json()
        assert done["status"] == "delivered", done
        await api.delete(f"/api/v1/reports/schedules/{sid}")
    finally:
        await gen.aclose()
    ws = openpyxl.load_workbook(io.BytesIO((store / "client" / "ok" / "daily-collection-20260210.xlsx")
                                           .read_bytes())).worksheets[0]
    figures = {r[1]: r[5] for r in ws.iter_rows(min_row=5, values_only=True) if str(r[1]).startswith("RPT-")}
    assert figures == {f"{m}-P": pytest.approx(used(m, date(2026, 2, 10))) for m in METERS}
