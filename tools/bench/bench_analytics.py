"""Analytics (issue 16 acceptance): query latency on 100,000 meters × a year of daily data, and
rollup upkeep from the bus, in both storage modes.

One database per storage mode — plain PostgreSQL (the machine's server; rollup tables kept by the
service) and TimescaleDB (a private cluster from ``emms_devstack.timescale``; continuous
aggregates) — each:

1. the analytics schema by its migrations; the master data COPY'd into the service's copy of it
   (``customer``, ``metering_point``, ``meter``, ``meter_period``, ``region``, ``company``): the
   master-data consumer is not what is measured. Fleet: ``METERS`` meters, meter ``i`` of utility
   ``i % 4`` (electricity, water, gas, heat), customer ``C<i>`` of party ``P<i // 4>`` (a party has
   one customer of each utility), region ``D<party % 10>`` under ``CITY``;
2. ``DAYS`` local days of daily usage from 2025-01-01 (local, UTC+8), meter ``i`` using
   :func:`used` on day ``d`` (closed form, so every answer is checked against an independent
   total), loaded with COPY:
   * **PostgreSQL**: straight into the rollup tables ``usage_daily`` (one row per meter and day) and
     ``usage_monthly`` (one per meter and month) — the service fills them only from its consumer,
     one batch at a time; the month-aligned queries below read ``usage_monthly`` alone (the daily
     rollup serves a period's whole days). ``usage_interval`` and ``usage_hourly`` are not loaded;
   * **TimescaleDB**: into the hypertable ``usage_interval`` (one interval per meter and day), then
     the continuous aggregates refreshed over the whole period by the service's own refresher
     (``rollups.refresh_pending`` over a recorded window — hourly, daily, monthly), timed;
   then the dimension rollups (``usage_customer_monthly``, ``usage_region_monthly``) written by the
   service's own ``dimensions.rewrite_customers`` for every customer over every month — what the
   master-data consumer runs for the customers a change concerns (the readings consumer and the
   refresher run it per touched month), reading ``usage_monthly`` (the table, or on TimescaleDB the
   refreshed aggregate); then ``ANALYZE`` (the dev server's autovacuum is off);
3. the service started in-process (its real lifespan) and queried through its HTTP API
   (``httpx.ASGITransport``: no socket), each answer checked, median of runs:
   * a region's monthly totals: ``/usage`` ``regions=CITY`` (every meter), the whole period,
     ``interval=month``, ``group_by=utility`` (target ≤ 300 ms); the same for one district;
   * a customer's four-utility year: ``/usage`` ``parties=P<k>``, ``interval=month``,
     ``group_by=utility`` (≤ 50 ms);
   * the top 100 customers of a region for a month: ``/ranking`` ``regions=CITY``,
     ``utilities=electricity``, ``top=100`` (≤ 500 ms); the same for one district;
   the bench's budget allows the whole city (``max_scan_rows`` 50 M, ``max_buckets`` 200,000; the
   defaults refuse a 4-utility year of 100,000 points and a 25,000-customer ranking with a 422);
   the month-aligned queries filtered by region or party read the dimension rollups
   (``repository.usage.rollup_for``); a figure over its target gets ``EXPLAIN (ANALYZE, BUFFERS)`` of its SQL in
   ``.cache/bench/analytics-explain-<mode>.txt``;
4. upkeep: ``UPKEEP`` meters (the fleet's, then more in a region ``X`` of their own) get the
   register value at the end of the loaded period (COPY), one validated reading each for the next
   day is published on ``emms.reading.validated.v1`` (batches of 200, one concentrator's
   collection) to the running service, timed from the first publish until ``/usage`` for that day
   answers the day's total of all of them (target: 200,000 meters ≤ 60 s, i.e. ≥ 3,333 readings/s).

    EMMS_BENCH_ANALYTICS_METERS=100000 EMMS_BENCH_ANALYTICS_DAYS=365 \\
        EMMS_BENCH_ANALYTICS_UPKEEP=200000 EMMS_BENCH_ANALYTICS_MODES=postgresql,timescaledb \\
        .venv/bin/python tools/bench/run.py analytics

``EMMS_BENCH_ANALYTICS_LOADED_URL`` names a database that holds such a load and no upkeep yet (e.g. a
``pg_basebackup`` copy of a run's cluster taken after its ``ANALYZE``): then only the upkeep is measured on
it — the same ``METERS`` / ``DAYS`` / ``UPKEEP`` as the run that loaded it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from emms_analytics.app import SPEC, create_app
from emms_analytics.calendar import pieces
from emms_analytics.repository import dimensions
from emms_analytics.repository.usage import dimension_sql, rollup_for, usage_sql
from emms_analytics.rollups import refresh_pending
from emms_analytics.runtime import SCHEMA, VALIDATED_TOPIC, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection
from emms_analytics.settings import AnalyticsSettings, Budget
from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database, migrate
from emms_db.settings import DatabaseSettings
from emms_db.storage_mode import StorageMode
from emms_devstack.bench_data import bench_db_url, copy_chunks
from emms_devstack.local_broker import LocalBroker
from emms_devstack.postgres import ensure_server
from emms_devstack.timescale import TimescaleCluster, unavailable_reason
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

assert SPEC.migrations is not None
MIGRATIONS = SPEC.migrations
TZ = ZoneInfo("Asia/Shanghai")
FIRST = date(2025, 1, 1)  # local
UTILITIES = ("electricity", "water", "gas", "heat")
ITEMS = {"electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
         "heat": "heat.energy"}
DISTRICTS = 10
PER_MESSAGE = 200
BUDGET = Budget(max_scan_rows=50_000_000, max_buckets=200_000)
MICRO = timedelta(microseconds=1)


# --- the data set: pure, checked by tests/unit/analytics/test_analytics_bench_data.py -----------------

def used(meter: int, day: int) -> float:
    """What meter ``meter`` uses on local day ``day`` (register units): a meter level in 0.1 steps
    (97 levels, so a ranking has ties and a spread) plus a weekly pattern."""
    return 1.0 + (meter * 7919 % 97) / 10 + (day % 7) * 0.25


def midnight(day: int) -> datetime:
    """Local midnight starting day ``day`` (0 = ``FIRST``), in UTC."""
    d = FIRST + timedelta(days=day)
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def month_spans(days: int) -> list[tuple[int, int]]:
    """The local months of days [0, days) as (first day, days in it), partial at the end."""
    spans: list[tuple[int, int]] = []
    for d in range(days):
        month = (FIRST + timedelta(days=d)).replace(day=1)
        if spans and (FIRST + timedelta(days=spans[-1][0])).replace(day=1) == month:
            spans[-1] = (spans[-1][0], spans[-1][1] + 1)
        else:
            spans.append((d, 1))
    return spans


def used_over(meter: int, first: int, n: int) -> float:
    """``used`` summed over days [first, first + n), in closed form."""
    return n * (1.0 + (meter * 7919 % 97) / 10) + 0.25 * sum(d % 7 for d in range(first, first + n))


def utility_of(meter: int) -> str:
    return UTILITIES[meter % 4]


def region_of(meter: int, fleet: int) -> str:
    return f"D{meter // 4 % DISTRICTS}" if meter < fleet else "X"


def _ts(t: datetime) -> str:
    return t.isoformat()


def daily_rollup_lines(meters: int, days: int) -> Iterator[str]:
    """CSV rows of ``usage_daily``: (meter_id, item, bucket, usage, intervals, estimated)."""
    starts = [_ts(midnight(d)) for d in range(days)]
    for i in range(meters):
        head = f"M{i},{ITEMS[utility_of(i)]},"
        for d in range(days):
            yield f"{head}{starts[d]},{used(i, d)!r},1,0\n"


def monthly_rollup_lines(meters: int, days: int) -> Iterator[str]:
    """CSV rows of ``usage_monthly`` — the sums of :func:`daily_rollup_lines` per local month."""
    spans = [(_ts(midnight(first)), first, n) for first, n in month_spans(days)]
    for i in range(meters):
        head = f"M{i},{ITEMS[utility_of(i)]},"
        for start, first, n in spans:
            yield f"{head}{start},{used_over(i, first, n)!r},{n},0\n"


def interval_lines(meters: int, days: int) -> Iterator[str]:
    """CSV rows of ``usage_interval``: (meter_id, item, at, starts_at, delta, estimated) — the
    interval of day ``d`` ends at the next local midnight (``at`` is its last microsecond)."""
    edges = [_ts(midnight(d)) for d in range(days)]
    ats = [_ts(midnight(d + 1) - MICRO) for d in range(days)]
    for i in range(meters):
        head = f"M{i},{ITEMS[utility_of(i)]},"
        for d in range(days):
            yield f"{head}{ats[d]},{edges[d]},{used(i, d)!r},f\n"


def masterdata_rows(fleet: int, meters: int) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of the service's master-data copy for meters [0, meters) (those ≥ ``fleet`` in region X)."""
    since = midnight(-1)
    return {
        "company": [("CO", "Bench utility")],
        "region": [("CITY", "City", None), ("X", "Upkeep only", None),
                   *((f"D{k}", f"District {k}", "CITY") for k in range(DISTRICTS))],
        "customer": [(f"C{i}", f"Customer {i}", f"P{i // 4}", utility_of(i), f"{utility_of(i)[0]}_residential",
                      None, "CO", region_of(i, fleet), True) for i in range(meters)],
        "metering_point": [(f"MP{i}", f"C{i}", utility_of(i), None) for i in range(meters)],
        "meter": [(f"M{i}", utility_of(i), 1.0, 8) for i in range(meters)],
        "meter_period": [(f"MP{i}", f"M{i}", since, None) for i in range(meters)],
    }


