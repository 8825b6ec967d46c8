"""Reports (issue 19 acceptance): a 200,000-row XLSX export streams with the reports service's peak RSS
≤ 300 MB.

1. A bench database; the analytics schema by its migrations, one metering point's master data COPY'd into
   the service's copy of it, and ``ROWS`` validated register values of its meter (one every 2 minutes)
   COPY'd into ``analytics.register_value`` (the consumer is not what is measured);
2. analytics and reports started as their own processes (``python -m emms_analytics`` /
   ``python -m emms_reports``, real sockets, a local broker for their buses);
3. ``POST /api/v1/reports/export?format=xlsx`` of a definition on the ``readings`` data set (all seven
   columns, a count total) for the point over the whole period: analytics streams ``readings.csv`` from a
   COPY, reports writes each row into xlsxwriter's constant-memory sheet as it arrives, then streams the
   file; the client reads it to disk. Measured: the reports process's peak resident set (``VmHWM`` of
   /proc/<pid>/status, the kernel's high-water mark: every allocation counts, not samples) and its RSS
   before the export (idle, after start-up), the wall time, the file size; the file is opened with
   openpyxl (read-only) and its rows counted and the last value checked.

    EMMS_BENCH_REPORTS_ROWS=200000 .venv/bin/python tools/bench/run.py reports
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import openpyxl

from emms_analytics.app import SPEC as ANALYTICS
from emms_db import drop_database, ensure_database, migrate
from emms_devstack.bench_data import bench_db_url
from emms_devstack.local_broker import LocalBroker
from emms_devstack.ports import free_port
from emms_devstack.postgres import ensure_server
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

TARGET_MB = 300
ITEM = "energy.active.import.total"
START = datetime(2024, 2, 1, tzinfo=UTC)


def _row(metric: str, value: object, unit: str, target: str, note: str) -> dict[str, object]:
    return {"benchmark": "reports", "metric": metric, "value": value, "unit": unit, "target": target, "note": note}


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


async def _load(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert ANALYTICS.migrations is not None
        await migrate(conn, "analytics", ANALYTICS.migrations)
        since = START - timedelta(days=30)
        for table, columns, records in (
                ("company", ("company_id", "name"), [("CO", "Bench utility")]),
                ("region", ("region_id", "name", "parent_id"), [("CITY", "City", None)]),
                ("customer", ("customer_id", "name", "party_id", "utility", "category", "industry", "company_id",
                              "region_id", "active"),
                 [("C0", "Customer 0", "P0", "electricity", "e_residential", None, "CO", "CITY", True)]),
                ("metering_point", ("metering_point_id", "customer_id", "utility", "node_id"),
                 [("MP0", "C0", "electricity", None)]),
                ("meter", ("meter_id", "utility", "multiplier", "register_digits"), [("M0", "electricity", 1.0, 8)]),
                ("meter_period", ("metering_point_id", "meter_id", "valid_from", "valid_to"),
                 [("MP0", "M0", since, None)])):
            await conn.copy_records_to_table(table, schema_name="analytics", records=records, columns=columns)
        values = [("M0", ITEM, START + timedelta(minutes=2 * i), float(i) / 4, "valid", START) for i in range(rows)]
        await conn.copy_records_to_table("register_value", schema_name="analytics", records=values,
                                         columns=["meter_id", "item", "data_time", "value", "status", "validated_at"])
        await conn.execute("ANALYZE analytics.register_value")
    finally:
        await conn.close()


def _start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT)


async def _ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{base}: the service exited with {proc.returncode}")
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{base} not ready in {timeout_s} s")


async def _export(base: str, rows: int, out: Path) -> tuple[float, int]:
    token = issue_token(AuthSettings(), "bench", "admin")
    end = START + timedelta(minutes=2 * rows)
    definition = {
        "title": "示值导出 Readings export", "dataset": "readings",
        "period": {"kind": "fixed", "from": START.isoformat(), "to": end.isoformat()},
        "filters": {"metering_points": ["MP0"]},
        "columns": [{"field": "metering_point_id"}, {"field": "meter_id", "total": "count"}, {"field": "item"},
                    {"field": "data_time"}, {"field": "value", "format": "decimal3"}, {"field": "status"},
                    {"field": "multiplier"}]}
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=1800, headers={"Authorization": f"Bearer {token}"}) as client, \
            client.stream("POST", f"{base}/api/v1/reports/export", params={"format": "xlsx"},
                          json=definition) as resp:
        if resp.status_code != 200:
            raise RuntimeError(f"export answered {resp.status_code}: {(await resp.aread())[:300]!r}")
        size = 0
        with out.open("wb") as f:
            async for chunk in resp.aiter_bytes():
                f.write(chunk)
                size += len(chunk)
    return time.perf_counter() - started, size


def _check(path: Path, rows: int) -> tuple[int, float]:
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    count, last = 0, None
    for row in ws.iter_rows(min_row=5, values_only=True):
        if row[0] == "MP0":
            count += 1
            last = row[4]
    wb.close()
    assert last is not None
    return count, float(last)


async def _measure(url: str, bootstrap: str, rows: int, work: Path) -> list[dict[str, object]]:
    started = time.perf_counter()
    await _load(url, rows)
    out = [_row(f"load: COPY {rows:,} register values of one meter", time.perf_counter() - started, "s", "-",
                "into analytics.register_value (readings.csv streams them)")]
    a_port, r_port = free_port(), free_port()
    env = {**os.environ, "EMMS_DATABASE_URL": url, "EMMS_KAFKA_BOOTSTRAP": bootstrap,
           "EMMS_TOPIC_PREFIX": f"br{secrets.token_hex(3)}.", "EMMS_ENVIRONMENT": "bench",
           "EMMS_ANALYTICS_HTTP__PORT": str(a_port), "EMMS_REPORTS_HTTP__PORT": str(r_port),
           "EMMS_REPORTS_UPSTREAM__ANALYTICS_URL": f"http://127.0.0.1:{a_port}",
           "EMMS_REPORTS_DELIVERY__STORE_DIR": str(work / "store"), "TMPDIR": str(work)}
    analytics = _start("emms_analytics", env, work / "analytics.log")
    reports = _start("emms_reports", env, work / "reports.log")
    try:
        await _ready(f"http://127.0.0.1:{a_port}", analytics)
        await _ready(f"http://127.0.0.1:{r_port}", reports)
        idle_mb = _kib(reports.pid, "VmRSS") / 1024
        seconds, size = await _export(f"http://127.0.0.1:{r_port}", rows, work / "export.xlsx")
        peak_mb = _kib(reports.pid, "VmHWM") / 1024
    finally:
        for proc in (reports, analytics):
            proc.terminate()
        for proc in (reports, analytics):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    count, last = _check(work / "export.xlsx", rows)
    if count != rows or abs(last - (rows - 1) / 4) > 1e-9:
        raise RuntimeError(f"the XLSX holds {count} rows (last value {last}); {rows} expected")
    out += [
        _row(f"XLSX export of {rows:,} rows: reports peak RSS", round(peak_mb, 1), "MB", f"≤ {TARGET_MB} MB",
             f"VmHWM of the service process; idle before the export {idle_mb:.0f} MB; "
             f"{'met' if peak_mb <= TARGET_MB else 'NOT met'} ({peak_mb / TARGET_MB:.0%} of the target)"),
        _row(f"XLSX export of {rows:,} rows: wall time", round(seconds, 1), "s", "-",
             f"request to last byte: analytics' COPY → CSV stream → xlsxwriter constant_memory → file streamed; "
             f"{rows / seconds:,.0f} rows/s"),
        _row(f"XLSX export of {rows:,} rows: file size", round(size / 1e6, 1), "MB", "-",
             f"read back with openpyxl: {count:,} rows, last value {last}"),
    ]
    return out


def run() -> list[dict[str, object]]:
    rows = int(os.environ.get("EMMS_BENCH_REPORTS_ROWS", "200000"))
    url = bench_db_url("reports")
    ensure_server(url)
    asyncio.run(ensure_database(url))
    broker = LocalBroker().start()
    try:
        with tempfile.TemporaryDirectory(prefix="emms-bench-reports-") as work:
            return asyncio.run(_measure(url, broker.bootstrap, rows, Path(work)))
    finally:
        broker.stop()
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    for r in run():
        print(r)
