"""End to end on real processes: simulator fleet → FEP → collector → bus, compared with the ground truth.

A small fleet of all four utilities with 2 % unanswered frames: a daily task collects yesterday's frozen
data; after retries and back-fill every meter's values equal the simulator's truth; the success rates are
reported; a manual read of one meter returns the true value through the HTTP API.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from test_e2e_collection_stack import BusReadings, Stack, http, stack_env

from emms_bus import KafkaSettings
from emms_collector.tasks.periods import zone

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = zone("Asia/Shanghai")


async def _until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout_s} s")


async def test_daily_collection_equals_the_ground_truth(service_env: dict[str, str], kafka_settings: KafkaSettings,
                                                         tmp_path: Path) -> None:
    stack = Stack(stack_env(service_env), tmp_path, concentrators=4, meters_per=25, faults="no-answer=2%")
    stack.start()
    try:
        meters = stack.manifest_meters()
        active = [m for m in meters if not m["added_later"]]
        await _until(lambda: stack.online_terminals() == 4, 30, "terminals online")
        await _until(lambda: http("GET", f"{stack.collector}/api/v1/points?limit=1")[1]["total"] >= len(active),
                     30, "points imported")
        # a manual read through the whole chain, retried until the FEP's downlink consumer is in place
        probe = active[0]
        answer: dict[str, object] = {}

        def manual() -> bool:
            status, body = http("POST", f"{stack.collector}/api/v1/reads",
                                {"meters": [probe["meter_id"]], "wait_s": 10})
            answer.update(body if status == 200 else {})
            return status == 200 and bool(body["results"][0]["values"])

        await _until(manual, 40, "a manual read")
        values = answer["results"][0]["values"]  # type: ignore[index]
        item, got = next(iter(values.items()))
        at = quote(got["data_time"])
        status, truth = http("GET", f"{stack.sim}/truth?meter={probe['meter_id']}&item={item}&at={at}")
        assert status == 200 and got["value"] == pytest.approx(truth["value"], abs=0.011)

        async with BusReadings(kafka_settings) as bus:
            status, _ = http("POST", f"{stack.collector}/api/v1/tasks", {
                "id": "e2e-daily", "name": "daily frozen", "type": "daily_frozen", "target": {"all": True},
                "period": {"unit": "daily", "at": "00:20"}, "retries": 2, "retry_delay_s": 1, "backfill_days": 3})
            assert status == 201
            status, run = http("POST", f"{stack.collector}/api/v1/tasks/e2e-daily/runs", {})
            assert status == 202

            def finished() -> bool:
                return http("GET", f"{stack.collector}/api/v1/runs/{run['run_id']}")[1]["status"] == "done"

            await _until(finished, 40, "the daily run")

            def complete() -> bool:
                body = http("GET", f"{stack.collector}/api/v1/quality/runs/{run['run_id']}")[1]
                return body["overall"]["success_final"] == 1.0

            # a deadline for a loaded machine, not a wait: 29 s alone here, over 30 s once beside a bench
            await _until(complete, 90, "retries and back-fill completing the run")
            await asyncio.sleep(1.0)
        quality = http("GET", f"{stack.collector}/api/v1/quality/runs/{run['run_id']}?by=utility")[1]
        overall = quality["overall"]
        assert overall["meters"] == len(active) and overall["completeness"] == 1.0
        assert {b["key"] for b in quality["breakdown"]} == {"electricity", "water", "gas", "heat"}
        assert bus.count >= len(active)
        day = datetime.now(TZ).date() - timedelta(days=1)
        mismatches = await asyncio.to_thread(_compare, stack, bus, active, day)
        assert mismatches == []
    finally:
        stack.stop()


def _compare(stack: Stack, bus: BusReadings, active: list[dict[str, object]], day: object) -> list[str]:
    """Every meter's collected values against the simulator's truth; the list of differences."""
    bad: list[str] = []
    for m in active:
        meter = str(m["meter_id"])
        if m["utility"] == "electricity":
            _status, frozen = http("GET", f"{stack.sim}/frozen?meter={meter}&date={day}")
            items = [f"energy.active.import.{t}" for t in ("total", "t1", "t2", "t3", "t4")]
            for item in items:
                got = _one(bus, meter, item)
                if got is None or got.data_time != datetime.fromisoformat(frozen["instant"]).astimezone(UTC) \
                        or abs((got.value or 0) - frozen["values"][item]) > 0.0051:
                    bad.append(f"{meter} {item}: {got and (got.value, got.data_time)} vs {frozen['values'][item]}")
        else:
            item = {"water": "water.volume", "gas": "gas.volume", "heat": "heat.energy"}[str(m["utility"])]
            got = _one(bus, meter, item)
            if got is None:
                bad.append(f"{meter} {item}: missing")
                continue
            at = quote(got.data_time.isoformat())
            _, truth = http("GET", f"{stack.sim}/truth?meter={meter}&item={item}&at={at}")
            if abs((got.value or 0) - truth["value"]) > 0.011:
                bad.append(f"{meter} {item}: {got.value} vs {truth['value']}")
    return bad


def _one(bus: BusReadings, meter: str, item: str) -> object:
    for source in ("scheduled", "backfill"):
        found = bus.readings.get((meter, item, source))
        if found:
            return found[-1]
    return None
