"""The migration Job's script against a new database while service replicas start and migrate
their own schemas at the same time (real PostgreSQL): every schema ends current, each migration
applied once, a second run finds nothing to do. Slow (~25 s on the shared machine): make test-all."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from deploy_harness import load_script

from emms_db import drop_database, ensure_database, migrate_url

pytestmark = pytest.mark.slow


async def test_the_job_and_starting_replicas_migrate_a_new_database_once(database_url: str) -> None:
    job = load_script("tools/k8s_migrate.py")
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(path=f"/emms_migrate_job_{secrets.token_hex(4)}"))
    await ensure_database(url)
    try:
        schemas = job.schemas()
        assert [s for s, _ in schemas][:2] == ["identity", "archive"]
        replicas = [migrate_url(url, schema, directory) for schema, directory in schemas for _ in range(2)]
        outcome, *reports = await asyncio.gather(job.run(url), *replicas)
        assert outcome == 0
        conn = await asyncpg.connect(url)
        try:
            for schema, directory in schemas:
                versions = await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
                assert len(versions) == len(list(directory.glob("*.sql"))), f"{schema}: every file recorded"
        finally:
            await conn.close()
        applied = [(schema, name) for (schema, _), report in zip(schemas * 2, reports[0::2] + reports[1::2],
                                                                 strict=True) for name in report.applied]
        assert len(applied) == len(set(applied)), "no migration applied twice"
        assert await job.run(url) == 0
        for schema, directory in schemas:
            assert not (await migrate_url(url, schema, directory)).applied, f"{schema}: nothing left to do"
    finally:
        await drop_database(url)
