"""Prepayment in its three modes end to end: control and one FEP replica in the test loop, the simulator in its own
process over real sockets, the real broker and database. For each mode — payment → consumption → alarm → trip →
payment → restore — the switch / valve state and the remaining amount are compared with the simulator's truth at
each step.

* terminal mode (electricity): the purchase travels as AFN04 F22 + F47 and AFN05 F16 through the command path,
  the concentrator's purse counts down, alarms (ERC23), cuts (ERC7); the remaining amount read back (AFN0C F23)
  equals the concentrator's;
* meter mode (the fastest-flowing prepaid CJ/T 188 meter: heat, water or gas): A010 price and A013 purchase
  forwarded in AFN10, the meter closes its valve at zero; 8105 read back equals the meter's purse;
* meter mode for electricity (the fastest DL/T 645-2007 meter keeping no purse yet): price 04050101 and
  thresholds 0400100x written with 14H, each payment a plaintext recharge 03H 070102FF (MACs zero) numbered
  1, 2 …, the meter trips itself at zero; 00900200 / 03330201 read back equal the meter's purse and count;
* master mode (electricity): charges from validated readings — here built from the simulator's own registers,
  the collector and validator legs have their own end-to-end tests — drive the balance; trip and allow close
  go through the command path and are verified in the truth.

Simulated time runs at wall-clock speed: prices are chosen from the meter's current load so that a purse empties
in seconds.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "control"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "fep"))

from commands_harness import command_fep, installations, publish_topology, simulator, truth, uid, wait_for
from control_harness import DAY, Control, running_control, token
from fep_harness import BusWatch, Replica, watching_bus

from emms_bus import BusProducer, KafkaSettings
from emms_control.commands import configure, policy
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]
OP = token("operator")
CATEGORY = {"electricity": "e_residential", "water": "w_residential", "gas": "g_residential", "heat": "h_residential"}


@pytest.fixture(scope="module")
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    async with watching_bus(kafka_settings) as pair:
        yield pair


@pytest.fixture(scope="module")
async def fep(database_url: str, kafka_settings: KafkaSettings, bus: tuple[BusWatch, BusProducer]
              ) -> AsyncIterator[Replica]:
    async with command_fep(database_url, kafka_settings, bus[1], "fep-prepay") as replica:
        yield replica


@pytest.fixture(scope="module")
def world(fep: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[dict[str, Any]], str]]:
    manifest = tmp_path_factory.mktemp("sim") / "fleet.json"
    with simulator(fep.port, manifest, concentrators=3, meters_per=10,
                   mix="electricity=40,heat=30,water=15,gas=15", seed=7) as pair:
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
        total = sum(len(t["meters"]) for t in terminals)

        async def loaded() -> bool:
            async with svc.cr.pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM control.devices") >= total)
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


async def _rate_per_s(base: str, meter: dict[str, Any]) -> float:
    """What the meter's counted register grows by per second now (from its instantaneous load)."""
    if meter["utility"] == "electricity":
        return float(await truth(base, meter["meter_id"], "power.active.total") or 0.0) / 3600
    if meter["utility"] == "heat":
        return float(await truth(base, meter["meter_id"], "heat.power") or 0.0) / 3600
    return float(await truth(base, meter["meter_id"], "flow.rate") or 0.0) / 3600


async def _fastest(world: Any, utilities: tuple[str, ...], *, free: bool = False) -> tuple[dict[str, Any], float]:
    """The meter of ``utilities`` using the most now (``free``: among those keeping no purse yet — not another
    mode's test meter) and its rate."""
    terminals, base = world
    meters = [m | {"terminal": t["key"]} for t in terminals for m in t["meters"]
              if m["utility"] in utilities and not m.get("added_later") and not m.get("removed_at")]
    if free:
        meters = [m for m in meters if await _purse(base, m["meter_id"]) is None]
    rated = [(await _rate_per_s(base, m), m) for m in meters]
    rate, meter = max(rated, key=lambda pair: pair[0])
    assert rate > 0, f"no {utilities} meter uses anything now"
    return meter, rate


async def _account(ctl: Control, meter: dict[str, Any], price: str = "1") -> dict[str, Any]:
    utility = meter["utility"]
    tariff_id = uid("T")
    prices = {CATEGORY[utility]: dict.fromkeys(("sharp", "peak", "flat", "valley"), price)}
    resp = await ctl.client.post("/api/v1/tariffs", headers=OP, json={
        "tariff_id": tariff_id, "utility": utility, "name": f"{utility} prepaid", "version": {
            "effective_from": "2026-01-01T00:00:00+08:00", "day_table": DAY, "prices": prices}})
    assert resp.status_code == 201, resp.text
    resp = await ctl.client.post("/api/v1/accounts", headers=OP, json={
        "customer_id": uid("C"), "company_id": "CO-A", "region_id": "R-1", "utility": utility,
        "category": CATEGORY[utility], "tariff_id": tariff_id, "meters": [{"meter_id": meter["meter_id"]}]})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _pay(ctl: Control, account_id: str, amount: Decimal) -> None:
    resp = await ctl.client.post(f"/api/v1/accounts/{account_id}/payments", headers=OP,
                                 json={"payment_id": uid("P"), "amount": str(amount)})
    assert resp.status_code == 201, resp.text


