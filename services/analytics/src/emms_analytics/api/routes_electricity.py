"""``/api/v1/analytics/electricity``: energy with its TOU split, trend, sudden changes and peak hours;
load analyses over the curve items (R-4.5.3.1).

Energy: the total import register and its tariff registers t1…t4 (where the meter has them) by
bucket and dimension, and (``tou_by_tariff``) the sub-daily usage split by the tariff in force of each point's
terminal (:mod:`emms_analytics.tariffs.split`). Load: from the validated curve values of one metering point
(active power ``power.active.total``, phase currents ``current.a|b|c``): maximum and minimum with their time,
average, load rate (average / maximum), the curve and its trend, and three-phase current unbalance
((max − min) / max of the phase currents at one instant), worst and average.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from emms_analytics import analyses
from emms_analytics.api.deps import NAME, Reader, Runtime, Selected, period_of, scope_of, zone
from emms_analytics.api.responses import ERRORS, EnergyAnswer, LoadAnswer
from emms_analytics.calendar import Interval
from emms_analytics.queries import by_tariff_rows, usage_rows
from emms_analytics.repository import curves
from emms_analytics.runtime import SCHEMA
from emms_analytics.selection import GroupBy, Selection
from emms_runtime import Forbidden, NotFound

router = APIRouter(prefix="/api/v1/analytics/electricity", tags=["electricity"], responses=ERRORS)
TOTAL = "energy.active.import.total"
TOU = [f"energy.active.import.t{t}" for t in range(1, 5)]


@router.get("/energy", response_model=EnergyAnswer,
            summary="Electricity energy by bucket: TOU (peak / valley) split, trend, sudden changes, peak hours")
async def get_energy(rt: Runtime, principal: Reader, sel: Selected,
                     start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                     interval: Interval = "day", group_by: GroupBy = "total",
                     sudden_threshold: Annotated[float, Query(gt=0, le=100)] = 0.5,
                     by_tariff: bool = False) -> dict[str, Any]:
    period = period_of(rt, start, end)
    sel = Selection(**{**{f: getattr(sel, f) for f in sel.__dataclass_fields__ if f != "utilities"},
                       "utilities": ["electricity"]})
    scope = scope_of(principal)
    rows = await usage_rows(rt, scope, sel, period.start, period.end, interval, group_by, [TOTAL, *TOU])
    totals = [r for r in rows if r["item"] == TOTAL]
    points = analyses.per_bucket(totals)
    peaks = None
    if (period.end - period.start).days <= 92:
        hourly = await usage_rows(rt, scope, sel, period.start, period.end, "hour", "total", [TOTAL])
        peaks = analyses.peak_hours(hourly, zone(rt))
    by_terminal = (await by_tariff_rows(rt, scope, sel, period.start, period.end, interval, group_by, TOTAL)
                   if by_tariff else None)
    return {"interval": interval, "rows": totals, "tou": analyses.tou_split(rows, TOTAL), "tou_by_tariff": by_terminal,
            "trend": analyses.trend([v for _, v in points]),
            "sudden_changes": analyses.sudden_changes(points, sudden_threshold), "peak_hours": peaks,
            "series": analyses.series(totals)}


@router.get("/load/{metering_point_id}", response_model=LoadAnswer,
            summary="Load of one metering point: max / min with time, load rate, curve, trend, three-phase unbalance")
async def get_load(rt: Runtime, principal: Reader, metering_point_id: Annotated[str, Path(pattern=NAME)],
                   start: Annotated[datetime, Query(alias="from")],
                   end: Annotated[datetime, Query(alias="to")]) -> dict[str, Any]:
    period = period_of(rt, start, end)
    scope = scope_of(principal)
    async with rt.pool.acquire() as conn:
        if not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.metering_point"
                                   f" WHERE metering_point_id = $1)", metering_point_id):
            raise NotFound(f"unknown metering point: {metering_point_id}")
        if not await scope.allows(conn, metering_point_id, view="point_owner", key="metering_point_id"):
            raise Forbidden(f"metering point {metering_point_id} is outside your data scope ({scope.describe()})")
        power = await curves.values(conn, SCHEMA, metering_point_id, "power.active.total", period.start, period.end)
        phases = await curves.phase_currents(conn, SCHEMA, metering_point_id, period.start, period.end)
    tz = zone(rt)
    return {"metering_point_id": metering_point_id, **curves.load_figures(power, tz),
            "unbalance": curves.unbalance(phases, tz)}
