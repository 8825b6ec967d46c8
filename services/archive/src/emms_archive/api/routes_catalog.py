"""``/api/v1/categories``: the customer classification of Table 2 (R-4.2.4) and network element kinds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emms_archive.api.deps import CatalogReader
from emms_archive.api.responses import Category, NetworkKinds
from emms_archive.masterdata.categories import CATEGORIES, Utility
from emms_archive.masterdata.models import COMMON_NODE_KINDS, NODE_KINDS

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/categories", response_model=list[Category], summary="The 22 customer categories of Table 2, by utility")
async def list_categories(principal: CatalogReader) -> list[dict[str, Any]]:
    return [{"code": c.code, "utility": c.utility.value, "name": c.name, "name_zh": c.name_zh} for c in CATEGORIES]


@router.get("/network-kinds", response_model=NetworkKinds, summary="The network element kinds allowed for each utility")
async def list_network_kinds(principal: CatalogReader) -> dict[str, list[str]]:
    return {u.value: sorted(NODE_KINDS[u] | COMMON_NODE_KINDS) for u in Utility}
