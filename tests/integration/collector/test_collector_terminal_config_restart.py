"""A push to a terminal that is offline waits for its login, and survives a restart of the collector
(R-4.6.3, R-4.6.5): the push is stored before anything is sent, the FEP answers ``offline``, the collector
stops; a new collector process (same database) and then the terminal's login finish it — checked in the
simulator's truth."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from collector_harness import ReadingWatch, collector_settings, running_collector
from terminal_config_harness import (
    fep_settings,
    installation,
    manifest,
    running_fep,
    simulator,
    until,
    wait_downlink_ready,
)

from emms_bus import KafkaSettings
from emms_collector.settings import CollectorSettings

pytestmark = pytest.mark.integration
CFG = "/api/v1/terminal-config"
F1 = {"type": "UplinkCommParams", "rts_20ms": 0, "master_delay_min": 2, "response_timeout_s": 25, "resend_count": 1,
      "confirm_class1": False, "confirm_class2": False, "confirm_class3": True, "heartbeat_min": 4}


def _settings(database_url: str, kafka: KafkaSettings, instance: str) -> CollectorSettings:
    return collector_settings(
        database_url, kafka, instance, backfill={"enabled": False}, timesync={"enabled": False},
        dispatch={"request_timeout_s": 3.0, "fep_retries": 1, "result_slack_s": 2.0, "send_within_s": 5.0},
        terminal_config={"every_s": 0.3, "retry_s": 0.5, "offline_retry_s": 120.0, "request_timeout_s": 3.0})


async def test_an_offline_terminals_push_waits_for_its_login_across_a_restart(
        database_url: str, kafka_settings: KafkaSettings, tmp_path: Any) -> None:
    late = manifest(tmp_path / "late.json", 1, 2, 601)[0]
    key = late["key"]
    fep_cfg = fep_settings(database_url, kafka_settings, "fep-terminal-config-restart",
                           sessions={"login_timeout_s": 10.0, "heartbeat_timeout_s": 300.0})
    async with contextlib.AsyncExitStack() as stack:
        watch = await stack.enter_async_context(ReadingWatch(kafka_settings))
        fep = await stack.enter_async_context(running_fep(fep_cfg))
        await wait_downlink_ready(watch.producer, fep)
        async with running_collector(_settings(database_url, kafka_settings, "col-restart-1"), role="admin") as one:
            await watch.producer.publish(installation(key, late["meters"][0]))
            await until(lambda: one.c.masterdata.settled(5.0), 30, "master data applied")
            made = await one.client.put(f"{CFG}/terminals/{key}/params/1", json={"value": F1})
            assert made.status_code == 202, made.text
            push_id = made.json()["id"]

            async def waiting() -> bool:
                body = (await one.client.get(f"{CFG}/pushes/{push_id}")).json()
                return bool(body["waiting_online"] and body["state"] == "pending")

            await until(waiting, 30, "the push waiting for its terminal")
        # collector one has stopped; a new one starts, then the terminal logs in for the first time
        async with running_collector(_settings(database_url, kafka_settings, "col-restart-2"), role="admin") as two:
            with simulator(fep.port, 1, 2, 601, tmp_path) as sim:
                async def finished() -> str | None:
                    body = (await two.client.get(f"{CFG}/pushes/{push_id}")).json()
                    return body["state"] if body["state"] in ("done", "failed", "denied", "mismatch") else None

                assert await until(finished, 60, "the push after the login") == "done"
                assert sim.params(key)["params"]["1"] == F1
