"""A parameter push to 1,000 terminals: set (AFN04), confirmed (AFN00), read back (AFN0A) and compared (R-4.6.3).

The real processes on this machine: a Tansu broker, PostgreSQL, the FEP, the collector and the simulator
(1,000 concentrators in two processes). The terminals are made known to the collector by master-data
``terminal`` changes before they log in. Then one operator request per terminal (``PUT
/api/v1/terminal-config/terminals/{t}/params/1``, F1 with a new heartbeat period, 16 requests at a time)
and the wall time until every push is final (``done``, ``mismatch``, ``denied`` or ``failed``), counted
from the first request. Target: all confirmed and read back equal within 60 s (issue 18).

Figures: wall time, final states, p50 / p99 per push (stored → read back), the time the 1,000 HTTP
requests took, load average before / after (2 cores, shared with the broker, database, FEP and simulator).

    EMMS_BENCH_TERMINALS=1000 .venv/bin/python tools/bench/run.py terminal_config
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_devstack.bench_data import bench_db_url
from emms_devstack.local_broker import LocalBroker
from emms_devstack.ports import free_port
from emms_messages.masterdata import ChangeKind, MasterDataChange

REPO = Path(__file__).resolve().parents[2]
F1 = {"type": "UplinkCommParams", "rts_20ms": 0, "master_delay_min": 1, "response_timeout_s": 20,
      "resend_count": 2, "confirm_class1": False, "confirm_class2": False, "confirm_class3": True, "heartbeat_min": 2}
FINAL = ("done", "mismatch", "denied", "failed")


def _stack_module() -> Any:
    path = REPO / "tests" / "e2e" / "test_e2e_collection_stack.py"
    spec = importlib.util.spec_from_file_location("test_e2e_collection_stack", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_e2e_collection_stack"] = module
    spec.loader.exec_module(module)
    return module


async def _wait(check: Any, timeout_s: float, what: str, every_s: float = 0.2) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(every_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(terminals: int) -> list[dict[str, object]]:
    cs = _stack_module()
    work = Path(tempfile.mkdtemp(prefix="bench-terminal-config-"))
    broker = LocalBroker(log_path=work / "broker.log").start()
    url = bench_db_url("terminal_config")
    await ensure_database(url)
    kafka = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix=f"b{secrets.token_hex(3)}.")
    await ensure_topics(kafka)
    env = cs.stack_env({**os.environ, "EMMS_DATABASE_URL": url, "EMMS_KAFKA_BOOTSTRAP": broker.bootstrap,
                        "EMMS_TOPIC_PREFIX": kafka.topic_prefix, "EMMS_ENVIRONMENT": "test",
                        "EMMS_LOG_LEVEL": "WARNING"})
    ports = {n: free_port() for n in ("fep", "terminals", "collector", "sim")}
    fep = cs.Proc("fep", [sys.executable, "-m", "emms_fep"], {
        **env, "EMMS_FEP_HTTP__PORT": str(ports["fep"]), "EMMS_FEP_TERMINALS__PORT": str(ports["terminals"]),
        "EMMS_FEP_REPLICA_ID": "fep-bench", "EMMS_FEP_INSTANCE_ID": "fep-bench",
        "EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER": "100000"}, work / "fep.log").start()
    collector = cs.Proc("collector", [sys.executable, "-m", "emms_collector"], {
        **env, "EMMS_COLLECTOR_HTTP__PORT": str(ports["collector"]), "EMMS_COLLECTOR_INSTANCE_ID": "collector-bench",
        "EMMS_COLLECTOR_TIMESYNC__ENABLED": "false", "EMMS_COLLECTOR_BACKFILL__ENABLED": "false",
        "EMMS_COLLECTOR_TERMINAL_CONFIG__EVERY_S": "0.5", "EMMS_COLLECTOR_TERMINAL_CONFIG__RETRY_S": "2",
        "EMMS_COLLECTOR_DATABASE__POOL_MAX": "20"}, work / "collector.log").start()
    sim = cs.Proc("sim", [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{ports['terminals']}",
                          "--concentrators", str(terminals), "--meters-per", "1", "--seed", "7",
                          "--mix", "electricity=100", "--quiet-field", "--heartbeat-s", "60",
                          "--manifest", str(work / "fleet.json"), "--http", f"127.0.0.1:{ports['sim']}",
                          "--processes", "2", "--ramp-per-s", "2000"], env, work / "sim.log")
    manifest = work / "manifest.json"
    await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "emms_sim.cli", "manifest", str(manifest), "--concentrators", str(terminals),
        "--meters-per", "1", "--seed", "7", "--mix", "electricity=100", "--quiet-field"], check=True)
    keys = [t["key"] for t in json.loads(manifest.read_text())["terminals"]]
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    producer = BusProducer(kafka, "bench-terminal-config")
    assert pool is not None
    try:
        cs.wait_http(f"http://127.0.0.1:{ports['fep']}/readyz", 90, fep.popen)
        cs.wait_http(f"http://127.0.0.1:{ports['collector']}/readyz", 90, collector.popen)
        now = datetime.now(UTC)
        await producer.start()
        await producer.publish_many([
            MasterDataChange(change_id=str(uuid.uuid4()), entity="terminal", entity_id=f"T-{k}",
                             kind=ChangeKind.CREATED, changed_at=now, changed_by="bench",
                             data={"address": k, "company_id": "CO-A", "region_id": "R-1", "status": "active"})
            for k in keys])

        async def known() -> bool:
            async with pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM collector.md_terminal") >= terminals)

        async def online() -> bool:
            async with pool.acquire() as conn:
                n = await conn.fetchval("SELECT count(*) FROM fep.sessions WHERE state = 'online'")
            return bool(n >= terminals)

        await _wait(known, 300, "terminals in the collector's master data")
        sim.start()
        await _wait(online, 300, "terminals online")
        await asyncio.sleep(2.0)  # the first-connect bookkeeping of the logins settles
        base = f"http://127.0.0.1:{ports['collector']}/api/v1/terminal-config/terminals"
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        gate = asyncio.Semaphore(16)
        statuses: list[int] = []

        async def put(key: str) -> None:
            async with gate:
                status, _ = await asyncio.to_thread(cs.http, "PUT", f"{base}/{key}/params/1", {"value": F1})
                statuses.append(status)

        await asyncio.gather(*(put(k) for k in keys))
        requested = time.perf_counter() - started

        async def finished() -> bool:
            async with pool.acquire() as conn:
                n = await conn.fetchval("SELECT count(*) FROM collector.param_push WHERE fn = 1"
                                        " AND state = ANY($1::text[])", list(FINAL))
            return bool(n >= terminals)

        await _wait(finished, 600, "every push final", 0.1)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT state, EXTRACT(EPOCH FROM finished_at - requested_at) AS s"
                                    " FROM collector.param_push WHERE fn = 1")
        truth_ok = 0
        for key in keys[:: max(1, terminals // 20)]:  # a sample checked against the terminals' own state
            status, body = await asyncio.to_thread(cs.http, "GET", f"{base}/{key}")
            f1 = next((p for p in body.get("params", []) if p["fn"] == 1), None) if status == 200 else None
            truth_ok += bool(f1 and f1["state"] == "in_sync" and f1["reported"] == F1)
    finally:
        await producer.stop()
        for proc in (sim, collector, fep):
            proc.stop()
        await pool.close()
        broker.stop()
        await drop_database(url)
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    per = [float(r["s"]) for r in rows if r["s"] is not None]
    name = "terminal config: parameter push"
    return [
        {"benchmark": name, "metric": "wall time to every push confirmed and read back", "value": round(wall, 1),
         "unit": "s", "target": "≤ 60",
         "note": f"{terminals:,} terminals (simulator in 2 processes), F1 set → AFN00 → AFN0A → compared; load average"
                 f" (1 min) before / after {load_before:.1f} / {load_after:.1f} (2 cores, shared)"},
        {"benchmark": name, "metric": "final states",
         "value": ", ".join(f"{k} {v:,}" for k, v in sorted(states.items())), "unit": "",
         "target": f"done {terminals:,}",
         "note": f"HTTP answers {sorted(set(statuses))}; in sync on read-back in a sample: {truth_ok}"},
        {"benchmark": name, "metric": "per push p50 / p99", "value": f"{_pct(per, 0.5):.2f} / {_pct(per, 0.99):.2f}",
         "unit": "s", "target": "", "note": f"stored → read back; the {terminals:,} requests took {requested:.1f} s"},
    ]


def run() -> list[dict[str, object]]:
    return asyncio.run(_measure(int(os.environ.get("EMMS_BENCH_TERMINALS", "1000"))))


if __name__ == "__main__":
    for row in run():
        print(row)
