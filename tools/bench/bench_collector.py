"""Daily frozen data of a whole fleet into the database, and manual-read latency meanwhile.

The real processes on this machine: a Tansu broker, PostgreSQL, the FEP, the
collector, the archive, and the simulator's fleet (default 1,000 concentrators
× 200 meters of all four utilities, answering at once). A daily task over
every meter is started; the figures are the time until every reading is in
the archive's tables and the readings/s achieved, and the latency of manual
reads (one meter, HTTP in → values out) taken while the collection runs.

    EMMS_BENCH_COLLECTOR_CONCENTRATORS=100 EMMS_BENCH_COLLECTOR_METERS_PER=200 \\
        EMMS_BENCH_COLLECTOR_SIM_PROCESSES=2 .venv/bin/python tools/bench/bench_collector.py
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DEFAULT_URL
from emms_devstack.local_broker import LocalBroker

REPO = Path(__file__).resolve().parents[2]


def _stack_module() -> Any:
    """The process harness of the collection e2e tests (tests/e2e/test_e2e_collection_stack.py), by path."""
    path = REPO / "tests" / "e2e" / "test_e2e_collection_stack.py"
    spec = importlib.util.spec_from_file_location("test_e2e_collection_stack", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_e2e_collection_stack"] = module
    spec.loader.exec_module(module)
    return module


def _db_url() -> str:
    base = os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL)
    return base.rsplit("/", 1)[0] + f"/emms_bench_{secrets.token_hex(4)}"


async def _wait(check: Any, timeout_s: float, what: str, every_s: float = 1.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(every_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")


async def _manual_reads(cs: Any, stack: Any, meters: list[str], stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []
    while not stop.is_set():
        meter = random.choice(meters)
        started = time.perf_counter()
        status, body = await asyncio.to_thread(cs.http, "POST", f"{stack.collector_api}/api/v1/reads",
                                               {"meters": [meter], "items": ["energy.active.import.total"],
                                                "wait_s": 30})
        if status == 200 and body["results"][0]["values"]:
            latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.25)
    return latencies


def _print_latencies(stack: Any) -> None:
    """Request latency histograms of the collector and the FEP (where a run's time goes)."""
    import urllib.request

    for where in (stack.collector, stack.fep):
        with urllib.request.urlopen(f"{where}/metrics") as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(("emms_collector_request_seconds", "emms_fep_request_round_trip",
                                    "emms_fep_requests_total", "emms_bus_batch_seconds_sum",
                                    "emms_bus_batch_seconds_count")):
                    print(line, file=sys.stderr)


async def _archived(pool: asyncpg.Pool, since: Any) -> int:
    async with pool.acquire() as conn:
        raw = await conn.fetchval("SELECT count(*) FROM archive.reading_raw WHERE collected_at >= $1", since)
        held = await conn.fetchval("SELECT count(*) FROM archive.reading_unmatched WHERE received_at >= $1", since)
    return int(raw) + int(held)


async def _measure(concentrators: int, meters_per: int) -> list[dict[str, object]]:
    cs = _stack_module()
    in_flight = os.environ.get("EMMS_BENCH_COLLECTOR_IN_FLIGHT", "400")
    work = Path(tempfile.mkdtemp(prefix="bench-collector-"))
    broker = LocalBroker(log_path=work / "broker.log").start()
    url = _db_url()
    await ensure_database(url)
    kafka = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix=f"b{secrets.token_hex(3)}.")
    await ensure_topics(kafka)
    env = cs.stack_env({**os.environ, "EMMS_DATABASE_URL": url, "EMMS_KAFKA_BOOTSTRAP": broker.bootstrap,
                        "EMMS_TOPIC_PREFIX": kafka.topic_prefix, "EMMS_ENVIRONMENT": "test",
                        "EMMS_LOG_LEVEL": "WARNING"})
    sim_processes = int(os.environ.get("EMMS_BENCH_COLLECTOR_SIM_PROCESSES", "2"))
    interactive = os.environ.get("EMMS_BENCH_COLLECTOR_INTERACTIVE", "1") == "1"
    stack = cs.Stack(env, work, concentrators=concentrators, meters_per=meters_per, with_archive=True,
                     sim_processes=sim_processes, interactive_collector=interactive,
                     collector_env={"EMMS_COLLECTOR_DISPATCH__MAX_POINTS_PER_REQUEST": "64",
                                    "EMMS_COLLECTOR_DISPATCH__REQUEST_TIMEOUT_S": "20",
                                    "EMMS_COLLECTOR_DISPATCH__SEND_WITHIN_S": "120",
                                    "EMMS_COLLECTOR_DISPATCH__TARGET_LATENCY_S": "0.8",
                                    "EMMS_COLLECTOR_DISPATCH__MAX_IN_FLIGHT": in_flight,
                                    "EMMS_COLLECTOR_DATABASE__POOL_MAX": "20",
                                    "EMMS_COLLECTOR_DISPATCH__MAX_IN_FLIGHT_PER_TERMINAL": "4"},
                     fep_env={"EMMS_FEP_DOWNLINK__MAX_QUEUED": "256", "EMMS_FEP_DOWNLINK__MAX_IN_FLIGHT": "8"})
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        stack.start()
        active = [m for m in stack.manifest_meters() if not m["added_later"]]
        electricity = [str(m["meter_id"]) for m in active if m["utility"] == "electricity"]

        async def online() -> bool:
            return await asyncio.to_thread(stack.online_terminals) >= concentrators

        async def points() -> bool:
            _, body = await asyncio.to_thread(cs.http, "GET", f"{stack.collector}/api/v1/points?limit=1")
            return bool(body) and body["total"] >= len(active)

        await _wait(online, 600, "terminals online")
        await _wait(points, 600, "points imported")

        async def probe() -> bool:
            status, body = await asyncio.to_thread(cs.http, "POST", f"{stack.collector}/api/v1/reads",
                                                   {"meters": [electricity[0]], "wait_s": 10})
            return status == 200 and bool(body["results"][0]["values"])

        await _wait(probe, 120, "a first manual read")
        cpu_before = stack.cpu_seconds()
        status, _ = cs.http("POST", f"{stack.collector}/api/v1/tasks", {
            "id": "bench-daily", "name": "bench daily", "type": "daily_frozen", "target": {"all": True},
            "period": {"unit": "daily", "at": "00:20"}, "retries": 2, "retry_delay_s": 5, "backfill_days": 3})
        assert status == 201
        async with pool.acquire() as conn:
            since = await conn.fetchval("SELECT now()")
        started = time.perf_counter()
        _, run = cs.http("POST", f"{stack.collector}/api/v1/tasks/bench-daily/runs", {})
        stop = asyncio.Event()
        manual = asyncio.create_task(_manual_reads(cs, stack, electricity, stop))
        figures: dict[str, Any] = {}

        async def finished() -> bool:
            _, body = await asyncio.to_thread(cs.http, "GET", f"{stack.collector}/api/v1/runs/{run['run_id']}")
            figures.update(body or {})
            return bool(body) and body["status"] in ("done", "failed")

        await _wait(finished, 1800, "the daily run")
        run_s = time.perf_counter() - started
        stop.set()
        latencies = await manual

        async def stored() -> bool:
            return await _archived(pool, since) >= int(figures["ok_retry"])

        await _wait(stored, 900, "readings in the archive")
        total_s = time.perf_counter() - started
        readings = await _archived(pool, since)
        cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in stack.cpu_seconds().items()}
        if os.environ.get("EMMS_BENCH_COLLECTOR_DEBUG"):
            await asyncio.to_thread(_print_latencies, stack)
    finally:
        stack.stop()
        await pool.close()
        broker.stop()
        await drop_database(url)
    meters = len(active)
    note = (f"{concentrators} concentrators × {meters_per} meters ({meters:,} meters, all utilities), instant answers, "
            f"fleet in {sim_processes} simulator process(es)")
    reads_at = "an interactive collector replica (role=interactive)" if interactive else "the collecting replica"
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return [
        {"benchmark": "collector", "metric": "daily frozen data of the fleet into the database", "value": total_s,
         "unit": "s", "target": "≤ 300 (200,000 meters)", "note": note},
        {"benchmark": "collector", "metric": "collection run (requests answered, status recorded)", "value": run_s,
         "unit": "s", "target": "", "note": f"first-try {figures.get('ok_first')}/{figures.get('expected')} items; "
                                            f"CPU s per process {cpu}"},
        {"benchmark": "collector", "metric": "readings stored per second", "value": readings / total_s,
         "unit": "readings/s", "target": "", "note": f"{readings:,} readings"},
        {"benchmark": "collector", "metric": "manual read latency p50 during the collection", "value": q[49],
         "unit": "s", "target": "", "note": f"{len(latencies)} reads through {reads_at}"},
        {"benchmark": "collector", "metric": "manual read latency p90 during the collection", "value": q[89],
         "unit": "s", "target": "", "note": f"{len(latencies)} reads"},
        {"benchmark": "collector", "metric": "manual read latency p99 during the collection", "value": q[98],
         "unit": "s", "target": "≤ 1", "note": f"{len(latencies)} reads through {reads_at}"},
    ]


def run() -> list[dict[str, object]]:
    concentrators = int(os.environ.get("EMMS_BENCH_COLLECTOR_CONCENTRATORS", "1000"))
    meters_per = int(os.environ.get("EMMS_BENCH_COLLECTOR_METERS_PER", "200"))
    return asyncio.run(_measure(concentrators, meters_per))


if __name__ == "__main__":
    for row in run():
        print(row)
