"""Anomalies and workflow transitions are handed off to another department's webhook (R-4.5.4.1)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from validator_harness import BusWatch, batches_by_day, running_validator, until, validator_settings

from emms_bus import BusProducer, KafkaSettings
from emms_validator.synthetic import SyntheticMeter, readings

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
START = datetime(2026, 1, 1, tzinfo=UTC)


class Receiver:
    """A minimal HTTP server that records JSON bodies; it refuses the first request to force a retry."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.refused = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        body = await reader.readexactly(length)
        if self.refused == 0:
            self.refused += 1
            writer.write(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            self.bodies.append(json.loads(body))
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as r:
        yield r


async def test_important_anomalies_and_transitions_reach_the_webhook(
        receiver: Receiver, bus: tuple[BusWatch, BusProducer], database_url: str,
        kafka_settings: KafkaSettings) -> None:
    watch, producer = bus
    run = f"h{secrets.token_hex(3)}"
    valve = SyntheticMeter(f"{run}-W", "water", faults=frozenset({"valve_closed_flow"}), fault_day=2)
    heat = SyntheticMeter(f"{run}-H", "heat", faults=frozenset({"supply_below_return"}), fault_day=2)
    settings = validator_settings(database_url, kafka_settings, handoff={
        "webhooks": [f"http://127.0.0.1:{receiver.port}/emms/anomalies"], "min_severity": "important",
        "poll_s": 0.2})
    async with running_validator(settings) as svc:
        series = readings(valve, START, 4) + readings(heat, START, 4)
        await producer.publish_many(batches_by_day(series, run))
        await until(lambda: bool(watch.of_meter(valve.meter_id)[1]) and bool(watch.of_meter(heat.meter_id)[1]), 60)

        def handed(rule: str) -> list[dict[str, Any]]:
            return [a for b in receiver.bodies for a in b["anomalies"] if a["meter_id"].startswith(run)
                    and a["rule"] == rule]

        await until(lambda: bool(handed("valve_closed_flow")), 20)
        assert receiver.refused == 1  # the first attempt was refused and retried
        anomaly = handed("valve_closed_flow")[0]
        resp = await svc.client.post(f"/api/v1/anomalies/{anomaly['anomaly_id']}/transitions",
                                     json={"to": "acknowledged", "note": "water company notified"},
                                     headers=svc.as_role("operator"))
        assert resp.status_code == 200
        await until(lambda: any(t["anomaly_id"] == anomaly["anomaly_id"] for b in receiver.bodies
                                for t in b["transitions"]), 20)
        await asyncio.sleep(0.5)
    assert len(handed("valve_closed_flow")) == 1  # delivered once
    assert handed("supply_return") == []  # normal severity stays below the hand-off threshold
