"""Prepayment and quantity control on the real database and broker: master-mode transitions after charges and
payments (each once, redelivery changes nothing), the actions handed to the command path as jobs (a protected
customer never cut), terminal / meter-mode purchases (one per payment id, numbered 1, 2 …), quantity limits
exceeded once per period, and bad input refused with nothing half-applied."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from control_harness import DAY, Control, token, uid

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_control.commands import configure, policy
from emms_messages.control import ControlNotice
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = [pytest.mark.integration]
OP = token("operator")
VIEW = token("viewer")
BASE = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[BusProducer]:
    p = BusProducer(kafka_settings, "control-prepay-test")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture(scope="module")
async def notices_on_bus(kafka_settings: KafkaSettings) -> AsyncIterator[list[ControlNotice]]:
    """Every ControlNotice published on emms.control.notice.v1 while the module runs."""
    seen: list[ControlNotice] = []

    async def handle(batch: Sequence[Delivery]) -> None:
        seen.extend(d.payload for d in batch if isinstance(d.payload, ControlNotice))
    producer = BusProducer(kafka_settings, "control-notice-watch")
    await producer.start()
    consumer = BusConsumer(kafka_settings, group=uid("notice-watch"), topics=["emms.control.notice.v1"],
                           handler=handle, dlq_producer=producer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield seen
    finally:
        stop.set()
        await task
        await producer.stop()


@pytest.fixture(autouse=True)
def quick_commands(control: Control) -> Iterator[None]:
    """No FEP here: a job's request goes unanswered and fails after one short attempt."""
    before = policy()
    configure(request_timeout_s=0.3, fep_retries=0, attempts=1, retry_delay_s=0.1, result_grace_s=0.3,
              jobs_per_operator_per_min=1000)
    yield
    configure(**{f: getattr(before, f) for f in before.__dataclass_fields__})


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached in {timeout_s} s: {value!r}")
        await asyncio.sleep(0.1)


async def install(control: Control, producer: BusProducer, meter: str, utility: str, *, protocol: str = "",
                  protection: str | None = None, pn: int = 3) -> None:
    """The meter's topology as master data brings it (the command path's consumer fills control.devices)."""
    customer = f"C-{meter}"
    data = {"meter_id": meter, "terminal_address": "3701-00009", "pn": pn, "port": 2 if utility != "electricity"
            else 31, "protocol": protocol or ("dlt645-2007" if utility == "electricity" else "cjt188-2004"),
            "meter_address": "00000009000301", "utility": utility, "customer_id": customer, "company_id": "CO-A",
            "region_id": "CO-A-R1"}
    changes = [MasterDataChange(change_id=str(uuid.uuid4()), entity="meter_installation", entity_id=f"MP-{meter}",
                                kind=ChangeKind.CREATED, changed_at=datetime.now(UTC), changed_by="test", data=data)]
    if protection:
        changes.append(MasterDataChange(change_id=str(uuid.uuid4()), entity="customer", entity_id=customer,
                                        kind=ChangeKind.UPDATED, changed_at=datetime.now(UTC), changed_by="test",
                                        data={"protection_class": protection}))
    await producer.publish_many(changes)

    async def there() -> bool:
        async with control.cr.pool.acquire() as conn:
            found = await conn.fetchval("SELECT count(*) FROM control.devices WHERE meter_id = $1", meter)
            marked = await conn.fetchval("SELECT count(*) FROM control.customers WHERE customer_id = $1"
                                         " AND protection IS NOT NULL", customer)
            return bool(found) and (protection is None or bool(marked))
    await until(there)


