"""Validator throughput: readings validated per second with every rule on, in-process and from the bus.

1. In-process: the pure pipeline (rules, state, estimation, message building and
   envelope serialisation) against a plain pass-through that only turns each raw
   batch into a ``ValidatedReadingBatch`` envelope — same data, same run, CPU time
   of this process, reported with their ratio.
2. Through the service: raw batches are pre-published on a real broker (Tansu);
   the validator service (its real consumer, PostgreSQL state, inbox, anomalies,
   publishing one validated batch per raw batch) then drains them. Readings/s from
   its first handled batch to its last, compared in the same run with a
   pass-through consumer that publishes one ``ValidatedReadingBatch`` per raw batch
   (every reading "valid") and touches no database.

Synthetic fleet: hourly electricity (total + 4 tariffs + power), water (volume,
valve) and heat (energy, volume, supply and return temperature) meters with a
few injected faults (spikes, missing days, valve closed but flowing).

    EMMS_BENCH_VALIDATOR_METERS=200 EMMS_BENCH_VALIDATOR_DAYS=6 .venv/bin/python tools/bench/bench_validator.py

Env: ``…_METERS`` (200), ``…_DAYS`` (6), ``…_CONSUMER_BATCH`` (raw batches per consumer call, 40).
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DEFAULT_URL, DatabaseSettings
from emms_devstack.local_broker import LocalBroker
from emms_messages.envelope import wrap
from emms_messages.readings import RawReadingBatch, Reading, ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_validator.app import create_app
from emms_validator.config.resolve import RuleResolver
from emms_validator.items import ItemCatalog
from emms_validator.pipeline import BatchContext, Pipeline, VeeParams
from emms_validator.runtime import ValidatorRuntime, gc_paused
from emms_validator.settings import ValidatorSettings
from emms_validator.synthetic import SyntheticMeter, readings

BENCH = "validator"
TARGET = 20_000.0
START = datetime(2026, 1, 5, tzinfo=UTC)
MIX = ("electricity", "electricity", "electricity", "water", "heat")
FAULTS = ("spike", "missing_day", "valve_closed_flow", "transient")
METERS_PER_TERMINAL = 50


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"EMMS_BENCH_VALIDATOR_{name}", str(default)))


def fleet(meters: int, days: int) -> list[Reading]:
    out: list[Reading] = []
    for i in range(meters):
        utility = MIX[i % len(MIX)]
        fault = FAULTS[i % len(FAULTS)] if i % 20 == 0 else ""
        if fault == "valve_closed_flow" and utility != "water":
            fault = ""
        meter = SyntheticMeter(f"B{i:05d}", utility, interval_s=3600, faults=frozenset({fault} - {""}),
                               fault_day=days - 2, terminal=f"0101-{i // METERS_PER_TERMINAL:05d}")
        out += readings(meter, START, days)
    return out


def batches(rs: Sequence[Reading], run: str) -> list[RawReadingBatch]:
    groups: dict[tuple[str, datetime], list[Reading]] = {}
    for r in rs:
        groups.setdefault((r.terminal or "", r.data_time), []).append(r)
    return [RawReadingBatch(batch_id=f"{run}/{terminal}/{t.isoformat()}", terminal=terminal, readings=g)
            for (terminal, t), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def pass_through(b: RawReadingBatch) -> ValidatedReadingBatch:
    return ValidatedReadingBatch(batch_id=f"vee|{b.batch_id}", terminal=b.terminal, readings=[
        ValidatedReading(meter_id=r.meter_id, item=r.item, data_time=r.data_time, value=r.value, unit=r.unit,
                         status=ValidationStatus.VALID, raw_source=r.source, validated_at=r.collected_at)
        for r in b.readings])


def in_process(bs: Sequence[RawReadingBatch]) -> list[dict[str, Any]]:
    pipeline = Pipeline(ItemCatalog(), RuleResolver(), VeeParams())
    ctx = BatchContext()
    n = sum(len(b.readings) for b in bs)
    started = time.process_time()
    for b in bs:
        with gc_paused():  # as the service runs it
            messages = pipeline.run_batches([b], ctx).messages
        for message in messages:
            wrap(message, "bench").to_bytes()
    vee_s = time.process_time() - started
    started = time.process_time()
    for b in bs:
        with gc_paused():
            message = pass_through(b)
        wrap(message, "bench").to_bytes()
    plain_s = time.process_time() - started
    note = f"{n:,} readings; CPU time of one process; includes building and serialising every envelope"
    return [
        {"benchmark": BENCH, "metric": "pipeline, in-process, all rules", "value": n / vee_s, "unit": "readings/s",
         "target": "", "note": note},
        {"benchmark": BENCH, "metric": "pass-through, in-process", "value": n / plain_s, "unit": "readings/s",
         "target": "limit", "note": "raw batch → ValidatedReadingBatch envelope, no rules"},
        {"benchmark": BENCH, "metric": "pipeline / pass-through (in-process)", "value": plain_s / vee_s,
         "unit": "ratio", "target": "", "note": "share of the plain conversion rate kept with every rule on"},
    ]


@dataclass(frozen=True)
class Rate:
    per_s: float  # readings per second of wall time
    cpu_us: float  # CPU time of this process per reading (the broker and PostgreSQL not included)


async def _through_service(bootstrap: str, database_url: str,
                           make: Callable[[], list[RawReadingBatch]]) -> tuple[Rate, Rate]:
    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"bv{secrets.token_hex(3)}.", max_batch=5000)
    await ensure_topics(ks)
    producer = BusProducer(ks, "bench")
    await producer.start()
    bs = make()
    for i in range(0, len(bs), 500):
        await producer.publish_many(bs[i:i + 500])
    n = sum(len(b.readings) for b in bs)
    # The fleet is on the broker now: drop it, so this process holds what a validator process would
    # (half a million bench objects would otherwise burden every garbage collection of the service).
    del bs
    gc.collect()
    settings = ValidatorSettings(
        _env_file=None, environment="bench", database=DatabaseSettings(url=database_url), kafka=ks,
        consumer_max_batch=_env("CONSUMER_BATCH", 40), vee={"sweep_interval_s": 3600.0})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        vr = app.state.runtime.state
        assert isinstance(vr, ValidatorRuntime)
        await _wait(lambda: vr.readings_handled > 0)  # joining the group; the clock starts after the first batch
        n0, t0, c0 = vr.readings_handled, time.perf_counter(), time.process_time()
        await _wait(lambda: vr.readings_handled >= n)
        vee = Rate((n - n0) / (time.perf_counter() - t0), (time.process_time() - c0) / (n - n0) * 1e6)
    plain = await _pass_through_consumer(ks, producer, n)
    await producer.stop()
    return vee, plain


async def _wait(condition: Callable[[], bool], timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    for _ in iter(int, 1):
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the validator did not finish in time")
        await asyncio.sleep(0.005)


async def _pass_through_consumer(ks: KafkaSettings, producer: BusProducer, n: int) -> Rate:
    seen = 0
    n0, t0, c0 = 0, 0.0, 0.0
    done = asyncio.Event()

    async def handler(deliveries: Sequence[Delivery]) -> None:
        nonlocal seen, n0, t0, c0
        out = [pass_through(d.payload) for d in deliveries]
        await producer.publish_many(out)
        seen += sum(len(b.readings) for b in out)
        if not t0:
            n0, t0, c0 = seen, time.perf_counter(), time.process_time()
        if seen >= n:
            done.set()

    stop = asyncio.Event()
    consumer = BusConsumer(ks, group="bench-pass-through", topics=["emms.reading.raw.v1"], handler=handler,
                           dlq_producer=producer, max_batch=_env("CONSUMER_BATCH", 40))
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.wait_for(done.wait(), 600)
    rate = Rate((n - n0) / (time.perf_counter() - t0), (time.process_time() - c0) / (n - n0) * 1e6)
    stop.set()
    await task
    return rate


def _database_url() -> str:
    base = os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL)
    return urlunsplit(urlsplit(base)._replace(path=f"/emms_bench_validator_{secrets.token_hex(3)}"))


def run() -> list[dict[str, Any]]:
    meters, days = _env("METERS", 200), _env("DAYS", 6)
    run_id = f"bench-{secrets.token_hex(3)}"
    bs = batches(fleet(meters, days), run_id)
    rows = in_process(bs)
    note = (f"{sum(len(b.readings) for b in bs):,} readings of {meters} hourly meters over {days} days in "
            f"{len(bs):,} raw batches; Tansu + PostgreSQL on this machine; one validator process")
    del bs
    url = _database_url()
    asyncio.run(ensure_database(url))
    broker = LocalBroker().start()
    try:
        vee, plain = asyncio.run(_through_service(broker.bootstrap, url, lambda: batches(fleet(meters, days), run_id)))
    finally:
        broker.stop()
        asyncio.run(drop_database(url))
    rows += [
        {"benchmark": BENCH, "metric": "validated from the bus, all rules (service)", "value": vee.per_s,
         "unit": "readings/s", "target": f">= {TARGET:,.0f}", "note": note},
        {"benchmark": BENCH, "metric": "pass-through consumer from the bus", "value": plain.per_s, "unit": "readings/s",
         "target": "limit", "note": "decode, publish one ValidatedReadingBatch per raw batch, no DB, no rules"},
        {"benchmark": BENCH, "metric": "service / pass-through (from the bus)", "value": vee.per_s / plain.per_s,
         "unit": "ratio", "target": "", "note": "same batches, same broker, same run"},
        {"benchmark": BENCH, "metric": "service CPU per reading (its process)", "value": vee.cpu_us, "unit": "µs",
         "target": "", "note": "steadier than the rate on a shared machine; PostgreSQL and the broker not included"},
        {"benchmark": BENCH, "metric": "pass-through CPU per reading (its process)", "value": plain.cpu_us,
         "unit": "µs", "target": "", "note": "the same for the pass-through consumer"},
    ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
