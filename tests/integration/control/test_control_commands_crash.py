"""SIGKILL of control in the middle of a group trip: after the restart every device has exactly one final
result, and no device was commanded twice without a recorded reason (correlated by request id; results of
requests sent before the crash are still taken)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from commands_harness import free_port, installations, simulator, truth, wait_for
from fep_harness import BusWatch, Replica

from emms_bus import BusProducer, KafkaSettings
from emms_control.commands import submit_command

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
CONCENTRATORS, METERS_PER = 10, 30


@pytest.fixture(scope="module")
def world(fep: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[dict[str, Any]], str]]:
    manifest = tmp_path_factory.mktemp("sim-crash") / "fleet.json"
    with simulator(fep.port, manifest, concentrators=CONCENTRATORS, meters_per=METERS_PER, mix="electricity=100",
                   seed=9) as pair:
        yield pair


def _control(database_url: str, kafka: KafkaSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EMMS_DATABASE_URL": database_url, "EMMS_KAFKA_BOOTSTRAP": kafka.bootstrap,
           "EMMS_TOPIC_PREFIX": kafka.topic_prefix, "EMMS_ENVIRONMENT": "test", "PYTHONUNBUFFERED": "1",
           "EMMS_CONTROL_HTTP__PORT": str(free_port()), "EMMS_CONTROL_INSTANCE_ID": "control-crash",
           "EMMS_CONTROL_COMMANDS__TERMINAL_IN_FLIGHT": "2",
           "EMMS_CONTROL_KAFKA__SESSION_TIMEOUT_MS": "6000", "EMMS_CONTROL_KAFKA__HEARTBEAT_INTERVAL_MS": "500",
           "EMMS_CONTROL_COMMANDS__REQUEST_TIMEOUT_S": "3",
           "EMMS_CONTROL_COMMANDS__FEP_RETRIES": "0", "EMMS_CONTROL_COMMANDS__RESULT_GRACE_S": "3",
           "EMMS_CONTROL_COMMANDS__RETRY_DELAY_S": "0.2"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "emms_control"], env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_sigkill_mid_group_trip_every_device_one_final_result(
        database_url: str, kafka_settings: KafkaSettings, fep: Replica, world: Any,
        bus: tuple[BusWatch, BusProducer], tmp_path: Path) -> None:
    terminals, base = world
    await bus[1].publish_many(installations(terminals))
    meter_ids = [m["meter_id"] for t in terminals for m in t["meters"]]
    conn = await asyncpg.connect(database_url)
    first = _control(database_url, kafka_settings, tmp_path / "control-1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        async def loaded() -> bool:
            try:
                return bool(await conn.fetchval("SELECT count(*) FROM control.devices WHERE meter_id = ANY($1)",
                                                meter_ids) == len(meter_ids))
            except asyncpg.UndefinedTableError:  # control not migrated yet
                return False
        try:
            await wait_for(loaded, 90, 0.2)
        except TimeoutError as exc:  # the control process's own account of where it is
            tail = (tmp_path / "control-1.log").read_text(errors="replace").splitlines()[-15:]
            raise TimeoutError(f"{exc}; control log:\n" + "\n".join(tail)) from exc
        await wait_for(lambda: _online(fep, terminals), 30)
        async with conn.transaction():
            job_id = await submit_command(conn, meter_ids=meter_ids, action="trip", origin="schedule",
                                          reason="crash drill", requested_by="test", check_rates=False)

        async def some_final() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM control.job_devices WHERE job_id = $1::uuid"
                                    " AND state IN ('verified', 'failed')", job_id)
            return bool(n >= len(meter_ids) // 5)
        await wait_for(some_final, 60, 0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        done_at_kill = await conn.fetchval("SELECT count(*) FROM control.job_devices WHERE job_id = $1::uuid"
                                           " AND state IN ('verified', 'failed')", job_id)
        assert done_at_kill < len(meter_ids), "the job finished before the kill: nothing was tested"
        second = _control(database_url, kafka_settings, tmp_path / "control-2.log")

        async def finished() -> bool:
            return bool(await conn.fetchval("SELECT state = 'done' FROM control.jobs WHERE job_id = $1::uuid",
                                            job_id))
        try:
            await wait_for(finished, 90, 0.2)
        except TimeoutError:
            states = await conn.fetch("SELECT state, step, attempts, count(*) FROM control.job_devices"
                                      " WHERE job_id = $1::uuid GROUP BY 1, 2, 3", job_id)
            events = await conn.fetch("SELECT event, outcome, count(*) FROM control.command_log"
                                      " WHERE job_id = $1::uuid GROUP BY 1, 2", job_id)
            raise AssertionError(f"job not done: {[dict(r) for r in states]} {[dict(r) for r in events]}") from None
        rows = await conn.fetch("SELECT * FROM control.job_devices WHERE job_id = $1::uuid", job_id)
        assert len(rows) == len(meter_ids)
        assert {r["state"] for r in rows} == {"verified"}, {r["meter_id"]: r["reason"] for r in rows
                                                            if r["state"] != "verified"}
        finals = await conn.fetch("SELECT meter_id, count(*) AS n FROM control.command_log WHERE job_id = $1::uuid"
                                  " AND event = 'final' GROUP BY meter_id", job_id)
        assert {r["meter_id"]: r["n"] for r in finals} == dict.fromkeys(meter_ids, 1)
        # a device commanded more than once has a recorded reason for every send after its first
        sends = await conn.fetch(
            "SELECT meter_id, detail->>'step' AS step, event, detail->>'retry_reason' AS why FROM control.command_log"
            " WHERE job_id = $1::uuid AND event IN ('sent', 'resent') ORDER BY log_id", job_id)
        seen: set[tuple[str, str]] = set()
        for s in sends:
            key = (s["meter_id"], s["step"])
            if key in seen:
                assert s["event"] == "resent" and s["why"], dict(s)
            seen.add(key)
        for m in meter_ids[:: len(meter_ids) // 10]:
            assert await truth(base, m, "relay.state") == 0.0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await conn.close()


async def _online(fep: Replica, terminals: list[dict[str, Any]]) -> bool:
    await asyncio.sleep(0)
    return all(fep.fep.sessions.get(t["key"]) is not None for t in terminals)
