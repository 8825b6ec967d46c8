"""Running the collector in the test's event loop on the real broker and database, and a FEP stand-in.

The stand-in (:class:`Responder`) consumes ``DownlinkRequest`` from the bus and
publishes one ``DownlinkResult`` per request, its answer frames built with
``emms_protocol`` from a tiny table of meter values — what the FEP and a
concentrator would send — so the collector is tested through the bus alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import asyncpg
import httpx
from fastapi import FastAPI
from service_harness import in_process, wait_until

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_collector.app import create_app
from emms_collector.runtime import CollectorRuntime
from emms_collector.schema import SCHEMA
from emms_collector.settings import CollectorSettings
from emms_db import migrate
from emms_db.settings import DatabaseSettings
from emms_messages.events import DeviceEvent
from emms_messages.oplog import OperationLogged
from emms_messages.readings import RawReadingBatch
from emms_messages.terminal import DownlinkRequest, DownlinkResult, RequestOutcome
from emms_protocol import cjt188
from emms_protocol.gdw1376 import Address, DataUnit, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.afn0e import EventBatch
from emms_protocol.gdw1376.afn10 import ForwardReply
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_protocol.gdw1376.json_view import frame_view

MIGRATIONS = Path(__file__).resolve().parents[3] / "services/collector/src/emms_collector/migrations"
TABLES = ("task_run", "run_meter", "task_member", "task", "template", "point", "gap", "terminal_clock", "clock_sync",
          "manual_job", "md_customer", "md_terminal", "md_region", "md_group_member", "inbox")


async def until(condition: Callable[[], bool], timeout_s: float = 10.0, poll_s: float = 0.05) -> None:
    """``service_harness.wait_until`` with this area's defaults."""
    await wait_until(condition, timeout_s, poll_s)


async def migrated_pool(database_url: str) -> asyncpg.Pool:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, SCHEMA, MIGRATIONS)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    assert pool is not None
    return pool


async def truncate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE " + ", ".join(f"{SCHEMA}.{t}" for t in TABLES) + " RESTART IDENTITY CASCADE")