async def _read_back(ctl: Control, account_id: str, after: str | None) -> dict[str, Any]:
    resp = await ctl.client.post(f"/api/v1/accounts/{account_id}/prepayment/read", headers=OP)
    assert resp.status_code == 202, resp.text

    async def fresh() -> dict[str, Any] | None:
        view: dict[str, Any] = (await ctl.client.get(f"/api/v1/accounts/{account_id}/prepayment",
                                                     headers=OP)).json()
        return view if view["remaining_at"] and view["remaining_at"] != after else None
    found: dict[str, Any] = await wait_for(fresh, 30)
    return found


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


async def test_terminal_mode(ctl: Control, world: Any) -> None:
    base = world[1]
    meter, rate = await _fastest(world, ("electricity",))
    price = min(Decimal(9999), Decimal(str(round(2.0 / rate, 3))))  # about 2 yuan a second
    per_s = float(price) * rate
    trip = _money(max(0.5, per_s))
    alarm = trip + _money(max(0.3, 4 * per_s))
    account = await _account(ctl, meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    resp = await ctl.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "terminal", "alarm_threshold": str(alarm), "trip_threshold": str(trip), "price": str(price)})
    assert resp.status_code == 200, resp.text
    await _pay(ctl, account["account_id"], alarm + _money(max(0.3, 4 * per_s)))

    async def on() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["purchase_number"] == 1 and purse["control_on"] else None
    await wait_for(on, 40)

    async def tripped() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["tripped"] else None
    purse = await wait_for(tripped, 90, poll_s=0.5)
    assert [e["kind"] for e in purse["history"]] == ["purchase", "control_on", "alarm", "trip"]
    assert await truth(base, meter["meter_id"], "relay.state") == 0.0
    view = await _read_back(ctl, account["account_id"], None)
    now = await _purse(base, meter["meter_id"])
    assert now is not None and Decimal(str(view["remaining"])) == Decimal(round(now["remaining"])) / 1000

    await _pay(ctl, account["account_id"], Decimal(50) + alarm)

    async def restored() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["purchase_number"] == 2 and not purse["tripped"] else None
    await wait_for(restored, 40)
    assert await truth(base, meter["meter_id"], "relay.state") == 1.0
    view = await _read_back(ctl, account["account_id"], view["remaining_at"])
    then = await _purse(base, meter["meter_id"], datetime.fromisoformat(view["remaining_at"]))
    assert then is not None
    assert abs(float(view["remaining"]) - then["remaining"] / 1000) <= 2 * per_s + 0.01  # answered just before
    assert [p["purchase_number"] for p in view["purchase_list"]] == [1, 2]


async def test_meter_mode(ctl: Control, world: Any) -> None:
    base = world[1]
    meter, rate = await _fastest(world, ("heat", "water", "gas"))
    price = min(Decimal("9999.99"), Decimal(str(round(2.0 / rate, 2))))
    per_s = float(price) * rate
    account = await _account(ctl, meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    resp = await ctl.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "meter", "alarm_threshold": "10", "trip_threshold": "0", "price": str(price)})
    assert resp.status_code == 200, resp.text
    first = Decimal(10) + _money(3 * per_s) if per_s >= 0.5 else _money(max(0.05, 6 * per_s))
    await _pay(ctl, account["account_id"], first)

    async def tripped() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["tripped"] else None
    purse = await wait_for(tripped, 120, poll_s=0.5)
    assert [e["kind"] for e in purse["history"]] == ["purchase", "alarm", "trip"]
    assert purse["purchase_number"] == 1 and await truth(base, meter["meter_id"], "valve.state") == 0.0
    view = await _read_back(ctl, account["account_id"], None)
    assert Decimal(str(view["remaining"])) == Decimal(max(0, round(purse["remaining"]))) / 100
    assert view["device_count"] == 1

    await _pay(ctl, account["account_id"], Decimal(30))

    async def restored() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["purchase_number"] == 2 and not purse["tripped"] else None
    await wait_for(restored, 40)
    assert await truth(base, meter["meter_id"], "valve.state") == 1.0
    view = await _read_back(ctl, account["account_id"], view["remaining_at"])
    then = await _purse(base, meter["meter_id"], datetime.fromisoformat(view["remaining_at"]))
    assert then is not None and view["device_count"] == 2
    assert abs(float(view["remaining"]) - then["remaining"] / 100) <= 2 * per_s + 0.01


