"""Running FEP replicas in the test's event loop on the real broker and database, and watching the bus."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from service_harness import in_process, wait_until

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_fep.app import create_app
from emms_fep.runtime import FepRuntime
from emms_fep.settings import FepSettings
from emms_messages.terminal import DownlinkRequest, DownlinkResult, TerminalSession, UplinkFrame


async def until(condition: Callable[[], bool], timeout_s: float = 10.0, poll_s: float = 0.02) -> None:
    """``service_harness.wait_until`` with this area's defaults."""
    await wait_until(condition, timeout_s, poll_s)


@dataclass
class Replica:
    app: FastAPI
    fep: FepRuntime
    client: httpx.AsyncClient

    @property
    def port(self) -> int:
        port = self.fep.listen_port
        assert port is not None
        return port


def fep_settings(database_url: str, kafka: KafkaSettings, replica_id: str, **overrides: Any) -> FepSettings:
    values: dict[str, Any] = {
        "environment": "test", "replica_id": replica_id, "instance_id": replica_id,
        "database": DatabaseSettings(url=database_url), "kafka": kafka,
        "terminals": {"host": "127.0.0.1", "port": 0},
        "limits": {"max_connections_per_peer": 5000},
        "sessions": {"login_timeout_s": 5.0, "heartbeat_timeout_s": 30.0, "sweep_resolution_s": 0.2},
        "downlink": {"offline_grace_s": 1.0, "answer_slack_s": 1.0},
        "replica": {"heartbeat_s": 0.5, "dead_after_s": 3.0},
        "stats_flush_s": 0.5, "shutdown_grace_s": 5.0,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return FepSettings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_fep(settings: FepSettings) -> AsyncIterator[Replica]:
    async with in_process(create_app(settings), "http://fep") as (app, fep, client):
        assert isinstance(fep, FepRuntime)
        yield Replica(app, fep, client)


@dataclass
class BusWatch:
    """Everything the FEP published on its three output topics during a test."""

    sessions: list[TerminalSession] = field(default_factory=list)
    frames: list[UplinkFrame] = field(default_factory=list)
    results: list[DownlinkResult] = field(default_factory=list)

    async def handle(self, batch: Sequence[Delivery]) -> None:
        for d in batch:
            payload = d.payload
            if isinstance(payload, TerminalSession):
                self.sessions.append(payload)
            elif isinstance(payload, UplinkFrame):
                self.frames.append(payload)
            elif isinstance(payload, DownlinkResult):
                self.results.append(payload)

    def result(self, request_id: str) -> DownlinkResult | None:
        return next((r for r in self.results if r.request_id == request_id), None)

    async def wait_result(self, request_id: str, timeout_s: float = 20.0) -> DownlinkResult:
        await until(lambda: self.result(request_id) is not None, timeout_s)
        result = self.result(request_id)
        assert result is not None
        return result


@contextlib.asynccontextmanager
async def watching_bus(kafka: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    """A consumer of the FEP's outputs (from the beginning) and a producer of downlink requests."""
    producer = BusProducer(kafka, "fep-test")
    await producer.start()
    watch = BusWatch()
    consumer = BusConsumer(kafka, group=f"fep-test-watch-{secrets.token_hex(3)}",
                           topics=["emms.terminal.session.v1", "emms.uplink.frame.v1", "emms.downlink.result.v1"],
                           handler=watch.handle, dlq_producer=producer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield watch, producer
    finally:
        stop.set()
        await task
        await producer.stop()


async def wait_downlink_ready(producer: BusProducer, *replicas: Replica, timeout_s: float = 40.0) -> None:
    """Publish probe requests for a terminal nobody holds until every replica's downlink consumer has one.

    The FEP's own downlink group starts at the end of the topic, so a test must not publish
    its real requests before the group is assigned; a handled probe proves it is.
    """
    consumers = [c for r in replicas for c in r.app.state.runtime.consumers if c.group.startswith("fep-downlink.")]
    assert len(consumers) == len(replicas)
    for attempt in range(int(timeout_s)):
        probe = DownlinkRequest(request_id=f"probe-{secrets.token_hex(4)}-{attempt}", terminal="9999-00000",
                                afn=0x0C, units=[], requested_by="fep-test")
        await producer.publish(probe)
        for _ in range(10):
            if all(c.handled > 0 for c in consumers):
                return
            await asyncio.sleep(0.1)
    raise TimeoutError("a FEP replica's downlink consumer never received a probe")
