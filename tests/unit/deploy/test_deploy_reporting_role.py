"""Grafana's database role reads the reporting views and nothing else (real PostgreSQL, both modes).

The archive's migration 0010 makes the ``reporting`` schema and grants it to ``emms_reporting``;
Grafana's login role (CloudNativePG managed role ``emms_grafana``, deploy/k8s/base/database) is a
member of it. Here a login role of the test's own joins ``emms_reporting`` and connects.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from deploy_harness import DEPLOY, by_kind, render_overlay

from emms_analytics.app import SPEC as ANALYTICS_SPEC
from emms_archive.app import SPEC as ARCHIVE_SPEC
from emms_collector.app import SPEC as COLLECTOR_SPEC
from emms_db import migrate

SCHEMA = "archive"
VIEWS = {"metering_point", "reading", "latest_value", "daily_usage", "fleet"}


@pytest.fixture
async def archive_db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The session database with the schemas of every service that makes reporting views (archive, analytics,
    collector): the personal-data check sees all of them, whichever modules ran before."""
    conn = await asyncpg.connect(database_url)
    for spec in (ARCHIVE_SPEC, ANALYTICS_SPEC, COLLECTOR_SPEC):
        assert spec.migrations is not None and spec.schema is not None
        await migrate(conn, spec.schema, spec.migrations)
    yield conn
    await conn.close()


@pytest.fixture
async def reader(archive_db: asyncpg.Connection, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as a login role in emms_reporting only (as Grafana's emms_grafana is)."""
    name = f"grafana_test_{uuid.uuid4().hex[:10]}"
    await archive_db.execute(f"CREATE ROLE {name} LOGIN IN ROLE emms_reporting")
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}"))
    conn = await asyncpg.connect(url)
    yield conn
    await conn.close()
    await archive_db.execute(f"DROP OWNED BY {name}")
    await archive_db.execute(f"DROP ROLE {name}")


async def seed(conn: asyncpg.Connection) -> str:
    tag = uuid.uuid4().hex[:8]
    await conn.execute(f"INSERT INTO {SCHEMA}.company (id, name) VALUES ($1, 'Water Co')", f"co-{tag}")
    await conn.execute(f"INSERT INTO {SCHEMA}.region (id, name, level) VALUES ($1, 'North', 1)", f"re-{tag}")
    await conn.execute(f"INSERT INTO {SCHEMA}.customer (id, name, party_id, utility, category, company_id, region_id)"
                       " VALUES ($1, 'A. Person', 'p1', 'water', 'residential', $2, $3)",
                       f"cu-{tag}", f"co-{tag}", f"re-{tag}")
    await conn.execute(f"INSERT INTO {SCHEMA}.metering_point (id, customer_id, utility) VALUES ($1, $2, 'water')",
                       f"mp-{tag}", f"cu-{tag}")
    if await conn.fetchval("SELECT to_regprocedure($1)", f"{SCHEMA}.ensure_partitions(timestamptz, timestamptz)"):
        await conn.execute(f"SELECT {SCHEMA}.ensure_partitions($1, $2)",  # plain PostgreSQL: monthly partitions
                           datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    rows = [  # two versions of the 01:00 reading (the newer wins), a held one (not a figure)
        (datetime(2026, 3, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, 2, tzinfo=UTC), "valid", 100.0),
        (datetime(2026, 3, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, 3, tzinfo=UTC), "repaired", 101.0),
        (datetime(2026, 3, 1, 23, tzinfo=UTC), datetime(2026, 3, 2, 0, tzinfo=UTC), "valid", 112.5),
        (datetime(2026, 3, 1, 23, 30, tzinfo=UTC), datetime(2026, 3, 2, 0, tzinfo=UTC), "held", 999.0),
    ]
    for data_time, validated_at, status, value in rows:
        await conn.execute(f"INSERT INTO {SCHEMA}.reading_validated (metering_point_id, item, data_time, validated_at,"
                           " status, meter_id, value, unit) VALUES ($1, 'volume', $2, $3, $4, 'm1', $5, 'm3')",
                           f"mp-{tag}", data_time, validated_at, status, value)
    return tag


@pytest.mark.usefixtures("storage_mode")
async def test_the_reporting_role_reads_the_views(archive_db: asyncpg.Connection, reader: asyncpg.Connection) -> None:
    tag = await seed(archive_db)
    views = {r["table_name"] for r in await reader.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'reporting'")}
    # the analytics service's reporting views (analytics_*, its migration 0012) are tested with its dashboards,
    # the collector's (clock_*, its migration 0012) with the clock tests, analytics' loss_* and sq_* with the
    # loss and supply-quality dashboards
    assert {v for v in views if not v.startswith(("analytics_", "clock_", "loss_", "sq_"))} == VIEWS
    day = await reader.fetchrow("SELECT * FROM reporting.daily_usage WHERE metering_point_id = $1", f"mp-{tag}")
    assert day is not None
    assert (day["company_id"], day["first_value"], day["last_value"], day["usage"], day["readings"]) == (
        f"co-{tag}", 101.0, 112.5, 11.5, 2)
    latest = await reader.fetchrow("SELECT * FROM reporting.latest_value WHERE metering_point_id = $1", f"mp-{tag}")
    assert latest is not None
    assert (latest["value"], latest["status"]) == (112.5, "valid")
    fleet = await reader.fetchrow("SELECT * FROM reporting.fleet WHERE company_id = $1", f"co-{tag}")
    assert fleet is not None
    assert (fleet["utility"], fleet["metering_points"]) == ("water", 1)
    columns = {r["column_name"] for r in await reader.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'reporting'")}
    assert not {"name", "address", "party_id", "phone"} & columns, "no personal data in the reporting views"


@pytest.mark.usefixtures("storage_mode")
async def test_the_reporting_role_is_refused_everything_else(archive_db: asyncpg.Connection,
                                                             reader: asyncpg.Connection) -> None:
    await seed(archive_db)
    tables = await archive_db.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('reporting', 'pg_catalog', 'information_schema')"
        " AND table_schema NOT LIKE '\\_timescaledb%' AND table_schema NOT LIKE 'timescaledb%'")
    assert {(r["table_schema"], r["table_name"]) for r in tables} >= {(SCHEMA, "reading_validated"),
                                                                       (SCHEMA, "customer")}
    for r in tables:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.fetch(f'SELECT 1 FROM "{r["table_schema"]}"."{r["table_name"]}" LIMIT 1')
    for statement in ("CREATE TABLE reporting.mine (x int)",
                      "CREATE TABLE public.mine (x int)", "CREATE SCHEMA mine",
                      "CREATE VIEW reporting.mine AS SELECT 1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute(statement)


def test_grafana_logs_in_as_a_member_of_the_reporting_role_only() -> None:
    """The CloudNativePG managed roles give Grafana's login exactly the reporting role, and its
    datasource uses that login."""
    docs = render_overlay("prod")
    (cluster,) = by_kind(docs, "Cluster")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert roles["emms_reporting"]["login"] is False
    grafana = roles["emms_grafana"]
    assert grafana["login"] is True and grafana["inRoles"] == ["emms_reporting"]
    assert not any(grafana.get(k) for k in ("superuser", "createdb", "createrole", "replication", "bypassrls"))
    datasource = (DEPLOY / "grafana" / "provisioning" / "datasources" / "postgres.yaml").read_text()
    assert "user: emms_grafana" in datasource
