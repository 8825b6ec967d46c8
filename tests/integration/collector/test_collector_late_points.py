"""A run collects every point known when it finishes planning (the first collection after ``make up``).

The fleet's installations reach the collector as ``MasterDataChange`` on the
real broker while its automatic task is already being run: a run waits for the
changes published before it to be applied (here the master-data handler is held
back, as a busy consumer would be), and takes up points that arrive while it
reads. Checked against the FEP stand-in's values.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from collector_harness import (
    FakeFleet,
    ReadingWatch,
    Responder,
    Running,
    collector_settings,
    running_collector,
    truncate,
    until,
)

from emms_bus import BusProducer, Delivery, KafkaSettings
from emms_collector.intake.masterdata import MasterDataSync
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository.templates import put_template
from emms_collector.tasks.model import PeriodSpec
from emms_collector.tasks.periods import zone
from emms_collector.tasks.templates import Template, TemplateSpec
from emms_collector.tasks.types import TaskType
from emms_messages.masterdata import ChangeKind, MasterDataChange

pytestmark = pytest.mark.integration
TZ = zone("Asia/Shanghai")
TOTAL = "energy.active.import.total"
EARLY, HELD, LATE, SILENT = "5501-00001", "5501-00002", "5501-00003", "5501-00004"
TASK = "auto-late-elec"


def _truth(terminal: str, pn: int, day: date) -> float:
    return round(10 * int(terminal[-1]) + pn + day.day / 100, 2)


@pytest.fixture(scope="module")
def fleet() -> FakeFleet:
    f = FakeFleet()
    for t in (EARLY, HELD, LATE):
        for pn in range(1, 6):
            f.daily[(t, pn)] = lambda d, t=t, pn=pn: _truth(t, pn, d)
    f.silent.add(SILENT)
    return f


class Gate:
    """Holds the collector's master-data handler back while closed (a consumer behind its topic)."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self.waiting = 0


@pytest.fixture(scope="module")
async def gate() -> AsyncIterator[Gate]:
    g = Gate()
    original = MasterDataSync.handle

    async def held(self: MasterDataSync, batch: Sequence[Delivery]) -> None:
        g.waiting += 1
        try:
            await g.open.wait()
        finally:
            g.waiting -= 1
        await original(self, batch)

    MasterDataSync.handle = held  # type: ignore[method-assign]
    try:
        yield g
    finally:
        MasterDataSync.handle = original  # type: ignore[method-assign]


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings, fleet: FakeFleet,
                    gate: Gate) -> AsyncIterator[Running]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-late",
                                  scheduler={"masterdata_wait_s": 30.0})
    async with running_collector(settings) as running, Responder(kafka_settings, fleet):
        await truncate(running.c.pool)
        spec = TemplateSpec(name="late electricity", type=TaskType.DAILY_FROZEN, items=[TOTAL],
                            period=PeriodSpec.model_validate({"unit": "daily", "at": "00:20"}), retries=0,
                            backfill_days=0)
        async with running.c.pool.acquire() as conn:
            await put_template(conn, Template(id="late-elec", name="late", utility="electricity", spec=spec))
        yield running


@pytest.fixture(scope="module")
async def watch(kafka_settings: KafkaSettings) -> AsyncIterator[ReadingWatch]:
    async with ReadingWatch(kafka_settings) as w:
        yield w


def _installed(terminal: str, pn: int) -> MasterDataChange:
    meter = f"{terminal}-{pn}"
    return MasterDataChange(
        change_id=secrets.token_hex(8), entity="meter_installation", entity_id=f"mp-{meter}",
        kind=ChangeKind.CREATED, changed_at=datetime.now(UTC), changed_by="archive",
        data={"metering_point_id": f"mp-{meter}", "meter_id": meter, "utility": "electricity",
              "terminal_address": terminal, "pn": pn, "port": 31, "protocol": "dlt645-2007",
              "meter_address": f"{pn:012d}"})


