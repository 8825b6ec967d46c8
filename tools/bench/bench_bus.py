"""The bus's own limits on this machine: produce and at-least-once consume rates on Tansu.

Other benchmarks (archive ingest, validator throughput) are bounded by these
figures; they are measured in the same run so ratios are meaningful.

    EMMS_BENCH_BUS_MESSAGES=50000 .venv/bin/python tools/bench/bench_bus.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings, ensure_topics
from emms_devstack.local_broker import LocalBroker
from emms_messages.masterdata import ChangeKind, MasterDataChange

TOPIC = "emms.masterdata.change.v1"


async def _measure(bootstrap: str, n: int) -> list[dict[str, object]]:
    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"b{secrets.token_hex(3)}.", max_batch=5000)
    await ensure_topics(ks)
    now = datetime.now(UTC)
    payloads = [MasterDataChange(change_id=f"c{i}", entity="meter", entity_id=f"M{i % 5000}",
                                 kind=ChangeKind.UPDATED, changed_at=now, changed_by="bench") for i in range(n)]
    producer = BusProducer(ks, "bench")
    await producer.start()
    started = time.perf_counter()
    for i in range(0, n, 5000):
        await producer.publish_many(payloads[i:i + 5000])
    produce_s = time.perf_counter() - started
    seen = 0
    first = 0.0
    done = asyncio.Event()

    async def handler(batch: Sequence[Delivery]) -> None:
        nonlocal seen, first
        first = first or time.perf_counter()
        seen += len(batch)
        if seen >= n:
            done.set()

    stop = asyncio.Event()
    consumer = BusConsumer(ks, group="bench", topics=[TOPIC], handler=handler, dlq_producer=producer)
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.wait_for(done.wait(), 600)
    ended = time.perf_counter()
    consume_s, join_s = ended - first, first - started
    stop.set()
    await task
    await producer.stop()
    note = f"{n:,} envelopes of ~330 B, Tansu memory storage, one process"
    return [
        {"benchmark": "bus", "metric": "publish rate (pydantic envelope, acks=all)", "value": n / produce_s,
         "unit": "msg/s", "target": "limit", "note": note},
        {"benchmark": "bus", "metric": "consume+decode+commit rate", "value": n / consume_s,
         "unit": "msg/s", "target": "limit", "note": f"from first delivery; group join took {join_s:.1f} s"},
    ]


async def _hop_latency(bootstrap: str, urgent: bool, n: int = 60) -> list[float]:
    """Seconds from publish to handler for single messages 50 ms apart (a request, a result)."""
    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"h{secrets.token_hex(3)}.")
    await ensure_topics(ks)
    producer = BusProducer(ks, "bench")
    await producer.start()
    latencies: list[float] = []
    sent: dict[str, float] = {}

    async def handler(batch: Sequence[Delivery]) -> None:
        now = time.perf_counter()
        latencies.extend(now - sent[d.payload.change_id] for d in batch if d.payload.change_id in sent)

    stop = asyncio.Event()
    consumer = BusConsumer(ks, group="hop", topics=[TOPIC], handler=handler, dlq_producer=producer,
                           from_beginning=False, urgent=urgent)
    task = asyncio.create_task(consumer.run(stop))
    for _ in range(400):  # the group join
        if consumer.assigned():
            break
        await asyncio.sleep(0.05)
    await consumer.resolve_positions()
    for i in range(n):
        change = MasterDataChange(change_id=f"h{i}", entity="meter", entity_id=f"M{i}", kind=ChangeKind.UPDATED,
                                  changed_at=datetime.now(UTC), changed_by="bench")
        sent[change.change_id] = time.perf_counter()
        await producer.publish(change)
        await asyncio.sleep(0.05)
    for _ in range(100):
        if len(latencies) >= n:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    await producer.stop()
    return latencies


async def _hops(bootstrap: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    defaults = KafkaSettings(bootstrap=bootstrap)
    for urgent, wait in ((False, defaults.fetch_max_wait_ms), (True, defaults.urgent_fetch_max_wait_ms)):
        lat = sorted(await _hop_latency(bootstrap, urgent))
        p50, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]
        rows.append({"benchmark": "bus", "metric": f"one hop publish → handler, fetch_max_wait_ms={wait}",
                     "value": 1000 * p50, "unit": "ms p50", "target": "report",
                     "note": f"p95 {1000 * p95:.1f} ms over {len(lat)} single messages 50 ms apart"
                             + (" (urgent consumers: downlink requests, results)" if urgent else " (other consumers)")})
    return rows


def run() -> list[dict[str, object]]:
    n = int(os.environ.get("EMMS_BENCH_BUS_MESSAGES", "50000"))
    broker = LocalBroker().start()
    try:
        return asyncio.run(_measure(broker.bootstrap, n)) + asyncio.run(_hops(broker.bootstrap))
    finally:
        broker.stop()


if __name__ == "__main__":
    for row in run():
        print(row)