MASTERDATA_COLUMNS = {
    "company": ("company_id", "name"), "region": ("region_id", "name", "parent_id"),
    "customer": ("customer_id", "name", "party_id", "utility", "category", "industry", "company_id", "region_id",
                 "active"),
    "metering_point": ("metering_point_id", "customer_id", "utility", "node_id"),
    "meter": ("meter_id", "utility", "multiplier", "register_digits"),
    "meter_period": ("metering_point_id", "meter_id", "valid_from", "valid_to"),
}


def expected_ranking(fleet: int, first: int, n: int, top: int, district: str | None) -> list[float]:
    """Usage of the top ``top`` electricity customers (of ``district``, or all) over days [first, first + n)."""
    usages = [used_over(i, first, n) for i in range(0, fleet, 4)
              if district is None or region_of(i, fleet) == district]
    return sorted(usages, reverse=True)[:top]


# --- loading ----------------------------------------------------------------------------------------------


async def _copy_csv(conn: asyncpg.Connection, table: str, columns: tuple[str, ...], lines: Iterator[str]) -> float:
    started = time.perf_counter()
    await conn.copy_to_table(table, schema_name=SCHEMA, source=copy_chunks(lines), columns=columns, format="csv")
    return time.perf_counter() - started


ROLLUP_COLUMNS = ("meter_id", "item", "bucket", "usage", "intervals", "estimated")
INTERVAL_COLUMNS = ("meter_id", "item", "at", "starts_at", "delta", "estimated")


