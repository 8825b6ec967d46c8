"""``/api/v1/analytics/loss``: loss models (by hand or generated from the topology, with versions), loss and
loss rate per model and period from the rollups, grouped by any dimension, thresholds per model class, the
daily run and its abnormal losses with the members ranked (R-4.5.6).

Periods are whole local days: ``from`` and ``to`` must be local midnights (``to`` exclusive). A model with a
member lacking data for a day reads ``complete: false`` with the reason, and no figure, for that day and every
bucket and group containing it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from emms_analytics.api.deps import ListParam, Marker, Reader, Runtime, aware
from emms_analytics.api.responses import ERRORS
from emms_analytics.loss.figures import DayLoss
from emms_analytics.loss.models import NAME, ModelIn, ThresholdIn, fingerprint, problems, threshold_of
from emms_analytics.loss.service import LossService
from emms_analytics.repository import loss_models, loss_usage
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_db.connection import Connection
from emms_runtime import Conflict, Forbidden, Invalid, NotFound, Principal
from emms_runtime.api_models import ApiModel

router = APIRouter(prefix="/api/v1/analytics/loss", tags=["loss"], responses=ERRORS)
ModelPath = Annotated[str, Path(pattern=NAME)]
ALWAYS = datetime(1900, 1, 1, tzinfo=UTC)  # a hand-made version without valid_from holds for every day
GROUPS = {"model": "model_id", "region": "region_id", "line": "line_id", "voltage_level": "voltage_level",
          "company": "company_id", "utility": "utility", "model_class": "model_class"}


class LossModelAnswer(ApiModel):
    model_id: str
    name: str
    utility: str
    model_class: str
    source: str
    current_version: int
    members: list[dict[str, Any]]
    versions: list[dict[str, Any]]


class Rows(ApiModel):
    rows: list[dict[str, Any]]


class LossAnswer(ApiModel):
    interval: str
    group_by: str
    rows: list[dict[str, Any]]


class ModelDaysAnswer(ApiModel):
    model_id: str
    days: list[dict[str, Any]]
    abnormal: bool
    ranked: list[dict[str, Any]]


class Generation(ApiModel):
    created: list[str]
    versioned: list[str]
    deactivated: list[str]


class RunAnswer(ApiModel):
    day: str
    models: int
    complete: int
    abnormal: int
    anomalies: int
    seconds: float


def service(rt: AnalyticsRuntime) -> LossService:
    return LossService(rt.pool, SCHEMA, rt.settings.local_tz, dict(rt.settings.main_items))


def _visible(principal: Principal, model: dict[str, Any], regions: set[str] | None) -> bool:
    if principal.companies and model["company_id"] not in principal.companies:
        return False
    return regions is None or model["region_id"] in regions


async def _scope_regions(conn: Connection, principal: Principal) -> set[str] | None:
    if not principal.regions:
        return None
    return await loss_models.region_subtree(conn, SCHEMA, principal.regions)


def _days(rt: AnalyticsRuntime, start: datetime, end: datetime) -> tuple[date, date]:
    tz = service(rt).tz
    a, z = aware(start).astimezone(tz), aware(end).astimezone(tz)
    for t in (a, z):
        if (t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0):
            raise Invalid(f"{t.isoformat()} is not a local midnight ({rt.settings.local_tz}): loss is computed"
                          " over whole local days")
    if z <= a:
        raise Invalid(f"the period is inverted or empty: from {a.isoformat()} is not before to {z.isoformat()}")
    if (z - a).days > rt.settings.budget.max_period_days:
        raise Invalid(f"the period covers {(z - a).days} days; at most {rt.settings.budget.max_period_days}")
    return a.date(), z.date() - timedelta(days=1)


async def _model_or_404(conn: Connection, principal: Principal, model_id: str) -> dict[str, Any]:
    model = await loss_models.get_model(conn, SCHEMA, model_id)
    if model is None:
        raise NotFound(f"no loss model {model_id}")
    if not _visible(principal, model, await _scope_regions(conn, principal)):
        raise Forbidden(f"loss model {model_id} is outside your data scope")
    return model


async def _answer(conn: Connection, model: dict[str, Any]) -> dict[str, Any]:
    versions = await loss_models.versions(conn, SCHEMA, [model["model_id"]])
    members = await loss_models.members(conn, SCHEMA, [model["model_id"]],
                                        {model["model_id"]: [model["current_version"]]})
    return {**{k: v for k, v in model.items() if k not in ("created_at", "updated_at")},
            "created_at": model["created_at"].isoformat(), "updated_at": model["updated_at"].isoformat(),
            "members": [{k: m[k] for k in ("metering_point_id", "side", "sign", "multiplier")} for m in members],
            "versions": [{**v, "valid_from": v["valid_from"].isoformat()} for v in versions]}


async def _checked(conn: Connection, body: ModelIn) -> list[dict[str, Any]]:
    members = [m.model_dump() for m in body.members]
    known = await loss_models.known_points(conn, SCHEMA, [m["metering_point_id"] for m in members])
    wrong = problems(members, known, body.utility)
    if wrong:
        raise Invalid("; ".join(wrong))
    return members


def _row(model_id: str, body: ModelIn, settings_items: dict[str, str]) -> dict[str, Any]:
    return {"model_id": model_id, "name": body.name, "utility": body.utility, "model_class": body.model_class,
            "source": "manual", "node_id": None, "item": body.item or settings_items[body.utility],
            "region_id": body.region_id, "company_id": body.company_id, "line_id": body.line_id,
            "voltage_level": body.voltage_level}


# ---- models --------------------------------------------------------------------------------------
@router.get("/models", response_model=Rows, summary="Loss models (current versions) in the caller's scope")
async def list_models(rt: Runtime, principal: Reader, utility: str | None = None, model_class: str | None = None,
                      source: Literal["manual", "generated"] | None = None,
                      include_inactive: bool = False) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        regions = await _scope_regions(conn, principal)
        rows = await loss_models.list_models(conn, SCHEMA, utility=utility, model_class=model_class, source=source,
                                             active_only=not include_inactive)
    return {"rows": [{**{k: v for k, v in r.items() if k not in ("created_at", "updated_at")},
                      "updated_at": r["updated_at"].isoformat()} for r in rows if _visible(principal, r, regions)]}


@router.put("/models/{model_id}", response_model=LossModelAnswer,
            summary="Create or edit a model by hand (a new version when its members change)")
async def put_model(rt: Runtime, principal: Marker, model_id: ModelPath, body: ModelIn) -> dict[str, Any]:
    if body.company_id is not None and not principal.may_see_company(body.company_id):
        raise Forbidden(f"company {body.company_id} is outside your data scope")
    async with rt.pool.acquire() as conn, conn.transaction():
        members = await _checked(conn, body)
        row = _row(model_id, body, dict(rt.settings.main_items))
        old = await loss_models.get_model(conn, SCHEMA, model_id)
        print_ = fingerprint(members)
        if old is None:
            await loss_models.insert_model(conn, SCHEMA, row)
            await loss_models.insert_version(conn, SCHEMA, model_id, 1, "created by hand", principal.subject,
                                             print_, members, body.valid_from or ALWAYS)
        else:
            if not _visible(principal, old, await _scope_regions(conn, principal)):
                raise Forbidden(f"loss model {model_id} is outside your data scope")
            versions = await loss_models.versions(conn, SCHEMA, [model_id])
            version = max(v["version"] for v in versions) if versions else 0
            if not versions or versions[-1]["fingerprint"] != print_:
                version += 1
                await loss_models.insert_version(conn, SCHEMA, model_id, version, "edited by hand", principal.subject,
                                                 print_, members, body.valid_from or ALWAYS)
            await loss_models.update_model(conn, SCHEMA, row, version)  # a generated model edited is manual now
        model = await loss_models.get_model(conn, SCHEMA, model_id)
        assert model is not None
        return await _answer(conn, model)


@router.get("/models/{model_id}", response_model=LossModelAnswer, summary="A model with its members and versions")
async def get_model(rt: Runtime, principal: Reader, model_id: ModelPath) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        return await _answer(conn, await _model_or_404(conn, principal, model_id))


@router.delete("/models/{model_id}", response_class=Response, status_code=204, summary="Delete a model")
async def delete_model(rt: Runtime, principal: Marker, model_id: ModelPath) -> None:
    async with rt.pool.acquire() as conn:
        model = await _model_or_404(conn, principal, model_id)
        if model["source"] == "generated":
            raise Conflict(f"loss model {model_id} is generated from the topology: change the topology, or edit it"
                           " by hand first")
        await loss_models.delete_model(conn, SCHEMA, model_id)


@router.post("/models/generate", response_model=Generation,
             summary="Bring the models generated from the topology up to date now")
async def generate_models(rt: Runtime, principal: Marker) -> dict[str, Any]:
    done = await service(rt).regenerate(actor=principal.subject, force=True)
    assert done is not None
    return done.as_json()


# ---- thresholds ----------------------------------------------------------------------------------
@router.get("/thresholds", response_model=Rows, summary="Thresholds per model class (stored and defaults)")
async def get_thresholds(rt: Runtime, principal: Reader) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        stored = await loss_models.thresholds(conn, SCHEMA)
    from emms_analytics.loss.models import DEFAULT_THRESHOLDS

    classes = sorted(set(stored) | set(DEFAULT_THRESHOLDS))
    return {"rows": [dict(zip(("model_class", "max_rate", "min_rate", "max_change"),
                              (c, *threshold_of(stored, c)), strict=True)) | {"stored": c in stored}
                     for c in classes]}


@router.put("/thresholds/{model_class}", response_model=Rows, summary="Set the thresholds of a model class")
async def put_threshold(rt: Runtime, principal: Marker, model_class: ModelPath, body: ThresholdIn) -> dict[str, Any]:
    if body.min_rate >= body.max_rate:
        raise Invalid(f"min_rate {body.min_rate} must be below max_rate {body.max_rate}")
    async with rt.pool.acquire() as conn:
        await loss_models.put_threshold(conn, SCHEMA, model_class, body.max_rate, body.min_rate, body.max_change)
    return await get_thresholds(rt, principal)


# ---- figures -------------------------------------------------------------------------------------
def _bucket(day: date, interval: str, first: date) -> str:
    if interval == "day":
        return day.isoformat()
    if interval == "month":
        return day.replace(day=1).isoformat()
    if interval == "year":
        return day.replace(month=1, day=1).isoformat()
    return first.isoformat()


@router.get("", response_model=LossAnswer, summary="Loss and loss rate per model or dimension and period")
async def get_loss(rt: Runtime, principal: Reader, start: Annotated[datetime, Query(alias="from")],
                   end: Annotated[datetime, Query(alias="to")],
                   interval: Literal["day", "month", "year", "period"] = "day",
                   group_by: Literal["model", "region", "line", "voltage_level", "company", "utility",
                                     "model_class"] = "model",
                   models: ListParam = None, utilities: ListParam = None, model_classes: ListParam = None,
                   regions: ListParam = None, companies: ListParam = None, lines: ListParam = None,
                   voltage_levels: ListParam = None) -> dict[str, Any]:
    first, last = _days(rt, start, end)
    svc = service(rt)
    async with rt.pool.acquire() as conn:
        scope = await _scope_regions(conn, principal)
        chosen = await loss_models.list_models(conn, SCHEMA, model_ids=models)
        if models:
            unknown = sorted(set(models) - {m["model_id"] for m in chosen})
            if unknown:
                raise NotFound(f"unknown loss models: {', '.join(unknown)}")
        wanted_regions = None
        if regions:
            wanted_regions = await loss_models.region_subtree(conn, SCHEMA, regions)
        chosen = [m for m in chosen if _visible(principal, m, scope)
                  and (not utilities or m["utility"] in utilities)
                  and (not model_classes or m["model_class"] in model_classes)
                  and (wanted_regions is None or m["region_id"] in wanted_regions)
                  and (not companies or m["company_id"] in companies) and (not lines or m["line_id"] in lines)
                  and (not voltage_levels or m["voltage_level"] in voltage_levels)]
        n_members = await loss_models.member_count(conn, SCHEMA, [m["model_id"] for m in chosen])
        estimate = n_members * ((last - first).days + 1) * 2
        if estimate > rt.settings.budget.max_scan_rows:
            raise Invalid(f"the query would read about {estimate} rollup rows; the limit is"
                          f" {rt.settings.budget.max_scan_rows}: narrow the models or the period")
        fig = await svc.flagged(conn, chosen, first, last, detail=False)
    acc: dict[tuple[str, Any], dict[str, Any]] = {}
    for m in chosen:
        key = m[GROUPS[group_by]]
        for d in fig.days[m["model_id"]]:
            cell = acc.setdefault((_bucket(d.day, interval, first), key), {
                "bucket": _bucket(d.day, interval, first), "key": key, "input": 0.0, "output": 0.0, "days": 0,
                "complete": True, "reasons": [], "models": set(), "flags": defaultdict(int), "utility": set()})
            cell["models"].add(m["model_id"])
            cell["utility"].add(m["utility"])
            cell["days"] += 1
            for f in d.flags:
                cell["flags"][f] += 1
            if not d.complete:
                cell["complete"] = False
                if len(cell["reasons"]) < 10:
                    cell["reasons"].append(f"{m['model_id']} {d.day.isoformat()}: {d.reason}")
                continue
            cell["input"] += d.input or 0.0
            cell["output"] += d.output or 0.0
    rows = []
    for (bucket, key), c in sorted(acc.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        complete = c["complete"]
        loss = c["input"] - c["output"] if complete else None
        rows.append({"bucket": bucket, "key": key, "models": len(c["models"]), "utilities": sorted(c["utility"]),
                     "input": c["input"] if complete else None, "output": c["output"] if complete else None,
                     "loss": loss, "rate": loss / c["input"] if complete and loss is not None and c["input"] > 0
                     else None, "complete": complete, "reason": "; ".join(c["reasons"]) or None,
                     "flags": dict(c["flags"])})
    if len(rows) > rt.settings.budget.max_buckets:
        raise Invalid(f"the answer has {len(rows)} rows; at most {rt.settings.budget.max_buckets}")
    return {"interval": interval, "group_by": group_by, "rows": rows}


def _day_json(d: DayLoss) -> dict[str, Any]:
    return {"day": d.day.isoformat(), "version": d.version, "input": d.input, "output": d.output, "loss": d.loss,
            "rate": d.rate, "complete": d.complete, "reason": d.reason, "flags": d.flags, "missing": d.missing}


@router.get("/models/{model_id}/days", response_model=ModelDaysAnswer,
            summary="A model's daily loss with flags, and its points ranked when it is abnormal")
async def get_model_days(rt: Runtime, principal: Reader, model_id: ModelPath,
                         start: Annotated[datetime, Query(alias="from")],
                         end: Annotated[datetime, Query(alias="to")]) -> dict[str, Any]:
    first, last = _days(rt, start, end)
    svc = service(rt)
    async with rt.pool.acquire() as conn:
        model = await _model_or_404(conn, principal, model_id)
        fig = await svc.flagged(conn, [model], first, last)
        abnormal = any(d.flags for d in fig.days[model_id])
        ranked: list[dict[str, Any]] = []
        if abnormal:
            ranked = await svc.explain(conn, model, first, last, fig)
    return {"model_id": model_id, "days": [_day_json(d) for d in fig.days[model_id]], "abnormal": abnormal,
            "ranked": ranked}


# ---- the daily run -------------------------------------------------------------------------------
@router.post("/run", response_model=RunAnswer, summary="Run the daily loss of every active model for a local day")
async def run_day(rt: Runtime, principal: Marker, day: date) -> dict[str, Any]:
    return await service(rt).run_day(day)


@router.get("/anomalies", response_model=Rows, summary="Abnormal losses raised by the daily runs")
async def get_anomalies(rt: Runtime, principal: Reader, first: Annotated[date, Query(alias="from")],
                        last: Annotated[date, Query(alias="to")], models: ListParam = None) -> dict[str, Any]:
    if last < first:
        raise Invalid(f"the period is inverted: from {first} is after to {last}")
    import json

    async with rt.pool.acquire() as conn:
        scope = await _scope_regions(conn, principal)
        visible = {m["model_id"] for m in await loss_models.list_models(conn, SCHEMA, active_only=False)
                   if _visible(principal, m, scope)}
        rows = await loss_usage.anomalies(conn, SCHEMA, first, last, models)
    return {"rows": [{**r, "day": r["day"].isoformat(), "raised_at": r["raised_at"].isoformat(),
                      "ranked": json.loads(r["ranked"])} for r in rows if r["model_id"] in visible]}
