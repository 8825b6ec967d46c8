"""``/api/v1/backups``: application- and system-level backups into the configured directory,
their list, and verification (admins only; R-4.3.3b). Restore is a command-line operation
(``python -m emms_archive.backup restore``): it replaces data under a running service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from emms_archive.api.deps import Admin, Archive
from emms_archive.api.responses import Backup, BackupCheck, BackupMade
from emms_archive.backup import service, system
from emms_archive.backup.manifest import Manifest
from emms_archive.masterdata.models import Id
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/backups", tags=["backup"])


class BackupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    level: Literal["system", "application"] = "application"
    companies: list[Id] | None = None
    start: AwareDatetime | None = Field(default=None, alias="from")
    end: AwareDatetime | None = Field(default=None, alias="to")
    method: Literal["pg_dump", "copy"] | None = None


def _dir(request: Request, archive: Archive, name: str) -> Path:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise NotFound(f"no backup {name!r}")
    return archive.settings.backup.directory / name


@router.post("", response_model=BackupMade, status_code=201, summary="Make a backup now (application level by default)")
async def create_backup(body: BackupRequest, principal: Admin, archive: Archive) -> dict[str, Any]:
    name = f"{body.level}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    directory = archive.settings.backup.directory / name
    await asyncio.to_thread(directory.parent.mkdir, parents=True, exist_ok=True)
    try:
        manifest = await service.create(archive.settings.database.url, directory, level=body.level,
                                        companies=body.companies, start=body.start, end=body.end,
                                        method=body.method, actor=principal.subject)
    except (ValueError, system.BackupError) as exc:
        raise Invalid(str(exc)) from None
    return {"name": name, "method": manifest.method, "tables": manifest.tables,
            "files": manifest.files, "pg_dump_available": system.tools_available()}


def _listing(root: Path) -> list[dict[str, Any]]:
    out = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            m = Manifest.read(d)
        except (FileNotFoundError, ValueError):
            continue
        out.append({"name": d.name, "level": m.level, "method": m.method, "created_at": m.created_at,
                    "companies": m.companies, "from": m.start, "to": m.end,
                    "rows": sum(int(t["rows"]) for t in m.tables.values())})
    return out


@router.get("", response_model=list[Backup], summary="Backups in the backup directory")
async def list_backups(principal: Admin, archive: Archive) -> list[dict[str, Any]]:
    return await asyncio.to_thread(_listing, archive.settings.backup.directory)


@router.post("/{name}/verify", response_model=BackupCheck,
             summary="Check a backup's files, and with check_database its rows, against its manifest")
async def verify_backup(name: str, request: Request, principal: Admin, archive: Archive,
                        check_database: bool = False) -> dict[str, Any]:
    directory = _dir(request, archive, name)
    try:
        return await service.verify(directory, archive.settings.database.url if check_database else None)
    except FileNotFoundError:
        raise NotFound(f"no backup {name!r}") from None