async def _load(url: str, mode: StorageMode, fleet: int, days: int, upkeep: int) -> list[dict[str, object]]:
    """Schema, master data, the period's usage (and, on TimescaleDB, the aggregates refreshed)."""
    rows: list[dict[str, object]] = []
    conn = await asyncpg.connect(url)
    try:
        report = await migrate(conn, SCHEMA, MIGRATIONS)
        if report.mode is not mode:
            raise RuntimeError(f"analytics migrated in {report.mode} mode, {mode} expected")
        for table, records in masterdata_rows(fleet, max(fleet, upkeep)).items():
            await conn.copy_records_to_table(table, schema_name=SCHEMA, records=records,
                                             columns=MASTERDATA_COLUMNS[table])
        n = fleet * days
        if mode is StorageMode.POSTGRESQL:
            daily_s = await _copy_csv(conn, "usage_daily", ROLLUP_COLUMNS, daily_rollup_lines(fleet, days))
            monthly_s = await _copy_csv(conn, "usage_monthly", ROLLUP_COLUMNS, monthly_rollup_lines(fleet, days))
            months = len(month_spans(days))
            rows.append(_row(mode, f"load: COPY {n:,} daily + {fleet * months:,} monthly rollup rows", daily_s
                             + monthly_s, "s", "-", f"usage_daily {daily_s:.0f} s, usage_monthly {monthly_s:.0f} s;"
                             " straight into the rollup tables (the service fills them from its consumer)"))
        else:
            load_s = await _copy_csv(conn, "usage_interval", INTERVAL_COLUMNS, interval_lines(fleet, days))
            rows.append(_row(mode, f"load: COPY {n:,} daily usage intervals", load_s, "s", "-",
                             "into the hypertable usage_interval (30-day chunks)"))
            await conn.execute(f"INSERT INTO {SCHEMA}.refresh_window (lo, hi) VALUES ($1, $2)",
                               midnight(0), midnight(days) - MICRO)
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                started = time.perf_counter()
                await refresh_pending(pool, SCHEMA, "Asia/Shanghai")
                refresh_s = time.perf_counter() - started
            finally:
                await pool.close()
            rows.append(_row(mode, "rollups: refresh hourly → daily → monthly aggregates over the period", refresh_s,
                             "s", "-", "the service's refresher (rollups.refresh_pending), one batch per level"))
        customers = [f"C{i}" for i in range(max(fleet, upkeep))]
        started = time.perf_counter()
        async with conn.transaction():
            await dimensions.rewrite_customers(conn, SCHEMA, customers)
        rows.append(_row(mode, f"rollups: customer × month and region × month rows of {len(customers):,} customers",
                         time.perf_counter() - started, "s", "-",
                         "dimensions.rewrite_customers over every month: what the master-data consumer runs for the"
                         " customers a change concerns (one statement pair, from usage_monthly)"))
        started = time.perf_counter()
        await conn.execute("ANALYZE")
        rows.append(_row(mode, "ANALYZE after the load", time.perf_counter() - started, "s", "-",
                         "what autovacuum does after a bulk load (off on the dev server)"))
    finally:
        await conn.close()
    return rows


