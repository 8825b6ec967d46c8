"""Data to billing and the customers' services, through the interface against the real archive and control:
a billing extract equals the archive's validated readings; a customer's token reaches only its own
customer (matrix over every customer route, and company-wide routes refused); a payment made twice with
one id is one payment in control, reconciled."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from archive_harness import ADMIN, customer_meter_rows, seed_reference
from conftest import Stack
from control_harness import token as control_token
from interface_harness import eventually
from service_harness import FreshBearer

from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = pytest.mark.integration
BILLING = FreshBearer("billing-system", "integrator")
START = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)
CUTOFF = datetime(2026, 12, 1, tzinfo=UTC) - timedelta(hours=8)


async def _customers(stack: Stack) -> tuple[str, dict[str, str]]:
    run = secrets.token_hex(3)
    ids = await seed_reference(stack.archive, run, utilities=("electricity",))
    rows = customer_meter_rows(ids, run, 3)
    resp = await stack.archive.post("/api/v1/import/customer-meters", json=rows, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    return run, ids


async def test_a_billing_extract_equals_the_archives_validated_readings(stack: Stack, database_url: str) -> None:
    run, ids = await _customers(stack)
    statuses = [ValidationStatus.VALID, ValidationStatus.ESTIMATED, ValidationStatus.REPAIRED, ValidationStatus.HELD]
    readings = [ValidatedReading(meter_id=f"M-{run}-{m}", item="energy.active.import.total",
                                 data_time=START + timedelta(days=d), value=100.0 * m + d, unit="kWh",
                                 status=statuses[(m + d) % 4], method="" if (m + d) % 4 == 0 else "linear",
                                 validated_at=datetime.now(UTC))
                for m in range(3) for d in range(0, 35)]  # some after the cut-off
    for i in range(0, len(readings), 40):
        await stack.producer.publish(ValidatedReadingBatch(batch_id=f"vb-{run}-{i}", terminal=ids["terminal"],
                                                           readings=readings[i:i + 40]))
    conn = await asyncpg.connect(database_url)
    try:
        async def stored() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM archive.reading_validated WHERE meter_id LIKE $1",
                                    f"M-{run}-%")
            return bool(n == len(readings))

        await eventually(stored, 60)
        expected = await conn.fetch(
            "SELECT DISTINCT ON (metering_point_id, item, data_time) metering_point_id, item, data_time, meter_id,"
            " value, status, method FROM archive.reading_validated WHERE meter_id LIKE $1 AND data_time >= $2"
            " AND data_time < $3 ORDER BY metering_point_id, item, data_time, validated_at DESC",
            f"M-{run}-%", START, CUTOFF)
    finally:
        await conn.close()
    want = sorted((r["metering_point_id"], r["data_time"], r["value"], r["status"]) for r in expected
                  if r["status"] != "held")
    assert 0 < len(want) < len(readings)

    put = await stack.interface.put(f"/api/v1/billing/cycles/cy-{run}", headers=BILLING, json={
        "company_id": ids["company"], "utility": "electricity", "period_start": START.isoformat(),
        "cutoff": CUTOFF.isoformat()})
    assert put.status_code == 200, put.text
    got, cursor = [], None
    while True:
        params = {"limit": 17, **({"cursor": cursor} if cursor else {})}
        page = await stack.interface.get(f"/api/v1/billing/cycles/cy-{run}/readings", headers=BILLING, params=params)
        assert page.status_code == 200, page.text
        got += page.json()["rows"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert sorted((r["metering_point_id"], datetime.fromisoformat(r["data_time"]), r["value"], r["status"])
                  for r in got) == want
    assert all(r["estimated"] == (r["status"] in ("estimated", "repaired")) for r in got)
    assert all("method" in r and "validated_at" in r and "raw_source" in r for r in got)

    streamed = await stack.interface.get(f"/api/v1/billing/cycles/cy-{run}/readings.ndjson", headers=BILLING)
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert sorted((r["metering_point_id"], datetime.fromisoformat(r["data_time"]), r["value"], r["status"])
                  for r in lines) == want

    wrong = await stack.interface.put(f"/api/v1/billing/cycles/cy-{run}-x", headers=BILLING, json={
        "company_id": ids["company"], "utility": "electricity", "period_start": CUTOFF.isoformat(),
        "cutoff": START.isoformat()})
    assert wrong.status_code == 422 and "cutoff" in wrong.json()["detail"]
    customer = FreshBearer(f"C-{run}-0", "customer", customers=(f"C-{run}-0",))
    refused = await stack.interface.get(f"/api/v1/billing/cycles/cy-{run}/readings", headers=customer)
    assert refused.status_code == 403


async def _account(stack: Stack, customer_id: str, company: str, region: str, tariff: str, meter: str) -> str:
    resp = await stack.control.client.post("/api/v1/accounts", headers=control_token(), json={
        "customer_id": customer_id, "company_id": company, "region_id": region, "utility": "electricity",
        "category": "e_residential", "tariff_id": tariff, "meters": [{"meter_id": meter}],
        "charge_from": "2026-02-01T00:00:00+08:00"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["account_id"])


async def test_a_customer_reaches_only_their_own_data_and_a_payment_twice_is_one(stack: Stack) -> None:
    run, ids = await _customers(stack)
    tariff = await stack.control.tariff()
    mine, other = f"C-{run}-0", f"C-{run}-1"
    my_account = await _account(stack, mine, ids["company"], ids["district"], tariff, f"M-{run}-0")
    other_account = await _account(stack, other, ids["company"], ids["district"], tariff, f"M-{run}-1")
    me = FreshBearer(mine, "customer", customers=(mine,))
    period = {"from": START.isoformat(), "to": CUTOFF.isoformat()}

    # the matrix: every customer route, my customer → allowed, another's → 403 before anything is read
    routes = [("GET", "/api/v1/customers/{c}", None, None),
              ("GET", "/api/v1/customers/{c}/usage", period, None),
              ("GET", "/api/v1/customers/{c}/advice", None, None),
              ("GET", "/api/v1/customers/{c}/payments/reconciliation", None, None),
              ("POST", "/api/v1/customers/{c}/payments", None,
               {"payment_id": f"probe-{run}", "account_id": other_account, "amount": "1.00"})]
    for method, path, params, body in routes:
        resp = await stack.interface.request(method, path.format(c=other), headers=me, params=params, json=body)
        assert resp.status_code == 403, (path, resp.text)
    for method, path, params in (("GET", "/api/v1/customers/{c}", None),
                                 ("GET", "/api/v1/customers/{c}/usage", period),
                                 ("GET", "/api/v1/customers/{c}/payments/reconciliation", None)):
        resp = await stack.interface.request(method, path.format(c=mine), headers=me, params=params)
        assert resp.status_code == 200, (path, resp.text)
    overview = (await stack.interface.get(f"/api/v1/customers/{mine}", headers=me)).json()
    assert [a["account_id"] for a in overview["accounts"]] == [my_account]
    usage = (await stack.interface.get(f"/api/v1/customers/{mine}/usage", headers=me, params=period)).json()
    assert usage["customer_id"] == mine and usage["peers"]["category"] == "e_residential"
    # another customer's account through my own path: refused
    crossed = await stack.interface.post(f"/api/v1/customers/{mine}/payments", headers=me, json={
        "payment_id": f"x-{run}", "account_id": other_account, "amount": "5.00"})
    assert crossed.status_code == 403 and "not customer" in crossed.json()["detail"]
    # company-wide routes are not a customer's
    for path in ("/api/v1/billing/cycles", "/api/v1/jobs"):
        assert (await stack.interface.get(path, headers=me)).status_code == 403, path

    payment = {"payment_id": f"pay-{run}", "account_id": my_account, "amount": "50.00"}
    first = await stack.interface.post(f"/api/v1/customers/{mine}/payments", headers=me, json=payment)
    assert first.status_code == 201 and first.json()["state"] == "recorded", first.text
    again = await stack.interface.post(f"/api/v1/customers/{mine}/payments", headers=me, json=payment)
    assert again.status_code == 200 and again.json()["payment_id"] == payment["payment_id"]
    changed = await stack.interface.post(f"/api/v1/customers/{mine}/payments", headers=me,
                                         json={**payment, "amount": "60.00"})
    assert changed.status_code == 409
    in_control = (await stack.control.client.get(f"/api/v1/accounts/{my_account}/payments",
                                                 headers=control_token())).json()
    assert [(p["payment_id"], Decimal(str(p["amount"]))) for p in in_control] == [(payment["payment_id"],
                                                                                   Decimal("50.00"))]
    account = (await stack.control.client.get(f"/api/v1/accounts/{my_account}", headers=control_token())).json()
    assert Decimal(str(account["balance"])) == Decimal("50.00")
    recon = (await stack.interface.get(f"/api/v1/customers/{mine}/payments/reconciliation", headers=me)).json()
    assert recon["balanced"] and [m["payment_id"] for m in recon["matched"]] == [payment["payment_id"]]


PRICE = {"valley": Decimal("0.3"), "flat": Decimal("0.6"), "peak": Decimal("0.8"), "sharp": Decimal("1.0")}


def _period(hour: int) -> str:  # control_harness.DAY
    for start, end, name in ((23, 7, "valley"), (7, 10, "flat"), (10, 12, "peak"), (12, 19, "flat"),
                             (19, 21, "sharp"), (21, 23, "peak")):
        if (start <= hour < end) if start < end else (hour >= start or hour < end):
            return name
    raise AssertionError(hour)


async def test_usage_advice_computes_the_saving_from_the_customers_curve_and_tariff(stack: Stack) -> None:
    from zoneinfo import ZoneInfo

    run, ids = await _customers(stack)
    tariff = await stack.control.tariff()
    mine = f"C-{run}-0"
    account = await _account(stack, mine, ids["company"], ids["district"], tariff, f"M-{run}-0")
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    times = [now - timedelta(hours=47) + timedelta(hours=h, minutes=30) for h in range(46)]
    values, value = [], 1000.0
    for t in times:  # 1 kWh an hour, 3 kWh in the evening's sharp hours
        value += 3.0 if _period(t.astimezone(tz).hour) == "sharp" else 1.0
        values.append(value)
    await stack.producer.publish(ValidatedReadingBatch(batch_id=f"adv-{run}", terminal=ids["terminal"], readings=[
        ValidatedReading(meter_id=f"M-{run}-0", item="energy.active.import.total", data_time=t, value=v, unit="kWh",
                         status=ValidationStatus.VALID, validated_at=datetime.now(UTC))
        for t, v in zip(times, values, strict=True)]))
    by_hour = [Decimal(0)] * 24
    for i in range(1, len(times)):
        by_hour[times[i].astimezone(tz).hour] += Decimal(str(values[i] - values[i - 1]))
    share = Decimal("0.5")
    saving = sum(by_hour[h] * share * (PRICE[_period(h)] - PRICE["valley"]) for h in range(24))
    expected = (saving * 30 / 2).quantize(Decimal("0.01"))
    me = FreshBearer(mine, "customer", customers=(mine,))

    async def advised() -> dict | None:
        resp = await stack.interface.get(f"/api/v1/customers/{mine}/advice", headers=me,
                                         params={"days": 2, "shift_share": 0.5})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return body if sum(h["usage"] for h in body["hours"]) == float(sum(by_hour)) else None

    advice = await eventually(advised, 60, 0.5)
    assert advice["account_id"] == account
    assert [Decimal(str(h["price"])) for h in advice["hours"]] == [PRICE[_period(h)] for h in range(24)]
    assert [h["usage"] for h in advice["hours"]] == [float(u) for u in by_hour]
    assert Decimal(str(advice["monthly_saving"])) == expected and expected > 0


async def test_notices_reach_the_customers_they_are_for(stack: Stack) -> None:
    run, ids = await _customers(stack)
    operator = FreshBearer("operator-1", "operator")
    here = {"kind": "outage", "utility": "electricity", "regions": [ids["district"]], "title": f"Outage {run}",
            "body": "Line maintenance 09:00–12:00.", "valid_from": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    elsewhere = {**here, "regions": ["R-somewhere-else"], "title": f"Elsewhere {run}"}
    water = {**here, "utility": "water", "title": f"Water {run}"}
    for notice in (here, elsewhere, water):
        resp = await stack.interface.post("/api/v1/notices", headers=operator, json=notice)
        assert resp.status_code == 201, resp.text
    bad = await stack.interface.post("/api/v1/notices", headers=operator, json={**here, "kind": "gossip"})
    assert bad.status_code == 422
    customer = FreshBearer(f"C-{run}-0", "customer", customers=(f"C-{run}-0",))
    assert (await stack.interface.post("/api/v1/notices", headers=customer, json=here)).status_code == 403
    seen = (await stack.interface.get("/api/v1/notices", headers=customer)).json()
    titles = {n["title"] for n in seen}
    assert f"Outage {run}" in titles and f"Elsewhere {run}" not in titles and f"Water {run}" not in titles
