"""The archive's figures: sustained ingest from the bus vs raw COPY, and query latency, in both
storage modes.

One run on one machine, in one process, for each storage mode — plain PostgreSQL (the machine's
server, monthly partitions of migration 0004) and TimescaleDB (a private cluster started by
``emms_devstack.timescale``, hypertables of migration 0005); every row names its mode:

1. a fresh database and a Tansu broker (one broker for both modes); the archive service started in-process (its real
   lifespan: migrations, two raw-reading consumers, outbox relay);
2. 10,000 customers / metering points / meters imported through the import path
   (100 concentrators × 100 points, a city of 10 districts; readings are keyed by concentrator,
   so the bus spreads them over the topic's partitions as a real fleet does);
3. ingest: 31 daily readings for each of the 10,000 meters (310,000 readings in batches of
   100 per terminal) published as ``RawReadingBatch`` on ``emms.reading.raw.v1``; timed
   from the first stored row to the last;
4. raw COPY: the same rows (metering point already resolved) ``COPY``'d in one go into an
   equivalent table (same columns and primary key; monthly partitions on PostgreSQL, a hypertable
   with 0005's 7-day chunks on TimescaleDB); ingest / COPY is the ratio (target ≥ 50 %);
5. query latency through the HTTP API: one customer's year of daily data (four utilities,
   365 days each), and a region's monthly total over the 10,000 meters (median of runs).

    EMMS_BENCH_ARCHIVE_METERS=10000 EMMS_BENCH_ARCHIVE_DAYS=31 EMMS_BENCH_ARCHIVE_TERMINALS=100 \\
        EMMS_BENCH_ARCHIVE_CONSUMERS=2 EMMS_BENCH_ARCHIVE_MODES=postgresql,timescaledb \\
        .venv/bin/python tools/bench/bench_archive.py

``EMMS_BENCH_ARCHIVE_MODES`` limits the run to one mode; where no TimescaleDB cluster can be
started, the TimescaleDB mode is one "skipped" row with the reason. ``EMMS_BENCH_ARCHIVE_STAGING=0``
leaves out the staging-path-only run (in both modes).
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from prometheus_client import REGISTRY

from emms_archive.app import SPEC, create_app
from emms_archive.masterdata.import_batch import apply_batch, build_batch
from emms_archive.outbox import OutboxRelay
from emms_archive.readings.ingest import RawIngest
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_archive.settings import ArchiveSettings, BackupSettings, IngestSettings
from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database, migrate
from emms_db.settings import DatabaseSettings
from emms_db.storage_mode import StorageMode
from emms_devstack.bench_data import bench_db_url
from emms_devstack.local_broker import LocalBroker
from emms_devstack.postgres import ensure_server
from emms_devstack.timescale import TimescaleCluster, unavailable_reason
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

assert SPEC.migrations is not None
MIGRATIONS = SPEC.migrations
ITEM = "energy_active_import_total"
JAN = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
TERMINALS = int(os.environ.get("EMMS_BENCH_ARCHIVE_TERMINALS", "100"))
PER_BATCH = 100
COPY_COLUMNS_SQL = """
    metering_point_id text NOT NULL, item text NOT NULL, data_time timestamptz NOT NULL, source text NOT NULL,
    meter_id text NOT NULL, value double precision, unit text NOT NULL, collected_at timestamptz NOT NULL,
    quality integer NOT NULL DEFAULT 0, terminal text, pn integer, batch_id text,
    stored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (metering_point_id, item, data_time, source)
"""
COPY_TABLE = {
    # 0004: monthly partitions (the months of the bench's data made in advance, as the writers do).
    StorageMode.POSTGRESQL: f"""
CREATE TABLE archive.bench_copy ({COPY_COLUMNS_SQL}) PARTITION BY RANGE (data_time);
CREATE TABLE archive.bench_copy_p202601 PARTITION OF archive.bench_copy
    FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');
CREATE TABLE archive.bench_copy_p202602 PARTITION OF archive.bench_copy
    FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00');
""",
    # 0005: a hypertable with 7-day chunks (and TimescaleDB's default time index, as reading_raw has).
    StorageMode.TIMESCALEDB: f"""
