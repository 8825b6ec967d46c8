"""Loss analysis (issue 17 acceptance): the daily loss of 2,000 transformer areas (≈ 200,000 meters) in ≤ 10 s
after the day's data is in, in both storage modes.

One database per storage mode (plain PostgreSQL: the machine's server; TimescaleDB: a private cluster from
``emms_devstack.timescale``), each:

1. the analytics schema by its migrations; the master data COPY'd into the service's copy of it (``company``,
   ``region``, ``network_node`` — ``AREAS / 10`` lines of 10 transformers —, ``customer``, ``metering_point``,
   ``meter``, ``meter_period``): per area one total meter (customer category ``network``, multiplier = CT 40) and
   ``PER_AREA − 1`` customer meters;
2. two local days of usage loaded the way ``bench_analytics`` loads a period: one interval per meter and day
   (the register increase from midnight to midnight) — **PostgreSQL**: COPY into ``usage_interval`` (the loss
   reads it for the days' coverage) and into the rollup table ``usage_daily``; **TimescaleDB**: COPY into the
   hypertable ``usage_interval``, then the service's refresher (``rollups.refresh_pending``) over the window;
   customer ``j`` of area ``a`` uses :func:`used`; the total meter counts ``Σ used × (1 + rate(a)) / CT``; in every
   100th area (from area 7) customer 1 is a large customer whose meter reads 30 % from the second day;
3. ``LossService.regenerate`` (the models generated from that topology: timed, for information) and then
   ``LossService.run_day`` for the second day, timed: every model's loss from the rollups, completeness, flags,
   the ranking of the abnormal ones and the rows stored — what the service's daily worker runs. Every stored loss
   is checked against :func:`expected_loss`, and the flagged models against the injected ones.

    EMMS_BENCH_LOSS_AREAS=2000 EMMS_BENCH_LOSS_PER_AREA=100 EMMS_BENCH_LOSS_MODES=postgresql,timescaledb \\
        .venv/bin/python tools/bench/run.py loss
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from emms_analytics.app import SPEC
from emms_analytics.loss.service import LossService
from emms_analytics.rollups import refresh_pending
from emms_analytics.runtime import SCHEMA
from emms_db import drop_database, ensure_database, migrate
from emms_db.storage_mode import StorageMode
from emms_devstack.bench_data import bench_db_url, copy_chunks
from emms_devstack.postgres import ensure_server
from emms_devstack.timescale import TimescaleCluster, unavailable_reason

assert SPEC.migrations is not None
TZ = ZoneInfo("Asia/Shanghai")
DAY0 = date(2026, 11, 1)
CT = 40.0
ITEM = "energy.active.import.total"
MICRO = timedelta(microseconds=1)
TARGET_S = 10.0


def used(area: int, j: int, day: int) -> float:
    """True usage of customer ``j`` (1 …) of ``area`` on day ``day`` (0, 1), kWh."""
    base = 4.0 + ((area * 131 + j * 17) % 97) / 10 + day * 0.3
    return base * 40 if j == 1 and area % 100 == 7 else base


def thief(area: int) -> bool:
    return area % 100 == 7


def shown(area: int, j: int, day: int) -> float:
    """What customer ``j``'s meter counts (a thief's reads 30 % from day 1)."""
    return used(area, j, day) * (0.3 if thief(area) and j == 1 and day >= 1 else 1.0)


def rate(area: int) -> float:
    return 0.02 + (area % 5) * 0.005


def head(area: int, per: int, day: int) -> float:
    """The total meter's register increase (secondary side: ÷ CT)."""
    return sum(used(area, j, day) for j in range(1, per)) * (1 + rate(area)) / CT


def expected_loss(area: int, per: int, day: int) -> float:
    return head(area, per, day) * CT - sum(shown(area, j, day) for j in range(1, per))


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def _meter(area: int, j: int) -> str:
    return f"M{area}-{j}"