async def _members(collector: Running) -> int:
    body = (await collector.client.get(f"/api/v1/tasks/{TASK}/members", params={"limit": 1000})).json()
    return len(body.get("items", [])) if isinstance(body, dict) else 0


async def _poll(check: Any, timeout_s: float = 20.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not met")


async def _run(collector: Running, body: dict[str, object]) -> int:
    started = await collector.client.post(f"/api/v1/tasks/{TASK}/runs", json=body)
    assert started.status_code == 202, started.text
    return int(started.json()["run_id"])


async def _finished(collector: Running, run_id: int, timeout_s: float = 30.0) -> dict[str, Any]:
    run: dict[str, Any] = {}

    async def done() -> bool:
        run.update((await collector.client.get(f"/api/v1/runs/{run_id}")).json())
        return run["status"] in ("done", "failed")

    await _poll(done, timeout_s)
    return run


async def _publish(producer: BusProducer, terminal: str) -> list[str]:
    await producer.publish_many([_installed(terminal, pn) for pn in range(1, 6)])
    return [f"{terminal}-{pn}" for pn in range(1, 6)]


def _collected(watch: ReadingWatch, meters: list[str], day: date) -> dict[str, float | None]:
    at = freeze_instant(day, TZ, freeze_at="end")
    values = watch.values()
    return {m: values.get((m, TOTAL, at)) for m in meters}


async def test_a_run_plans_only_once_the_master_data_published_before_it_is_applied(
        collector: Running, gate: Gate, watch: ReadingWatch, fleet: FakeFleet) -> None:
    producer = watch.producer
    early = await _publish(producer, EARLY)
    await _poll(lambda: _count_is(collector, 5))  # the automatic task exists with the first five
    gate.open.clear()  # the consumer falls behind: the next five are on the topic, not yet applied
    held = await _publish(producer, HELD)
    await until(lambda: gate.waiting > 0, 10)
    run_id = await _run(collector, {})
    await asyncio.sleep(1.5)  # long enough for a run to be claimed and seeded with what it knew
    assert await _members(collector) == 5
    gate.open.set()
    run = await _finished(collector, run_id)
    assert (run["status"], run["meters"], run["ok_retry"]) == ("done", 10, 10), run
    day = datetime.now(TZ).date() - timedelta(days=1)
    await until(lambda: None not in _collected(watch, early + held, day).values(), 10)
    assert _collected(watch, early + held, day) == {
        m: pytest.approx(_truth(m[:10], int(m[-1]), day)) for m in early + held}


async def test_a_run_takes_up_points_that_arrive_while_it_reads(collector: Running, gate: Gate,
                                                                watch: ReadingWatch, fleet: FakeFleet) -> None:
    producer = watch.producer
    await producer.publish(_installed(SILENT, 1))  # its requests time out: round 0 takes a few seconds
    await _poll(lambda: _count_is(collector, 11))
    run_id = await _run(collector, {"slot": (datetime.now(UTC) - timedelta(days=1)).isoformat()})

    async def reading() -> bool:
        run = (await collector.client.get(f"/api/v1/runs/{run_id}")).json()
        return run["status"] == "running" and run["meters"] == 11

    await _poll(reading)
    late = await _publish(producer, LATE)  # installed while the run reads
    await _poll(lambda: _count_is(collector, 16))
    run = await _finished(collector, run_id)
    assert (run["status"], run["meters"], run["ok_retry"]) == ("done", 16, 15), run
    assert "5 joined while it ran" in run["detail"]
    day = datetime.now(TZ).date() - timedelta(days=2)  # yesterday's slot collects the day before's freeze
    await until(lambda: None not in _collected(watch, late, day).values(), 10)
    assert _collected(watch, late, day) == {m: pytest.approx(_truth(LATE, int(m[-1]), day)) for m in late}
    assert [r.terminal for r in fleet.seen if r.terminal == SILENT]  # the silent one was asked, in vain


async def _count_is(collector: Running, n: int) -> bool:
    return await _members(collector) == n
