"""``/api/v1/tariffs``: tariffs per utility, their versions, and the price in force at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_control.api.deps import ControlDep, TariffChanger, TariffId, TariffReader
from emms_control.api.responses import PriceQuote, Tariff, TariffPage
from emms_control.categories import Utility
from emms_control.repository import tariffs as repo
from emms_control.tariffs import catalog
from emms_control.tariffs.definition import EARLIEST, LATEST, TariffBody, VersionBody
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/tariffs", tags=["tariffs"])


@router.get("", response_model=TariffPage, summary="Tariffs, by id; the latest version and the one in force")
async def list_tariffs(cr: ControlDep, principal: TariffReader, utility: Utility | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        total, rows = await repo.list_tariffs(conn, utility, limit, offset)
    return {"total": total, "limit": limit, "offset": offset,
            "items": [{"tariff_id": r["tariff_id"], "utility": r["utility"], "name": r["name"],
                       "utc_offset_minutes": r["utc_offset_minutes"], "versions": r["versions"] or 0,
                       "version_in_force": r["version_in_force"]} for r in rows]}


@router.post("", response_model=Tariff, status_code=201,
             summary="A new tariff with its first version (day table, seasons, tiers, prices per category)")
async def create_tariff(cr: ControlDep, principal: TariffChanger, body: TariffBody) -> dict[str, Any]:
    return await catalog.create(cr.pool, body, principal.subject)


@router.get("/{tariff_id}", response_model=Tariff, summary="A tariff and every version of it")
async def get_tariff(cr: ControlDep, principal: TariffReader, tariff_id: TariffId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        found = await catalog.describe(conn, tariff_id)
    if found is None:
        raise NotFound(f"no tariff {tariff_id!r}")
    return found


@router.post("/{tariff_id}/versions", response_model=Tariff, status_code=201,
             summary="A new version, taking effect in the future; past versions never change")
async def add_version(cr: ControlDep, principal: TariffChanger, tariff_id: TariffId,
                      body: VersionBody) -> dict[str, Any]:
    return await catalog.add_version(cr.pool, tariff_id, body, principal.subject)


@router.get("/{tariff_id}/price", response_model=PriceQuote,
            summary="The version, season, period and price that apply at a time to a customer category")
async def price_at(cr: ControlDep, principal: TariffReader, tariff_id: TariffId, at: datetime,
                   category: Annotated[str, Query(pattern=r"^[a-z][a-z_]{0,39}$")]) -> dict[str, Any]:
    if at.tzinfo is None:
        raise Invalid("at needs a UTC offset (2026-03-01T08:00:00+08:00)")
    if not EARLIEST <= at.year < LATEST:
        raise Invalid(f"at must lie in {EARLIEST} … {LATEST - 1}")
    return await catalog.quote(cr.pool, tariff_id, at, category)