CREATE TABLE archive.bench_copy ({COPY_COLUMNS_SQL});
SELECT create_hypertable('archive.bench_copy', 'data_time', chunk_time_interval => INTERVAL '7 days');
""",
}
COPY_COLUMNS = ("metering_point_id", "item", "data_time", "source", "meter_id", "value", "unit", "collected_at",
                "quality", "terminal", "pn", "batch_id")


def _reference_rows() -> list[tuple[str, list[dict[str, Any]]]]:
    utilities = ["electricity", "water", "gas", "heat"]
    return [
        ("companies", [{"id": "BENCH", "name": "Bench utility", "utilities": utilities}]),
        ("regions", [{"id": "CITY", "name": "City", "level": 1},
                     *({"id": f"D{d}", "name": f"District {d}", "parent_id": "CITY", "level": 2} for d in range(10))]),
        ("service-areas", [{"company_id": "BENCH", "region_id": "CITY", "utility": u} for u in utilities]),
        ("terminals", [{"id": f"T{t}", "kind": "concentrator", "address": f"4401{t:04d}", "company_id": "BENCH",
                        "region_id": f"D{t % 10}"} for t in range(TERMINALS + 1)]),
    ]


def _meter_rows(meters: int) -> list[dict[str, Any]]:
    per_terminal = -(-meters // TERMINALS)
    return [{"customer_id": f"C{i}", "customer_name": f"Customer {i}", "utility": "electricity",
             "category": "e_residential", "company_id": "BENCH", "region_id": f"D{i // per_terminal % 10}",
             "metering_point_id": f"P{i}", "terminal_id": f"T{i // per_terminal}", "pn": i % per_terminal + 1,
             "meter_id": f"M{i}", "protocol": "dlt645-2007", "meter_address": f"{i:012d}",
             "installed_at": "2024-01-01T00:00:00Z"} for i in range(meters)]


def _year_customer_rows() -> list[dict[str, Any]]:
    cats = {"electricity": "e_residential", "water": "w_residential", "gas": "g_residential", "heat": "h_residential"}
    return [{"customer_id": f"Y-{u}", "customer_name": "Year customer", "party_id": "YEAR", "utility": u,
             "category": c, "company_id": "BENCH", "region_id": "D0", "metering_point_id": f"YP-{u}",
             "terminal_id": f"T{TERMINALS}", "pn": n + 1, "meter_id": f"YM-{u}",
             "protocol": "dlt645-2007" if u == "electricity" else "cjt188-2004", "meter_address": f"9{n:011d}",
             "installed_at": "2024-01-01T00:00:00Z"} for n, (u, c) in enumerate(cats.items())]


def _readings(meters: int, days: int) -> list[RawReadingBatch]:
    per_terminal = -(-meters // TERMINALS)
    batches = []
    for d in range(days):
        t = JAN + timedelta(days=d)
        for start in range(0, meters, PER_BATCH):
            readings = [Reading(meter_id=f"M{i}", item=ITEM, data_time=t, value=1000.0 + 7.5 * d + i % 13,
                                unit="kWh", source=ReadingSource.SCHEDULED, collected_at=t + timedelta(minutes=2),
                                pn=i % per_terminal + 1) for i in range(start, min(start + PER_BATCH, meters))]
            batches.append(RawReadingBatch(batch_id=f"d{d}-{start}", terminal=f"4401{start // per_terminal:04d}",
                                           readings=readings))
    return batches


async def _time(fn: Callable[[], Awaitable[Any]], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class CpuMeter:
    """CPU seconds used by a set of processes (this one, the broker, the database backends): on a
    machine shared with other work, rows per CPU second compare the two paths fairly."""

    def __init__(self, pids: list[int]) -> None:
        self._start = {pid: self._cpu(pid) for pid in pids}

    @staticmethod
    def _cpu(pid: int) -> float:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            return 0.0
        return float(t.user + t.system)

    def used(self, pids: list[int]) -> float:
        return sum(self._cpu(pid) - self._start.get(pid, 0.0) for pid in set(pids) | set(self._start))


def _fallbacks() -> float:
    """Batches the direct path sent to the staging path so far (the service's own counter)."""
    return REGISTRY.get_sample_value("emms_archive_ingest_direct_fallbacks_total") or 0.0


async def _backend_pids(conn: asyncpg.Connection) -> list[int]:
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return [r["pid"] for r in rows]


async def _drain_rate(conn: asyncpg.Connection, ingest: RawIngest, n: int, broker_pid: int,
                      timeout_s: float) -> tuple[float, float]:
    """(rows/s, rows per CPU second) while the backlog drains, from the moment a quarter of it is
    stored to the last row: start-up (group join, first rebalance, cold caches) is left out."""
    base = ingest.stored
    mark, marked_at, meter = n // 4, 0.0, None
    deadline = time.perf_counter() + timeout_s
    count = 0.0
    while time.perf_counter() < deadline:
        count = ingest.stored - base
        now = time.perf_counter()
        if count >= mark and not marked_at:
            mark, marked_at = int(count), now
            meter = CpuMeter([os.getpid(), broker_pid, *await _backend_pids(conn)])
        if count >= n and meter is not None:
            cpu = meter.used([os.getpid(), broker_pid, *await _backend_pids(conn)])
            return (n - mark) / (now - marked_at), (n - mark) / cpu
        await asyncio.sleep(0.01)
    raise TimeoutError(f"only {count} of {n} readings stored in {timeout_s} s")


async def _prepare(url: str, meters: int, mode: StorageMode) -> dict[str, object]:
    """Schema and master data through the import path; returns the import row of the report."""
    conn = await asyncpg.connect(url)
    try:
        report = await migrate(conn, SCHEMA, MIGRATIONS)
        if report.mode is not mode:
            raise RuntimeError(f"the archive migrated in {report.mode} mode, {mode} expected")
        for kind, data in _reference_rows():
            await apply_batch(conn, kind, build_batch(kind, data), actor="bench", scope=Scope())
        started = time.perf_counter()
        result = await apply_batch(conn, "customer-meters", build_batch("customer-meters", _meter_rows(meters)),
                                   actor="bench", scope=Scope())
        import_s = time.perf_counter() - started
        await apply_batch(conn, "customer-meters", build_batch("customer-meters", _year_customer_rows()),
                          actor="bench", scope=Scope())
    finally:
        await conn.close()
    return {"benchmark": "archive", "metric": f"import {meters:,} customer/meter rows (all or nothing) ({mode})",
            "value": import_s, "unit": "s", "target": "-",
            "note": f"{len(result.changes):,} audited changes queued for the bus"}


async def _publish(ks: KafkaSettings, batches: list[RawReadingBatch]) -> None:
    producer = BusProducer(ks, "bench-collector")
    await producer.start()
    try:
        for i in range(0, len(batches), 500):
            await producer.publish_many(batches[i:i + 500])
    finally:
        await producer.stop()


async def _copy_rate(conn: asyncpg.Connection, batches: list[RawReadingBatch], mode: StorageMode,
                     runs: int = 3) -> tuple[float, float]:
    """Median of ``runs`` COPYs of every row into a fresh equivalent table, each after a checkpoint
    (so that none pays for the WAL another left behind): (rows/s, rows per CPU second)."""
    copy_rows = [(f"P{r.meter_id[1:]}", r.item, r.data_time, r.source.value, r.meter_id, r.value, r.unit,
                  r.collected_at, r.quality, b.terminal, r.pn, b.batch_id) for b in batches for r in b.readings]
    rates, per_cpu = [], []
    for _ in range(runs):
        await conn.execute(COPY_TABLE[mode])
        await conn.execute("CHECKPOINT")
        pids = [os.getpid(), conn.get_server_pid()]
        meter = CpuMeter(pids)
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", schema_name="archive", records=copy_rows,
                                         columns=COPY_COLUMNS)
        rates.append(len(copy_rows) / (time.perf_counter() - started))
        per_cpu.append(len(copy_rows) / meter.used(pids))
        await conn.execute("DROP TABLE archive.bench_copy")
    return statistics.median(rates), statistics.median(per_cpu)


