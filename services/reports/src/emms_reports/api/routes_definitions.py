"""Report definitions designed online: created, edited (every edit a new version), listed, exported."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from emms_reports.api.deps import FormatParam, Reader, Runtime, Token, checked_format, with_period
from emms_reports.api.export import export
from emms_reports.api.responses import FILES, DefinitionOut, VersionOut
from emms_reports.definition import ReportDefinition, check
from emms_reports.repository import definitions as repo
from emms_runtime import Conflict, NotFound, Principal

router = APIRouter(prefix="/api/v1/reports/definitions", tags=["definitions"])
From = Annotated[datetime | None, Query(alias="from")]
To = Annotated[datetime | None, Query(alias="to")]


def _checked(rt: Any, definition: ReportDefinition, principal: Principal) -> dict[str, Any]:
    check(definition, principal.roles, rt.settings.period_limits.days_for(principal.roles), rt.runner.tz)
    return definition.model_dump(mode="json", by_alias=True)


@router.post("", response_model=DefinitionOut, status_code=201, summary="Store a new report definition")
async def create(rt: Runtime, principal: Reader, definition: ReportDefinition) -> dict[str, Any]:
    body = _checked(rt, definition, principal)
    definition_id = uuid.uuid4().hex[:12]
    async with rt.pool.acquire() as conn, conn.transaction():
        await repo.create(conn, definition_id, definition.title, body, principal.subject)
        found = await repo.get(conn, definition_id)
    assert found is not None
    return found


@router.get("", response_model=list[DefinitionOut], summary="Stored report definitions (latest versions)")
async def listing(rt: Runtime, _: Reader) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return await repo.listing(conn)


@router.get("/{definition_id}", response_model=DefinitionOut, summary="A definition (latest, or ?version=)")
async def get(rt: Runtime, _: Reader, definition_id: str,
              version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        found = await repo.get(conn, definition_id, version)
    if found is None:
        raise NotFound(f"no report definition {definition_id!r}" + (f" version {version}" if version else ""))
    return found


@router.put("/{definition_id}", response_model=DefinitionOut,
            summary="Edit a definition: a new version (If-Match: the version edited, else 409 when stale)")
async def edit(rt: Runtime, principal: Reader, definition_id: str, definition: ReportDefinition,
               base_version: Annotated[int | None, Query(ge=1, le=2_147_483_647,
                                                         description="the version edited")] = None,
               ) -> dict[str, Any]:
    body = _checked(rt, definition, principal)
    async with rt.pool.acquire() as conn, conn.transaction():
        latest = await repo.lock_latest(conn, definition_id)
        if latest is None:
            raise NotFound(f"no report definition {definition_id!r}")
        if base_version is not None and base_version != latest:
            raise Conflict(f"definition {definition_id} is at version {latest}, not {base_version}: reload it")
        await repo.add_version(conn, definition_id, latest + 1, definition.title, body, principal.subject)
        found = await repo.get(conn, definition_id)
    assert found is not None
    return found


@router.get("/{definition_id}/versions", response_model=list[VersionOut], summary="Every version of a definition")
async def versions(rt: Runtime, _: Reader, definition_id: str) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        found = await repo.versions(conn, definition_id)
    if not found:
        raise NotFound(f"no report definition {definition_id!r}")
    return found


@router.delete("/{definition_id}", status_code=204, response_class=Response, summary="Remove a definition")
async def remove(rt: Runtime, _: Reader, definition_id: str) -> Response:
    async with rt.pool.acquire() as conn:
        if not await repo.delete(conn, definition_id):
            raise NotFound(f"no report definition {definition_id!r}")
    return Response(status_code=204)


@router.get("/{definition_id}/export", response_class=StreamingResponse, responses=FILES,
            summary="A stored definition as XLSX, PDF or CSV (latest version or ?version=; its period or from / to)")
async def export_stored(rt: Runtime, principal: Reader, token: Token, definition_id: str, fmt: FormatParam = "xlsx",
                        version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None, start: From = None,
                        end: To = None) -> StreamingResponse:
    definition = await rt.definition_of(definition_id, version)
    return await export(rt, with_period(definition, start, end), checked_format(fmt), principal, token)