async def test_meter_mode_electricity(ctl: Control, world: Any) -> None:
    base = world[1]
    meter, rate = await _fastest(world, ("electricity",), free=True)  # not the terminal-mode test's meter
    price = min(Decimal("9999.9999"), Decimal(str(round(2.0 / rate, 4))))
    per_s = float(price) * rate
    alarm = _money(max(1.0, 4 * per_s))
    account = await _account(ctl, meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    resp = await ctl.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "meter", "alarm_threshold": str(alarm), "trip_threshold": "0", "price": str(price)})
    assert resp.status_code == 200, resp.text
    first = alarm + _money(max(1.0, 4 * per_s))
    await _pay(ctl, account["account_id"], first)

    async def tripped() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["tripped"] else None
    purse = await wait_for(tripped, 120, poll_s=0.5)
    assert [e["kind"] for e in purse["history"]] == ["purchase", "alarm", "trip"]
    assert purse["purchase_number"] == 1 and purse["total_bought"] == float(first * 100)
    assert await truth(base, meter["meter_id"], "relay.state") == 0.0
    expected = Decimal(round(purse["remaining"])) / 100

    async def read_back() -> dict[str, Any] | None:
        view = await _read_back(ctl, account["account_id"], None)
        return view if Decimal(str(view["remaining"])) == expected and view["device_count"] == 1 else None
    view = await wait_for(read_back, 60, poll_s=1.0)

    await _pay(ctl, account["account_id"], Decimal(50) + alarm)

    async def restored() -> dict[str, Any] | None:
        purse = await _purse(base, meter["meter_id"])
        return purse if purse and purse["purchase_number"] == 2 and not purse["tripped"] else None
    await wait_for(restored, 40)
    assert await truth(base, meter["meter_id"], "relay.state") == 1.0
    view = await _read_back(ctl, account["account_id"], view["remaining_at"])
    then = await _purse(base, meter["meter_id"], datetime.fromisoformat(view["remaining_at"]))
    assert then is not None
    assert abs(float(view["remaining"]) - then["remaining"] / 100) <= 2 * per_s + 0.01


async def test_master_mode(ctl: Control, world: Any, bus: tuple[BusWatch, BusProducer]) -> None:
    base = world[1]
    meter, _ = await _fastest(world, ("electricity",), free=True)  # not a terminal / meter-mode test's meter
    account = await _account(ctl, meter, price="3000")  # one register step (0.01 kWh) costs 30
    url = f"/api/v1/accounts/{account['account_id']}"
    resp = await ctl.client.put(f"{url}/prepayment", headers=OP, json={
        "mode": "master", "alarm_threshold": "75", "trip_threshold": "15"})
    assert resp.status_code == 200 and resp.json()["state"] == "tripped", resp.text  # nothing paid yet

    async def relay(value: float) -> bool:
        return await truth(base, meter["meter_id"], "relay.state") == value
    await wait_for(lambda: relay(0.0), 40)
    await _pay(ctl, account["account_id"], Decimal(100))
    await wait_for(lambda: relay(1.0), 40)

    async def register() -> tuple[datetime, float]:
        at = datetime.now(UTC).replace(microsecond=0)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            resp = await client.get("/truth", params={"meter": meter["meter_id"],
                                                      "item": "energy.active.import.total", "at": at.isoformat()})
        return at, float(resp.json()["value"])

    async def publish(*points: tuple[datetime, float]) -> None:
        await bus[1].publish(ValidatedReadingBatch(batch_id=uid("vee"), terminal=meter["terminal"], readings=[
            ValidatedReading(meter_id=meter["meter_id"], item="energy.active.import.total", data_time=at, value=v,
                             unit="kWh", status=ValidationStatus.VALID, validated_at=datetime.now(UTC))
            for at, v in points]))

    async def state(wanted: str) -> bool:
        return bool((await ctl.client.get(f"{url}/prepayment", headers=OP)).json()["state"] == wanted)

    start = await register()
    await publish(start)  # the baseline

    async def grown(by: float) -> tuple[datetime, float] | None:
        point = await register()
        return point if point[1] - start[1] >= by - 1e-9 else None
    one = await wait_for(lambda: grown(0.01), 120, poll_s=0.5)
    await publish(one)  # ≥ 30 charged: balance ≤ 70 → alarm, supply stays
    await wait_for(lambda: state("alarm"), 30)
    assert await truth(base, meter["meter_id"], "relay.state") == 1.0
    three = await wait_for(lambda: grown(0.03), 240, poll_s=0.5)
    await publish(three)  # ≥ 90 charged: balance ≤ 10 → trip
    await wait_for(lambda: state("tripped"), 30)
    await wait_for(lambda: relay(0.0), 40)
    balance = Decimal(str((await ctl.client.get(url, headers=OP)).json()["balance"]))
    assert balance == Decimal(100) - Decimal(str(round((three[1] - start[1]) * 3000, 2)))
    await _pay(ctl, account["account_id"], Decimal(200))
    await wait_for(lambda: state("normal"), 30)
    await wait_for(lambda: relay(1.0), 40)
    view = (await ctl.client.get(f"{url}/prepayment", headers=OP)).json()
    assert [(t["from_state"], t["to_state"]) for t in view["transitions"]] == [
        ("normal", "tripped"), ("tripped", "normal"), ("normal", "alarm"), ("alarm", "tripped"),
        ("tripped", "normal")]