async def water_account(control: Control, meter: str) -> dict[str, Any]:
    tariff_id = uid("W")
    resp = await control.client.post("/api/v1/tariffs", headers=OP, json={
        "tariff_id": tariff_id, "utility": "water", "name": "water flat", "version": {
            "effective_from": "2026-01-01T00:00:00+08:00", "day_table": DAY,
            "prices": {"w_residential": {"sharp": "3", "peak": "3", "flat": "3", "valley": "3"}}}})
    assert resp.status_code == 201, resp.text
    resp = await control.client.post("/api/v1/accounts", headers=OP, json={
        "customer_id": uid("C"), "company_id": "CO-A", "region_id": "CO-A-R1", "utility": "water",
        "category": "w_residential", "tariff_id": tariff_id, "meters": [{"meter_id": meter}],
        "charge_from": "2026-02-01T00:00:00+08:00"})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def batch(meter: str, item: str, values: list[tuple[int, float]]) -> ValidatedReadingBatch:
    return ValidatedReadingBatch(batch_id=uid("vee"), terminal="3701-00009", readings=[
        ValidatedReading(meter_id=meter, item=item, data_time=BASE + timedelta(hours=h), value=v,
                         unit="kWh" if item.startswith("energy") else "m3", status=ValidationStatus.VALID,
                         validated_at=BASE + timedelta(hours=h, minutes=5)) for h, v in values])


async def prepayment(control: Control, account_id: str) -> dict[str, Any]:
    resp = await control.client.get(f"/api/v1/accounts/{account_id}/prepayment", headers=VIEW)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def jobs_of(control: Control, account_id: str) -> list[dict[str, Any]]:
    async with control.cr.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT a.action, a.outcome, j.origin, j.action AS job_action, j.params FROM control.auto_action a"
            " LEFT JOIN control.jobs j ON j.job_id::text = a.command_ref WHERE a.account_id = $1"
            " ORDER BY a.created_at", account_id)
    return [dict(r) for r in rows]


