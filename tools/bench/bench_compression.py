"""TimescaleDB columnar compression of the archive's readings: bytes before / after, time, queries.

On a private TimescaleDB cluster (``emms_devstack.timescale``), two databases, each migrated with
the archive's own migrations (``reading_raw`` becomes the hypertable of 0005: 7-day chunks,
``segmentby metering_point_id``, ``orderby item, data_time, source``):

* **daily** — a year of daily frozen registers of ``POINTS`` electricity points: import total,
  its four tariff registers (sharp / peak / flat / valley; their increments add up to the
  total's) and the export total (non-zero for the one point in ten with solar);
* **15-min** — a year of the import total every 15 minutes (96 a day) for ``INTERVAL_POINTS``
  points, with a daily load shape.

Values are cumulative kWh registers with two decimals (DL/T 645's XXXXXX.XX), growing by a
per-point mean × season × noise, never decreasing. Every other column is filled as the archive
fills it (meter, unit, collected_at a few hours after the data time, quality, terminal, pn, the
collector's ``col-daily-<hex>`` request id per terminal and day, stored_at). Rows are ``COPY``'d
in directly: this is a storage benchmark, not an ingest one.

Per data set: rows, bytes per row uncompressed (heap and indexes), one point's year queried
(all items, and one item) uncompressed; then for each compression setting — the migration's,
and alternatives on the same data (every chunk decompressed, the setting changed, compressed
again) — the time to compress every chunk, the bytes before / after
(``hypertable_compression_stats``), the ratio, bytes per row and the same queries. For the daily
set also the same rows in copies of the table with longer chunks (28 and 91 days: a daily point
has only 6 items × 7 days = 42 rows in a 7-day chunk, the segment compression works on), with the
migration's setting.

    EMMS_BENCH_COMPRESSION_POINTS=2000 EMMS_BENCH_COMPRESSION_INTERVAL_POINTS=100 \\
        EMMS_BENCH_COMPRESSION_VARIANTS=1 EMMS_BENCH_COMPRESSION_CHUNK_DAYS=28,91 \\
        .venv/bin/python tools/bench/run.py compression
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from emms_archive.app import SPEC
from emms_archive.schema import SCHEMA
from emms_db import ensure_database, migrate
from emms_devstack.bench_data import copy_chunks
from emms_devstack.timescale import TimescaleCluster, unavailable_reason

assert SPEC.migrations is not None
MIGRATIONS = SPEC.migrations
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
PER_TERMINAL = 200
DAILY_ITEMS = ("energy.active.import.total", "energy.active.import.t1", "energy.active.import.t2",
               "energy.active.import.t3", "energy.active.import.t4", "energy.active.export.total")
Q15_ITEM = "energy.active.import.total"
TARIFF_SHARE = (0.08, 0.32, 0.33, 0.27)  # sharp, peak, flat, valley
COLUMNS = ("metering_point_id", "item", "data_time", "source", "meter_id", "value", "unit", "collected_at",
           "quality", "terminal", "pn", "batch_id", "stored_at")
TABLE = f"{SCHEMA}.reading_raw"


@dataclass(frozen=True)
class Setting:
    label: str
    segmentby: str
    orderby: str


MIGRATION_SETTING = Setting("migration 0005: segmentby metering_point_id / orderby item, data_time, source",
                            "metering_point_id", "item, data_time, source")
ALTERNATIVES = (
    Setting("segmentby metering_point_id, item / orderby data_time, source",
            "metering_point_id, item", "data_time, source"),
    Setting("segmentby metering_point_id / orderby data_time, item, source",
            "metering_point_id", "data_time, item, source"),
)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S+00")


def _season(day: int) -> float:
    """Winter and summer peaks (heating, air conditioning), a spring / autumn trough."""
    return 1.0 + 0.25 * math.cos(4 * math.pi * day / 365.0)


def _batch_ids(points: int, days: int, purpose: str) -> dict[tuple[int, int], str]:
    return {(t, d): f"col-{purpose}-{secrets.token_hex(8)}"
            for t in range(-(-points // PER_TERMINAL)) for d in range(days)}


def daily_lines(points: int) -> Iterator[str]:
    """CSV lines of a year of daily registers, point by point."""
    batch = _batch_ids(points, DAYS, "daily")
    for p in range(points):
        rng = random.Random(p)
        mp, meter, term = f"P{p:07d}", f"M{p:07d}", p // PER_TERMINAL
        terminal, pn = f"4401{term:04d}", p % PER_TERMINAL + 1
        mean = math.exp(rng.gauss(math.log(9.0), 0.6))  # kWh a day
        solar = rng.random() < 0.1
        total = rng.randrange(0, 4_000_000)  # hundredths of a kWh
        tariffs = [int(total * s) for s in TARIFF_SHARE]
        export = rng.randrange(0, 300_000) if solar else 0
        vacant = rng.random() < 0.03
        for d in range(DAYS):
            t = YEAR + timedelta(days=d)
            inc = 0 if vacant else int(100 * mean * _season(d) * rng.lognormvariate(0, 0.35))
            shares = [s * rng.uniform(0.8, 1.2) for s in TARIFF_SHARE]
            parts = [int(inc * s / sum(shares)) for s in shares]
            parts[2] += inc - sum(parts)
            total += inc
            tariffs = [a + b for a, b in zip(tariffs, parts, strict=True)]
            if solar:
                export += int(100 * 6.0 * (1.4 - 0.4 * math.cos(2 * math.pi * (d - 172) / 365.0))
                              * rng.uniform(0.2, 1.0))
            collected = t + timedelta(hours=1, seconds=rng.randrange(0, 10_800))
            stored = collected + timedelta(milliseconds=rng.randrange(200, 5000))
            quality = 0 if rng.random() > 0.002 else 4
            tail = (f",scheduled,{meter},{{v}},kWh,{_ts(collected)},{quality},{terminal},{pn},"
                    f"{batch[(term, d)]},{stored.isoformat()}\n")
            day = _ts(t)
            for item, value in zip(DAILY_ITEMS, (total, *tariffs, export), strict=True):
                yield f"{mp},{item},{day}" + tail.replace("{v}", f"{value / 100:.2f}")


# A residential day in quarters of an hour: night trough, morning and evening peaks (sum ≈ 96).
_SHAPE = [0.45 + 0.55 * math.exp(-((q - 30) / 6) ** 2) + 1.3 * math.exp(-((q - 78) / 8) ** 2)
          + 0.35 * math.exp(-((q - 50) / 10) ** 2) for q in range(96)]
_SHAPE = [96 * s / sum(_SHAPE) for s in _SHAPE]


def interval_lines(points: int) -> Iterator[str]:
    """CSV lines of a year of 15-minute import totals, point by point (collected once a day)."""
    batch = _batch_ids(points, DAYS, "curve")
    for p in range(points):
        rng = random.Random(1_000_000 + p)
        mp, meter, term = f"Q{p:07d}", f"N{p:07d}", p // PER_TERMINAL
        terminal, pn = f"4402{term:04d}", p % PER_TERMINAL + 1
        mean = math.exp(rng.gauss(math.log(12.0), 0.6)) / 96  # kWh a quarter hour
        total = rng.randrange(0, 4_000_000)
        for d in range(DAYS):
            day = YEAR + timedelta(days=d)
            collected = day + timedelta(days=1, hours=2, seconds=rng.randrange(0, 7200))
            tail = f",scheduled,{meter},{{v}},kWh,{_ts(collected)},0,{terminal},{pn},{batch[(term, d)]},"
            stored = _ts(collected + timedelta(seconds=2))
            season = _season(d)
            for q in range(96):
                total += int(100 * mean * season * _SHAPE[q] * rng.lognormvariate(0, 0.5))
                yield (f"{mp},{Q15_ITEM},{_ts(day + timedelta(minutes=15 * q))}"
                       + tail.replace("{v}", f"{total / 100:.2f}") + stored + "\n")


async def _median_ms(conn: asyncpg.Connection, sql: str, args: tuple[Any, ...], expect: int, runs: int = 7) -> float:
    stmt = await conn.prepare(sql)
    got = await stmt.fetch(*args)  # warm: plan, caches
    assert len(got) == expect, (sql, len(got), expect)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await stmt.fetch(*args)
        samples.append(1000 * (time.perf_counter() - started))
    return statistics.median(samples)


@dataclass
class DataSet:
    name: str
    points: int
    items: int
    per_day: int
    lines: Callable[[int], Iterator[str]]
    point: str
    item: str
    chunk_days: tuple[int, ...] = ()

    @property
    def rows(self) -> int:
        return self.points * self.items * self.per_day * DAYS


async def _queries(conn: asyncpg.Connection, ds: DataSet, table: str = TABLE) -> tuple[float, float]:
    """One point's year: every item (in the API's key order), and one item."""
    end = YEAR + timedelta(days=DAYS)
    all_items = await _median_ms(conn, f"SELECT item, data_time, value FROM {table} WHERE metering_point_id = $1"
                                 " AND data_time >= $2 AND data_time < $3 ORDER BY item, data_time, source",
                                 (ds.point, YEAR, end), ds.items * ds.per_day * DAYS)
    one_item = await _median_ms(conn, f"SELECT data_time, value FROM {table} WHERE metering_point_id = $1"
                                " AND item = $2 AND data_time >= $3 AND data_time < $4 ORDER BY data_time, source",
                                (ds.point, ds.item, YEAR, end), ds.per_day * DAYS)
    return all_items, one_item


async def _row(conn: asyncpg.Connection, sql: str) -> asyncpg.Record:
    row = await conn.fetchrow(sql)
    assert row is not None, sql
    return row


async def _set_compression(conn: asyncpg.Connection, s: Setting, table: str = TABLE) -> None:
    await conn.execute(f"ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = "
                       f"'{s.segmentby}', timescaledb.compress_orderby = '{s.orderby}')")


async def _chunk_interval(conn: asyncpg.Connection, ds: DataSet, days: int, count: int,
                          raw: tuple[float, float]) -> list[dict[str, object]]:
    """The same rows in a copy of ``reading_raw`` (same columns, PK and time index) with chunks of
    ``days`` days, compressed with the migration's setting."""
    table = f"{SCHEMA}.bench_chunk_{days}d"
    await conn.execute(f"CREATE TABLE {table} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                       "INCLUDING INDEXES)")
    await conn.execute(f"SELECT create_hypertable('{table}', 'data_time', chunk_time_interval => "
                       f"INTERVAL '{days} days', create_default_indexes => false)")
    await _set_compression(conn, MIGRATION_SETTING, table)
    await conn.execute(f"INSERT INTO {table} SELECT * FROM {TABLE}")
    await conn.execute(f"ANALYZE {table}")
    await conn.execute("CHECKPOINT")
    size = await conn.fetchval(f"SELECT total_bytes FROM hypertable_detailed_size('{table}')")
    chunks = await conn.fetchval(f"SELECT count(*) FROM show_chunks('{table}')")
    started = time.perf_counter()
    await conn.execute(f"SELECT count(compress_chunk(c)) FROM show_chunks('{table}') c")
    compress_s = time.perf_counter() - started
    await conn.execute(f"ANALYZE {table}")
    stats = await _row(conn, f"SELECT * FROM hypertable_compression_stats('{table}')")
    before, after = stats["before_compression_total_bytes"], stats["after_compression_total_bytes"]
    c_all, c_one = await _queries(conn, ds, table)
    await conn.execute(f"DROP TABLE {table}")
    label = f"{days}-day chunks, migration's setting"
    return [
        {"benchmark": "compression", "metric": f"{ds.name}: compression ratio ({label})", "value": before / after,
         "unit": "×", "target": "-",
         "note": f"{chunks} chunks of {size / chunks / 2**20:.1f} MiB uncompressed; {before / count:.0f} → "
                 f"{after / count:.1f} B/row; compressed in {compress_s:.1f} s"},
        {"benchmark": "compression", "metric": f"{ds.name}: query one point's year, all items / one item, "
                                               f"compressed ({label})",
         "value": c_all, "unit": "ms", "target": "-",
         "note": f"one item {c_one:.2f} ms; uncompressed 7-day chunks {raw[0]:.2f} / {raw[1]:.2f} ms"},
    ]


