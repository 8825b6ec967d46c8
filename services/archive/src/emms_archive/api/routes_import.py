"""Batch import and incremental sync from source systems (R-4.6.4).

``POST /api/v1/import/{kind}`` takes CSV (``Content-Type: text/csv``, header line first) or
JSON (a list of objects, or ``{"rows": [...]}``); ``kind`` is an entity path (``customers``,
``meters``…) or ``customer-meters`` (customer + metering point + meter + installation per
row). All or nothing: 200 with what changed, or 422 with a report naming every bad row;
``?dry_run=true`` checks and counts without keeping anything. ``POST /api/v1/sync/{kind}``
takes ``{"upserts": [...], "removals": [...]}`` the same way.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from emms_archive.api.deps import Archive, Conn, Importer
from emms_archive.api.responses import IMPORT_REFUSED, ImportResult
from emms_archive.masterdata.batch import Batch
from emms_archive.masterdata.import_batch import (
    KINDS,
    BadImport,
    ImportConflict,
    ImportRejected,
    Removal,
    apply_batch,
    build_batch,
    parse_body,
)
from emms_archive.masterdata.sync import parse_sync
from emms_archive.metrics import IMPORT_ROWS
from emms_archive.runtime import ArchiveRuntime
from emms_archive.scope import Scope
from emms_runtime import BadRequest, Conflict, NotFound, PayloadTooLarge, Principal

router = APIRouter(prefix="/api/v1", tags=["import"])

IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"unknown import kind {kind!r}; one of {list(KINDS)}")
    return kind


async def _run(archive: ArchiveRuntime, conn: Any, kind: str, batch: Batch, principal: Principal,
               dry_run: bool, removals: list[Removal]) -> JSONResponse:
    if batch.rows > archive.settings.import_max_rows:
        raise PayloadTooLarge(f"{batch.rows} rows; at most {archive.settings.import_max_rows} per import")
    try:
        result = await apply_batch(conn, kind, batch, actor=principal.subject, scope=Scope.of(principal),
                                   dry_run=dry_run, removals=removals)
    except ImportRejected as exc:
        IMPORT_ROWS.labels("rejected").inc(batch.rows)
        return JSONResponse(exc.result.as_dict(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except ImportConflict as exc:
        raise Conflict(str(exc)) from None
    IMPORT_ROWS.labels("dry_run" if dry_run else "applied").inc(batch.rows)
    if not dry_run:
        archive.outbox.poke()
    return JSONResponse(result.as_dict())


@router.post("/import/{kind}", response_model=ImportResult,
             summary="Import a CSV or JSON file of master data, all or nothing",
             openapi_extra=IMPORT_BODY,
             responses=IMPORT_REFUSED)
async def import_rows(kind: str, request: Request, principal: Importer, conn: Conn, archive: Archive,
                      dry_run: Annotated[bool, Query()] = False) -> JSONResponse:
    kind = _kind(kind)
    try:
        rows = parse_body(await request.body(), request.headers.get("content-type", ""))
        batch = build_batch(kind, rows)
    except BadImport as exc:
        raise BadRequest(str(exc)) from None
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    return await _run(archive, conn, kind, batch, principal, dry_run, [])


@router.post("/sync/{kind}", response_model=ImportResult,
             summary="Incremental sync: upserts by external id and removals, all or nothing",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "properties": {"upserts": {"type": "array", "items": {"type": "object"}},
                                                  "removals": {"type": "array", "items": {"type": "string"}}}}}}}},
             responses=IMPORT_REFUSED)
async def sync_rows(kind: str, request: Request, principal: Importer, conn: Conn, archive: Archive,
                    dry_run: Annotated[bool, Query()] = False) -> JSONResponse:
    kind = _kind(kind)
    try:
        body = json.loads(await request.body() or b"null")
        batch, removals = parse_sync(kind, body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the body is not JSON") from None
    except BadImport as exc:
        raise BadRequest(str(exc)) from None
    return await _run(archive, conn, kind, batch, principal, dry_run, removals)
