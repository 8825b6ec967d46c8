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


def run() -> list[dict[str, object]]:
    n = int(os.environ.get("EMMS_BENCH_BUS_MESSAGES", "50000"))
    broker = LocalBroker().start()
    try:
        return asyncio.run(_measure(broker.bootstrap, n))
    finally:
        broker.stop()


if __name__ == "__main__":
    for row in run():
        print(row)