async def _measure(url: str, ds: DataSet, variants: bool) -> list[dict[str, object]]:
    conn = await asyncpg.connect(url, command_timeout=3600)
    try:
        report = await migrate(conn, SCHEMA, MIGRATIONS)
        assert report.mode.value == "timescaledb", report
        # The compression policy (45 days) would compress the year behind the bench's back.
        await conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
                           " WHERE hypertable_schema = $1", SCHEMA)
        started = time.perf_counter()
        await conn.copy_to_table("reading_raw", schema_name=SCHEMA, source=copy_chunks(ds.lines(ds.points)),
                                 columns=COLUMNS, format="csv")
        load_s = time.perf_counter() - started
        await conn.execute(f"ANALYZE {TABLE}")
        await conn.execute("CHECKPOINT")
        count = await conn.fetchval(f"SELECT count(*) FROM {TABLE}")
        assert count == ds.rows, (count, ds.rows)
        size = await _row(conn, f"SELECT * FROM hypertable_detailed_size('{TABLE}')")
        chunks = await conn.fetchval(f"SELECT count(*) FROM show_chunks('{TABLE}')")
        total = size["total_bytes"]
        raw_all, raw_one = await _queries(conn, ds)
        tag = f"{ds.name}: "
        rows: list[dict[str, object]] = [
            {"benchmark": "compression", "metric": f"{tag}rows loaded (COPY)", "value": count, "unit": "rows",
             "target": "-", "note": f"{ds.points:,} points × {ds.items} item(s) × {ds.per_day}/day × {DAYS} days; "
                                    f"{load_s:.0f} s, {chunks} chunks of 7 days"},
            {"benchmark": "compression", "metric": f"{tag}uncompressed bytes/row incl. indexes", "value": total / count,
             "unit": "B/row", "target": "-",
             "note": f"heap {size['table_bytes'] / count:.0f} + indexes {size['index_bytes'] / count:.0f} "
                     f"(PK + time index) + toast {size['toast_bytes'] / count:.1f}; {total / 2**20:,.0f} MiB, "
                     f"{total / chunks / 2**20:.1f} MiB per chunk"},
            {"benchmark": "compression", "metric": f"{tag}query one point's year, all items, uncompressed",
             "value": raw_all, "unit": "ms", "target": "-",
             "note": f"{ds.items * ds.per_day * DAYS:,} rows, SQL, warm, median of 7"},
            {"benchmark": "compression", "metric": f"{tag}query one point's year, one item, uncompressed",
             "value": raw_one, "unit": "ms", "target": "-", "note": f"{ds.per_day * DAYS:,} rows, SQL, warm"},
        ]
        settings = [MIGRATION_SETTING, *(ALTERNATIVES if variants else ())]
        for n, s in enumerate(settings):
            if n:
                await conn.execute(f"SELECT count(decompress_chunk(c)) FROM show_chunks('{TABLE}') c")
                await _set_compression(conn, s)
                await conn.execute("CHECKPOINT")
            started = time.perf_counter()
            await conn.execute(f"SELECT count(compress_chunk(c)) FROM show_chunks('{TABLE}') c")
            compress_s = time.perf_counter() - started
            await conn.execute(f"ANALYZE {TABLE}")
            stats = await _row(conn, f"SELECT * FROM hypertable_compression_stats('{TABLE}')")
            assert stats["number_compressed_chunks"] == chunks, dict(stats)
            before, after = stats["before_compression_total_bytes"], stats["after_compression_total_bytes"]
            c_all, c_one = await _queries(conn, ds)
            label = s.label if n == 0 else f"alt {n}: {s.label}"
            rows += [
                {"benchmark": "compression", "metric": f"{tag}compression ratio ({label})", "value": before / after,
                 "unit": "×", "target": "-",
                 "note": f"{before / 2**20:,.0f} → {after / 2**20:,.1f} MiB incl. indexes "
                         f"(hypertable_compression_stats); {before / count:.0f} → {after / count:.1f} B/row"},
                {"benchmark": "compression", "metric": f"{tag}compress every chunk ({label})", "value": compress_s,
                 "unit": "s", "target": "-",
                 "note": f"{chunks} chunks, one session, {count / compress_s:,.0f} rows/s"},
                {"benchmark": "compression", "metric": f"{tag}query one point's year, all items, compressed ({label})",
                 "value": c_all, "unit": "ms", "target": "-",
                 "note": f"uncompressed {raw_all:.2f} ms: {c_all / raw_all:.2f}×"},
                {"benchmark": "compression", "metric": f"{tag}query one point's year, one item, compressed ({label})",
                 "value": c_one, "unit": "ms", "target": "-",
                 "note": f"uncompressed {raw_one:.2f} ms: {c_one / raw_one:.2f}×"},
            ]
        for days in ds.chunk_days:
            rows += await _chunk_interval(conn, ds, days, count, (raw_all, raw_one))
        return rows
    finally:
        await conn.close()


