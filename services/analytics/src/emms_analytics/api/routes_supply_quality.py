"""``/api/v1/analytics/supply-quality/…``: supply quality of the four utilities (R-4.5.5.1–4,
:mod:`emms_analytics.supply_quality`), and the limits it judges by (``/limits``, editable by operators).

Unknown region / company / node / customer / point / level: 404 naming it; an inverted or too long period or
a query over the scan budget: 422 with the limit; a point lacking data is ``incomplete`` with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from emms_analytics.api.deps import NAME, ListParam, Marker, Reader, Runtime, check_estimate, period_of, scope_of, zone
from emms_analytics.api.responses import ERRORS, Problem
from emms_analytics.repository import supply_quality as repo
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.selection import Selection, unknown_names
from emms_analytics.supply_quality import harmonics, heat, metrics, power_factor, pressure, voltage
from emms_analytics.supply_quality.models import (
    HarmonicsAnswer,
    HeatBalanceAnswer,
    HeatDeviationAnswer,
    LevelPointsBody,
    LimitsAnswer,
    PowerFactorAnswer,
    PowerFactorBody,
    PressureAnswer,
    PressureBody,
    VoltageAnswer,
    VoltageLevelBody,
)
from emms_analytics.supply_quality.series import by_point_item, expected_values
from emms_db.connection import Connection
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/analytics/supply-quality", tags=["supply-quality"],
                   responses={**ERRORS, 422: {"model": Problem, "description": "Bad period, limits or budget"}})
DEFAULT_LEVEL = "0.22kV"
From = Annotated[datetime, Query(alias="from")]
To = Annotated[datetime, Query(alias="to")]
IntervalMin = Annotated[int, Query(ge=1, le=1440, description="minutes between two curve values")]
LevelPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$")]
NamePath = Annotated[str, Path(pattern=NAME)]


async def _check_names(conn: Connection, sel: Selection) -> None:
    missing = await unknown_names(conn, SCHEMA, sel)
    if missing:
        raise NotFound(missing)


def _budget(rt: AnalyticsRuntime, points: int, items: int, values_per_item: int) -> None:
    check_estimate(rt, points * items * max(values_per_item, 1), f" ({points} metering points × {items} items)")


# --- electricity ----------------------------------------------------------------------------------

@router.get("/voltage", response_model=VoltageAnswer,
            summary="Voltage qualification rate per voltage level (curves and terminal statistics), unbalance")
async def get_voltage(rt: Runtime, principal: Reader, start: From, end: To, regions: ListParam = None,
                      companies: ListParam = None, nodes: ListParam = None, levels: ListParam = None,
                      interval_min: IntervalMin = 15) -> dict[str, Any]:
    period, tz = period_of(rt, start, end), zone(rt)
    expected = expected_values(period.start, period.end, interval_min)
    days = voltage.local_days(period.start, period.end, tz)
    with metrics.run("voltage"):
        async with rt.pool.acquire() as conn:
            await _check_names(conn, Selection(regions=regions, companies=companies, nodes=nodes))
            known_levels = await repo.voltage_levels(conn, SCHEMA)
            unknown = [lv for lv in levels or [] if lv not in known_levels]
            if unknown:
                raise NotFound(f"unknown voltage level: {', '.join(unknown)}")
            found = await repo.points(conn, SCHEMA, scope_of(principal), utility="electricity", regions=regions,
                                      companies=companies, nodes=nodes)
            found = [p for p in found if levels is None or (p.level or DEFAULT_LEVEL) in levels]
            _budget(rt, len(found), len(voltage.VOLTAGE_ITEMS + voltage.CURRENT_ITEMS), expected)
            ids = [p.metering_point_id for p in found]
            counts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
            for r in await repo.voltage_counts(conn, SCHEMA, ids, period.start, period.end, DEFAULT_LEVEL):
                counts[r["metering_point_id"]][r["phase"]] = r
            unbalanced = {q: {r["metering_point_id"]: r for r in await repo.unbalance(
                conn, SCHEMA, ids, period.start, period.end, q, limit)}
                for q, limit in (("voltage", voltage.VOLTAGE_UNBALANCE_LIMIT),
                                 ("current", voltage.CURRENT_UNBALANCE_LIMIT))}
            # a day's statistics are stamped at the midnight that ends it
            curves = by_point_item(await repo.curves(conn, SCHEMA, ids, voltage.STAT_ITEMS,
                                                     period.start + timedelta(days=1), period.end + timedelta(days=1)))
        per_level: dict[str, list[dict[str, Any]]] = defaultdict(list)
        out_points: list[dict[str, Any]] = []
        for p in found:
            name = p.level or DEFAULT_LEVEL
            lv = known_levels[name]
            pid = p.metering_point_id
            row: dict[str, Any] = {
                   "metering_point_id": pid, "customer_id": p.customer_id, "level": name,
                   "curves": voltage.point_from_counts(counts.get(pid, {}), expected),
                   "statistics": voltage.point_from_statistics(curves.get(pid, {}), days, tz),
                   "voltage_unbalance": voltage.unbalance_of(unbalanced["voltage"].get(pid), tz,
                                                             voltage.VOLTAGE_UNBALANCE_LIMIT),
                   "current_unbalance": voltage.unbalance_of(unbalanced["current"].get(pid), tz,
                                                             voltage.CURRENT_UNBALANCE_LIMIT)}
            per_level[name].append(row)
            out_points.append(row)
        summary = []
        for name, pts in sorted(per_level.items()):
            lv = known_levels[name]
            summary.append(voltage.level_summary(voltage.Level(name, lv["nominal_v"], lv["upper_pct"],
                                                               lv["lower_pct"]), pts))
        metrics.incomplete("voltage", sum(1 for r in out_points if r["curves"]["status"] != "complete"))
    return {"levels": summary, "points": out_points}


async def _pf_table(conn: Connection) -> dict[tuple[str, str], tuple[float, float]]:
    return {(r["scope_kind"], r["scope_id"]): (r["pf_min"], r["pf_max"]) for r in await repo.pf_limits(conn, SCHEMA)}


@router.get("/power-factor", response_model=PowerFactorAnswer,
            summary="Power factor per customer against its limits: max, min, range, the customers outside")
async def get_power_factor(rt: Runtime, principal: Reader, start: From, end: To, regions: ListParam = None,
                           companies: ListParam = None, customers: ListParam = None, categories: ListParam = None,
                           interval_min: IntervalMin = 15) -> dict[str, Any]:
    period, tz = period_of(rt, start, end), zone(rt)
    expected = expected_values(period.start, period.end, interval_min)
    with metrics.run("power_factor"):
        async with rt.pool.acquire() as conn:
            await _check_names(conn, Selection(regions=regions, companies=companies, customers=customers,
                                               categories=categories))
            found = await repo.points(conn, SCHEMA, scope_of(principal), utility="electricity", regions=regions,
                                      companies=companies, customers=customers)
            found = [p for p in found if p.customer_id is not None and (categories is None
                                                                         or p.category in categories)]
            _budget(rt, len(found), 1, expected)
            table = await _pf_table(conn)
            low, high = power_factor.DEFAULT_LIMITS
            per_point = {r["metering_point_id"]: r for r in await repo.power_factor_points(
                conn, SCHEMA, [p.metering_point_id for p in found], period.start, period.end, low, high)}
        per_customer: dict[str, dict[str, Any]] = {}
        for p in found:
            assert p.customer_id is not None
            entry = per_customer.setdefault(p.customer_id, {"category": p.category, "points": {}})
            entry["points"][p.metering_point_id] = per_point.get(p.metering_point_id)
        out = [power_factor.customer_from_points(cid, e["category"], e["points"], expected, table, tz)
               for cid, e in sorted(per_customer.items())]
        metrics.incomplete("power_factor", sum(1 for r in out if r["status"] != "complete"))
    return {"customers": len(out), "judged": sum(1 for r in out if r["status"] == "complete"),
            "outside": [r["customer_id"] for r in out if r["outside"]], "rows": out}


@router.get("/harmonics", response_model=HarmonicsAnswer,
            summary="Harmonics 2nd–19th and THD per point, phase and day: maxima with time, violations")
async def get_harmonics(rt: Runtime, principal: Reader, start: From, end: To, regions: ListParam = None,
                        companies: ListParam = None, customers: ListParam = None,
                        metering_points: ListParam = None) -> dict[str, Any]:
    period, tz = period_of(rt, start, end), zone(rt)
    with metrics.run("harmonics"):
        async with rt.pool.acquire() as conn:
            await _check_names(conn, Selection(regions=regions, companies=companies, customers=customers,
                                               metering_points=metering_points))
            found = await repo.points(conn, SCHEMA, scope_of(principal), utility="electricity", regions=regions,
                                      companies=companies, customers=customers)
            ids = [p.metering_point_id for p in found
                   if metering_points is None or p.metering_point_id in metering_points]
            _budget(rt, len(ids), len(harmonics.ITEMS), expected_values(period.start, period.end, 15))
            rows = await repo.curves(conn, SCHEMA, ids, harmonics.ITEMS, period.start, period.end)
        out = []
        for point, curves in sorted(by_point_item(rows).items()):
            out += harmonics.point_days(point, curves, tz)
    return {"limits": {"thd": harmonics.THD_LIMIT, "odd": harmonics.ODD_LIMIT, "even": harmonics.EVEN_LIMIT},
            "points": len({r["metering_point_id"] for r in out}), "violations": sum(len(r["violations"]) for r in out),
            "rows": out}


# --- water and gas --------------------------------------------------------------------------------

@router.get("/pressure", response_model=PressureAnswer,
            summary="Water / gas pressure: abnormal customers and their share (values and alarm frequency)")
async def get_pressure(rt: Runtime, principal: Reader, utility: Literal["water", "gas"], start: From, end: To,
                       regions: ListParam = None, companies: ListParam = None, nodes: ListParam = None,
                       interval_min: IntervalMin = 60,
                       min_share: Annotated[float, Query(gt=0, le=1)] = 0.05,
                       alarms_per_day: Annotated[float, Query(gt=0, le=1440)] = 1.0) -> dict[str, Any]:
    period, tz = period_of(rt, start, end), zone(rt)
    expected = expected_values(period.start, period.end, interval_min)
    days = (period.end - period.start) / timedelta(days=1)
    with metrics.run(f"pressure_{utility}"):
        async with rt.pool.acquire() as conn:
            await _check_names(conn, Selection(regions=regions, companies=companies, nodes=nodes))
            found = [p for p in await repo.points(conn, SCHEMA, scope_of(principal), utility=utility,
                                                  regions=regions, companies=companies, nodes=nodes)
                     if p.customer_id is not None]
            _budget(rt, len(found), 1, expected)
            lim = (await repo.pressure_limits(conn, SCHEMA))[utility]
            ids = [p.metering_point_id for p in found]
            rows = await repo.curves(conn, SCHEMA, ids, [pressure.ITEM], period.start, period.end)
            findings = await repo.pressure_findings(conn, SCHEMA, ids, period.start, period.end)
        curves = by_point_item(rows)
        per_customer: dict[str, dict[str, Any]] = defaultdict(dict)
        for p in found:
            assert p.customer_id is not None
            per_customer[p.customer_id][p.metering_point_id] = curves.get(p.metering_point_id, {}).get(
                pressure.ITEM, [])
        limits = (lim["min_mpa"], lim["max_mpa"])
        out = [pressure.customer_figures(cid, series, findings, expected, days, limits, utility, min_share,
                                         alarms_per_day, tz) for cid, series in sorted(per_customer.items())]
        metrics.incomplete(f"pressure_{utility}", sum(1 for r in out if r["status"] != "complete"))
    return {"utility": utility, "summary": {**pressure.summary(out, limits, period.start, period.end, tz),
                                            "min_share": min_share, "alarms_per_day": alarms_per_day},
            "rows": out}


# --- heat -----------------------------------------------------------------------------------------

async def _heat_roots(conn: Connection, nodes: list[str] | None) -> list[str]:
    if nodes:
        await _check_names(conn, Selection(nodes=nodes))
        return nodes
    return await repo.heat_stations(conn, SCHEMA)


@router.get("/heat/balance", response_model=HeatBalanceAnswer,
            summary="Hydraulic balance from all heat meters' flow at one instant; supply / return difference")
async def get_heat_balance(rt: Runtime, principal: Reader, at: Annotated[datetime, Query()], nodes: ListParam = None,
                           window_min: Annotated[int, Query(ge=1, le=1440)] = 60,
                           tolerance: Annotated[float, Query(gt=0, le=10)] = 0.15) -> dict[str, Any]:
    period, tz = period_of(rt, at - timedelta(minutes=window_min), at + timedelta(microseconds=1)), zone(rt)
    instant = period.end - timedelta(microseconds=1)
    out = []
    with metrics.run("heat_balance"):
        async with rt.pool.acquire() as conn:
            for root in await _heat_roots(conn, nodes):
                found = await repo.points(conn, SCHEMA, scope_of(principal), utility="heat", nodes=[root])
                ids = [p.metering_point_id for p in found]
                rows = await repo.at_instant(conn, SCHEMA, ids, heat.BALANCE_ITEMS, instant, period.start)
                values: dict[str, dict[str, tuple[datetime, float]]] = defaultdict(dict)
                for point, item, t, v in rows:
                    values[point][item] = (t, v)
                out.append(heat.balance(root, ids, values, instant, tolerance, tz))
        metrics.incomplete("heat_balance", sum(1 for r in out if r["status"] != "complete"))
    return {"nodes": out}


@router.get("/heat/deviation", response_model=HeatDeviationAnswer,
            summary="Flow deviation (constant-flow systems) or pressure deviation (constant-pressure systems)")
async def get_heat_deviation(rt: Runtime, principal: Reader, start: From, end: To,
                             system: Literal["constant_flow", "constant_pressure"], nodes: ListParam = None,
                             interval_min: IntervalMin = 60,
                             tolerance: Annotated[float, Query(gt=0, le=10)] = 0.10) -> dict[str, Any]:
    period = period_of(rt, start, end)
    expected = expected_values(period.start, period.end, interval_min)
    item = "flow.rate" if system == "constant_flow" else "pressure"
    out = []
    with metrics.run(f"heat_{system}"):
        async with rt.pool.acquire() as conn:
            for root in await _heat_roots(conn, nodes):
                found = await repo.points(conn, SCHEMA, scope_of(principal), utility="heat", nodes=[root])
                ids = [p.metering_point_id for p in found]
                _budget(rt, len(ids), 1, expected)
                curves = by_point_item(await repo.curves(conn, SCHEMA, ids, [item], period.start, period.end))
                rows = [heat.deviation(p, curves.get(p, {}).get(item, []), item, expected, tolerance) for p in ids]
                out.append({"node_id": root, "meters": len(ids), "item": item,
                            "over": [r["metering_point_id"] for r in rows if r["over"]],
                            "incomplete": [r["metering_point_id"] for r in rows if r["status"] != "complete"],
                            "rows": rows})
    return {"system": system, "nodes": out}


# --- limits ---------------------------------------------------------------------------------------

@router.get("/limits", response_model=LimitsAnswer, summary="Voltage levels, power-factor and pressure limits")
async def get_limits(rt: Runtime, principal: Reader) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        levels = await repo.voltage_levels(conn, SCHEMA)
        pf = await repo.pf_limits(conn, SCHEMA)
        pr = await repo.pressure_limits(conn, SCHEMA)
    return {"voltage_levels": list(levels.values()), "default_level": DEFAULT_LEVEL, "power_factor": pf,
            "power_factor_default": {"min": power_factor.DEFAULT_LIMITS[0], "max": power_factor.DEFAULT_LIMITS[1]},
            "pressure": list(pr.values())}


@router.put("/limits/voltage-levels/{level}", response_class=Response, status_code=204,
            summary="Create or change a voltage level (nominal phase voltage at the meter, allowed deviation)")
async def put_voltage_level(rt: Runtime, principal: Marker, level: LevelPath, body: VoltageLevelBody) -> None:
    async with rt.pool.acquire() as conn:
        await repo.put_voltage_level(conn, SCHEMA, level, body.nominal_v, body.upper_pct, body.lower_pct,
                                     principal.subject)


@router.put("/limits/voltage-levels/{level}/points", response_class=Response, status_code=204,
            summary="Put metering points on a voltage level")
async def put_level_points(rt: Runtime, principal: Marker, level: LevelPath, body: LevelPointsBody) -> None:
    async with rt.pool.acquire() as conn, conn.transaction():
        if level not in await repo.voltage_levels(conn, SCHEMA):
            raise NotFound(f"unknown voltage level: {level}")
        known = await repo.known_points(conn, SCHEMA, body.metering_points)
        missing = [p for p in body.metering_points if p not in known]
        if missing:
            raise NotFound(f"unknown metering point: {', '.join(missing[:10])}")
        await repo.assign_levels(conn, SCHEMA, level, body.metering_points, principal.subject)


@router.put("/limits/power-factor/{kind}/{scope_id}", response_class=Response, status_code=204,
            summary="Power-factor limits of a customer or of a customer category")
async def put_pf_limit(rt: Runtime, principal: Marker, kind: Literal["customer", "category"], scope_id: NamePath,
                       body: PowerFactorBody) -> None:
    async with rt.pool.acquire() as conn:
        if not await repo.known(conn, SCHEMA, kind, scope_id):
            raise NotFound(f"unknown {kind}: {scope_id}")
        await repo.put_pf_limit(conn, SCHEMA, kind, scope_id, body.pf_min, body.pf_max, principal.subject)


@router.delete("/limits/power-factor/{kind}/{scope_id}", response_class=Response, status_code=204,
               summary="Remove a customer's or category's power-factor limits (the default applies again)")
async def delete_pf_limit(rt: Runtime, principal: Marker, kind: Literal["customer", "category"],
                          scope_id: NamePath) -> None:
    async with rt.pool.acquire() as conn:
        if not await repo.delete_pf_limit(conn, SCHEMA, kind, scope_id):
            raise NotFound(f"no power-factor limits of {kind} {scope_id}")


@router.put("/limits/pressure/{utility}", response_class=Response, status_code=204,
            summary="Pressure limits (MPa) of water, gas or heat")
async def put_pressure_limit(rt: Runtime, principal: Marker, utility: Literal["water", "gas", "heat"],
                             body: PressureBody) -> None:
    if body.min_mpa >= body.max_mpa:
        raise Invalid("min_mpa must be below max_mpa")
    async with rt.pool.acquire() as conn:
        await repo.put_pressure_limit(conn, SCHEMA, utility, body.min_mpa, body.max_mpa, principal.subject)
