"""``/api/v1/notices``: information published to customers (outage notices, tariff changes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from emms_interface.api.deps import AnyCaller, Editor, Runtime
from emms_interface.api.responses import Notice
from emms_interface.customers.scope import customer_of
from emms_interface.repository import notices as repo
from emms_runtime import Forbidden, Invalid
from emms_runtime.instants import Instant

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])


class NoticeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(outage|tariff|general)$")
    utility: str | None = Field(default=None, pattern="^(electricity|water|gas|heat)$")
    companies: list[str] = Field(default_factory=list, max_length=100)
    regions: list[str] = Field(default_factory=list, max_length=1000)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    valid_from: Instant
    valid_to: Instant | None = None


@router.post("", response_model=Notice, status_code=201, summary="Publish a notice to customers")
async def publish(rt: Runtime, principal: Editor, body: Annotated[NoticeBody, Body(openapi_examples={"outage": {
        "value": {"kind": "outage", "utility": "electricity", "regions": ["R-NORTH"], "title": "Planned outage",
                  "body": "Supply interrupted 09:00–12:00 for line maintenance.",
                  "valid_from": "2026-12-08T00:00:00+08:00", "valid_to": "2026-12-09T00:00:00+08:00"}}})],
                  ) -> dict[str, Any]:
    if body.valid_to is not None and body.valid_to <= body.valid_from:
        raise Invalid("valid_to must be after valid_from")
    companies = body.companies or list(principal.companies)
    if principal.companies and not set(companies) <= set(principal.companies):
        raise Forbidden("a notice may name only companies of your data scope")
    async with rt.pool.acquire() as conn:
        return await repo.add(conn, kind=body.kind, utility=body.utility, companies=companies, regions=body.regions,
                              title=body.title, body=body.body, valid_from=body.valid_from, valid_to=body.valid_to,
                              actor=principal.subject)


@router.get("", response_model=list[Notice], summary="Notices in force: a customer's reach their own customers")
async def current(rt: Runtime, principal: AnyCaller) -> list[dict[str, Any]]:
    companies: list[str] | None = list(principal.companies) or None
    regions: list[str] | None = None
    utilities: list[str] | None = None
    if principal.customers:
        mine = [await customer_of(rt.upstream, principal, c) for c in principal.customers]
        companies = sorted({c["company_id"] for c in mine})
        regions = sorted({c["region_id"] for c in mine if c.get("region_id")})
        utilities = sorted({c["utility"] for c in mine})
    async with rt.pool.acquire() as conn:
        return await repo.current(conn, at=datetime.now(UTC), companies=companies, regions=regions,
                                  utilities=utilities, limit=200)
