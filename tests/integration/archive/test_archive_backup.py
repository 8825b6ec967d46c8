"""Backup and restore (R-4.3.3b): system level with pg_dump / pg_restore and with COPY,
application level by company and time range; backup → drop → restore reproduces identical
row checksums; verify catches a damaged backup; the CLI and the admin API work."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from archive_harness import ADMIN, VIEWER

from emms_archive.backup import service, system
from emms_archive.backup.checksums import checksums
from emms_archive.backup.tables import APPLICATION_TABLES, TABLES
from emms_archive.masterdata.import_batch import apply_batch, build_batch
from emms_archive.readings import ingest
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db import drop_database, ensure_database, migrate

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
MIGRATIONS = Path(service.__file__).resolve().parents[1] / "migrations"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _other_db(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{suffix}"))


async def _populate(url: str) -> None:
    """Two companies' master data, two months of readings, an event; through the real write paths."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, SCHEMA, MIGRATIONS)
        for kind, rows in [
            ("companies", [{"id": "A", "name": "A"}, {"id": "B", "name": "B"}]),
            ("regions", [{"id": "R", "name": "R"}]),
            ("service-areas", [{"company_id": c, "region_id": "R", "utility": "electricity"} for c in "AB"]),
            ("terminals", [{"id": f"T{c}", "kind": "concentrator", "address": f"0000000{i}", "company_id": c}
                           for i, c in enumerate("AB")]),
            ("customer-meters", [{"customer_id": f"{c}{i}", "customer_name": "x", "utility": "electricity",
                                  "category": "e_lv_single_phase", "company_id": c, "region_id": "R",
                                  "metering_point_id": f"{c}{i}-P", "terminal_id": f"T{c}", "pn": i + 1,
                                  "meter_id": f"{c}{i}-M", "protocol": "dlt645-2007", "meter_address": f"{c}{i}",
                                  "installed_at": "2025-12-01T00:00:00Z"} for c in "AB" for i in range(5)]),
        ]:
            await apply_batch(conn, kind, build_batch(kind, rows), actor="test", scope=Scope())
        await conn.fetchval(f"SELECT {SCHEMA}.ensure_partitions($1, $2)", T0, T0 + timedelta(days=60))
        rows = [(f"{c}{i}-M", "energy_active_import_total", T0 + timedelta(hours=6 * h), "scheduled", 0.1 * h + i,
                 "kWh", T0 + timedelta(hours=6 * h, seconds=7), 0, None, None, "b") for c in "AB" for i in range(5)
                for h in range(4 * 59)]
        async with conn.transaction():
            result = await ingest.store_rows(conn, rows)
        assert result.stored == len(rows)
        await conn.execute(f"INSERT INTO {SCHEMA}.event (event_id, occurred_at, terminal, meter_id, metering_point_id,"
                           " code, event_class, received_at, detail) VALUES (gen_random_uuid(), $1, '00000000',"
                           " 'A0-M', 'A0-P', 'ERC14', 'important', $1, '{\"n\": 1.5}')", T0 + timedelta(days=3))
    finally:
        await conn.close()


async def _checksums(url: str, **scope: object) -> dict[str, dict[str, object]]:
    conn = await asyncpg.connect(url)
    try:
        tables = APPLICATION_TABLES if scope else TABLES
        return await checksums(conn, tables, **scope)  # type: ignore[arg-type]
    finally:
        await conn.close()


@pytest.fixture
async def source_db(database_url: str) -> AsyncIterator[str]:
    url = _other_db(database_url, f"bk{secrets.token_hex(3)}")
    await ensure_database(url)
    try:
        await _populate(url)
        yield url
    finally:
        await drop_database(url)


@pytest.mark.parametrize("method", ["pg_dump", "copy"])
async def test_system_backup_drop_restore_gives_identical_checksums(source_db: str, tmp_path: Path,
                                                                   method: str) -> None:
    if method == "pg_dump" and not system.tools_available():
        pytest.skip("pg_dump is not installed here")
    before = await _checksums(source_db)
    assert before["reading_raw"]["rows"] == 10 * 4 * 59 and before["audit_log"]["rows"] > 0

    manifest = await service.create(source_db, tmp_path / "b", level="system", method=method)
    assert manifest.method == method and manifest.tables["reading_raw"] == before["reading_raw"]
    await drop_database(source_db)
    await ensure_database(source_db)
    result = await service.restore(source_db, tmp_path / "b")

    assert result["verify"]["ok"], result["verify"]  # every table, audit log included, as at backup time
    after = await _checksums(source_db)
    audit_after, audit_before = after.pop("audit_log"), before.pop("audit_log")
    assert after == before
    assert audit_after["rows"] == audit_before["rows"] + 1  # then the restore audited itself
    conn = await asyncpg.connect(source_db)
    try:  # the restored raw table is still insert-only
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"DELETE FROM {SCHEMA}.reading_raw")
    finally:
        await conn.close()