def collector_settings(database_url: str, kafka: KafkaSettings, instance: str, **overrides: Any) -> CollectorSettings:
    values: dict[str, Any] = {
        "environment": "test", "instance_id": instance, "database": DatabaseSettings(url=database_url),
        "kafka": kafka, "shutdown_grace_s": 5.0, "install_default_templates": False,
        "scheduler": {"tick_s": 0.3, "lease_s": 10.0},
        "dispatch": {"request_timeout_s": 1.0, "fep_retries": 0, "result_slack_s": 1.0, "send_within_s": 1.0},
        "backfill": {"every_s": 0.5, "retry_after_s": 0.0},
        "timesync": {"every_s": 0.5, "quiet_minutes": 0, "min_interval_s": 0.0, "collector_check_every_s": 0.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return CollectorSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Running:
    app: FastAPI
    c: CollectorRuntime
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_collector(settings: CollectorSettings, role: str = "operator") -> AsyncIterator[Running]:
    async with in_process(create_app(settings), "http://collector", role=role) as (app, c, client):
        assert isinstance(c, CollectorRuntime)
        await until(c.results_ready, 30)
        yield Running(app, c, client)


# -- the FEP stand-in -----------------------------------------------------------------------------------------

@dataclass
class FakeFleet:
    """Values a stand-in concentrator answers with: (terminal, pn) → daily frozen total per freeze date,
    and 188 meters by address. ``silent`` terminals never answer; ``fail_once`` answer on the second try."""

    daily: dict[tuple[str, int], Callable[[date], float | None]] = field(default_factory=dict)
    volume: dict[str, float] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    fail_once: set[tuple[str, int]] = field(default_factory=set)
    offline: set[str] = field(default_factory=set)
    clock_offset: dict[str, float] = field(default_factory=dict)
    events: dict[str, list[Any]] = field(default_factory=dict)  # terminal → EventRecord list (important)
    seen: list[DownlinkRequest] = field(default_factory=list)


def _answer_frames(request: DownlinkRequest, fleet: FakeFleet) -> list[dict[str, Any]] | None:
    address = Address.parse(request.terminal)
    now = datetime.now(UTC)
    units: list[DataUnit] = []
    for spec in request.units:
        for pn in spec.pn:
            for fn in spec.fn:
                if request.afn == 0x0D:
                    tag = date.fromisoformat(spec.data["value"])
                    key = (request.terminal, pn)
                    if key in fleet.fail_once:
                        fleet.fail_once.discard(key)
                        continue
                    value_of = fleet.daily.get(key)
                    total = value_of(tag) if value_of else None
                    units.append(DataUnit(pn, fn, EnergyReading(now, total, () if total is None else
                                                                (total / 4,) * 4, tag)))
                elif request.afn == 0x10:
                    fwd = spec.data["value"]
                    inner = cjt188.decode_frame(bytes.fromhex(fwd["payload"]))
                    volume = fleet.volume.get(inner.address)
                    if volume is None:
                        return None
                    reply = cjt188.read_reply(inner.meter_type, inner.address, 0x901F, _water(volume))
                    units.append(DataUnit(0, 1, ForwardReply(fwd["port"], reply)))
                elif request.afn == 0x0E:
                    ask = spec.data["value"]
                    records = fleet.events.get(request.terminal, []) if fn == 1 else []
                    chosen = tuple(records[ask["start"]:]) if ask["start"] < len(records) else ()
                    units.append(DataUnit(0, fn, EventBatch(len(records) % 256, 0, ask["start"],
                                                            (ask["start"] + len(chosen)) % 256, chosen)))
                elif request.afn == 0x0C and fn == 2:
                    offset = fleet.clock_offset.get(request.terminal, 0.0)
                    units.append(DataUnit(0, 2, (now + timedelta(seconds=offset)).replace(microsecond=0)))
                elif request.afn == 0x05 and fn == 31:
                    set_to = datetime.fromisoformat(spec.data["value"])
                    fleet.clock_offset[request.terminal] = (set_to - now).total_seconds()
                    req = builders.request(address, request.afn, [], 1)
                    return [_published(encode_frame(builders.confirm(req)))]
    if not units:
        return None
    req = builders.request(address, request.afn, [], 1)
    return [_published(encode_frame(builders.response(req, units)))]


def _published(raw: bytes) -> dict[str, Any]:
    """One frame of ``DownlinkResult.frames`` as the FEP publishes it: the JSON view and the bytes."""
    return {**frame_view(decode_frame(raw)), "raw_hex": raw.hex()}


def _water(volume: float) -> Any:
    from emms_protocol.cjt188.layouts import Quantity, Status188, WaterGasData

    q = Quantity(volume, 0x2C, "m³")
    return WaterGasData(current=q, settlement=q, time=datetime(2025, 1, 1, 12, 0),
                        status=Status188(0, "open", False))


class _BusParticipant:
    """A consumer (fresh group, from the end of its topics) with a producer, run for one ``async with``."""

    def __init__(self, kafka: KafkaSettings, source: str, topics: list[str]) -> None:
        self._producer = BusProducer(kafka, source)
        self._consumer = BusConsumer(kafka, group=f"{source}-{secrets.token_hex(3)}", topics=topics,
                                     handler=self._handle, dlq_producer=self._producer, from_beginning=False)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self._producer.start()
        self._task = asyncio.create_task(self._consumer.run(self._stop))
        await until(self._consumer.joined, 30)  # start offsets fixed: nothing published after is missed
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task:
            await self._task
        await self._producer.stop()

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        raise NotImplementedError


class Responder(_BusParticipant):
    """Consumes downlink requests and answers each once, as the FEP would."""

    def __init__(self, kafka: KafkaSettings, fleet: FakeFleet) -> None:
        super().__init__(kafka, "fake-fep", ["emms.downlink.request.v1"])
        self.fleet = fleet

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        out = []
        for d in batch:
            request = d.payload
            assert isinstance(request, DownlinkRequest)
            self.fleet.seen.append(request)
            if request.terminal in self.fleet.silent:
                continue
            now = datetime.now(UTC)
            if request.terminal in self.fleet.offline:
                out.append(DownlinkResult(request_id=request.request_id, terminal=request.terminal,
                                          outcome=RequestOutcome.OFFLINE, attempts=0, completed_at=now))
                continue
            frames = _answer_frames(request, self.fleet)
            outcome = RequestOutcome.ANSWERED if frames else RequestOutcome.TIMED_OUT
            out.append(DownlinkResult(request_id=request.request_id, terminal=request.terminal, outcome=outcome,
                                      attempts=1, sent_at=now, completed_at=now, round_trip_ms=3.0,
                                      frames=frames or [], detail="" if frames else "no answer"))
        if out:
            await self._producer.publish_many(out)


class ReadingWatch(_BusParticipant):
    """Every raw reading batch (and device event) published during a test."""

    def __init__(self, kafka: KafkaSettings) -> None:
        super().__init__(kafka, "watch", ["emms.reading.raw.v1", "emms.device.event.v1"])
        self.batches: list[RawReadingBatch] = []
        self.events: list[DeviceEvent] = []

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        self.batches.extend(d.payload for d in batch if isinstance(d.payload, RawReadingBatch))
        self.events.extend(d.payload for d in batch if isinstance(d.payload, DeviceEvent))

    @property
    def producer(self) -> BusProducer:
        return self._producer

    def values(self) -> dict[tuple[str, str, datetime], float | None]:
        return {(r.meter_id, r.item, r.data_time): r.value for b in self.batches for r in b.readings}


class DutyLogWatch(_BusParticipant):
    """Every duty-log entry (``emms.operation.log.v1``) published during a test."""

    def __init__(self, kafka: KafkaSettings) -> None:
        super().__init__(kafka, "duty-watch", ["emms.operation.log.v1"])
        self.entries: list[OperationLogged] = []

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        self.entries.extend(d.payload for d in batch if isinstance(d.payload, OperationLogged))

    async def entry(self, action: str, timeout_s: float = 15.0, **match: Any) -> OperationLogged:
        """The first entry of ``action`` whose fields (or ``detail`` keys) equal ``match``."""
        def found() -> OperationLogged | None:
            for e in self.entries:
                if e.action == action and all(getattr(e, k, e.detail.get(k)) == v for k, v in match.items()):
                    return e
            return None
        await until(lambda: found() is not None, timeout_s)
        hit = found()
        assert hit is not None
        return hit
