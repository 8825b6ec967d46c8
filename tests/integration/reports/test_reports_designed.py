"""Reports designed online: definitions stored with versions and checked (unknown field → 422 naming it),
preview and export of a stored definition; scheduled delivery to the file store and to a webhook (a real
local HTTP receiver that first answers 500), with the delivery history."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import asyncpg
import openpyxl
import pytest
from fastapi import FastAPI, Request, Response
from reports_harness import METERS, TZ, World, bearer, district, served, usage, used

pytestmark = [pytest.mark.integration]
FEB = {"kind": "fixed", "from": "2026-02-01T00:00:00+08:00", "to": "2026-03-01T00:00:00+08:00"}


def design(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "区域月用量 Region usage", "dataset": "usage", "dimensions": ["region"], "interval": "month",
        "period": FEB, "filters": {"regions": ["RPT-R"]},
        "columns": [{"field": "key", "label": "区域"}, {"field": "usage", "format": "decimal1", "total": "sum"}],
        "signature": ["制表"]}
    body.update(changes)
    return body


async def test_definitions_are_versioned_checked_previewed_and_exported(world: World) -> None:
    api = world.reports
    bad = await api.post("/api/v1/reports/definitions", json=design(columns=[{"field": "voltage"}]))
    assert bad.status_code == 422 and "unknown field 'voltage'" in bad.json()["detail"]
    created = await api.post("/api/v1/reports/definitions", json=design())
    assert created.status_code == 201, created.text
    did = created.json()["definition_id"]
    assert created.json()["version"] == 1
    edited = await api.put(f"/api/v1/reports/definitions/{did}", params={"base_version": 1},
                           json=design(title="区域月用量 v2", columns=[
                               {"field": "key"}, {"field": "metering_points", "format": "integer"},
                               {"field": "usage", "format": "decimal2", "total": "sum"}]))
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = await api.put(f"/api/v1/reports/definitions/{did}", params={"base_version": 1}, json=design())
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    versions = (await api.get(f"/api/v1/reports/definitions/{did}/versions")).json()
    assert [v["version"] for v in versions] == [1, 2] and versions[0]["body"]["title"] == "区域月用量 Region usage"
    assert did in {d["definition_id"] for d in (await api.get("/api/v1/reports/definitions")).json()}

    preview = await api.post("/api/v1/reports/preview", json=edited.json()["body"])
    assert preview.status_code == 200, preview.text
    rows = {r[0]: r for r in preview.json()["rows"]}
    for d in ("RPT-R-1", "RPT-R-2"):
        meters = [m for m in METERS if district(m) == d]
        assert rows[d][1] == 3 and rows[d][2] == pytest.approx(usage(meters, date(2026, 2, 1), date(2026, 3, 1)))

    latest = await api.get(f"/api/v1/reports/definitions/{did}/export", params={"format": "xlsx"})
    ws = openpyxl.load_workbook(io.BytesIO(latest.content)).worksheets[0]
    assert ws["A1"].value == "区域月用量 v2" and [c.value for c in ws[4]][:3] == ["对象 Key", "计量点数 Points",
                                                                                 "用量 Usage"]
    first = await api.get(f"/api/v1/reports/definitions/{did}/export", params={"format": "xlsx", "version": 1})
    ws1 = openpyxl.load_workbook(io.BytesIO(first.content)).worksheets[0]
    assert ws1["A1"].value == "区域月用量 Region usage" and ws1["B5"].number_format == "#,##0.0"
    # a viewer may not store a definition whose period is longer than 93 days
    long = design(period={"kind": "last_days", "days": 200})
    refused = await api.post("/api/v1/reports/definitions", json=long, headers=bearer("viewer"))
    assert refused.status_code == 422 and "at most 93 days" in refused.json()["detail"]
    metrics = (await api.get("/metrics")).text
    assert 'emms_reports_runs_total{format="xlsx",outcome="ok"}' in metrics
    assert 'emms_reports_rows_total{format="xlsx"}' in metrics
    assert (await api.delete(f"/api/v1/reports/definitions/{did}")).status_code == 204
    assert (await api.get(f"/api/v1/reports/definitions/{did}")).status_code == 404


async def _due(database_url: str, schedule_id: str, run_for: datetime) -> None:
    conn = await asyncpg.connect(database_url)
    try:  # the test's clock: the schedule's next run is due now, for the day before run_for
        await conn.execute("UPDATE reports.schedule SET run_for = $2, next_run_at = now() - interval '1 second'"
                           " WHERE schedule_id = $1", schedule_id, run_for)
    finally:
        await conn.close()


async def test_a_daily_schedule_delivers_to_the_file_store_and_records_it(world: World, database_url: str) -> None:
    api = world.reports
    refused = await api.post("/api/v1/reports/schedules", json={"report": "daily-collection", "target": "../x"})
    assert refused.status_code == 422 and "'..'" in refused.json()["detail"]
    unknown = await api.post("/api/v1/reports/schedules", json={"report": "nosuch", "target": "daily"})
    assert unknown.status_code == 404
    viewer = await api.post("/api/v1/reports/schedules", json={"report": "daily-collection", "target": "d"},
                            headers=bearer("viewer"))
    assert viewer.status_code == 403
    made = await api.post("/api/v1/reports/schedules", json={
        "report": "daily-collection", "format": "xlsx", "cadence": "daily", "at_hour": 2, "target": "daily/ops"})
    assert made.status_code == 201, made.text
    sid = made.json()["schedule_id"]
    assert made.json()["run_for"] > datetime.now(TZ).isoformat()[:10]  # the first run is in the future
    await _due(database_url, sid, datetime(2026, 2, 11, 2, tzinfo=TZ))
    assert (await api.post("/api/v1/reports/schedules/run-due", params={"limit": 1})).json() == {"tried": 1}
    history = (await api.get(f"/api/v1/reports/schedules/{sid}/deliveries")).json()
    assert [h["status"] for h in history] == ["delivered"] and history[0]["rows"] == len(METERS)
    assert history[0]["period_start"].startswith("2026-02-09T16:00:00")
    path = world.state.settings.delivery.store_dir / "daily" / "ops" / "daily-collection-20260210.xlsx"
    ws = openpyxl.load_workbook(path).worksheets[0]
    figures = {r[1]: r[5] for r in ws.iter_rows(min_row=5, values_only=True) if str(r[1]).startswith("RPT-")}
    assert figures == {f"{m}-P": pytest.approx(used(m, date(2026, 2, 10))) for m in METERS}
    sched = {s["schedule_id"]: s for s in (await api.get("/api/v1/reports/schedules")).json()}[sid]
    assert sched["run_for"].startswith("2026-02-11T18:00:00")  # the next day's 02:00 local
    assert (await api.delete(f"/api/v1/reports/schedules/{sid}")).status_code == 204


async def test_a_webhook_delivery_that_fails_is_recorded_and_tried_again(world: World, database_url: str) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    failing = {"on": True}
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        if failing["on"]:
            return Response(status_code=500)
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    api = world.reports
    async with served(receiver) as url:
        made = await api.post("/api/v1/reports/schedules", json={
            "report": "events", "format": "xlsx", "cadence": "daily", "target_kind": "webhook",
            "target": f"{url}/hook"})
        assert made.status_code == 201, made.text
        sid = made.json()["schedule_id"]
        await _due(database_url, sid, datetime(2026, 2, 11, 1, tzinfo=TZ))
        assert (await api.post("/api/v1/reports/schedules/run-due", params={"limit": 1})).json() == {"tried": 1}
        failing["on"] = False
        # not due again before its retry time
        assert (await api.post("/api/v1/reports/schedules/run-due", params={"limit": 1})).json() == {"tried": 0}
        await _due(database_url, sid, datetime(2026, 2, 11, 1, tzinfo=TZ))
        assert (await api.post("/api/v1/reports/schedules/run-due", params={"limit": 1})).json() == {"tried": 1}
        await api.delete(f"/api/v1/reports/schedules/{sid}")
    history = (await api.get(f"/api/v1/reports/schedules/{sid}/deliveries")).json()
    assert [h["status"] for h in history] == ["delivered", "failed"]
    assert 'emms_reports_deliveries_total{status="failed",target_kind="webhook"}' in (await api.get("/metrics")).text
    assert "500" in history[1]["error"] and history[0]["period_start"] == history[1]["period_start"]
    assert len(received) == 1
    headers, body = received[0]
    assert headers["x-emms-report"] == "events" and headers["x-emms-period-start"].startswith("2026-02-10")
    ws = openpyxl.load_workbook(io.BytesIO(body)).worksheets[0]
    assert ws["A1"].value.startswith("事件报表") and ws.max_row >= 4 + 5