async def test_application_backup_of_a_company_and_range_restores_into_a_new_database(
        source_db: str, tmp_path: Path) -> None:
    scope = {"companies": ["A"], "start": T0 + timedelta(days=10), "end": T0 + timedelta(days=40)}
    before = await _checksums(source_db, **scope)
    manifest = await service.create(source_db, tmp_path / "a", level="application", companies=["A"],
                                    start=scope["start"], end=scope["end"])  # type: ignore[arg-type]
    assert manifest.tables["reading_raw"]["rows"] == 5 * 4 * 30
    assert manifest.tables["customer"]["rows"] == 5 and manifest.tables["event"]["rows"] == 0

    target = _other_db(source_db, "r")
    await ensure_database(target)
    try:
        result = await service.restore(target, tmp_path / "a")
        assert result["verify"]["ok"], result["verify"]
        assert await _checksums(target, **scope) == before
        assert result["loaded"]["reading_raw"] == {"rows": 600, "added": 600}
        again = await service.restore(target, tmp_path / "a")  # restoring twice adds nothing
        assert again["loaded"]["reading_raw"]["added"] == 0 and again["verify"]["ok"]
        conn = await asyncpg.connect(target)
        try:
            assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.customer WHERE company_id = 'B'") == 0
            assert await conn.fetchval(f"SELECT min(data_time) FROM {SCHEMA}.reading_raw") == scope["start"]
        finally:
            await conn.close()
    finally:
        await drop_database(target)


async def test_verify_catches_a_damaged_backup_and_restore_refuses_it(source_db: str, tmp_path: Path) -> None:
    await service.create(source_db, tmp_path / "d", companies=["B"])
    assert (await service.verify(tmp_path / "d", source_db))["ok"]
    data = tmp_path / "d" / "tables" / "reading_raw.csv"
    data.write_text(data.read_text().replace(",kWh,", ",MWh,", 1))
    report = await service.verify(tmp_path / "d")
    assert not report["ok"] and "tables/reading_raw.csv: SHA-256 differs" in report["files"][0]
    with pytest.raises(system.BackupError, match="damaged"):
        await service.restore(source_db, tmp_path / "d")


async def test_cli_creates_verifies_and_prints_checksums(source_db: str, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "emms_archive.backup", "--database", source_db, *args],
                              capture_output=True, text=True, timeout=120)

    made = await asyncio.to_thread(cli, "create", "--level", "application", "--companies", "A",
                                   "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-05T00:00:00Z",
                                   "--out", str(tmp_path / "cli"))
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["tables"]["reading_raw"]["rows"] == 5 * 4 * 4
    checked = await asyncio.to_thread(cli, "verify", str(tmp_path / "cli"), "--check-database")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"] is True
    bad = await asyncio.to_thread(cli, "create", "--level", "system", "--companies", "A", "--out",
                                  str(tmp_path / "x"))
    assert bad.returncode == 2 and "whole database" in bad.stderr


async def test_admin_api_makes_lists_and_verifies_backups(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/backups", json={}, headers=VIEWER)).status_code == 403
    made = await api.post("/api/v1/backups", json={"level": "application", "from": "2026-01-01T00:00:00Z",
                                                    "to": "2026-01-02T00:00:00Z"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    name = made.json()["name"]
    listed = await api.get("/api/v1/backups", headers=ADMIN)
    assert name in [b["name"] for b in listed.json()]
    verified = await api.post(f"/api/v1/backups/{name}/verify", headers=ADMIN)
    assert verified.json()["ok"] is True
    bad = await api.post("/api/v1/backups", json={"level": "system", "companies": ["A"]}, headers=ADMIN)
    assert bad.status_code == 422 and "whole database" in bad.json()["detail"]
