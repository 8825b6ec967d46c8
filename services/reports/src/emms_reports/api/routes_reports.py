"""Data sets, dedicated reports, preview and export of a definition given in the body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from emms_reports.api.deps import FormatParam, Reader, Runtime, Token, checked_format, with_period
from emms_reports.api.export import export
from emms_reports.api.responses import FILES, DataSetOut, DedicatedOut, PreviewOut
from emms_reports.datasets import CATALOG
from emms_reports.dedicated import DEDICATED
from emms_reports.definition import ReportDefinition
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
From = Annotated[datetime | None, Query(alias="from", description="a fixed period instead of the report's own")]
To = Annotated[datetime | None, Query(alias="to")]


@router.get("/datasets", response_model=list[DataSetOut], summary="Data sets a report can be built on")
async def datasets(_: Reader) -> list[dict[str, Any]]:
    return [{"name": d.name, "title": d.title, "service": d.service, "path": d.path,
             "fields": [asdict(f) for f in d.fields], "filters": list(d.filters),
             "dimensions": list(d.dimensions), "intervals": list(d.intervals)} for d in CATALOG.values()]


@router.get("/dedicated", response_model=list[DedicatedOut], summary="The reports shipped with the system")
async def dedicated(_: Reader) -> list[dict[str, Any]]:
    return [{"name": n, "definition": d.model_dump(mode="json", by_alias=True)} for n, d in DEDICATED.items()]


@router.get("/dedicated/{name}/export", response_class=StreamingResponse, responses=FILES,
            summary="A dedicated report as XLSX, PDF or CSV (its own period, or from / to)")
async def export_dedicated(rt: Runtime, principal: Reader, token: Token, request: Request, name: str,
                           fmt: FormatParam = "xlsx", start: From = None, end: To = None) -> StreamingResponse:
    """Any other query parameter named after a filter of the report's data set narrows it (e.g.
    ``companies=C1,C2``: one company's report); an unknown one is refused with the filters there are."""
    definition = DEDICATED.get(name)
    if definition is None:
        raise NotFound(f"no dedicated report {name!r}; they are {', '.join(DEDICATED)}")
    return await export(rt, with_filters(with_period(definition, start, end), request.query_params),
                        checked_format(fmt), principal, token)


def with_filters(definition: ReportDefinition, params: Mapping[str, str]) -> ReportDefinition:
    names = CATALOG[definition.dataset].filters
    given = {k: v for k, v in params.items() if k not in ("format", "from", "to")}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise Invalid(f"unknown parameter {unknown[0]!r}: the {definition.dataset} report filters by "
                      f"{', '.join(names)}")
    if not given:
        return definition
    filters = {**definition.filters, **{k: [x for x in v.split(",") if x] for k, v in given.items()}}
    return definition.model_copy(update={"filters": filters})


@router.post("/preview", response_model=PreviewOut, summary="The first rows of a definition, for the designer")
async def preview(rt: Runtime, principal: Reader, token: Token, definition: ReportDefinition) -> dict[str, Any]:
    prepared = await rt.runner.prepare(definition, principal.roles, token)
    rows: list[list[Any]] = []
    more = False
    try:
        async for row in prepared.table.rows():
            if len(rows) >= rt.settings.preview_rows:
                more = True
                break
            rows.append(row)
    finally:
        await prepared.source.close()
    return {"title": definition.title, "period": prepared.table.period_text(),
            "columns": [asdict(c) for c in prepared.table.columns], "rows": rows, "more": more}


@router.post("/export", response_class=StreamingResponse, responses=FILES,
             summary="A definition given in the body (not stored) as XLSX, PDF or CSV")
async def export_body(rt: Runtime, principal: Reader, token: Token, definition: ReportDefinition,
                      fmt: FormatParam = "xlsx") -> StreamingResponse:
    return await export(rt, definition, checked_format(fmt), principal, token)
