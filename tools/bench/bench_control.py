"""A group trip of 10,000 meters behind 200 concentrators: dispatched, confirmed and verified.

The real processes on this machine: a Tansu broker, PostgreSQL, the FEP, control and the simulator
(204 concentrators × 50 electricity meters in two processes; the last 4 concentrators answer nothing).
Control's topology comes from master-data changes published from the simulator's manifest. Two jobs:

1. trip of the 10,000 meters behind the 200 answering concentrators;
2. after closing them again, a trip of 10,000 meters of which 2 % (the 4 silent concentrators) do not
   answer: those end ``failed`` after the retries, the rest ``verified``.

Figures: wall time from the job's start (second confirmation) to its last device's final result, the counts
per final state (and whether the failed ones are exactly the silent meters), retries by outcome, p50 / p99
time to confirm per device (first send of the command → the device's confirm) and to verify.

Control hands up to ``EMMS_BENCH_CONTROL_IN_FLIGHT`` (50: every meter of a concentrator) devices per terminal
to the FEP, which queues them and keeps 8 in flight per terminal. With 16 the job is bound by the round trip
through the bus and both databases per terminal (100 requests per concentrator / 16 in flight × ~2–3 s): 49 s
instead of 14–24 s at 10,000 meters (docs/benchmarks.md). Every device is then out at once, so the result
grace is 30 s (deadline 31.5 s, the service's default is 35 s): with 10 s control resent requests whose results
were still in its consumer's backlog (``no_result`` retries).

    EMMS_BENCH_CONTROL_CONCENTRATORS=200 EMMS_BENCH_CONTROL_METERS_PER=50 .venv/bin/python tools/bench/run.py control
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_control.commands import confirm_job, submit_command
from emms_db import drop_database, ensure_database
from emms_devstack.bench_data import bench_db_url
from emms_devstack.local_broker import LocalBroker
from emms_devstack.ports import free_port
from emms_messages.masterdata import ChangeKind, MasterDataChange

REPO = Path(__file__).resolve().parents[2]
SILENT = 4


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


async def _job(pool: asyncpg.Pool, meter_ids: list[str], action: str) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        job_id = await submit_command(conn, meter_ids=meter_ids, action=action, origin="manual",
                                      reason="bench", requested_by="bench", check_rates=False)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await confirm_job(conn, job_id, "bench-second")

    async def done() -> bool:
        async with pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT state = 'done' FROM control.jobs WHERE job_id = $1::uuid",
                                            job_id))
    await _wait(done, 600, f"the {action} job", 0.05)
    wall = time.perf_counter() - started
    load = (load_before, os.getloadavg()[0])
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT d.meter_id, d.state, d.reason, EXTRACT(EPOCH FROM d.confirmed_at - q.first) AS confirm_s,"
            " EXTRACT(EPOCH FROM d.finished_at - q.first) AS verify_s, d.attempts"
            " FROM control.job_devices d JOIN (SELECT meter_id, min(sent_at) AS first FROM control.requests"
            " WHERE job_id = $1::uuid AND step = 'command' GROUP BY meter_id) q USING (meter_id)"
            " WHERE d.job_id = $1::uuid", job_id)
        retried = await conn.fetch("SELECT outcome, count(*) AS n FROM control.command_log WHERE job_id = $1::uuid"
                                   " AND event = 'retry' GROUP BY outcome ORDER BY n DESC", job_id)
        retries = sum(int(r["n"]) for r in retried)
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    return {"wall_s": wall, "load": load, "states": states, "retries": int(retries), "job_id": job_id,
            "failed": {r["meter_id"] for r in rows if r["state"] == "failed"},
            "retried": {r["outcome"]: int(r["n"]) for r in retried},
            "confirm": [float(r["confirm_s"]) for r in rows if r["confirm_s"] is not None],
            "verify": [float(r["verify_s"]) for r in rows if r["state"] == "verified"],
            "failed_attempts": sorted({int(r["attempts"]) for r in rows if r["state"] == "failed"}),
            "failed_reasons": sorted({(r["reason"] or "").split(": ", 1)[0].split(" on request")[0]
                                      + " … " + (r["reason"] or "").rsplit("(", 1)[-1].rstrip(")")
                                      for r in rows if r["state"] == "failed"})[:3]}


async def _measure(concentrators: int, meters_per: int) -> list[dict[str, object]]:
    cs = _stack_module()
    work = Path(tempfile.mkdtemp(prefix="bench-control-"))
    broker = LocalBroker(log_path=work / "broker.log").start()
    url = bench_db_url("control")
    await ensure_database(url)
    kafka = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix=f"b{secrets.token_hex(3)}.")
    await ensure_topics(kafka)
    env = cs.stack_env({**os.environ, "EMMS_DATABASE_URL": url, "EMMS_KAFKA_BOOTSTRAP": broker.bootstrap,
                        "EMMS_TOPIC_PREFIX": kafka.topic_prefix, "EMMS_ENVIRONMENT": "test",
                        "EMMS_LOG_LEVEL": "WARNING"})
    ports = {n: free_port() for n in ("fep", "terminals", "control", "sim")}
    in_flight = os.environ.get("EMMS_BENCH_CONTROL_IN_FLIGHT", "50")
    fep = cs.Proc("fep", [sys.executable, "-m", "emms_fep"], {
        **env, "EMMS_FEP_HTTP__PORT": str(ports["fep"]), "EMMS_FEP_TERMINALS__PORT": str(ports["terminals"]),
        "EMMS_FEP_REPLICA_ID": "fep-bench", "EMMS_FEP_INSTANCE_ID": "fep-bench",
        "EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER": "100000", "EMMS_FEP_DOWNLINK__MAX_QUEUED": "256",
        "EMMS_FEP_DOWNLINK__MAX_IN_FLIGHT": "8"}, work / "fep.log").start()
    control = cs.Proc("control", [sys.executable, "-m", "emms_control"], {
        **env, "EMMS_CONTROL_HTTP__PORT": str(ports["control"]), "EMMS_CONTROL_INSTANCE_ID": "control-bench",
        "EMMS_CONTROL_COMMANDS__TERMINAL_IN_FLIGHT": in_flight,
        "EMMS_CONTROL_COMMANDS__REQUEST_TIMEOUT_S": os.environ.get("EMMS_BENCH_CONTROL_TIMEOUT_S", "1.5"),
        "EMMS_CONTROL_COMMANDS__FEP_RETRIES": "0", "EMMS_CONTROL_COMMANDS__ATTEMPTS": "3",
        "EMMS_CONTROL_COMMANDS__RETRY_DELAY_S": "0.5", "EMMS_CONTROL_COMMANDS__RESULT_GRACE_S": "30",
        "EMMS_CONTROL_DATABASE__POOL_MAX": "20"}, work / "control.log").start()
    total = concentrators + SILENT
    sim = cs.Proc("sim", [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{ports['terminals']}",
                          "--concentrators", str(total), "--meters-per", str(meters_per), "--seed", "3",
                          "--mix", "electricity=100", "--quiet-field", "--heartbeat-s", "60",
                          "--manifest", str(work / "fleet.json"), "--http", f"127.0.0.1:{ports['sim']}",
                          "--processes", "2", "--ramp-per-s", "2000", "--faults", "no-answer=100%",
                          "--fault-terminals", ",".join(str(i) for i in range(concentrators, total))],
                  env, work / "sim.log")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    producer = BusProducer(kafka, "bench-control")
    assert pool is not None
    try:
        cs.wait_http(f"http://127.0.0.1:{ports['fep']}/readyz", 90, fep.popen)
        cs.wait_http(f"http://127.0.0.1:{ports['control']}/readyz", 90, control.popen)
        sim.start()
        cs.wait_http(f"http://127.0.0.1:{ports['sim']}/healthz", 90, sim.popen)
        for _ in range(900):  # the manifest is written once every concentrator is built
            if (work / "fleet.json").exists() or (sim.popen is not None and sim.popen.poll() is not None):
                break
            await asyncio.sleep(0.1)
        doc = json.loads((work / "fleet.json").read_text())
        now = datetime.now(UTC)
        changes = [MasterDataChange(change_id=str(uuid.uuid4()), entity="meter_installation",
                                    entity_id=f"MP-{m['meter_id']}", kind=ChangeKind.CREATED, changed_at=now,
                                    changed_by="bench", data={
                                        "meter_id": m["meter_id"], "terminal_address": t["key"], "pn": m["pn"],
                                        "port": m["port"], "protocol": m["protocol"], "meter_address": m["address"],
                                        "utility": m["utility"], "customer_id": f"C-{m['meter_id']}",
                                        "company_id": "CO-A", "region_id": "R-1"})
                   for t in doc["terminals"] for m in t["meters"] if not m["added_later"]]
        await producer.start()
        await producer.publish_many(changes)
        healthy = [m["meter_id"] for t in doc["terminals"][:concentrators] for m in t["meters"]
                   if not m["added_later"]]
        silent = [m["meter_id"] for t in doc["terminals"][concentrators:] for m in t["meters"] if not m["added_later"]]

        async def loaded() -> bool:
            async with pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM control.devices") >= len(changes))

        async def online() -> bool:
            async with pool.acquire() as conn:
                n = await conn.fetchval("SELECT count(*) FROM fep.sessions WHERE state = 'online'")
            return bool(n >= total)
        await _wait(loaded, 300, "topology")
        await _wait(online, 300, "terminals online")
        first = await _job(pool, healthy, "trip")
        await _job(pool, healthy, "allow_close")
        mixed = healthy[: len(healthy) - len(silent)] + silent
        second = await _job(pool, mixed, "trip")
    finally:
        await producer.stop()
        for proc in (sim, control, fep):
            proc.stop()
        await pool.close()
        broker.stop()
        await drop_database(url)
    rows: list[dict[str, object]] = []
    for name, run, meters, dead in (("all answering", first, len(healthy), set()),
                                    ("2 % not answering", second, len(mixed), set(silent))):
        note = (f"{meters:,} meters behind {concentrators} concentrators ({len(dead)} meters on {SILENT if dead else 0}"
                " silent ones), simulator in 2 processes")
        exact = run["failed"] == dead
        rows += [
            {"benchmark": f"control: group trip, {name}", "metric": "wall time to every final result",
             "value": round(run["wall_s"], 1), "unit": "s", "target": "≤ 30",
             "note": f"{note}; confirmation → the job done; load average (1 min) before / after"
                     f" {run['load'][0]:.1f} / {run['load'][1]:.1f} (2 cores, shared)"},
            {"benchmark": f"control: group trip, {name}", "metric": "final states",
             "value": ", ".join(f"{k} {v:,}" for k, v in sorted(run["states"].items())), "unit": "",
             "target": "silent ones failed, all others verified",
             "note": f"{run['retries']} retries {run['retried']}; failed = exactly the silent meters: {exact}"},
            {"benchmark": f"control: group trip, {name}", "metric": "time to confirm p50 / p99",
             "value": f"{_pct(run['confirm'], 0.5):.2f} / {_pct(run['confirm'], 0.99):.2f}", "unit": "s",
             "target": "", "note": "first send of the command → the device's confirm"},
            {"benchmark": f"control: group trip, {name}", "metric": "time to verify p50 / p99",
             "value": f"{_pct(run['verify'], 0.5):.2f} / {_pct(run['verify'], 0.99):.2f}", "unit": "s",
             "target": "",
             "note": f"→ state read back; failed: {run['failed_reasons']}, attempts {run['failed_attempts']}"},
        ]
    return rows


def run() -> list[dict[str, object]]:
    concentrators = int(os.environ.get("EMMS_BENCH_CONTROL_CONCENTRATORS", "200"))
    meters_per = int(os.environ.get("EMMS_BENCH_CONTROL_METERS_PER", "50"))
    return asyncio.run(_measure(concentrators, meters_per))


if __name__ == "__main__":
    for row in run():
        print(row)
