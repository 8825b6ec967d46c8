"""``python -m emms_archive.backup``: create, restore and verify archive backups.

    python -m emms_archive.backup create --level system --out /backups/2026-11-30
    python -m emms_archive.backup create --level application --companies GRID --from 2026-01-01T00:00:00Z \\
        --to 2026-02-01T00:00:00Z --out /backups/grid-jan
    python -m emms_archive.backup verify /backups/grid-jan [--check-database]
    python -m emms_archive.backup restore /backups/grid-jan [--create-database] [--overwrite-masterdata]
    python -m emms_archive.backup checksums

The database is ``--database`` or the service's setting (``EMMS_ARCHIVE_DATABASE__URL``, else
``EMMS_DATABASE_URL``). Output is JSON; the exit status is 0 only when everything checked out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from emms_archive.backup import service, system
from emms_archive.backup.checksums import checksums
from emms_archive.backup.tables import TABLES
from emms_db import ensure_database


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a UTC offset, e.g. 2026-01-01T00:00:00Z")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emms_archive.backup", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", help="PostgreSQL URL (default: the archive service's setting)")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="write a backup into a new directory")
    c.add_argument("--level", choices=("system", "application"), default="application")
    c.add_argument("--companies", help="comma-separated company ids (application level)")
    c.add_argument("--from", dest="start", type=_time, help="UTC start of readings / events (application level)")
    c.add_argument("--to", dest="end", type=_time, help="UTC end, exclusive")
    c.add_argument("--method", choices=("pg_dump", "copy"),
                   help="system level: pg_dump (default when installed) or copy")
    c.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("restore", help="restore a backup directory, then verify it")
    r.add_argument("directory", type=Path)
    r.add_argument("--create-database", action="store_true", help="create the target database if missing")
    r.add_argument("--overwrite-masterdata", action="store_true",
                   help="application level: set master data back to the backup's values")
    v = sub.add_parser("verify", help="check a backup's files (and with --check-database, the rows)")
    v.add_argument("directory", type=Path)
    v.add_argument("--check-database", action="store_true")
    sub.add_parser("checksums", help="print the row checksums of every archive table")
    return p


def _url(args: argparse.Namespace) -> str:
    if args.database:
        return str(args.database)
    from emms_archive.settings import ArchiveSettings

    return ArchiveSettings().database.url


async def _main(args: argparse.Namespace) -> tuple[bool, Any]:
    url = _url(args)
    if args.command == "create":
        companies = [c for c in (args.companies or "").split(",") if c] or None
        manifest = await service.create(url, args.out, level=args.level, companies=companies, start=args.start,
                                        end=args.end, method=args.method)
        return True, {"directory": str(args.out), "method": manifest.method, "tables": manifest.tables,
                      "pg_dump_available": system.tools_available()}
    if args.command == "restore":
        if args.create_database:
            await ensure_database(url)
        result = await service.restore(url, args.directory, overwrite_masterdata=args.overwrite_masterdata)
        return bool(result["verify"]["ok"]), result
    if args.command == "verify":
        report = await service.verify(args.directory, url if args.check_database else None)
        return bool(report["ok"]), report
    conn = await asyncpg.connect(url)
    try:
        return True, await checksums(conn, TABLES)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        ok, out = asyncio.run(_main(args))
    except (system.BackupError, FileNotFoundError, FileExistsError, ValueError, OSError,
            asyncpg.PostgresError) as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)  # noqa: T201
        return 2
    print(json.dumps(out, indent=2, default=str))  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
