"""``/api/v1/billing``: billing cycles with cut-off dates, the validated-readings extract, re-read requests;
``/api/v1/energy/usage``: aggregates for energy-management analysis (the analytics service's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from emms_interface import billing
from emms_interface.api.deps import AggregatesReader, Collector, Importer, ReadingsReader, Runtime, bearer_of
from emms_interface.api.responses import BillingCycle, BillingPage, Reread
from emms_interface.customers.scope import refuse_customers
from emms_interface.repository import billing as repo
from emms_interface.upstream import UpstreamDown, UpstreamRefused, as_domain_error
from emms_runtime import Forbidden, Invalid, NotFound, Principal
from emms_runtime.instants import AnyInstant, Instant

router = APIRouter(prefix="/api/v1", tags=["billing"])
ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
IdList = Annotated[list[Annotated[str, Query(pattern=ID)]] | None, Query()]


class CycleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_id: str = Field(pattern=ID)
    utility: str = Field(pattern="^(electricity|water|gas|heat)$")
    period_start: Instant
    cutoff: Instant = Field(description="the cut-off: readings up to (not including) this instant")


class RereadBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meters: list[str] = Field(min_length=1, max_length=10_000)
    items: list[str] = Field(min_length=1, max_length=64)
    start: Instant
    end: Instant
    reason: str = Field(default="billing re-read", max_length=200)


async def _cycle(rt: Any, principal: Principal, cycle_id: str) -> dict[str, Any]:
    refuse_customers(principal, "a billing extract")
    async with rt.pool.acquire() as conn:
        cycle = await repo.cycle(conn, cycle_id)
    if cycle is None:
        raise NotFound(f"no billing cycle {cycle_id}")
    if not principal.may_see_company(cycle["company_id"]):
        raise Forbidden(f"billing cycle {cycle_id} is company {cycle['company_id']}'s, outside your data scope")
    return cycle


@router.put("/billing/cycles/{cycle_id}", response_model=BillingCycle, summary="Define (or move) a billing cycle")
async def put_cycle(rt: Runtime, principal: Importer, cycle_id: Annotated[str, Path(pattern=ID)],
                    body: Annotated[CycleBody, Body(openapi_examples={"december": {"value": {
                        "company_id": "GRID", "utility": "electricity", "period_start": "2026-11-01T00:00:00+08:00",
                        "cutoff": "2026-12-01T00:00:00+08:00"}}})]) -> dict[str, Any]:
    if not principal.may_see_company(body.company_id):
        raise Forbidden(f"company {body.company_id} is outside your data scope")
    if body.cutoff <= body.period_start:
        raise Invalid("cutoff must be after period_start")
    if (body.cutoff - body.period_start).days > rt.settings.max_billing_days:
        raise Invalid(f"a billing cycle covers at most {rt.settings.max_billing_days} days")
    async with rt.pool.acquire() as conn:
        return await repo.put_cycle(conn, cycle_id, body.company_id, body.utility, body.period_start, body.cutoff,
                                    principal.subject)


@router.get("/billing/cycles", response_model=list[BillingCycle], summary="Billing cycles in your scope")
async def list_cycles(rt: Runtime, principal: ReadingsReader,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    refuse_customers(principal, "the billing cycles")
    async with rt.pool.acquire() as conn:
        return await repo.cycles(conn, list(principal.companies), limit)


@router.get("/billing/cycles/{cycle_id}/readings", response_model=BillingPage,
            summary="Validated readings of the cycle with provenance and estimation flags, one page")
async def cycle_readings(rt: Runtime, principal: ReadingsReader, cycle_id: str, customers: IdList = None,
                         items: IdList = None, cursor: Annotated[str | None, Query(max_length=2000)] = None,
                         limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
    cycle = await _cycle(rt, principal, cycle_id)
    try:
        answer = await billing.page(rt.upstream, cycle, customers, items, min(limit, principal.max_rows), cursor)
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    return {"cycle": cycle, **answer}


@router.get("/billing/cycles/{cycle_id}/readings.ndjson", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}},
            summary="The whole extract, streamed, one reading a line")
async def cycle_extract(rt: Runtime, principal: ReadingsReader, cycle_id: str, customers: IdList = None,
                        items: IdList = None) -> StreamingResponse:
    cycle = await _cycle(rt, principal, cycle_id)
    return StreamingResponse(billing.ndjson(rt.upstream, cycle, customers, items), media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="billing-{cycle_id}.ndjson"'})


@router.post("/billing/reread", response_model=Reread, status_code=202,
             summary="Ask for a re-read: the collector back-fills the meters' daily freezes in the period")
async def reread(rt: Runtime, principal: Collector, request: Request, body: RereadBody) -> dict[str, Any]:
    payload = {"meters": body.meters, "items": body.items, "start": body.start.isoformat(),
               "end": body.end.isoformat(), "reason": body.reason}
    try:
        answer = await rt.upstream.call("collector", "POST", "/api/v1/gaps/backfill", json=payload,
                                        bearer=bearer_of(request))
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    return {"requested": payload, "collector": answer}


@router.get("/energy/usage", response_model=dict[str, Any],
            summary="Aggregates for energy-management analysis: the analytics service's usage, in your scope")
async def energy_usage(rt: Runtime, principal: AggregatesReader, request: Request,
                       from_: Annotated[AnyInstant, Query(alias="from")],
                       to: Annotated[AnyInstant, Query()]) -> dict[str, Any]:
    refuse_customers(principal, "energy-management aggregates")
    params = list(request.query_params.multi_items())
    try:
        answer = await rt.upstream.call("analytics", "GET", "/api/v1/analytics/usage", params=params,
                                        bearer=bearer_of(request))
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    return dict(answer)