async def test_master_mode_alarms_trips_and_restores_each_once(control: Control, producer: BusProducer,
                                                                notices_on_bus: list[ControlNotice]) -> None:
    meter = uid("M")
    await install(control, producer, meter, "electricity")
    account = await control.account(await control.tariff(tiers=None), meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    resp = await control.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "master", "alarm_threshold": "20", "trip_threshold": "5"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "tripped"  # balance 0: at once
    assert (await control.client.post(f"{url}/payments", headers=OP,
                                      json={"payment_id": uid("P"), "amount": "30"})).status_code == 201
    # 06:00 UTC is 14:00 local: flat, 0.6 per kWh. 20 kWh = 12.00 → balance 18 (alarm at 20)
    first = batch(meter, "energy.active.import.total", [(0, 1000.0), (1, 1000.0), (2, 1020.0)])
    await producer.publish(first)
    await until(lambda: _state_is(control, url, "alarm"))
    await producer.publish(first)  # redelivered: nothing more
    await producer.publish(batch(meter, "energy.active.import.total", [(3, 1040.0)]))  # 20 kWh more → 6 (no trip)
    await producer.publish(batch(meter, "energy.active.import.total", [(4, 1042.0)]))  # 2 kWh → 4.80: trip at 5
    await until(lambda: _state_is(control, url, "tripped"))
    await control.client.post(f"{url}/payments", headers=OP, json={"payment_id": uid("P"), "amount": "100"})
    await until(lambda: _state_is(control, url, "normal"))
    view = await prepayment(control, account["account_id"])
    assert [(t["from_state"], t["to_state"], t["cause"]) for t in view["transitions"]] == [
        ("normal", "tripped", "settings"), ("tripped", "normal", "payment"), ("normal", "alarm", "charge"),
        ("alarm", "tripped", "charge"), ("tripped", "normal", "payment")]
    assert [n["kind"] for n in view["notices"]] == ["trip", "restore", "alarm", "trip", "restore"]
    assert await _logged(control, meter, "prepayment") == 1  # the setting, in the immutable parameter log
    ids = {n["notice_id"] for n in view["notices"]}

    async def published() -> list[str] | None:  # at least once: a repeat carries the same notice_id
        mine = {n.notice_id: n.kind for n in notices_on_bus if n.notice_id in ids}
        return [mine[i] for i in sorted(mine)] if set(mine) == ids else None
    assert await until(published) == ["trip", "restore", "alarm", "trip", "restore"]
    jobs = await until(lambda: _all_taken(control, account["account_id"], 4))
    assert [(j["action"], j["outcome"], j["origin"], j["job_action"]) for j in jobs] == [
        ("trip", "submitted", "prepayment", "trip"), ("allow_close", "submitted", "prepayment", "allow_close"),
        ("trip", "submitted", "prepayment", "trip"), ("allow_close", "submitted", "prepayment", "allow_close")]


async def _state_is(control: Control, url: str, state: str) -> bool:
    resp = await control.client.get(f"{url}/prepayment", headers=VIEW)
    return bool(resp.json()["state"] == state)


async def _all_taken(control: Control, account_id: str, n: int) -> list[dict[str, Any]] | None:
    jobs = await jobs_of(control, account_id)
    return jobs if len(jobs) == n and all(j["outcome"] for j in jobs) else None


async def test_a_protected_customer_is_never_cut_automatically(control: Control, producer: BusProducer) -> None:
    meter = uid("M")
    await install(control, producer, meter, "water", protection="medical")
    account = await water_account(control, meter)
    resp = await control.client.put(f"/api/v1/accounts/{account['account_id']}/prepayment", headers=OP,
                                    json={"mode": "master", "alarm_threshold": "10", "trip_threshold": "0"})
    assert resp.status_code == 200 and resp.json()["state"] == "tripped"
    (job,) = await until(lambda: _all_taken(control, account["account_id"], 1))
    assert job["action"] == "valve_close" and job["outcome"].startswith("refused:") and job["job_action"] is None


async def test_terminal_mode_purchases_once_per_payment_numbered_in_order(control: Control,
                                                                            producer: BusProducer) -> None:
    meter = uid("M")
    await install(control, producer, meter, "electricity", pn=5)
    account = await control.account(await control.tariff(), meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    resp = await control.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "terminal", "alarm_threshold": "20", "trip_threshold": "5", "price": "0.8"})
    assert resp.status_code == 200, resp.text
    first = {"payment_id": uid("P"), "amount": "50"}
    assert (await control.client.post(f"{url}/payments", headers=OP, json=first)).status_code == 201
    assert (await control.client.post(f"{url}/payments", headers=OP, json=first)).status_code == 200  # again
    assert (await control.client.post(f"{url}/payments", headers=OP,
                                      json={"payment_id": uid("P"), "amount": "25.5"})).status_code == 201
    view = await prepayment(control, account["account_id"])
    assert [(p["purchase_number"], p["amount"]) for p in view["purchase_list"]] == [(1, 50.0), (2, 25.5)]
    assert view["state"] == "normal" and view["purchases"] == 2
    jobs = await until(lambda: _all_taken(control, account["account_id"], 4))
    units = [j["params"] for j in jobs]
    assert [(j["action"], j["outcome"][:9], j["job_action"]) for j in jobs] == [  # no FEP: the purchases fail,
        ("operation", "submitted", "operation"), ("operation", "refused: ", None)] * 2  # control goes on over none
    first_units = json.loads(units[0])["units"] if isinstance(units[0], str) else units[0]["units"]
    assert first_units[1]["fn"] == [47] and first_units[1]["pn"] == [5]
    assert first_units[1]["data"]["value"] == {"type": "PurchaseControl", "bill_number": 1, "refresh": False,
                                                     "amount": 50_000, "alarm": 20_000, "trip": 5_000}


@pytest.mark.parametrize(("utility", "body", "reason"), [
    ("electricity", {"mode": "master", "alarm_threshold": "5", "trip_threshold": "5"}, "must be above"),
    ("electricity", {"mode": "terminal", "alarm_threshold": "9", "trip_threshold": "5"}, "needs the price"),
    ("electricity", {"mode": "meter", "alarm_threshold": "9", "trip_threshold": "5", "price": "1"}, "at or below 0"),
    ("water", {"mode": "terminal", "alarm_threshold": "9", "trip_threshold": "5", "price": "1"}, "counts electricity"),
])
async def test_a_mode_the_device_cannot_do_or_inverted_thresholds_are_refused(
        control: Control, producer: BusProducer, utility: str, body: dict[str, Any], reason: str) -> None:
    meter = uid("M")
    await install(control, producer, meter, utility)
    account = (await control.account(await control.tariff(), meter) if utility == "electricity"
               else await water_account(control, meter))
    url = f"/api/v1/accounts/{account['account_id']}/prepayment"
    resp = await control.client.put(url, headers=OP, json=body)
    assert resp.status_code == 422 and reason in resp.text, resp.text
    assert (await control.client.get(url, headers=VIEW)).status_code == 404  # nothing stored


