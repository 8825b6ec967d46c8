"""Supply-quality data collected end to end: simulator → FEP → collector → bus, compared with the truth (issue 17).

A ``daily_frozen`` task reads the terminals' daily voltage statistics of yesterday (1376.1 AFN0D F27) and a
``realtime`` task the harmonic content (AFN0C F58) of every electricity meter of a small fleet, over real frames
on TCP. Each meter's minutes within the limits equal 15 × the truth's 15-minute voltages of that day within
198 … 235.4 V (the truth's ``/curve``); the harmonic content of three-phase meters equals the truth's
(``emms_sim.supply_quality``) at the read time, single-phase meters deliver none.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))
import json

from test_e2e_collection_stack import BusReadings, Stack, http, stack_env

from emms_bus import KafkaSettings
from emms_collector.tasks.periods import zone
from emms_sim import supply_quality as sq
from emms_sim.fleet import FleetConfig
from emms_sim.truth import GroundTruth

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
TZ = zone("Asia/Shanghai")
STATS = ["qualification.minutes.within.a", "qualification.minutes.over_upper.a", "qualification.minutes.under_lower.a",
         "voltage.day.max.a"]
HARMONICS = ["thd.voltage.a", "harmonic.voltage.a.h5", "harmonic.current.b.h3"]


async def _until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout_s} s")


async def _run(stack: Stack, task: dict[str, object], timeout_s: float = 90) -> None:
    status, body = http("POST", f"{stack.collector}/api/v1/tasks", task)
    assert status == 201, body
    status, run = http("POST", f"{stack.collector}/api/v1/tasks/{task['id']}/runs", {})
    assert status == 202
    await _until(lambda: http("GET", f"{stack.collector}/api/v1/runs/{run['run_id']}")[1]["status"] == "done",
                 timeout_s, f"the {task['id']} run")


async def test_voltage_statistics_and_harmonics_equal_the_truth(service_env: dict[str, str],
                                                                 kafka_settings: KafkaSettings,
                                                                 tmp_path: Path) -> None:
    stack = Stack(stack_env({**service_env, "EMMS_TOPIC_PREFIX": kafka_settings.topic_prefix}),
                  tmp_path, concentrators=1, meters_per=40,
                  collector_env={"EMMS_COLLECTOR_DISPATCH__REQUEST_TIMEOUT_S": "20"})
    stack.start()
    try:
        head = json.loads(stack.manifest.read_text())
        truth = GroundTruth(FleetConfig(seed=head["seed"], concentrators=head["concentrators"],
                                        meters_per=head["meters_per"], mix=tuple(head["mix"].items()),
                                        tz_offset_minutes=head["tz_offset_minutes"]))
        elec = [m for m in stack.manifest_meters() if m["utility"] == "electricity" and not m["added_later"]]
        assert any(m["phases"] == 3 for m in elec) and any(m["phases"] == 1 for m in elec)
        await _until(lambda: stack.online_terminals() == 1, 30, "terminal online")
        await _until(lambda: http("GET", f"{stack.collector}/api/v1/points?limit=1")[1]["total"] >= len(elec),
                     30, "points imported")
        async with BusReadings(kafka_settings) as bus:
            await asyncio.gather(
                _run(stack, {"id": "sq-stats", "name": "voltage statistics", "type": "daily_frozen",
                             "target": {"utilities": ["electricity"]}, "items": STATS,
                             "period": {"unit": "daily", "at": "00:30"}, "retries": 2, "retry_delay_s": 1}),
                _run(stack, {"id": "sq-harmonics", "name": "harmonics", "type": "realtime",
                             "target": {"utilities": ["electricity"]}, "items": HARMONICS,
                             "period": {"unit": "hourly", "every": 1}, "retries": 2, "retry_delay_s": 1}))
            await asyncio.sleep(1.0)
        start = datetime.combine(datetime.now(TZ).date() - timedelta(days=1), datetime.min.time(), TZ)
        bad: list[str] = []
        compared = harmonics = 0
        for m in elec:
            meter = str(m["meter_id"])
            _, curve = http("GET", f"{stack.sim}/curve?" + urlencode(
                {"meter": meter, "item": "voltage.a", "start": start.isoformat(), "points": 96}))
            volts = [p["value"] for p in curve["points"] if p["value"] is not None]
            if len(volts) != 96:
                continue  # not there the whole day
            within = [r.value for r in bus.readings.get((meter, "qualification.minutes.within.a", "scheduled"), [])]
            expected = 15 * sum(1 for v in volts if 198.0 <= v <= 220.0 * 1.07)
            if within != [expected]:
                bad.append(f"{meter} within: {within} vs {expected}")
            top = [r.value for r in bus.readings.get((meter, "voltage.day.max.a", "scheduled"), [])]
            if top != [max(volts)]:
                bad.append(f"{meter} max: {top} vs {max(volts)}")
            compared += 1
            thd = bus.readings.get((meter, "thd.voltage.a", "scheduled"), [])
            spec = truth.meter(meter)
            if m["phases"] != 3:
                if thd:
                    bad.append(f"{meter}: a single-phase meter delivered harmonics")
                continue
            if len(thd) != 1:
                bad.append(f"{meter}: thd {thd}")
                continue
            _, second = truth.cal.position_ts(thd[0].data_time.timestamp())
            content = sq.harmonic_content(spec, second)
            assert content is not None
            harmonics += 1
            for item in HARMONICS:
                got = bus.readings.get((meter, item, "scheduled"), [])
                if len(got) != 1 or abs((got[0].value or 0.0) - content[item]) > 0.11:
                    bad.append(f"{meter} {item}: {[r.value for r in got]} vs {content[item]}")
        assert bad == [] and compared > 0 and harmonics > 0
    finally:
        stack.stop()