def _row(mode: StorageMode, metric: str, value: object, unit: str, target: str, note: str) -> dict[str, object]:
    return {"benchmark": "analytics", "metric": f"{metric} ({mode})", "value": value, "unit": unit,
            "target": target, "note": note}


# --- queries ----------------------------------------------------------------------------------------------

async def _median_ms(fn: Callable[[], Awaitable[Any]], runs: int) -> float:
    await fn()  # warm: plans, caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(1000 * (time.perf_counter() - started))
    return statistics.median(samples)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


async def _explain(url: str, sel: Selection, start: datetime, end: datetime, interval: str, group_by: str,
                   items: list[str]) -> str:
    parts = pieces(start, end, TZ, "hourly" if interval == "hour" else "daily" if interval == "day" else "monthly")
    table = rollup_for(sel, Scope(), parts, interval, group_by)
    if table is None:
        sql, args = usage_sql(SCHEMA, sel, Scope(), parts, items, interval, group_by, start, "Asia/Shanghai")
    else:
        sql, args = dimension_sql(SCHEMA, table, sel, Scope(), parts, items, interval, group_by, start,
                                  "Asia/Shanghai")
    conn = await asyncpg.connect(url)
    try:
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    finally:
        await conn.close()
    return "\n".join(r[0] for r in plan)