async def test_a_meter_not_in_the_topology_cannot_run_terminal_mode(control: Control) -> None:
    account = await control.account(await control.tariff(), uid("M-nowhere"))
    resp = await control.client.put(f"/api/v1/accounts/{account['account_id']}/prepayment", headers=OP, json={
        "mode": "terminal", "alarm_threshold": "9", "trip_threshold": "5", "price": "1"})
    assert resp.status_code == 422 and "no measurement point" in resp.text


async def test_negative_and_conflicting_payments_are_refused(control: Control, producer: BusProducer) -> None:
    meter = uid("M")
    await install(control, producer, meter, "electricity")
    account = await control.account(await control.tariff(), meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    assert (await control.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "terminal", "alarm_threshold": "9", "trip_threshold": "5", "price": "1"})).status_code == 200
    assert (await control.client.post(f"{url}/payments", headers=OP,
                                      json={"payment_id": uid("P"), "amount": "-5"})).status_code == 422
    paid = {"payment_id": uid("P"), "amount": "10"}
    assert (await control.client.post(f"{url}/payments", headers=OP, json=paid)).status_code == 201
    assert (await control.client.post(f"{url}/payments", headers=OP,
                                      json=paid | {"amount": "11"})).status_code == 409
    view = await prepayment(control, account["account_id"])
    assert [p["purchase_number"] for p in view["purchase_list"]] == [1]


async def test_quantity_limit_exceeded_trips_once_and_under_it_nothing_happens(control: Control,
                                                                               producer: BusProducer) -> None:
    over, under = uid("M"), uid("M")
    for meter in (over, under):
        await install(control, producer, meter, "water")
        resp = await control.client.put(f"/api/v1/quantity/{meter}", headers=OP, json={
            "utility": "water", "limits": [{"period": "day", "usage_limit": "5", "action": "cut"},
                                           {"period": "month", "usage_limit": "100", "action": "alarm"}]})
        assert resp.status_code == 200, resp.text
    await producer.publish(batch(over, "water.volume", [(0, 10.0), (1, 13.0), (2, 16.0), (3, 18.0)]))
    await producer.publish(batch(under, "water.volume", [(0, 10.0), (1, 12.0), (2, 14.9)]))
    marker = batch(under, "water.volume", [(4, 14.95)])
    await producer.publish(marker)

    async def counted() -> dict[str, Any] | None:
        resp = await control.client.get(f"/api/v1/quantity/{under}", headers=VIEW)
        counters = resp.json()["counters"]
        return resp.json() if counters and float(counters[0]["last_value"]) == 14.95 else None
    quiet = await until(counted)
    assert quiet["exceeded"] == [] and quiet["actions"] == []
    await producer.publish(batch(over, "water.volume", [(5, 25.0)]))  # still the same day: no second action

    async def five() -> dict[str, Any] | None:
        resp = await control.client.get(f"/api/v1/quantity/{over}", headers=VIEW)
        found: dict[str, Any] = resp.json()
        day = [c for c in found["counters"] if c["period"] == "day"]
        return found if day and float(day[0]["last_value"]) == 25.0 and found["actions"] and \
            found["actions"][0]["taken_at"] else None
    seen = await until(five)
    assert [(e["period"], float(e["used"]), e["action"]) for e in seen["exceeded"]] == [("day", 6.0, "cut")]
    (action,) = seen["actions"]
    assert action["action"] == "valve_close" and action["origin"] == "quantity" and action["outcome"] == "submitted"
    bad = await control.client.put(f"/api/v1/quantity/{over}", headers=OP, json={
        "utility": "water", "limits": [{"period": "day", "usage_limit": "5", "action": "cut"},
                                       {"period": "day", "usage_limit": "6", "action": "alarm"}]})
    assert bad.status_code == 422
    assert len((await control.client.get(f"/api/v1/quantity/{over}", headers=VIEW)).json()["limits"]) == 2
    assert await _logged(control, over, "quantity_limits") == 1  # the refused change left no row


async def _logged(control: Control, meter: str, what: str) -> int:
    async with control.cr.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM control.command_log WHERE kind = 'parameter'"
                                       " AND meter_id = $1 AND action = $2", meter, what))
