"""Load curves end to end: simulator → FEP → collector → bus → archive, compared with the simulator's truth.

A ``curve`` task reads yesterday's 15-minute curves (1376.1 AFN 0D F81 / F85 /
F89 / F92 / F105) of every electricity meter of a small fleet: each of the 96
points of each curve is published as a reading stamped with its own instant
and equals the truth's ``/curve``; the archive stores them; the active-power
curve integrates to the day's energy. The daily task of the same fleet brings
valve states of the water / gas / heat meters, a realtime task the relay states of the electricity
meters (a forwarded DL/T 645 status word 3), each equal to the truth.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))
from archive_harness import ADMIN
from test_e2e_collection_stack import BusReadings, Stack, http, stack_env

from emms_bus import KafkaSettings
from emms_collector.tasks.periods import zone

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
TZ = zone("Asia/Shanghai")
CURVES = ["power.active.total", "power.reactive.total", "voltage.a", "current.a", "power_factor.total"]
TOLERANCE = {"power.active.total": 0.00006, "power.reactive.total": 0.00006, "voltage.a": 0.051,
             "current.a": 0.0006, "power_factor.total": 0.0006}


async def _until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout_s} s")


async def _run(stack: Stack, task: dict[str, object], timeout_s: float = 60) -> dict[str, object]:
    status, _ = http("POST", f"{stack.collector}/api/v1/tasks", task)
    assert status == 201
    status, run = http("POST", f"{stack.collector}/api/v1/tasks/{task['id']}/runs", {})
    assert status == 202
    await _until(lambda: http("GET", f"{stack.collector}/api/v1/runs/{run['run_id']}")[1]["status"] == "done",
                 timeout_s, f"the {task['id']} run")
    return http("GET", f"{stack.collector}/api/v1/quality/runs/{run['run_id']}")[1]  # type: ignore[no-any-return]


async def test_curves_and_states_equal_the_truth(service_env: dict[str, str], kafka_settings: KafkaSettings,
                                                 tmp_path: Path) -> None:
    env = {**stack_env({**service_env, "EMMS_TOPIC_PREFIX": kafka_settings.topic_prefix}),
           "EMMS_ARCHIVE_INGEST__REATTRIBUTE_INTERVAL_S": "1"}
    stack = Stack(env, tmp_path, concentrators=1, meters_per=12, with_archive=True,
                  collector_env={"EMMS_COLLECTOR_DISPATCH__REQUEST_TIMEOUT_S": "20"})  # a loaded machine
    stack.start()
    try:
        active = [m for m in stack.manifest_meters() if not m["added_later"]]
        elec = [m for m in active if m["utility"] == "electricity"]
        assert elec
        await _until(lambda: stack.online_terminals() == 1, 30, "terminal online")
        await _until(lambda: http("GET", f"{stack.collector}/api/v1/points?limit=1")[1]["total"] >= len(active),
                     30, "points imported")
        status, refused = http("POST", f"{stack.collector}/api/v1/tasks", {
            "id": "no-items", "name": "curves", "type": "curve", "target": {"all": True},
            "period": {"unit": "daily", "at": "00:40"}})
        assert status == 422 and "curve" in str(refused)
        async with BusReadings(kafka_settings) as bus:
            quality, _, _ = await asyncio.gather(_run(stack, {
                "id": "e2e-curves", "name": "load curves", "type": "curve", "target": {"utilities": ["electricity"]},
                "items": CURVES, "period": {"unit": "daily", "at": "00:40"}, "retries": 2, "retry_delay_s": 1}),
                _run(stack, {"id": "e2e-states", "name": "valves", "type": "daily_frozen",
                             "target": {"utilities": ["water", "gas", "heat"]}, "items": ["valve.state"],
                             "period": {"unit": "daily", "at": "00:20"}, "retries": 2, "retry_delay_s": 1}),
                _run(stack, {"id": "e2e-relays", "name": "relays", "type": "realtime",
                             "target": {"utilities": ["electricity"]}, "items": ["relay.state"],
                             "period": {"unit": "hourly", "every": 1}, "retries": 2, "retry_delay_s": 1}))
            await asyncio.sleep(0.5)
        assert quality["overall"]["meters"] == len(elec)  # type: ignore[index]
        start = datetime.combine(datetime.now(TZ).date() - timedelta(days=1), datetime.min.time(), TZ)
        mismatches, compared = await asyncio.to_thread(_compare_curves, stack, bus, elec, start)
        assert mismatches == [] and compared > 0
        assert await asyncio.to_thread(_compare_states, stack, bus, [m for m in active if m not in elec]) == []
        assert await asyncio.to_thread(_compare_states, stack, bus, elec, "relay.state") == []
        # the archive learns where the meters are after their readings came (held, then attributed)
        await _import_into_archive(stack, elec)
        meter = str(elec[0]["meter_id"])
        stored = await asyncio.to_thread(_archived, stack, meter, start)
        assert len(stored) == 96 and stored == sorted(
            (r.data_time, r.value) for r in bus.readings.get((meter, "power.active.total", "scheduled"), []))
    finally:
        stack.stop()


async def _import_into_archive(stack: Stack, elec: list[dict[str, object]]) -> None:
    """The archive's master data of the electricity meters on the simulator's own terminal (its address in
    the vendor form A1 A2 hex), so their readings are attributed to metering points."""
    key = str(elec[0]["terminal"])
    area, number = key.split("-")
    steps: list[tuple[str, list[dict[str, object]]]] = [
        ("companies", [{"id": "CO-c", "name": "Curves company", "utilities": ["electricity"]}]),
        ("regions", [{"id": "R-c", "name": "City", "level": 1},
                     {"id": "R-c-1", "name": "District", "parent_id": "R-c", "level": 2}]),
        ("service-areas", [{"company_id": "CO-c", "region_id": "R-c", "utility": "electricity"}]),
        ("terminals", [{"id": "T-c", "kind": "concentrator", "address": f"{area}{int(number):04X}",
                        "company_id": "CO-c", "region_id": "R-c-1"}]),
        ("customer-meters", [{"customer_id": f"C-c-{i}", "customer_name": f"Customer {i}", "utility": "electricity",
                              "category": "e_residential", "company_id": "CO-c", "region_id": "R-c-1",
                              "metering_point_id": f"MP-c-{i}", "terminal_id": "T-c", "pn": m["pn"],
                              "meter_id": m["meter_id"], "protocol": m["protocol"], "meter_address": m["address"],
                              "installed_at": "2020-01-01T00:00:00Z"} for i, m in enumerate(elec)]),
    ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.ports['archive']}", timeout=30) as client:
        for kind, rows in steps:
            resp = await client.post(f"/api/v1/import/{kind}", json=rows, headers=ADMIN)
            assert resp.status_code == 200, resp.text


def _compare_curves(stack: Stack, bus: BusReadings, elec: list[dict[str, object]], start: datetime
                    ) -> tuple[list[str], int]:
    bad: list[str] = []
    compared = 0
    for m in elec:
        meter = str(m["meter_id"])
        for item in CURVES:
            _, truth = http("GET", f"{stack.sim}/curve?" + urlencode(
                {"meter": meter, "item": item, "start": start.isoformat(), "points": 96}))
            expected = {datetime.fromisoformat(p["at"]).astimezone(UTC): p["value"] for p in truth["points"]}
            got = {r.data_time: r.value for r in bus.readings.get((meter, item, "scheduled"), [])}
            if set(got) - set(expected):
                bad.append(f"{meter} {item}: points off the 15-minute grid {sorted(set(got) - set(expected))[:2]}")
            for t, v in expected.items():
                if v is None or (item.startswith("power.") and abs(v) >= 80):
                    continue  # no meter, or beyond A.9 (±79.9999 kW): absent on the wire
                if t not in got or abs((got[t] or 0.0) - v) > TOLERANCE[item]:
                    bad.append(f"{meter} {item} {t}: {got.get(t)} vs {v}")
                compared += 1
            if item == "power.active.total" and len(got) == 96:
                bad += _integral_check(stack, meter, start, sum(v or 0.0 for v in got.values()) * 0.25)
    return bad, compared


def _integral_check(stack: Stack, meter: str, start: datetime, integral: float) -> list[str]:
    """The curve's energy (Σ p · ¼ h) against the day's import − export register increments."""
    day_energy = 0.0
    for register, sign in (("energy.active.import.total", 1.0), ("energy.active.export.total", -1.0)):
        values = [http("GET", f"{stack.sim}/truth?meter={meter}&item={register}&at={quote(t.isoformat())}")[1]["value"]
                  for t in (start, start + timedelta(days=1))]
        day_energy += sign * ((values[1] or 0.0) - (values[0] or 0.0))
    ok = abs(integral - day_energy) <= 0.03
    return [] if ok else [f"{meter}: curve integral {integral:.4f} kWh vs energy {day_energy:.4f} kWh"]


def _compare_states(stack: Stack, bus: BusReadings, meters: list[dict[str, object]], item: str = "valve.state"
                    ) -> list[str]:
    bad: list[str] = []
    for m in meters:
        meter = str(m["meter_id"])
        found = bus.readings.get((meter, item, "scheduled"))
        if not found:
            bad.append(f"{meter} {item}: missing")
            continue
        got = found[-1]
        at = quote(got.data_time.isoformat())
        _, truth = http("GET", f"{stack.sim}/truth?meter={meter}&item={item}&at={at}")
        if got.value != truth["value"]:
            bad.append(f"{meter} {item}: {got.value} vs {truth['value']}")
    return bad


def _archived(stack: Stack, meter: str, start: datetime) -> list[tuple[datetime, float]]:
    """The archive's raw power.active.total points of the day, once all 96 are stored."""
    url = f"http://127.0.0.1:{stack.ports['archive']}/api/v1/readings?" + urlencode({
        "meters": meter, "items": "power.active.total", "from": start.isoformat(),
        "to": (start + timedelta(days=1)).isoformat(), "limit": 500})
    deadline = time.monotonic() + 30
    rows: list[tuple[datetime, float]] = []
    while time.monotonic() < deadline:
        status, body = http("GET", url)
        if status == 200:
            rows = sorted((datetime.fromisoformat(r["data_time"]).astimezone(UTC), r["value"])
                          for r in body["rows"])
            if len(rows) >= 96:
                break
        time.sleep(0.5)
    return rows
