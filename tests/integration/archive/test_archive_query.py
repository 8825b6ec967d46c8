"""Query and data service: combined conditions, cursor paging, CSV export, usage, the joint
four-utility view, role and company / region scope checks, 4xx on bad requests
(R-4.3.4, R-4.3.3a, R-4.3.1)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from archive_harness import ADMIN, OPERATOR, VIEWER, Service, seed_reference, token

from emms_messages.events import Anomaly, EventClass
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource, ValidatedReading, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
ITEM = "energy_active_import_total"
UTILITY_CATEGORY = {"electricity": "e_residential", "water": "w_residential", "gas": "g_residential",
                    "heat": "h_residential"}


def _row(ids: dict[str, str], cid: str, party: str, utility: str, n: int) -> dict[str, Any]:
    return {"customer_id": cid, "customer_name": cid, "party_id": party, "utility": utility,
            "category": UTILITY_CATEGORY[utility], "company_id": ids["company"], "region_id": ids["district"],
            "metering_point_id": f"{cid}-P", "terminal_id": ids["terminal"], "pn": n, "meter_id": f"{cid}-M",
            "protocol": "cjt188-2004" if utility != "electricity" else "dlt645-2007",
            "meter_address": f"{n:08d}{abs(hash(cid)) % 10_000:04d}", "installed_at": "2025-12-01T00:00:00Z"}


@pytest.fixture(scope="module")
async def world(archive_service: Service) -> dict[str, Any]:
    """Company A: party P1 with all four utilities, party P2 with electricity; company B: one customer.
    Daily cumulative readings for 90 days on every point."""
    api = archive_service.client
    import secrets

    run = secrets.token_hex(3)
    a = await seed_reference(api, run)
    b = await seed_reference(api, secrets.token_hex(3))
    rows = [_row(a, f"A{run}-P1-{u[0]}", f"P1-{run}", u, i + 1) for i, u in enumerate(UTILITY_CATEGORY)]
    rows.append(_row(a, f"A{run}-P2-e", f"P2-{run}", "electricity", 9))
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=ADMIN)).status_code == 200
    b_rows = [_row(b, f"B{run}-e", f"PB-{run}", "electricity", 1)]
    assert (await api.post("/api/v1/import/customer-meters", json=b_rows, headers=ADMIN)).status_code == 200
    batches = []
    for r in [*rows, *b_rows]:
        step = 1.0 if r["utility"] == "electricity" else 0.5
        batches.append(RawReadingBatch(batch_id=f"q-{r['meter_id']}", terminal="t", readings=[
            Reading(meter_id=r["meter_id"], item=ITEM, data_time=T0 + timedelta(days=d), value=100 + step * d,
                    unit="kWh", source=ReadingSource.SCHEDULED, collected_at=T0 + timedelta(days=d, minutes=1),
                    quality=4 if d == 7 else 0) for d in range(DAYS)]))
    result = await archive_service.archive.raw.store(batches)
    assert result.stored == DAYS * 6
    water = f"A{run}-P1-w-M"
    await archive_service.archive.validated.store([
        ValidatedReading(meter_id=water, item=ITEM, data_time=T0 + timedelta(days=d), value=100 + 0.5 * d,
                         unit="m3", status=ValidationStatus.HELD if d == 3 else ValidationStatus.VALID,
                         validated_at=T0 + timedelta(days=100)) for d in range(5)])
    await archive_service.archive.events.store_anomalies([
        Anomaly(anomaly_id=f"an-{run}", meter_id=water, rule="V10", item=ITEM, data_time=T0 + timedelta(days=3),
                severity=EventClass.IMPORTANT, detected_at=T0 + timedelta(days=4))])
    return {"run": run, "a": a, "b": b, "rows": rows, "b_rows": b_rows}


def _span(days: int = DAYS) -> dict[str, str]:
    return {"from": T0.isoformat(), "to": (T0 + timedelta(days=days)).isoformat()}


async def _all_pages(api: httpx.AsyncClient, params: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        resp = await api.get("/api/v1/readings", params={**params, **({"cursor": cursor} if cursor else {})},
                             headers=headers)
        assert resp.status_code == 200, resp.text
        rows += resp.json()["rows"]
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("paging did not end")


async def test_cursor_paging_returns_every_reading_once_in_order(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    params = {"parties": f"P1-{world['run']}", **_span(), "limit": 37}
    rows = await _all_pages(api, params, VIEWER)
    keys = [(r["metering_point_id"], r["item"], r["data_time"], r["source"]) for r in rows]
    assert len(rows) == 4 * DAYS and len(set(keys)) == len(keys) and keys == sorted(keys)


async def test_combined_conditions(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    run = world["run"]
    water = await api.get("/api/v1/readings", headers=VIEWER, params={
        "regions": world["a"]["region"], "utilities": "water", "good_only": "true", **_span(), "limit": 500})
    body = water.json()
    assert {r["metering_point_id"] for r in body["rows"]} == {f"A{run}-P1-w-P"}
    assert body["count"] == DAYS - 1 and all(r["quality"] == 0 for r in body["rows"])
    flagged = await api.post("/api/v1/readings/query", headers=VIEWER, json={
        "customers": [f"A{run}-P1-e", f"A{run}-P2-e"], "quality": [4], "items": [ITEM], **_span()})
    assert [(r["metering_point_id"], r["data_time"][:10]) for r in flagged.json()["rows"]] == [
        (f"A{run}-P1-e-P", "2026-01-08"), (f"A{run}-P2-e-P", "2026-01-08")]
    by_meter = await api.get("/api/v1/readings", headers=VIEWER,
                             params={"meters": f"A{run}-P2-e-M", "from": T0.isoformat(),
                                     "to": (T0 + timedelta(days=3)).isoformat()})
    assert [r["value"] for r in by_meter.json()["rows"]] == [100.0, 101.0, 102.0]


async def test_csv_export_streams_every_row(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    resp = await api.get("/api/v1/readings/export.csv", headers=VIEWER,
                         params={"parties": f"P1-{world['run']}", **_span()})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(table) == 4 * DAYS
    assert table[0]["metering_point_id"].startswith(f"A{world['run']}-P1-") and table[0]["unit"] == "kWh"


async def test_usage_daily_for_one_customer_and_monthly_for_a_region(
        api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    run = world["run"]
    daily = await api.get("/api/v1/usage", headers=VIEWER, params={
        "customers": f"A{run}-P2-e", **_span(), "interval": "day", "items": ITEM})
    rows = daily.json()["rows"]
    assert len(rows) == DAYS - 1 and all(r["usage"] == 1.0 for r in rows)
    monthly = await api.get("/api/v1/usage", headers=VIEWER, params={
        "regions": world["a"]["region"], **_span(), "interval": "month", "group_by": "utility"})
    totals = {(r["bucket"][:7], r["key"]): r["usage"] for r in monthly.json()["rows"]}
    # January: 30 daily increments (Jan 2..31) per point; two electricity points of 1, one water of 0.5
    assert totals[("2026-01", "electricity")] == 60.0 and totals[("2026-01", "water")] == 15.0
    assert totals[("2026-02", "electricity")] == 56.0


async def test_joint_view_links_the_four_utilities_of_one_customer(
        api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    run = world["run"]
    resp = await api.get("/api/v1/joint", headers=VIEWER, params={"customers": f"A{run}-P1-e", **_span(31)})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [p["party_id"] for p in body["parties"]] == [f"P1-{run}"]
    party = body["parties"][0]
    assert sorted(party["utilities"]) == ["electricity", "gas", "heat", "water"]
    water = next(c for c in party["customers"] if c["utility"] == "water")
    point = water["metering_points"][0]
    assert point["meters"][0]["meter_id"] == f"A{run}-P1-w-M"
    assert point["usage"][0]["usage"] == 15.0 and point["anomalies"] == {"important": 1}
    assert [a["anomaly_id"] for a in body["recent_anomalies"]] == [f"an-{run}"]


async def test_usage_buckets_are_the_local_calendar(archive_service: Service, api: httpx.AsyncClient) -> None:
    """15-minute data of one local day (UTC+8) is one day, not split at UTC midnight; quarters exist."""
    import secrets

    run = secrets.token_hex(3)
    ids = await seed_reference(api, run)
    row = _row(ids, f"L{run}", f"PL-{run}", "electricity", 1)
    assert (await api.post("/api/v1/import/customer-meters", json=[row], headers=ADMIN)).status_code == 200
    day_start = datetime(2026, 3, 9, 16, tzinfo=UTC)  # 2026-03-10 00:00 local
    await archive_service.archive.raw.store([RawReadingBatch(batch_id=f"l-{run}", terminal="t", readings=[
        Reading(meter_id=row["meter_id"], item=ITEM, data_time=day_start + timedelta(minutes=15 * q), value=10 + q,
                unit="kWh", source=ReadingSource.SCHEDULED, collected_at=day_start + timedelta(minutes=15 * q + 1))
        for q in range(96)])])
    span = {"from": day_start.isoformat(), "to": (day_start + timedelta(days=1)).isoformat(),
            "customers": f"L{run}", "items": ITEM}
    daily = (await api.get("/api/v1/usage", headers=VIEWER, params={**span, "interval": "day"})).json()["rows"]
    assert [(r["bucket"], r["usage"], r["intervals"]) for r in daily] == [("2026-03-10T00:00:00+08:00", 95.0, 95)]
    quarter = (await api.get("/api/v1/usage", headers=VIEWER, params={**span, "interval": "quarter"})).json()["rows"]
    assert [(r["bucket"], r["usage"]) for r in quarter] == [("2026-01-01T00:00:00+08:00", 95.0)]


async def test_held_validated_values_are_only_for_operators(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    params = {"customers": f"A{world['run']}-P1-w", "layer": "validated", **_span(10)}
    seen_by_viewer = (await api.get("/api/v1/readings", headers=VIEWER, params=params)).json()["rows"]
    seen_by_operator = (await api.get("/api/v1/readings", headers=OPERATOR, params=params)).json()["rows"]
    assert len(seen_by_viewer) == 4 and "held" not in {r["status"] for r in seen_by_viewer}
    assert len(seen_by_operator) == 5 and [r["status"] for r in seen_by_operator].count("held") == 1


async def test_company_scope_is_enforced(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    run, a, b = world["run"], world["a"], world["b"]
    scoped = token("integrator", "billing-a", companies=(a["company"],))
    resp = await api.get("/api/v1/readings", headers=scoped, params={"companies": b["company"], **_span()})
    assert resp.status_code == 403 and "outside your data scope" in resp.json()["detail"]
    mine = await api.get("/api/v1/readings", headers=scoped, params={**_span(2), "limit": 5000})
    assert {r["metering_point_id"][0] for r in mine.json()["rows"]} <= {"A"}
    assert all(not r["metering_point_id"].startswith(f"B{run}") for r in mine.json()["rows"])
    theirs = await api.get("/api/v1/readings", headers=scoped, params={"customers": f"B{run}-e", **_span()})
    assert theirs.json()["rows"] == []
    joint = await api.get("/api/v1/joint", headers=scoped, params={"customers": f"B{run}-e", **_span()})
    assert joint.json()["parties"] == []
    record = await api.get(f"/api/v1/customers/B{run}-e", headers=scoped)
    assert record.status_code == 403
    region_scoped = token("viewer", "district-b", regions=(b["region"],))
    seen = await api.get("/api/v1/readings", headers=region_scoped, params={**_span(1), "limit": 5000})
    assert {r["metering_point_id"] for r in seen.json()["rows"]} >= {f"B{run}-e-P"}
    assert all(r["metering_point_id"] != f"A{run}-P2-e-P" for r in seen.json()["rows"])


@pytest.mark.parametrize(("params", "status", "reason"), [
    ({"from": "2026-01-01T00:00:00Z"}, 422, "to"),
    ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422, "'to' must be after 'from'"),
    ({"from": "2016-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, 422, "at most"),
    ({"from": "2026-01-01T00:00:00", "to": "2026-02-01T00:00:00Z"}, 422, "timezone"),
    ({**_span(), "cursor": "not-a-cursor"}, 400, "cursor"),
    ({**_span(), "layer": "cooked"}, 422, "layer"),
    ({**_span(), "limit": 6000}, 422, "5000 rows"),
    ({**_span(), "utilities": "steam"}, 422, "utilities"),
])
async def test_bad_reading_queries_are_4xx_with_a_reason(api: httpx.AsyncClient, world: dict[str, Any],
                                                        params: dict[str, Any], status: int, reason: str) -> None:
    resp = await api.get("/api/v1/readings", headers=VIEWER, params=params)
    assert resp.status_code == status, resp.text
    assert reason in resp.json()["detail"]


async def test_no_token_is_401(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/readings", params=_span())).status_code == 401
