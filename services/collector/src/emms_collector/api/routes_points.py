"""``/api/v1/points``: the local measurement-point table (terminal, pn → meter) and the manifest import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from emms_collector.api.deps import CollectorDep, Operator, Viewer
from emms_collector.api.responses import PointPage, PointsImported
from emms_collector.intake.manifest import import_manifest
from emms_collector.repository import points as point_sql
from emms_runtime import Forbidden, Invalid

router = APIRouter(prefix="/api/v1/points", tags=["points"])


@router.get("", response_model=PointPage, summary="Measurement points the collector reads, by terminal and pn")
async def list_points(c: CollectorDep, principal: Viewer,
                      terminal: Annotated[str | None, Query(pattern=r"^[0-9A-Fa-f]{4}-\d{5}$")] = None,
                      utility: Annotated[str | None, Query(max_length=20)] = None,
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        total, items = await point_sql.list_points(conn, terminal=terminal, utility=utility, limit=limit,
                                                   offset=offset)
        by_utility = await point_sql.count(conn)
    return {"total": total, "by_utility": by_utility, "limit": limit, "offset": offset, "items": items}


class ManifestImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    join_templates: bool = True


@router.post("/import-manifest", response_model=PointsImported,
             summary="Import a simulator manifest file (development and tests)")
async def import_fleet(c: CollectorDep, principal: Operator, body: ManifestImport) -> dict[str, Any]:
    if c.settings.environment == "production":
        raise Forbidden("manifest import is for development and tests")
    try:
        written = await import_manifest(c.pool, body.path, join_templates=body.join_templates)
    except (OSError, ValueError, KeyError) as exc:
        raise Invalid(f"cannot import {body.path}: {exc}") from None
    return {"points": written}
