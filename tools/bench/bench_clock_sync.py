"""Clock check and sync of a whole fleet of terminals (R-4.6.1.3): target ≤ 60 s for 1,000 terminals.

The real processes on this machine: a Tansu broker, PostgreSQL, the FEP, the collector and the simulator's
fleet (default 1,000 concentrators × 1 meter) whose terminal clocks drift up to 200 ppm since the monthly
sync (``--clock-drift-ppm``: tens of seconds to minutes off, depending on the day of the month). A ``clock``
task over every terminal reads each clock (AFN 0C F2, the check); the collector's time-sync worker then sets
every clock out of tolerance (AFN 05 F31, delay compensated) and reads it again — poked by the finished
check (its own interval is set to an hour here, so nothing is synced before the check). The figures: the check
(the run done, every clock read), and check + sync (from the run's start until the simulator's truth has
every terminal within tolerance).

    EMMS_BENCH_CLOCK_TERMINALS=200 .venv/bin/python tools/bench/bench_clock_sync.py
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_devstack.bench_data import bench_db_url
from emms_devstack.local_broker import LocalBroker

REPO = Path(__file__).resolve().parents[2]
TOLERANCE_S = 2.0
RESOLUTION_S = 1.05  # the 1376.1 clock tells whole seconds


def _stack_module() -> Any:
    path = REPO / "tests" / "e2e" / "test_e2e_collection_stack.py"
    spec = importlib.util.spec_from_file_location("test_e2e_collection_stack", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_e2e_collection_stack"] = module
    spec.loader.exec_module(module)
    return module


async def _wait(check: Any, timeout_s: float, what: str, every_s: float = 0.5) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(every_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")


async def _measure(terminals: int) -> list[dict[str, object]]:
    cs = _stack_module()
    work = Path(tempfile.mkdtemp(prefix="bench-clock-"))
    broker = LocalBroker(log_path=work / "broker.log").start()
    url = bench_db_url("clock")
    await ensure_database(url)
    kafka = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix=f"b{secrets.token_hex(3)}.")
    await ensure_topics(kafka)
    env = cs.stack_env({**os.environ, "EMMS_DATABASE_URL": url, "EMMS_KAFKA_BOOTSTRAP": broker.bootstrap,
                        "EMMS_TOPIC_PREFIX": kafka.topic_prefix, "EMMS_ENVIRONMENT": "test",
                        "EMMS_LOG_LEVEL": "WARNING"})
    stack = cs.Stack(env, work, concentrators=terminals, meters_per=1, sim_args=["--clock-drift-ppm", "200"],
                     collector_env={"EMMS_COLLECTOR_TIMESYNC__ENABLED": "true",
                                    "EMMS_COLLECTOR_TIMESYNC__TOLERANCE_S": str(TOLERANCE_S),
                                    "EMMS_COLLECTOR_TIMESYNC__EVERY_S": "3600",  # syncs follow the check
                                    "EMMS_COLLECTOR_TIMESYNC__QUIET_MINUTES": "0",
                                    "EMMS_COLLECTOR_TIMESYNC__MIN_INTERVAL_S": "30",
                                    "EMMS_COLLECTOR_DISPATCH__REQUEST_TIMEOUT_S": "10",
                                    "EMMS_COLLECTOR_DISPATCH__MAX_IN_FLIGHT": "400"})
    try:
        stack.start()

        async def online() -> bool:
            return bool(await asyncio.to_thread(stack.online_terminals) >= terminals)

        await _wait(online, 600, "terminals online")
        key = stack.manifest_meters()[0]["terminal"]

        async def probe() -> bool:  # the FEP's downlink consumer is in place
            try:
                status, _ = await asyncio.to_thread(cs.http, "POST",
                                                    f"{stack.collector}/api/v1/clock/terminals/{key}/read", None, 8)
            except TimeoutError:
                return False
            return bool(status == 200)

        await _wait(probe, 120, "a first clock read")

        def offsets() -> list[float]:
            _, body = cs.http("GET", f"{stack.sim}/terminals")
            return [float(t["clock_offset_s"]) for t in body]

        off = [o for o in await asyncio.to_thread(offsets) if abs(o) > TOLERANCE_S]
        cpu_before = stack.cpu_seconds()
        status, _ = cs.http("POST", f"{stack.collector}/api/v1/tasks", {
            "id": "bench-clock", "name": "clock check", "type": "clock", "target": {"all": True},
            "period": {"unit": "daily", "at": "03:10"}, "retries": 0})
        assert status == 201, _
        started = time.perf_counter()
        _, run = cs.http("POST", f"{stack.collector}/api/v1/tasks/bench-clock/runs", {})
        figures: dict[str, Any] = {}

        async def checked() -> bool:
            _, body = await asyncio.to_thread(cs.http, "GET", f"{stack.collector}/api/v1/runs/{run['run_id']}")
            figures.update(body or {})
            return bool(body) and body["status"] in ("done", "failed")

        await _wait(checked, 600, "the clock check run")
        check_s = time.perf_counter() - started

        async def all_within() -> bool:
            return all(abs(o) <= TOLERANCE_S + RESOLUTION_S for o in await asyncio.to_thread(offsets))

        await _wait(all_within, 300, "every terminal clock within tolerance")
        total_s = time.perf_counter() - started
        cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in stack.cpu_seconds().items()}
        _, syncs = cs.http("GET", f"{stack.collector}/api/v1/clock/syncs?level=terminal&limit=10000")
        synced = sum(1 for s in syncs["items"] if s["outcome"] == "synced")
    finally:
        stack.stop()
        broker.stop()
        await drop_database(url)
    note = (f"{terminals} simulated concentrators, {len(off)} out of the {TOLERANCE_S:g} s tolerance at the start "
            f"(drift ≤ 200 ppm), {synced} set (AFN05 F31) and read back; CPU s per process {cpu}")
    return [
        {"benchmark": "clock_sync", "metric": "clock check of every terminal (clock task run)", "value": check_s,
         "unit": "s", "target": "", "note": f"run {figures.get('status')}: {figures.get('detail', '')}"},
        {"benchmark": "clock_sync", "metric": "clock check and sync of every terminal (simulator truth within "
                                              "tolerance)", "value": total_s, "unit": "s",
         "target": "≤ 60 (1,000 terminals)", "note": note},
    ]


def run() -> list[dict[str, object]]:
    return asyncio.run(_measure(int(os.environ.get("EMMS_BENCH_CLOCK_TERMINALS", "1000"))))


if __name__ == "__main__":
    for row in run():
        print(row)