def _year_batches() -> list[RawReadingBatch]:
    return [RawReadingBatch(batch_id=f"year-{u}", terminal=f"4401{TERMINALS:04d}", readings=[
        Reading(meter_id=f"YM-{u}", item=ITEM, data_time=YEAR + timedelta(days=d), value=50.0 + d, unit="kWh",
                source=ReadingSource.SCHEDULED, collected_at=YEAR + timedelta(days=d, minutes=1))
        for d in range(365)]) for u in ("electricity", "water", "gas", "heat")]


async def _queries(app: Any, meters: int, days: int, mode: StorageMode) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {issue_token(AuthSettings(), 'bench', 'viewer')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archive",
                                 headers=headers, timeout=60) as api:
        async def year_of_one_customer() -> None:
            resp = await api.get("/api/v1/readings", params={"parties": "YEAR", "from": YEAR.isoformat(),
                                                             "to": JAN.isoformat(), "limit": 5000})
            assert resp.status_code == 200 and resp.json()["count"] == 4 * 365, resp.text

        async def region_month() -> None:
            resp = await api.get("/api/v1/usage", params={
                "regions": "CITY", "utilities": "electricity", "from": JAN.isoformat(),
                "to": (JAN + timedelta(days=days)).isoformat(), "interval": "month", "group_by": "total"})
            assert resp.status_code == 200 and resp.json()["rows"][0]["metering_points"] == meters, resp.text

        async def measured(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[object, str]:
            """(median ms, "") — or ("failed", why) when the query fails or times out (the pool's
            60 s command timeout): the other figures of the run still count."""
            try:
                await fn()  # warm
                return 1000 * await _time(fn, runs), ""
            except Exception as exc:  # reported in the row
                return "failed", f"FAILED: {exc!r:.80}; "

        year_ms, year_err = await measured(year_of_one_customer, 7)
        region_ms, region_err = await measured(region_month, 3)
        return [
            {"benchmark": "archive", "metric": f"query: one customer's year of daily data (4 utilities) ({mode})",
             "value": year_ms, "unit": "ms", "target": "< 500",
             "note": f"{year_err}GET /api/v1/readings, 1,460 rows, HTTP API in-process, median of 7"},
            {"benchmark": "archive", "metric": f"query: region's monthly total over {meters:,} meters ({mode})",
             "value": region_ms, "unit": "ms", "target": "< 5000",
             "note": f"{region_err}GET /api/v1/usage interval=month, {meters * days:,} readings, median of 3"},
        ]


async def _relay_changes(url: str, ks: KafkaSettings) -> int:
    """Publish the import's 40,000 master-data changes now (the service's own relay), so the
    ingest measurement is not sharing the CPU with them."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    producer = BusProducer(ks, "archive")
    await producer.start()
    try:
        relay = OutboxRelay(pool, producer, batch=5000)
        sent = 0
        while n := await relay.publish_pending():
            sent += n
        return sent
    finally:
        await producer.stop()
        await pool.close()


async def _measure(url: str, bootstrap: str, broker_pid: int, meters: int, days: int, *,
                   direct: bool, mode: StorageMode) -> list[dict[str, object]]:
    """One database, one backlog: import, ingest (the direct path, or the staging path alone),
    raw COPY; the queries with the direct path's run."""
    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"ba{secrets.token_hex(3)}.", max_batch=5000)
    await ensure_topics(ks)
    rows = [await _prepare(url, meters, mode)]
    await _relay_changes(url, ks)
    batches = _readings(meters, days)
    total = sum(len(b.readings) for b in batches)
    await _publish(ks, batches)  # a backlog on the bus: the service drains it as fast as it can
    # The bench's own 310,000 reading models live in the service's process only because the bench
    # runs it in-process (in production they are the collector's): keep the garbage collector
    # from walking them again and again while the service works.
    gc.collect()
    gc.freeze()
    consumers = int(os.environ.get("EMMS_BENCH_ARCHIVE_CONSUMERS", "2"))
    max_batch = int(os.environ.get("EMMS_BENCH_ARCHIVE_MAX_BATCH", str(IngestSettings().max_batch)))
    settings = ArchiveSettings(database=DatabaseSettings(url=url, pool_max=8), kafka=ks, environment="bench",
                               ingest=IngestSettings(raw_consumers=consumers, max_batch=max_batch,
                                                     direct_copy=direct),
                               backup=BackupSettings(directory=Path(".cache/bench/archive-backups")))
    app = create_app(settings)
    checkpoint = await asyncpg.connect(url)
    await checkpoint.execute("CHECKPOINT")  # the import's WAL is not the ingest's to pay for
    await checkpoint.close()
    fallbacks_before = _fallbacks()
    async with app.router.lifespan_context(app):
        conn = await asyncpg.connect(url)
        try:
            ingest_rate, ingest_cpu = await _drain_rate(conn, app.state.runtime.state.raw, total, broker_pid,
                                                        timeout_s=300)
            fallbacks = _fallbacks() - fallbacks_before
            await conn.execute("ANALYZE archive.reading_raw")  # what autovacuum does after a bulk load
            copy_rate, copy_cpu = await _copy_rate(conn, batches, mode)
            await app.state.runtime.state.raw.store(_year_batches())
        finally:
            await conn.close()
        path = "direct COPY (staging on conflict)" if direct else "staging + INSERT ON CONFLICT"
        tag = f" ({mode})" if direct else f" — staging path only ({mode})"
        equivalent = "monthly partitions" if mode is StorageMode.POSTGRESQL else "hypertable, 7-day chunks"
        note = (f"{total:,} readings in {len(batches):,} bus messages of {PER_BATCH} from {TERMINALS} concentrators, "
                f"drained from a backlog by {consumers} consumer(s), timed after the first quarter; {path}; "
                f"{fallbacks:.0f} batch(es) fell back to staging")
        rows += [
            {"benchmark": "archive", "metric": f"sustained ingest bus → reading_raw{tag}", "value": ingest_rate,
             "unit": "rows/s", "target": "≥ 50% of raw COPY" if direct else "-", "note": note},
            {"benchmark": "archive", "metric": f"raw COPY into an equivalent table{tag}", "value": copy_rate,
             "unit": "rows/s", "target": "reference",
             "note": f"one COPY of every row, same columns / PK, {equivalent}; median of 3, same run"},
            {"benchmark": "archive", "metric": f"ingest / raw COPY{tag}", "value": 100.0 * ingest_rate / copy_rate,
             "unit": "%", "target": "≥ 50" if direct else "-", "note": path},
            {"benchmark": "archive", "metric": f"ingest per CPU second (service + broker + DB){tag}",
             "value": ingest_cpu, "unit": "rows/CPU-s", "target": "-",
             "note": "CPU of this process, Tansu and the DB backends"},
            {"benchmark": "archive", "metric": f"raw COPY per CPU second (client + DB){tag}", "value": copy_cpu,
             "unit": "rows/CPU-s", "target": "-", "note": "CPU of this process and the COPY backend"},
            {"benchmark": "archive", "metric": f"ingest / raw COPY, per CPU second{tag}",
             "value": 100.0 * ingest_cpu / copy_cpu, "unit": "%", "target": "≥ 50" if direct else "-",
             "note": "the same ratio on CPU time: fair on a shared machine"},
        ]
        if direct:
            rows += await _queries(app, meters, days, mode)
    return rows


