"""The two storage paths define the same tables, and each runs only in its storage mode."""

from __future__ import annotations

import re
from pathlib import Path

from emms_archive.app import SPEC
from emms_db.migrations import load_migrations
from emms_db.storage_mode import StorageMode

assert SPEC.migrations is not None
DIRECTORY: Path = SPEC.migrations


def _tables(sql: str) -> dict[str, list[str]]:
    out = {}
    for name, body in re.findall(r"CREATE TABLE \{schema\}\.(\w+) \((.*?)\n\)", sql, re.S):
        out[name] = [line.split()[0] for line in body.strip().splitlines()]
    return out


def test_partitioned_and_hypertable_paths_define_identical_tables() -> None:
    pg = (DIRECTORY / "0004_records_postgresql.sql").read_text()
    ts = (DIRECTORY / "0005_records_timescaledb.sql").read_text()
    assert _tables(pg) == _tables(ts)
    assert set(_tables(pg)) == {"reading_raw", "reading_validated", "event", "anomaly"}
    assert "PARTITION BY RANGE" in pg and "create_hypertable" in ts and "add_compression_policy" in ts
    assert "add_retention_policy" in ts and "drop_partitions_before" in pg
    for fn in ("ensure_partitions", "drop_partitions_before"):  # the writers call them in both modes
        assert f"FUNCTION {{schema}}.{fn}(" in pg and f"FUNCTION {{schema}}.{fn}(" in ts


def test_mode_specific_files_are_guarded() -> None:
    modes = {m.name: m.mode for m in load_migrations(DIRECTORY)}
    assert modes["0004_records_postgresql.sql"] is StorageMode.POSTGRESQL
    assert modes["0005_records_timescaledb.sql"] is StorageMode.TIMESCALEDB
    assert all(mode is None for name, mode in modes.items() if name not in (
        "0004_records_postgresql.sql", "0005_records_timescaledb.sql"))


def test_raw_readings_are_guarded_in_both_modes() -> None:
    common = (DIRECTORY / "0006_records_common.sql").read_text()
    assert "BEFORE UPDATE OR DELETE ON {schema}.reading_raw" in common
    assert "BEFORE TRUNCATE ON {schema}.reading_raw" in common


def test_the_conversion_to_timescaledb_runs_0005_and_repeats_0006_on_the_four_tables() -> None:
    """The file that moves a plain schema to TimescaleDB splices in the mode=timescaledb migrations
    (the runner does) and repeats 0006's statements on the four tables; the integration test
    compares the resulting catalogs."""
    from emms_db.migrations import SPLICE

    convert = (DIRECTORY / "convert" / "postgresql_to_timescaledb.sql").read_text()
    common = (DIRECTORY / "0006_records_common.sql").read_text()
    assert convert.count(SPLICE) == 1 and "CREATE TABLE" not in convert
    statements = [line for line in common.splitlines()
                  if line.startswith(("CREATE INDEX event_", "CREATE INDEX anomaly_", "CREATE TRIGGER", "REVOKE"))]
    assert statements and all(line in convert.splitlines() for line in statements)
    for table in ("reading_raw", "reading_validated", "event", "anomaly"):
        assert f"INSERT INTO {{schema}}.{table} SELECT * FROM {{schema}}.{table}_plain;" in convert