def masterdata(areas: int, per: int) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    since = midnight(DAY0 - timedelta(days=30))
    nodes: list[tuple[Any, ...]] = [(f"L{k}", f"Line {k}", "line", "electricity", None, "CO", f"D{k % 10}")
                                    for k in range(-(-areas // 10))]
    nodes += [(f"T{a}", f"Transformer {a}", "transformer", "electricity", f"L{a // 10}", "CO", f"D{a // 10 % 10}")
              for a in range(areas)]
    customers, points, meters, periods = [], [], [], []
    for a in range(areas):
        for j in range(per):
            m = _meter(a, j)
            customers.append((f"C{m}", "electricity", "network" if j == 0 else "e_residential", "CO",
                              f"D{a // 10 % 10}"))
            points.append((f"P{m}", f"C{m}", "electricity", f"T{a}"))
            meters.append((m, "electricity", CT if j == 0 else 1.0, 8))
            periods.append((f"P{m}", m, since, None))
    return {
        "company": (("company_id", "name"), [("CO", "Bench utility")]),
        "region": (("region_id", "name", "parent_id"),
                   [("CITY", "City", None), *((f"D{k}", f"District {k}", "CITY") for k in range(10))]),
        "network_node": (("node_id", "name", "kind", "utility", "parent_id", "company_id", "region_id"), nodes),
        "customer": (("customer_id", "utility", "category", "company_id", "region_id"), customers),
        "metering_point": (("metering_point_id", "customer_id", "utility", "node_id"), points),
        "meter": (("meter_id", "utility", "multiplier", "register_digits"), meters),
        "meter_period": (("metering_point_id", "meter_id", "valid_from", "valid_to"), periods),
    }


def _usage(area: int, j: int, per: int, day: int) -> float:
    return head(area, per, day) if j == 0 else shown(area, j, day)


def interval_lines(areas: int, per: int) -> Iterator[str]:
    for day in (0, 1):
        d = DAY0 + timedelta(days=day)
        start, at = midnight(d).isoformat(), (midnight(d + timedelta(days=1)) - MICRO).isoformat()
        for a in range(areas):
            for j in range(per):
                yield f"{_meter(a, j)},{ITEM},{at},{start},{_usage(a, j, per, day)!r},f\n"


def daily_lines(areas: int, per: int) -> Iterator[str]:
    for day in (0, 1):
        bucket = midnight(DAY0 + timedelta(days=day)).isoformat()
        for a in range(areas):
            for j in range(per):
                yield f"{_meter(a, j)},{ITEM},{bucket},{_usage(a, j, per, day)!r},1,0\n"


def _row(mode: StorageMode, metric: str, value: object, unit: str, target: str, note: str) -> dict[str, object]:
    return {"benchmark": "loss", "metric": f"{metric} ({mode})", "value": value, "unit": unit, "target": target,
            "note": note}


async def _measure(url: str, mode: StorageMode, areas: int, per: int) -> list[dict[str, object]]:
    rows = [_row(mode, "load average (1 min) before the mode", os.getloadavg()[0], "", "-", "")]
    conn = await asyncpg.connect(url)
    try:
        assert SPEC.migrations is not None
        report = await migrate(conn, SCHEMA, SPEC.migrations)
        if report.mode is not mode:
            raise RuntimeError(f"analytics migrated in {report.mode} mode, {mode} expected")
        for table, (columns, records) in masterdata(areas, per).items():
            await conn.copy_records_to_table(table, schema_name=SCHEMA, records=records, columns=columns)
        started = time.perf_counter()
        await conn.copy_to_table("usage_interval", schema_name=SCHEMA, source=copy_chunks(interval_lines(areas, per)),
                                 columns=("meter_id", "item", "at", "starts_at", "delta", "estimated"), format="csv")
        if mode is StorageMode.POSTGRESQL:
            await conn.copy_to_table("usage_daily", schema_name=SCHEMA, source=copy_chunks(daily_lines(areas, per)),
                                     columns=("meter_id", "item", "bucket", "usage", "intervals", "estimated"),
                                     format="csv")
        else:
            await conn.execute(f"INSERT INTO {SCHEMA}.refresh_window (lo, hi) VALUES ($1, $2)", midnight(DAY0),
                               midnight(DAY0 + timedelta(days=2)) - MICRO)
        load_s = time.perf_counter() - started
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    try:
        note = "COPY usage_interval + usage_daily" if mode is StorageMode.POSTGRESQL else "COPY usage_interval"
        if mode is StorageMode.TIMESCALEDB:
            started = time.perf_counter()
            await refresh_pending(pool, SCHEMA, "Asia/Shanghai")
            rows.append(_row(mode, "rollups: refresh of the two days", time.perf_counter() - started, "s", "-",
                             "rollups.refresh_pending (hourly → daily → monthly)"))
        rows.append(_row(mode, f"load: {2 * areas * per:,} daily intervals", load_s, "s", "-", note))
        svc = LossService(pool, SCHEMA, "Asia/Shanghai", {"electricity": ITEM})
        started = time.perf_counter()
        done = await svc.regenerate(force=True)
        assert done is not None and len(done.created) == areas, done
        rows.append(_row(mode, f"models generated from the topology ({areas:,} transformers)",
                         time.perf_counter() - started, "s", "-", "LossService.regenerate"))
        day = DAY0 + timedelta(days=1)
        started = time.perf_counter()
        run = await svc.run_day(day)
        took = time.perf_counter() - started
        async with pool.acquire() as pconn:
            stored = {r["model_id"]: r for r in await pconn.fetch(
                f"SELECT model_id, loss, complete, flags FROM {SCHEMA}.loss_daily WHERE day = $1", day)}
        wrong = [a for a in range(areas) if not stored[f"gen-T{a}"]["complete"]
                 or abs(stored[f"gen-T{a}"]["loss"] - expected_loss(a, per, 1)) > 0.01 * (CT + per)]
        flagged = {a for a in range(areas) if stored[f"gen-T{a}"]["flags"]}
        injected = {a for a in range(areas) if thief(a)}
        check = "checked" if not wrong and flagged == injected else \
            f"MISMATCH: {len(wrong)} losses off, flagged {sorted(flagged)[:5]} vs injected {sorted(injected)[:5]}"
        met = "met" if took <= TARGET_S and check == "checked" else "not met"
        rows.append(_row(mode, f"daily loss of {areas:,} areas ({areas * per:,} meters)", took, "s",
                         f"≤ {TARGET_S:.0f} s",
                         f"{met}; {check}; {run['abnormal']} abnormal ranked; LossService.run_day"))
    finally:
        await pool.close()
    rows.append(_row(mode, "load average (1 min) after the mode", os.getloadavg()[0], "", "-", ""))
    return rows


def _run_mode(mode: StorageMode, server: str | None, areas: int, per: int) -> list[dict[str, object]]:
    url = bench_db_url("loss", server)
    if server is None:
        ensure_server(url)
    asyncio.run(ensure_database(url))
    try:
        return asyncio.run(_measure(url, mode, areas, per))
    finally:
        asyncio.run(drop_database(url))


def run() -> list[dict[str, object]]:
    areas = int(os.environ.get("EMMS_BENCH_LOSS_AREAS", "2000"))
    per = int(os.environ.get("EMMS_BENCH_LOSS_PER_AREA", "100"))
    modes = [StorageMode(m.strip()) for m in
             os.environ.get("EMMS_BENCH_LOSS_MODES", "postgresql,timescaledb").split(",") if m.strip()]
    rows: list[dict[str, object]] = []
    for mode in modes:
        if mode is StorageMode.POSTGRESQL:
            rows += _run_mode(mode, None, areas, per)
            continue
        reason = unavailable_reason()
        if reason is not None:
            rows.append(_row(mode, "skipped", "", "", "-", reason))
            continue
        cluster = TimescaleCluster().start()
        try:
            rows += _run_mode(mode, cluster.url, areas, per)
        finally:
            cluster.remove()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
