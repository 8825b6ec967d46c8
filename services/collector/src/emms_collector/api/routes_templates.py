"""``/api/v1/templates`` and ``/api/v1/items``: task templates by meter type (R-4.6.5), readable items."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from emms_collector.api.deps import CatalogEditor, CatalogViewer, CollectorDep
from emms_collector.api.responses import ItemCatalog, TemplateList, TemplateOut
from emms_collector.reading.item_routing import ROUTES
from emms_collector.repository import templates as template_sql
from emms_collector.tasks.templates import Template
from emms_protocol.items import ITEMS
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1", tags=["templates"])
TemplatePath = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")]


@router.get("/templates", response_model=TemplateList, summary="Task templates by meter type")
async def templates(c: CollectorDep, principal: CatalogViewer) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        found = await template_sql.list_templates(conn)
    return {"items": [t.model_dump(mode="json") for t in found]}


@router.get("/templates/{template_id}", response_model=TemplateOut, summary="One template")
async def template(c: CollectorDep, principal: CatalogViewer, template_id: TemplatePath) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        found = await template_sql.get_template(conn, template_id)
    if found is None:
        raise NotFound(f"no template {template_id}")
    return found.model_dump(mode="json")


@router.put("/templates/{template_id}", response_model=TemplateOut,
            summary="Create or replace a template (its automatic task follows)")
async def store_template(c: CollectorDep, principal: CatalogEditor, template_id: TemplatePath,
                         body: Template) -> dict[str, Any]:
    if body.id != template_id:
        raise Invalid(f"body id {body.id} differs from the path's {template_id}")
    async with c.pool.acquire() as conn, conn.transaction():
        await template_sql.put_template(conn, body)
        await template_sql.update_auto_task(conn, body)
    return body.model_dump(mode="json")


@router.delete("/templates/{template_id}", response_class=Response, status_code=204,
               summary="Delete a template (its task stays)")
async def remove_template(c: CollectorDep, principal: CatalogEditor, template_id: TemplatePath) -> Response:
    async with c.pool.acquire() as conn:
        if not await template_sql.delete_template(conn, template_id):
            raise NotFound(f"no template {template_id}")
    return Response(status_code=204)


@router.get("/items", response_model=ItemCatalog,
            summary="Canonical items, and which task types can read each for which meter type")
async def items(principal: CatalogViewer) -> dict[str, Any]:
    readable: dict[str, list[dict[str, str]]] = {}
    for (task_type, family), routes in ROUTES.items():
        for route in routes:
            for code in route.items:
                readable.setdefault(code, []).append({"task_type": task_type.value, "meter_protocol": family,
                                                      "via": route.name})
    return {"items": [{"code": i.code, "unit": i.unit, "utility": i.utility, "kind": i.kind,
                       "description": i.description, "readable": readable.get(i.code, [])}
                      for i in ITEMS.values()]}
