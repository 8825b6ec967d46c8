"""``/api/v1/analytics/heat/…``: heat analyses (R-4.5.3.4) over the archive's heat master data and validated
readings (:mod:`emms_analytics.heat`).

``totals``: cumulative heat (kWh) and flow (m³) by customer, floor, unit, building, community, heat-exchange
station or in total, ``compare=true`` adds the same period a year before. ``heating``: heated and stopped
households and area, stop percentage and heat per m² of a season. ``distribution``: customer counts per
interval of heat, supply temperature or thermal power. Unknown region / company / customer: 404 naming it.
"""

from __future__ import annotations

import math
from datetime import datetime
from itertools import pairwise
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_analytics.api.deps import ListParam, Reader, Runtime, period_of, scope_of
from emms_analytics.api.responses import ERRORS, Problem
from emms_analytics.heat import figures, repository
from emms_analytics.heat.figures import Level, Measure
from emms_runtime import Invalid, NotFound
from emms_runtime.api_models import ApiModel

router = APIRouter(prefix="/api/v1/analytics/heat", tags=["heat"],
                   responses={**ERRORS, 422: {"model": Problem, "description": "Bad period, season or edges"}})
SEASON = r"^[0-9]{4}-[0-9]{4}$"
MAX_EDGES = 50


class HeatRows(ApiModel):
    """One row per group (``key`` = node / customer id, ``None`` = customers not placed at that level)."""

    by: str
    rows: list[dict[str, Any]]


class HeatDistribution(ApiModel):
    of: str
    customers: int
    intervals: list[dict[str, Any]]


async def _load(rt: Runtime, principal: Reader, start: datetime, end: datetime, companies: list[str] | None,
                regions: list[str] | None, customers: list[str] | None
                ) -> tuple[list[repository.HeatCustomer], dict[str, Any], dict[str, figures.CustomerFigures],
                           dict[str, repository.Node]]:
    period = period_of(rt, start, end)
    async with rt.pool.acquire() as conn:
        for table, ids in (("company", companies), ("region", regions), ("customer", customers)):
            unknown = await repository.missing(conn, table, ids) if ids else []
            if unknown:
                raise NotFound(f"unknown {table} {unknown[:5]}")
        found = await repository.customers(conn, scope_of(principal), companies=companies, regions=regions,
                                           customer_ids=customers)
        nodes = await repository.nodes(conn)
        rows = await repository.point_figures(conn, [c.customer_id for c in found], period.start, period.end)
    return found, figures.places(found, nodes), figures.per_customer(rows), nodes


@router.get("/totals", response_model=HeatRows,
            summary="Cumulative heat and flow by customer / floor / unit / building / community / station")
async def heat_totals(rt: Runtime, principal: Reader, start: Annotated[datetime, Query(alias="from")],
                      end: Annotated[datetime, Query(alias="to")], by: Level = "building",
                      companies: ListParam = None, regions: ListParam = None, customers: ListParam = None,
                      compare: bool = False) -> dict[str, Any]:
    found, where, per, nodes = await _load(rt, principal, start, end, companies, regions, customers)
    rows = figures.totals(by, found, where, per, nodes)
    if compare:
        try:
            before = (start.replace(year=start.year - 1), end.replace(year=end.year - 1))
        except ValueError:  # 29 February
            raise Invalid("the same period a year before does not exist (29 February); move the period") from None
        found_b, where_b, per_b, nodes_b = await _load(rt, principal, *before, companies, regions, customers)
        rows = figures.compared(rows, figures.totals(by, found_b, where_b, per_b, nodes_b))
    return {"by": by, "rows": rows}


@router.get("/heating", response_model=HeatRows,
            summary="Heated and stopped households and area, stop percentage and heat per m² of a season")
async def heat_heating(rt: Runtime, principal: Reader, season: Annotated[str, Query(pattern=SEASON)],
                       start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                       by: Level = "station", companies: ListParam = None, regions: ListParam = None,
                       customers: ListParam = None) -> dict[str, Any]:
    first, second = (int(y) for y in season.split("-"))
    if second != first + 1:
        raise Invalid(f"season {season!r} is two consecutive years, e.g. '2026-2027'")
    found, where, per, nodes = await _load(rt, principal, start, end, companies, regions, customers)
    async with rt.pool.acquire() as conn:
        stopped = await repository.stopped(conn, season, [c.customer_id for c in found])
    return {"by": by, "rows": figures.heating(by, found, where, stopped, per, nodes)}


@router.get("/distribution", response_model=HeatDistribution,
            summary="Customer counts by heat, supply-temperature or thermal-power interval over a period")
async def heat_distribution(rt: Runtime, principal: Reader, start: Annotated[datetime, Query(alias="from")],
                            end: Annotated[datetime, Query(alias="to")], edges: Annotated[list[float], Query(
                                description="ascending interval bounds (kWh, °C or kW)")],
                            of: Measure = "heat", companies: ListParam = None, regions: ListParam = None,
                            customers: ListParam = None) -> dict[str, Any]:
    if not 1 <= len(edges) <= MAX_EDGES or not all(math.isfinite(e) for e in edges) \
            or any(b <= a for a, b in pairwise(edges)):
        raise Invalid(f"edges: 1 to {MAX_EDGES} strictly ascending finite numbers")
    found, _, per, _ = await _load(rt, principal, start, end, companies, regions, customers)
    values = [v for c in found if (f := per.get(c.customer_id)) is not None
              and (v := figures.measure_of(of, f)) is not None]
    return {"of": of, "customers": len(values), "intervals": figures.distribution(values, edges)}
