"""The bounded publish queue: order kept, nothing lost on broker failure, reading paused while full."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from emms_bus import BusProducer
from emms_fep.publisher import PublishQueue
from emms_messages.envelope import Payload
from emms_messages.terminal import SessionState, TerminalSession


class FlakyProducer:
    """Fails the first ``failures`` batches, is slow when told, records what it published."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list[Payload] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def publish_many(self, payloads: Iterable[Payload], **_: Any) -> int:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        batch = list(payloads)
        self.published += batch
        return len(batch)


class Source:
    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def _session(i: int) -> TerminalSession:
    now = datetime.now(UTC)
    return TerminalSession(terminal=f"0171-{i:05d}", state=SessionState.ONLINE, fep_instance="f", connection_id="c",
                           peer="p", since=now, last_seen=now)


async def test_a_failing_broker_delays_but_loses_nothing() -> None:
    producer = FlakyProducer(failures=2)
    queue = PublishQueue(cast(BusProducer, producer), high=100, low=10, batch=7, retry_backoff_s=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop))
    for i in range(50):
        queue.put(_session(i))
    for _ in range(500):
        if len(producer.published) >= 50:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert [p.terminal for p in producer.published] == [f"0171-{i:05d}" for i in range(50)]  # type: ignore[attr-defined]
    assert queue.failed_batches == 2


async def test_a_full_queue_pauses_sources_until_drained_below_low_water() -> None:
    producer = FlakyProducer()
    producer.gate.clear()  # the broker is slow
    queue = PublishQueue(cast(BusProducer, producer), high=20, low=5, batch=4)
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop))
    source = Source()
    for i in range(25):
        queue.put(_session(i))
        if queue.full:
            queue.hold(source)
    assert not source.reading and queue.paused == 1
    producer.gate.set()
    for _ in range(500):
        if source.reading:
            break
        await asyncio.sleep(0.01)
    assert source.reading
    assert len(queue) <= 5
    stop.set()
    await task
    assert len(producer.published) == 25


async def test_urgent_results_overtake_the_bulk_backlog_and_the_bulk_keeps_its_order() -> None:
    producer = FlakyProducer()
    producer.gate.clear()  # the broker is slow: a backlog builds up
    queue = PublishQueue(cast(BusProducer, producer), high=1000, low=10, batch=10)
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop))
    for i in range(30):
        queue.put(_session(i))
    await asyncio.sleep(0.01)  # the first bulk batch is in the producer's hands
    queue.put(_session(1000), urgent=True)
    queue.put(_session(1001), urgent=True)
    assert len(queue) == 32
    producer.gate.set()
    for _ in range(500):
        if len(producer.published) >= 32:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    order = [int(cast(TerminalSession, p).terminal[-5:]) for p in producer.published]
    # the batch already in flight goes first, then the urgent lane, then the rest of the bulk in order
    assert order == [*range(10), 1000, 1001, *range(10, 30)]


async def test_a_bulk_backlog_at_half_the_high_water_mark_takes_turns_with_urgent_results() -> None:
    """A group command's results must not starve the answer frames until the queue is full and reading pauses;
    an urgent result still waits at most one bulk batch."""
    producer = FlakyProducer()
    producer.gate.clear()
    queue = PublishQueue(cast(BusProducer, producer), high=40, low=5, batch=10)
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop))
    for i in range(60):
        queue.put(_session(i))
    await asyncio.sleep(0.01)  # the first bulk batch is in the producer's hands
    for i in range(15):
        queue.put(_session(1000 + i), urgent=True)
    producer.gate.set()
    for _ in range(500):
        if len(producer.published) >= 75:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    order = [int(cast(TerminalSession, p).terminal[-5:]) for p in producer.published]
    # 50 bulk left after the first batch (≥ 20): bulk and urgent batches alternate while the bulk is at 20 or
    # more; below it the urgent lane goes first again
    assert order == [*range(20), *range(1000, 1010), *range(20, 30), *range(1010, 1015), *range(30, 60)]