async def _queries(api: httpx.AsyncClient, url: str, mode: StorageMode, fleet: int,
                   days: int) -> list[dict[str, object]]:
    start, end = midnight(0), midnight(days)
    spans = month_spans(days)
    first_month, month_days = spans[0]
    all_items = [ITEMS[u] for u in UTILITIES]
    total = sum(used_over(i, 0, days) for i in range(fleet))
    district_total = sum(used_over(i, 0, days) for i in range(fleet) if region_of(i, fleet) == "D0")
    party = fleet // 8  # one in the middle of the fleet
    party_total = sum(used_over(i, 0, days) for i in range(4 * party, 4 * party + 4))

    def usage_check(region_total: float, n_rows: int) -> Callable[[httpx.Response], None]:
        def check(resp: httpx.Response) -> None:
            assert resp.status_code == 200, resp.text[:300]
            rows = resp.json()["rows"]
            assert len(rows) == n_rows and _close(sum(r["usage"] for r in rows), region_total), (len(rows), n_rows)
        return check

    def ranking_check(expect: list[float]) -> Callable[[httpx.Response], None]:
        def check(resp: httpx.Response) -> None:
            assert resp.status_code == 200, resp.text[:300]
            got = [r["usage"] for r in resp.json()["rows"]]
            assert len(got) == len(expect) and all(_close(a, b) for a, b in zip(got, expect, strict=True)), got[:3]
        return check

    month = {"from": midnight(first_month).isoformat(), "to": midnight(first_month + month_days).isoformat()}
    period = {"from": start.isoformat(), "to": end.isoformat()}
    cases: list[tuple[str, str, dict[str, Any], Callable[[httpx.Response], None], str, float, int]] = [
        (f"region's monthly totals, 4 utilities, {fleet:,} meters (CITY)", "/usage",
         {**period, "regions": "CITY", "interval": "month", "group_by": "utility"},
         usage_check(total, 4 * len(spans)), "≤ 300", 300, 5),
        (f"region's monthly totals, 4 utilities, {fleet // DISTRICTS:,} meters (one district)", "/usage",
         {**period, "regions": "D0", "interval": "month", "group_by": "utility"},
         usage_check(district_total, 4 * len(spans)), "≤ 300", 300, 5),
        ("a customer's four-utility year (party, by month and utility)", "/usage",
         {**period, "parties": f"P{party}", "interval": "month", "group_by": "utility"},
         usage_check(party_total, 4 * len(spans)), "≤ 50", 50, 7),
        (f"top 100 customers of a region for a month, electricity, {fleet // 4:,} customers (CITY)", "/ranking",
         {**month, "regions": "CITY", "utilities": "electricity", "top": 100},
         ranking_check(expected_ranking(fleet, first_month, month_days, 100, None)), "≤ 500", 500, 5),
        (f"top 100 customers of a district for a month, electricity, {fleet // 40:,} customers", "/ranking",
         {**month, "regions": "D0", "utilities": "electricity", "top": 100},
         ranking_check(expected_ranking(fleet, first_month, month_days, 100, "D0")), "≤ 500", 500, 5),
    ]
    rows: list[dict[str, object]] = []
    explains: list[str] = []
    for name, path, params, check, target, limit, runs in cases:
        async def call(path: str = path, params: dict[str, Any] = params,
                       check: Callable[[httpx.Response], None] = check) -> None:
            check(await api.get(f"/api/v1/analytics{path}", params=params))

        ms = await _median_ms(call, runs)
        met = "met" if ms <= limit else f"NOT met: {ms / limit:.1f}× the target"
        rows.append(_row(mode, f"query: {name}", ms, "ms", target,
                         f"{met}; GET {path}, HTTP API in-process, answer checked, median of {runs}"))
        if ms > limit:
            sel = Selection(regions=[params["regions"]] if "regions" in params else None,
                            parties=[params["parties"]] if "parties" in params else None,
                            utilities=[params["utilities"]] if "utilities" in params else None)
            interval = params.get("interval", "period")
            group_by = params.get("group_by", "customer")
            lo, hi = datetime.fromisoformat(params["from"]), datetime.fromisoformat(params["to"])
            items = [ITEMS["electricity"]] if "utilities" in params else all_items
            explains.append(f"== {name} ({mode}): {ms:.0f} ms through the API\n"
                            + await _explain(url, sel, lo, hi, interval, group_by, items))
    if explains:
        _write_explains(mode, explains)
    return rows


