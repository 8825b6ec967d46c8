"""Meter-mode prepayment for electricity against the simulator: a DL/T 645-2007 cost-control meter behind a
concentrator, reached by AFN10 F1 forwarding through the FEP over real sockets, with control, the broker and
the database real. The price (04050101) and thresholds (04001001 / 02 / 03 / 05) are written with 14H, each
payment becomes a plaintext recharge (03H 070102FF, MACs zero) numbered 1, 2 …; the meter counts down,
alarms, trips itself, and the next payment restores it — the purse, the relay and the read-back remaining
amount (00900200 / 00900201) and purchase count (03330201) compared with the simulator's truth at each step.
A DL/T 645-1997 meter and a positive trip threshold are refused with the reason, nothing stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest
from commands_harness import installations, publish_topology, simulator, truth, uid, wait_for
from control_harness import DAY, Control, running_control, token
from fep_harness import BusWatch, Replica

from emms_bus import BusProducer, KafkaSettings
from emms_control.commands import configure, policy
from emms_control.prepayment.units import customer_number
from emms_messages.masterdata import ChangeKind, MasterDataChange

pytestmark = [pytest.mark.integration]
OP = token("operator")
VIEW = token("viewer")


@pytest.fixture(scope="module")
def world(fep: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[dict[str, Any]], str]]:
    manifest = tmp_path_factory.mktemp("sim645") / "fleet.json"
    with simulator(fep.port, manifest, concentrators=1, meters_per=8, mix="electricity=100", seed=19) as pair:
        yield pair


@pytest.fixture(scope="module")
async def ctl(database_url: str, kafka_settings: KafkaSettings, fep: Replica, world: Any,
              bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Control]:
    before = policy()
    terminals, _ = world
    async with running_control(database_url, kafka_settings) as svc:
        configure(request_timeout_s=3.0, fep_retries=0, attempts=3, retry_delay_s=0.2, result_grace_s=3.0,
                  jobs_per_operator_per_min=1000)
        await publish_topology(bus[1], installations(terminals))
        wanted = {m["meter_id"]: m["protocol"] for t in terminals for m in t["meters"]}

        async def loaded() -> bool:  # as this fleet has them: other modules' fleets reuse the meter ids
            async with svc.cr.pool.acquire() as conn:
                rows = await conn.fetch("SELECT meter_id, protocol FROM control.devices WHERE meter_id = ANY($1)",
                                        list(wanted))
            return {r["meter_id"]: r["protocol"] for r in rows} == wanted
        await wait_for(loaded, 30)

        async def online() -> bool:
            return all(fep.fep.sessions.get(t["key"]) is not None for t in terminals)
        await wait_for(online, 30)
        yield svc
    configure(**{f: getattr(before, f) for f in before.__dataclass_fields__})


async def _purse(base: str, meter_id: str, at: datetime | None = None) -> dict[str, Any] | None:
    params = {"key": meter_id} | ({"at": at.isoformat()} if at is not None else {})
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        resp = await client.get("/purses", params=params)
        resp.raise_for_status()
        purses: list[dict[str, Any]] = resp.json()["purses"]
    return purses[0] if purses else None


async def _fastest(world: Any) -> tuple[dict[str, Any], float]:
    """The electricity meter using the most now, and its import in kWh per second."""
    terminals, base = world
    meters = [m | {"terminal": t["key"]} for t in terminals for m in t["meters"]
              if not m.get("added_later") and not m.get("removed_at")]
    rated = [(float(await truth(base, m["meter_id"], "power.active.total") or 0.0) / 3600, m) for m in meters]
    rate, meter = max(rated, key=lambda pair: pair[0])
    assert rate > 0, "no electricity meter uses anything now"
    return meter, rate


async def _account(ctl: Control, meter_id: str) -> dict[str, Any]:
    tariff_id = uid("T")
    resp = await ctl.client.post("/api/v1/tariffs", headers=OP, json={
        "tariff_id": tariff_id, "utility": "electricity", "name": "prepaid", "version": {
            "effective_from": "2026-01-01T00:00:00+08:00", "day_table": DAY,
            "prices": {"e_residential": dict.fromkeys(("sharp", "peak", "flat", "valley"), "1")}}})
    assert resp.status_code == 201, resp.text
    resp = await ctl.client.post("/api/v1/accounts", headers=OP, json={
        "customer_id": uid("C"), "company_id": "CO-A", "region_id": "R-1", "utility": "electricity",
        "category": "e_residential", "tariff_id": tariff_id, "meters": [{"meter_id": meter_id}]})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _pay(ctl: Control, account_id: str, amount: Decimal) -> None:
    resp = await ctl.client.post(f"/api/v1/accounts/{account_id}/payments", headers=OP,
                                 json={"payment_id": uid("P"), "amount": str(amount)})
    assert resp.status_code == 201, resp.text


async def _view(ctl: Control, account_id: str) -> dict[str, Any]:
    resp = await ctl.client.get(f"/api/v1/accounts/{account_id}/prepayment", headers=VIEW)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _payload(action: dict[str, Any]) -> dict[str, Any]:
    payload = action["payload"]
    found: dict[str, Any] = json.loads(payload) if isinstance(payload, str) else payload
    return found


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


async def test_payment_recharges_the_meter_which_counts_down_alarms_trips_and_is_restored(
        ctl: Control, world: Any) -> None:
    base = world[1]
    meter, rate = await _fastest(world)
    meter_id = meter["meter_id"]
    price = min(Decimal("9999.9999"), Decimal(str(round(2.0 / rate, 4))))  # about 2 yuan a second
    per_s = float(price) * rate
    alarm = _money(max(1.0, 4 * per_s))
    account = await _account(ctl, meter_id)
    account_id = account["account_id"]
    resp = await ctl.client.put(f"/api/v1/accounts/{account_id}/prepayment", headers=OP, json={
        "mode": "meter", "alarm_threshold": str(alarm), "trip_threshold": "0", "price": str(price)})
    assert resp.status_code == 200, resp.text
    assert [_payload(a)["kind"] for a in resp.json()["actions"]] == ["price", "threshold", "threshold",
                                                                     "threshold", "threshold"]

    async def thresholds_written() -> dict[str, Any] | None:
        purse = await _purse(base, meter_id)
        return purse if purse and purse["allow_close"] is not None else None
    purse = await wait_for(thresholds_written, 40)
    assert (purse["alarm"], purse["alarm2"], purse["trip"], purse["allow_close"]) == (
        float(alarm * 100), float(alarm * 100), 0.0, 0.0)
    assert abs(purse["price"] - float(price) * 100) < 1e-6 and purse["purchases"] == 0

    first = alarm + _money(max(1.0, 4 * per_s))
    await _pay(ctl, account_id, first)

    async def recharged() -> dict[str, Any] | None:
        purse = await _purse(base, meter_id)
        return purse if purse and purse["purchase_number"] == 1 else None
    purse = await wait_for(recharged, 40)
    assert purse["total_bought"] == float(first * 100)  # the simulator's purse took the account's payment
    assert purse["customer"] == customer_number(account_id)

    async def tripped() -> dict[str, Any] | None:
        purse = await _purse(base, meter_id)
        return purse if purse and purse["tripped"] else None
    purse = await wait_for(tripped, 90, poll_s=0.5)
    assert [e["kind"] for e in purse["history"]] == ["purchase", "alarm", "trip"]
    assert await truth(base, meter_id, "relay.state") == 0.0  # the meter cut itself

    resp = await ctl.client.post(f"/api/v1/accounts/{account_id}/prepayment/read", headers=OP)
    assert resp.status_code == 202, resp.text
    settled = await _purse(base, meter_id)  # cut: nothing flows, what remains stands still
    assert settled is not None
    expected = Decimal(round(settled["remaining"])) / 100

    async def read_back() -> dict[str, Any] | None:
        view = await _view(ctl, account_id)
        ok = view["remaining"] is not None and Decimal(str(view["remaining"])) == expected \
            and view["device_count"] == 1
        return view if ok else None
    view = await wait_for(read_back, 30)

    await _pay(ctl, account_id, Decimal(50) + alarm)

    async def restored() -> dict[str, Any] | None:
        purse = await _purse(base, meter_id)
        return purse if purse and purse["purchase_number"] == 2 and not purse["tripped"] else None
    await wait_for(restored, 40)
    assert await truth(base, meter_id, "relay.state") == 1.0
    resp = await ctl.client.post(f"/api/v1/accounts/{account_id}/prepayment/read", headers=OP)
    assert resp.status_code == 202, resp.text

    async def fresh() -> dict[str, Any] | None:
        now = await _view(ctl, account_id)
        return now if now["remaining_at"] != view["remaining_at"] and now["device_count"] == 2 else None
    now = await wait_for(fresh, 30)
    then = await _purse(base, meter_id, datetime.fromisoformat(now["remaining_at"]))
    assert then is not None
    assert abs(float(now["remaining"]) - then["remaining"] / 100) <= 2 * per_s + 0.01  # answered just before
    assert [p["purchase_number"] for p in now["purchase_list"]] == [1, 2]
    taken = [a for a in now["actions"] if _payload(a)["kind"] == "purchase"]
    assert [a["outcome"] for a in taken] == ["submitted", "submitted"]

    # each recharge's device is verified by the meter's own purchase count, not by any answer to the read
    async def purchases_verified() -> list[Any] | None:
        async with ctl.cr.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT j.params->>'what' AS what, d.state, d.reason FROM control.job_devices d"
                " JOIN control.jobs j USING (job_id) WHERE d.meter_id = $1 AND j.params->>'what' LIKE 'purchase %'"
                " ORDER BY j.created_at", meter_id)
        return rows if len(rows) == 2 and all(r["state"] == "verified" for r in rows) else None
    rows = await wait_for(purchases_verified, 30)
    assert [(r["what"], r["reason"]) for r in rows] == [("purchase 1", "read back purchase count 1"),
                                                        ("purchase 2", "read back purchase count 2")]


async def _install(ctl: Control, producer: BusProducer, meter_id: str, protocol: str) -> None:
    data = {"meter_id": meter_id, "terminal_address": "3701-00009", "pn": 4, "port": 31, "protocol": protocol,
            "meter_address": "000009000401", "utility": "electricity", "customer_id": f"C-{meter_id}",
            "company_id": "CO-A", "region_id": "R-1"}
    await producer.publish_many([MasterDataChange(
        change_id=str(uuid.uuid4()), entity="meter_installation", entity_id=f"MP-{meter_id}",
        kind=ChangeKind.CREATED, changed_at=datetime.now(UTC), changed_by="test", data=data)])

    async def there() -> bool:
        async with ctl.cr.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) FROM control.devices WHERE meter_id = $1", meter_id))
    await wait_for(there, 30)


@pytest.mark.parametrize(("protocol", "body", "reason"), [
    ("dlt645-1997", {"alarm_threshold": "9", "trip_threshold": "0"}, "DL/T 645-1997 defines no cost-control"),
    ("dlt645-2007", {"alarm_threshold": "9", "trip_threshold": "5"}, "must be at or below 0"),
    ("dlt645-2007", {"alarm_threshold": "-1", "trip_threshold": "-5"}, "must be at or above 0"),
])
async def test_a_meter_without_cost_control_or_levels_it_cannot_hold_are_refused(
        ctl: Control, bus: tuple[BusWatch, BusProducer], protocol: str, body: dict[str, str], reason: str) -> None:
    meter_id = uid("M")
    await _install(ctl, bus[1], meter_id, protocol)
    account = await _account(ctl, meter_id)
    url = f"/api/v1/accounts/{account['account_id']}/prepayment"
    resp = await ctl.client.put(url, headers=OP, json={"mode": "meter", "price": "1", **body})
    assert resp.status_code == 422 and reason in resp.text, resp.text
    assert (await ctl.client.get(url, headers=VIEW)).status_code == 404  # nothing stored
    async with ctl.cr.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM control.auto_action WHERE meter_id = $1", meter_id) == 0