def run() -> list[dict[str, object]]:
    reason = unavailable_reason()
    if reason is not None:
        return [{"benchmark": "compression", "metric": "skipped (timescaledb)", "value": "", "unit": "",
                 "target": "-", "note": reason}]
    points = int(os.environ.get("EMMS_BENCH_COMPRESSION_POINTS", "2000"))
    interval_points = int(os.environ.get("EMMS_BENCH_COMPRESSION_INTERVAL_POINTS", "100"))
    variants = os.environ.get("EMMS_BENCH_COMPRESSION_VARIANTS", "1") == "1"
    chunk_days = tuple(int(d) for d in os.environ.get("EMMS_BENCH_COMPRESSION_CHUNK_DAYS", "28,91").split(",") if d)
    sets = [DataSet("daily", points, len(DAILY_ITEMS), 1, daily_lines, "P0000001", DAILY_ITEMS[0], chunk_days),
            DataSet("15-min", interval_points, 1, 96, interval_lines, "Q0000001", Q15_ITEM)]
    rows: list[dict[str, object]] = []
    cluster = TimescaleCluster().start()
    try:
        for ds in sets:
            if not ds.points:
                continue
            url = cluster.database_url(f"emms_bench_compression_{ds.name.replace('-', '')}")
            asyncio.run(ensure_database(url))
            rows += asyncio.run(_measure(url, ds, variants))
    finally:
        cluster.remove()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