def _write_explains(mode: StorageMode, explains: list[str]) -> None:
    out = Path(".cache/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"analytics-explain-{mode}.txt").write_text("\n\n".join(explains) + "\n")


# --- upkeep -----------------------------------------------------------------------------------------------

def _write_statements(mode: StorageMode, lines: list[str]) -> None:
    out = Path(".cache/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"analytics-statements-{mode}.txt").write_text("\n".join(lines) + "\n")


async def _statements_reset(conn: asyncpg.Connection) -> bool:
    """Start the statement statistics (``pg_stat_statements``, preloaded on the bench's TimescaleDB cluster only)."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")
    except asyncpg.PostgresError:
        return False
    return True


async def _statements_report(url: str, mode: StorageMode) -> list[dict[str, object]]:
    """Where the database spent the upkeep's time: the top statements by total time, into
    ``.cache/bench/analytics-statements-<mode>.txt``, the three largest as a row."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("""SELECT calls, total_exec_time AS ms, rows, shared_blks_hit AS hit,
                shared_blks_read AS read, left(regexp_replace(query, '\\s+', ' ', 'g'), 300) AS query
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20""")
    finally:
        await conn.close()
    _write_statements(mode, [f"{r['ms'] / 1000:9.2f} s  {r['calls']:7d} calls  {r['rows']:9d} rows  hit {r['hit']:10d}"
                             f"  read {r['read']:9d}  {r['query']}" for r in rows])
    top = "; ".join(f"{r['ms'] / 1000:.1f} s in {r['calls']} × {r['query'][:60]!r}" for r in rows[:3])
    return [_row(mode, "upkeep: the database's largest statements (pg_stat_statements)", round(
        sum(r["ms"] for r in rows) / 1000, 1), "s", "-", f"top 20 in all; {top}")]


async def _upkeep(app: Any, api: httpx.AsyncClient, url: str, ks: KafkaSettings, mode: StorageMode, fleet: int,
                  days: int, n: int, timeout_s: float) -> list[dict[str, object]]:
    """One day's validated readings of ``n`` meters on the bus → visible in ``/usage``."""
    ar = app.state.runtime.state
    assert isinstance(ar, AnalyticsRuntime)
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "register_value", schema_name=SCHEMA, columns=("meter_id", "item", "data_time", "value", "status",
                                                           "validated_at"),
            records=[(f"M{i}", ITEMS[utility_of(i)], midnight(days), 1000.0 + i, "valid", midnight(days))
                     for i in range(n)])
        await conn.execute(f"ANALYZE {SCHEMA}.register_value")
        statements = await _statements_reset(conn)
    finally:
        await conn.close()
    validated_at = midnight(days + 1) + timedelta(hours=1)
    readings = [ValidatedReading(meter_id=f"M{i}", item=ITEMS[utility_of(i)], data_time=midnight(days + 1),
                                 value=1000.0 + i + used(i, days), unit="kWh", status=ValidationStatus.VALID,
                                 validated_at=validated_at) for i in range(n)]
    batches = [ValidatedReadingBatch(batch_id=f"upkeep-{k}", terminal=f"T{k // PER_MESSAGE}",
                                     readings=readings[k:k + PER_MESSAGE]) for k in range(0, n, PER_MESSAGE)]
    expect = sum(used(i, days) for i in range(n))
    producer = BusProducer(ks, "bench-validator")
    await producer.start()
    try:
        # the consumer's group joined and its first batch done: the clock starts on a warm service
        warm = ValidatedReading(meter_id="WARM", item=ITEMS["electricity"], data_time=midnight(days), value=1.0,
                                unit="kWh", status=ValidationStatus.VALID, validated_at=validated_at)
        await producer.publish_many([ValidatedReadingBatch(batch_id="warm", terminal="W", readings=[warm])],
                                    topic=VALIDATED_TOPIC)
        deadline = time.perf_counter() + 120
        while ar.readings_handled < 1:
            if time.perf_counter() > deadline:
                raise TimeoutError("the analytics consumer took no message in 120 s")
            await asyncio.sleep(0.2)
        gc.collect()
        gc.freeze()
        base = ar.readings_handled
        t0 = time.perf_counter()
        for k in range(0, len(batches), 100):
            await producer.publish_many(batches[k:k + 100], topic=VALIDATED_TOPIC)
        published_s = time.perf_counter() - t0
    finally:
        await producer.stop()
    params = {"from": midnight(days).isoformat(), "to": midnight(days + 1).isoformat(), "interval": "day",
              "group_by": "total"}
    consumed_s: float | None = None
    visible_s: float | None = None
    polls = 0
    got = 0.0
    while time.perf_counter() - t0 < timeout_s:
        if consumed_s is None and ar.readings_handled - base >= n:
            consumed_s = time.perf_counter() - t0
        resp = await api.get("/api/v1/analytics/usage", params=params)
        polls += 1
        if resp.status_code == 200:
            got = sum(r["usage"] for r in resp.json()["rows"])
            if _close(got, expect):
                visible_s = time.perf_counter() - t0
                break
        await asyncio.sleep(0.5)
    month_s = await _month_visible(api, days, expect, t0, timeout_s) if visible_s is not None else None
    gc.unfreeze()
    handled = ar.readings_handled - base
    consumed = f"consumer done at {consumed_s:.1f} s" if consumed_s is not None else f"{handled:,} consumed"
    note = (f"{n:,} readings in {len(batches):,} messages of {PER_MESSAGE}, published in {published_s:.1f} s;"
            f" {consumed}; /usage polled every 0.5 s ({polls} polls); one consumer, max_batch 200")
    extra = await _statements_report(url, mode) if statements else []
    if visible_s is None:
        elapsed = time.perf_counter() - t0
        return [*extra, _row(mode, f"upkeep: a day of {n:,} meters visible in /usage", "timeout", "s", "≤ 60 (200,000)",
                     f"NOT visible in {elapsed:.0f} s: {handled:,} readings consumed"
                     f" ({handled / elapsed:,.0f}/s), /usage total {got:,.1f} of {expect:,.1f}; {note}")]
    rate = n / visible_s
    met = "met" if rate >= 200_000 / 60 else f"NOT met: {200_000 / 60 / rate:.1f}× too slow"
    month = [] if month_s is None else [_row(
        mode, "upkeep: the same day in the month rollups (/usage interval=month, regions: the region × month rollup)",
        month_s, "s", "-", "from the first publish; the monthly aggregate and the dimension rollups follow the"
                           " daily level (TimescaleDB: at most every monthly_refresh_every_s while windows come)")]
    return [*extra, _row(mode, f"upkeep: a day of {n:,} meters visible in /usage", visible_s, "s",
                 "≤ 60 for 200,000" if n == 200_000 else f"≤ {60 * n / 200_000:.3g} (pro rata)", f"{met}; {note}"),
            _row(mode, "upkeep: readings/s bus → rollups (visible)", rate, "readings/s", "≥ 3,333", met), *month]


async def _month_visible(api: httpx.AsyncClient, days: int, expect: float, t0: float,
                         timeout_s: float) -> float | None:
    """When the upkeep's day shows in its month, through the region × month rollup (a month-aligned query
    filtered by region reads it). Only where the day opens a month (the default year: 2026-01-01), so that the
    month's total is the day's; None otherwise."""
    start = FIRST + timedelta(days=days)
    if start.day != 1:
        return None
    end = (start + timedelta(days=32)).replace(day=1)
    params = {"from": midnight(days).isoformat(), "to": midnight(days + (end - start).days).isoformat(),
              "interval": "month", "group_by": "total", "regions": ["CITY", "X"]}
    while time.perf_counter() - t0 < timeout_s:
        resp = await api.get("/api/v1/analytics/usage", params=params)
        if resp.status_code == 200 and _close(sum(r["usage"] for r in resp.json()["rows"]), expect):
            return time.perf_counter() - t0
        await asyncio.sleep(0.5)
    return None


# --- one mode ---------------------------------------------------------------------------------------------

async def _measure(url: str, bootstrap: str, mode: StorageMode, fleet: int, days: int,
                   upkeep: int, loaded: bool = False) -> list[dict[str, object]]:
    """``loaded``: the database holds a previous run's load (and no upkeep yet): only the upkeep is measured."""
    rows = [_row(mode, "load average (1 min) before the mode", os.getloadavg()[0], "", "-", "")]
    if not loaded:
        rows += await _load(url, mode, fleet, days, upkeep)
    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"bn{secrets.token_hex(3)}.", max_batch=5000)
    await ensure_topics(ks)
    settings = AnalyticsSettings(_env_file=None, environment="bench", database=DatabaseSettings(url=url, pool_max=8),
                                 kafka=ks, budget=BUDGET)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        token = issue_token(AuthSettings(), "bench", "viewer")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=120) as api:
            if not loaded:
                rows += await _queries(api, url, mode, fleet, days)
            if upkeep:
                timeout = float(os.environ.get("EMMS_BENCH_ANALYTICS_UPKEEP_TIMEOUT", "600"))
                rows += await _upkeep(app, api, url, ks, mode, fleet, days, upkeep, timeout)
    rows.append(_row(mode, "load average (1 min) after the mode", os.getloadavg()[0], "", "-", ""))
    return rows


