"""Supply quality (issue 17): how long the voltage-qualification and power-factor answers take for a fleet's day.

Per storage mode (plain PostgreSQL on the machine's server; TimescaleDB from ``emms_devstack.timescale`` when
available): the analytics schema by its migrations, master data of ``POINTS`` electricity metering points
COPY'd into the service's copy, one local day of 15-minute curves per point COPY'd into ``curve_value`` —
``voltage.a|b|c``, ``current.a|b|c``, ``power_factor.total`` (7 × 96 values) — and the terminals' daily
statistics (``qualification.minutes.*``, 9 values stamped at the day's end); ``ANALYZE``. Then the service
in-process (its lifespan, no socket) answers ``/supply-quality/voltage`` and ``/supply-quality/power-factor``
for the whole region; each answer is checked against the closed-form values here; median of 3 after a warm run.
No target is set by the requirements; the figure is what one region-day costs.

    EMMS_BENCH_SQ_POINTS=2000 EMMS_BENCH_SQ_MODES=postgresql,timescaledb \\
        .venv/bin/python tools/bench/run.py supply_quality
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from emms_analytics.app import SPEC, create_app
from emms_analytics.runtime import SCHEMA
from emms_analytics.settings import AnalyticsSettings, Budget
from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database, migrate
from emms_db.settings import DatabaseSettings
from emms_db.storage_mode import StorageMode
from emms_devstack.bench_data import bench_db_url, copy_chunks
from emms_devstack.local_broker import LocalBroker
from emms_devstack.postgres import ensure_server
from emms_devstack.timescale import TimescaleCluster, unavailable_reason
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

assert SPEC.migrations is not None
DAY = datetime(2026, 11, 20, tzinfo=UTC) - timedelta(hours=8)  # local midnight (UTC+8)
SLOTS = 96
CURVE_COLUMNS = ("meter_id", "item", "data_time", "value", "status", "validated_at")


def volts(point: int, phase: int, slot: int) -> float:
    """200.0 … 239.0 V: 4 of every 40 values over 235.4 V (the 0.22kV level's upper limit), none under 198 V."""
    return 200.0 + (point * 7 + phase * 13 + slot) % 40


def pf(point: int, slot: int) -> float:
    return 0.80 + ((point + slot) % 20) / 100


def _lines(points: int) -> Iterator[str]:
    stamp = DAY.isoformat()
    for i in range(points):
        for s in range(SLOTS):
            at = (DAY + timedelta(minutes=15 * s)).isoformat()
            for k, p in enumerate("abc"):
                yield f"M{i},voltage.{p},{at},{volts(i, k, s)!r},valid,{stamp}\n"
                yield f"M{i},current.{p},{at},{5.0 + k},valid,{stamp}\n"
            yield f"M{i},power_factor.total,{at},{pf(i, s)!r},valid,{stamp}\n"
        end = (DAY + timedelta(days=1)).isoformat()
        for k, p in enumerate("abc"):
            within = 15 * sum(1 for s in range(SLOTS) if volts(i, k, s) <= 235.4)
            for band, minutes in (("within", within), ("over_upper", 1440 - within), ("under_lower", 0)):
                yield f"M{i},qualification.minutes.{band}.{p},{end},{minutes},valid,{stamp}\n"


def _row(mode: StorageMode, metric: str, value: object, unit: str, note: str) -> dict[str, object]:
    return {"benchmark": "supply_quality", "metric": f"{metric} ({mode})", "value": value, "unit": unit,
            "target": "-", "note": note}


async def _load(url: str, mode: StorageMode, points: int) -> list[dict[str, object]]:
    conn = await asyncpg.connect(url)
    try:
        report = await migrate(conn, SCHEMA, SPEC.migrations)  # type: ignore[arg-type]
        if report.mode is not mode:
            raise RuntimeError(f"analytics migrated in {report.mode} mode, {mode} expected")
        since = DAY - timedelta(days=1)
        tables: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {
            "company": (("company_id", "name"), [("CO", "Bench utility")]),
            "region": (("region_id", "name", "parent_id"), [("CITY", "City", None)]),
            "customer": (("customer_id", "name", "utility", "category", "company_id", "region_id", "active"),
                         [(f"C{i}", f"C{i}", "electricity", "e_business", "CO", "CITY", True) for i in range(points)]),
            "metering_point": (("metering_point_id", "customer_id", "utility"),
                               [(f"MP{i}", f"C{i}", "electricity") for i in range(points)]),
            "meter": (("meter_id", "utility", "multiplier"), [(f"M{i}", "electricity", 1.0) for i in range(points)]),
            "meter_period": (("metering_point_id", "meter_id", "valid_from"),
                             [(f"MP{i}", f"M{i}", since) for i in range(points)]),
        }
        for table, (columns, records) in tables.items():
            await conn.copy_records_to_table(table, schema_name=SCHEMA, records=records, columns=columns)
        started = time.perf_counter()
        await conn.copy_to_table("curve_value", schema_name=SCHEMA, source=copy_chunks(_lines(points)),
                                 columns=CURVE_COLUMNS, format="csv")
        load_s = time.perf_counter() - started
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return [_row(mode, f"load: COPY {points * (SLOTS * 7 + 9):,} curve values ({points:,} points, one day)",
                 load_s, "s", "straight into curve_value")]


async def _median_ms(fn: Callable[[], Awaitable[Any]], runs: int = 3) -> float:
    await fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(1000 * (time.perf_counter() - started))
    return statistics.median(samples)


async def _measure(url: str, bootstrap: str, mode: StorageMode, points: int) -> list[dict[str, object]]:
    rows = await _load(url, mode, points)
    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"bsq{secrets.token_hex(3)}.")
    await ensure_topics(ks)
    settings = AnalyticsSettings(_env_file=None, environment="bench", database=DatabaseSettings(url=url, pool_max=4),
                                 kafka=ks, budget=Budget(max_scan_rows=50_000_000, statement_timeout_ms=120_000))
    app = create_app(settings)
    span = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat(), "regions": "CITY"}
    within = sum(1 for i in range(points) for k in range(3) for s in range(SLOTS) if volts(i, k, s) <= 235.4)
    async with app.router.lifespan_context(app):
        token = issue_token(AuthSettings(), "bench", "viewer")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=300) as api:
            async def voltage() -> None:
                got = (await api.get("/api/v1/analytics/supply-quality/voltage", params=span)).json()
                (level,) = got["levels"]
                assert level["curves"]["within"] == within and level["curves"]["values"] == points * 3 * SLOTS, level
                assert level["statistics"]["minutes_within"] == 15 * within, level

            async def power_factor() -> None:
                got = (await api.get("/api/v1/analytics/supply-quality/power-factor", params=span)).json()
                assert got["judged"] == points, got["customers"]

            v_ms = await _median_ms(voltage)
            pf_ms = await _median_ms(power_factor)
    rows.append(_row(mode, f"/supply-quality/voltage, {points:,} points × one day (15-min curves + statistics)",
                     v_ms, "ms", f"{points * SLOTS * 6 / (v_ms / 1000):,.0f} curve values/s read and judged"))
    rows.append(_row(mode, f"/supply-quality/power-factor, {points:,} customers × one day", pf_ms, "ms", ""))
    return rows


def _run_mode(mode: StorageMode, server: str | None, bootstrap: str, points: int) -> list[dict[str, object]]:
    url = bench_db_url("sq", server)
    if server is None:
        ensure_server(url)
    asyncio.run(ensure_database(url))
    try:
        return asyncio.run(_measure(url, bootstrap, mode, points))
    finally:
        asyncio.run(drop_database(url))


def run() -> list[dict[str, object]]:
    points = int(os.environ.get("EMMS_BENCH_SQ_POINTS", "2000"))
    modes = [StorageMode(m.strip()) for m in
             os.environ.get("EMMS_BENCH_SQ_MODES", "postgresql,timescaledb").split(",") if m.strip()]
    rows: list[dict[str, object]] = []
    broker = LocalBroker().start()
    try:
        for mode in modes:
            if mode is StorageMode.POSTGRESQL:
                rows += _run_mode(mode, None, broker.bootstrap, points)
                continue
            reason = unavailable_reason()
            if reason is not None:
                rows.append(_row(mode, "skipped", "", "", reason))
                continue
            cluster = TimescaleCluster().start()
            try:
                rows += _run_mode(mode, cluster.url, broker.bootstrap, points)
            finally:
                cluster.remove()
    finally:
        broker.stop()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
