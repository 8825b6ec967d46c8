"""A consumer process for the at-least-once tests.

Its effect is deliberately NOT idempotent by itself (``n = n + 1`` per message),
so only the inbox, written in the same transaction, prevents a double effect.
With ``--kill-after-effect`` it SIGKILLs itself after the first batch's DB
transaction committed and before the consumer committed the offsets.

    python effect_consumer.py DB_URL BOOTSTRAP PREFIX GROUP [--kill-after-effect] [--idle-exit S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence

import asyncpg

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_db.inbox import claim

TOPIC = "emms.masterdata.change.v1"


async def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db_url")
    p.add_argument("bootstrap")
    p.add_argument("prefix")
    p.add_argument("group")
    p.add_argument("--kill-after-effect", action="store_true")
    p.add_argument("--idle-exit", type=float, default=4.0)
    args = p.parse_args()
    settings = KafkaSettings(bootstrap=args.bootstrap, topic_prefix=args.prefix,
                             session_timeout_ms=6000, heartbeat_interval_ms=500)
    conn = await asyncpg.connect(args.db_url)
    producer = BusProducer(settings, "effect-test")
    await producer.start()
    last = time.monotonic()
    seen = 0

    async def handler(batch: Sequence[Delivery]) -> None:
        nonlocal last, seen
        seen += len(batch)
        last = time.monotonic()
        async with conn.transaction():
            fresh = await claim(conn, "fx", args.group, [d.envelope.message_id for d in batch])
            await conn.execute("UPDATE fx.counter SET n = n + $1 WHERE id = 1", len(fresh))
        sys.stdout.write(f"batch {len(batch)} fresh {len(fresh)}\n")
        sys.stdout.flush()
        if args.kill_after_effect:
            os.kill(os.getpid(), signal.SIGKILL)

    stop = asyncio.Event()
    consumer = BusConsumer(settings, group=args.group, topics=[TOPIC], handler=handler, dlq_producer=producer)
    task = asyncio.create_task(consumer.run(stop))
    while not task.done():
        await asyncio.sleep(0.2)
        if seen and time.monotonic() - last > args.idle_exit:
            stop.set()
    await task
    sys.stdout.write(f"done seen {seen}\n")
    await producer.stop()
    await conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