def _run_mode(mode: StorageMode, server: str | None, broker: LocalBroker, fleet: int, days: int,
              upkeep: int) -> list[dict[str, object]]:
    url = bench_db_url("analytics", server)
    if server is None:
        ensure_server(url)
    asyncio.run(ensure_database(url))
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(_measure(url, broker.bootstrap, mode, fleet, days, upkeep))
        return uvloop.run(_measure(url, broker.bootstrap, mode, fleet, days, upkeep))
    finally:
        if os.environ.get("EMMS_BENCH_ANALYTICS_KEEP"):
            print(f"kept {url}")
        else:
            asyncio.run(drop_database(url))


def _upkeep_only(mode: StorageMode, url: str, broker: LocalBroker, fleet: int, days: int,
                 upkeep: int) -> list[dict[str, object]]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_measure(url, broker.bootstrap, mode, fleet, days, upkeep, loaded=True))
    return uvloop.run(_measure(url, broker.bootstrap, mode, fleet, days, upkeep, loaded=True))


def run() -> list[dict[str, object]]:
    fleet = int(os.environ.get("EMMS_BENCH_ANALYTICS_METERS", "100000"))
    days = int(os.environ.get("EMMS_BENCH_ANALYTICS_DAYS", "365"))
    upkeep = int(os.environ.get("EMMS_BENCH_ANALYTICS_UPKEEP", "200000"))
    modes = [StorageMode(m.strip()) for m in
             os.environ.get("EMMS_BENCH_ANALYTICS_MODES", "postgresql,timescaledb").split(",") if m.strip()]
    rows: list[dict[str, object]] = []
    broker = LocalBroker().start()
    loaded = os.environ.get("EMMS_BENCH_ANALYTICS_LOADED_URL")
    try:
        if loaded:  # a copy of a run's database after its load (pg_basebackup): the upkeep alone, again
            for mode in modes:
                rows += _upkeep_only(mode, loaded, broker, fleet, days, upkeep)
            return rows
        for mode in modes:
            if mode is StorageMode.POSTGRESQL:
                rows += _run_mode(mode, None, broker, fleet, days, upkeep)
                continue
            reason = unavailable_reason()
            if reason is not None:
                rows.append(_row(mode, "skipped", "", "", "-", reason))
                continue
            cluster = TimescaleCluster(preload=("pg_stat_statements",)).start()
            try:
                rows += _run_mode(mode, cluster.url, broker, fleet, days, upkeep)
            finally:
                cluster.remove()
    finally:
        broker.stop()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