def _run_like_the_service(main: Coroutine[Any, Any, list[dict[str, object]]]) -> list[dict[str, object]]:
    """On the event loop the service runs on: uvicorn's ``loop="auto"`` takes uvloop when it is
    installed (it is, with emms-runtime)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _run_mode(mode: StorageMode, server: str | None, broker: LocalBroker, meters: int, days: int,
              paths: list[bool]) -> list[dict[str, object]]:
    """The direct path (the service's default) with the queries, then the staging path alone,
    each on a database of its own on ``server`` (None: the machine's PostgreSQL)."""
    assert broker.process is not None
    rows: list[dict[str, object]] = []
    for direct in paths:
        url = bench_db_url("archive", server)
        if server is None:
            ensure_server(url)
        asyncio.run(ensure_database(url))
        try:
            found = _run_like_the_service(_measure(url, broker.bootstrap, broker.process.pid, meters, days,
                                                   direct=direct, mode=mode))
            rows += found if direct else found[1:]  # the import is the same both times
        finally:
            if os.environ.get("EMMS_BENCH_ARCHIVE_KEEP"):
                print(f"kept {url}")
            else:
                asyncio.run(drop_database(url))
    return rows


def run() -> list[dict[str, object]]:
    """Each storage mode of ``EMMS_BENCH_ARCHIVE_MODES`` (default both) in turn, on one broker."""
    meters = int(os.environ.get("EMMS_BENCH_ARCHIVE_METERS", "10000"))
    days = int(os.environ.get("EMMS_BENCH_ARCHIVE_DAYS", "31"))
    paths = [True, False] if os.environ.get("EMMS_BENCH_ARCHIVE_STAGING", "1") == "1" else [True]
    modes = [StorageMode(m.strip()) for m in
             os.environ.get("EMMS_BENCH_ARCHIVE_MODES", "postgresql,timescaledb").split(",") if m.strip()]
    rows: list[dict[str, object]] = []
    broker = LocalBroker().start()
    try:
        for mode in modes:
            if mode is StorageMode.POSTGRESQL:
                rows += _run_mode(mode, None, broker, meters, days, paths)
                continue
            reason = unavailable_reason()
            if reason is not None:
                rows.append({"benchmark": "archive", "metric": f"skipped ({mode})", "value": "", "unit": "",
                             "target": "-", "note": reason})
                continue
            cluster = TimescaleCluster().start()
            try:
                rows += _run_mode(mode, cluster.url, broker, meters, days, paths)
            finally:
                cluster.remove()
    finally:
        broker.stop()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
