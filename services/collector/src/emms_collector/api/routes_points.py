"""``/api/v1/points``: the local measurement-point table (terminal, pn → meter) and the manifest import.

Scope: the list and its counts hold the caller's meters only; the manifest import writes every company's
points and is refused (403) to a restricted caller (see :mod:`emms_collector.api.scope`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from emms_collector.api.deps import CollectorDep, Operator, Viewer
from emms_collector.api.params import Offset, TerminalQuery
from emms_collector.api.responses import PointPage, PointsImported
from emms_collector.api.scope import require_unrestricted, scope_of
from emms_collector.inputs import PLAIN
from emms_collector.intake.manifest import import_manifest
from emms_collector.reading.items import Utility
from emms_collector.repository import points as point_sql
from emms_runtime import Forbidden, Invalid

router = APIRouter(prefix="/api/v1/points", tags=["points"])


@router.get("", response_model=PointPage, summary="Measurement points the collector reads, by terminal and pn")
async def list_points(c: CollectorDep, principal: Viewer,
                      terminal: TerminalQuery = None,
                      utility: Annotated[Utility | None, Query()] = None,
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                      offset: Offset = 0) -> dict[str, Any]:
    """Active points of the meters in the caller's scope, and their count per utility."""
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        total, items = await point_sql.list_points(conn, terminal=terminal, utility=utility.value if utility else None,
                                                   limit=limit, offset=offset, scope=scope)
        by_utility = await point_sql.count(conn, scope)
    return {"total": total, "by_utility": by_utility, "limit": limit, "offset": offset, "items": items}


class ManifestImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096, pattern=PLAIN)
    join_templates: bool = True


@router.post("/import-manifest", response_model=PointsImported,
             summary="Import a simulator manifest file (development and tests)")
async def import_fleet(c: CollectorDep, principal: Operator, body: ManifestImport) -> dict[str, Any]:
    """403 for a restricted caller: the manifest holds every company's meters."""
    require_unrestricted(scope_of(principal), "the manifest import")
    if c.settings.environment == "production":
        raise Forbidden("manifest import is for development and tests")
    try:
        written = await import_manifest(c.pool, body.path, join_templates=body.join_templates)
    except (OSError, ValueError, KeyError) as exc:
        raise Invalid(f"cannot import {body.path}: {exc}") from None
    return {"points": written}
