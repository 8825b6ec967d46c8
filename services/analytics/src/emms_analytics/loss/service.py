"""The loss service: figures per model and day from the rollups, the daily run with its anomalies, and the
workers that keep the generated models up to date and run yesterday's loss."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from emms_analytics.loss import metrics
from emms_analytics.loss.figures import DayLoss, Member, as_row, day_loss, flag, from_totals
from emms_analytics.loss.generate import Generated, regenerate
from emms_analytics.loss.models import threshold_of
from emms_analytics.loss.rank import rank
from emms_analytics.repository import loss_models, loss_usage
from emms_db.connection import Connection
from emms_messages.masterdata import MasterDataChange
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.analytics.loss")
TOPOLOGY_ENTITIES = frozenset({"network_node", "metering_point", "customer", "customer_meter", "meter_installation"})
RANK_WINDOW_DAYS = 14
COVER_TOLERANCE = timedelta(hours=1)
EXPLAINED = 0.8  # a member scoring this much explains its model's loss: no neighbours are looked at


async def note_topology(conn: Connection, schema: str, change: MasterDataChange) -> None:
    """In the master-data consumer's transaction: a change of the topology marks the generated models stale."""
    if change.entity in TOPOLOGY_ENTITIES:
        await loss_models.mark_topology_changed(conn, schema, change.changed_at)


@dataclass
class Figures:
    """Daily losses of models over days, with what ranking needs."""

    days: dict[str, list[DayLoss]]
    members: dict[tuple[str, int], list[Member]]
    usage: dict[tuple[str, date], float]
    cover: dict[tuple[str, date], tuple[datetime, datetime]]
    outputs: dict[tuple[str, date], float] = field(default_factory=dict)


@dataclass
class LossService:
    pool: asyncpg.Pool
    schema: str
    local_tz: str
    main_items: dict[str, str]
    last_run: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.local_tz)

    def day_start(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz)

    # ---- generated models ----------------------------------------------------------------------
    async def regenerate(self, actor: str = "topology", force: bool = False) -> Generated | None:
        async with self.pool.acquire() as conn, conn.transaction():
            changed, as_of, generated = await loss_models.topology_state(conn, self.schema)
            if not force and changed is not None and generated is not None and generated >= changed:
                return None
            done = await regenerate(conn, self.schema, self.main_items, actor, as_of)
            await loss_models.mark_generated(conn, self.schema, changed)
        for kind, ids in done.as_json().items():
            if ids:
                metrics.GENERATIONS.labels(kind).inc(len(ids))
                log.info("loss_models_generated", change=kind, models=len(ids))
        return done

    async def run_topology(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("analytics-loss-topology", self.regenerate, 5.0).run(stop)

    # ---- figures -------------------------------------------------------------------------------
    async def _in_force(self, conn: Connection, models: Sequence[dict[str, Any]],
                        days: Sequence[date]) -> dict[tuple[str, date], int]:
        """(model, day) → the version in force that day: the newest one valid from before the day's end; the first
        one before any."""
        by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for v in await loss_models.versions(conn, self.schema, [m["model_id"] for m in models]):
            by_model[v["model_id"]].append(v)
        pick: dict[tuple[str, date], int] = {}
        for m in models:
            vs = by_model.get(m["model_id"], [])
            for d in days:
                end = self.day_start(d + timedelta(days=1))
                valid = [v["version"] for v in vs if v["valid_from"] < end]
                pick[(m["model_id"], d)] = max(valid) if valid else min((v["version"] for v in vs), default=0)
        return pick

    async def figures(self, conn: Connection, models: Sequence[dict[str, Any]], first: date, last: date,
                      detail: bool = True) -> Figures:
        """Every model's daily loss for the local days first … last (inclusive), each day with the version in
        force then. ``detail``: with each member's usage and coverage (what ranking needs); without, the sums and
        the missing members come from the database per model and day (the daily run and period queries over
        thousands of models)."""
        days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
        pick = await self._in_force(conn, models, days)
        start, end = self.day_start(first), self.day_start(last + timedelta(days=1))
        if not detail:
            return await self._summed(conn, models, days, pick, start, end)
        ids = [m["model_id"] for m in models]
        wanted: dict[str, set[int]] = defaultdict(set)
        for (mid, _), ver in pick.items():
            wanted[mid].add(ver)
        pairs = sorted((mid, v) for mid, vs in wanted.items() for v in vs)
        versions_of: dict[str, Sequence[int]] = {k: sorted(v) for k, v in wanted.items()}
        if self.pool.get_idle_size() >= 2:  # independent: three statements on three connections when the pool has them
            async with self.pool.acquire() as c2, self.pool.acquire() as c3:
                rows, usage, cover = await asyncio.gather(
                    loss_models.members(conn, self.schema, ids, versions_of),
                    loss_usage.daily_usage(c2, self.schema, pairs, start, end, self.local_tz),
                    loss_usage.coverage(c3, self.schema, pairs, start, end, self.local_tz))
        else:
            rows = await loss_models.members(conn, self.schema, ids, versions_of)
            usage = await loss_usage.daily_usage(conn, self.schema, pairs, start, end, self.local_tz)
            cover = await loss_usage.coverage(conn, self.schema, pairs, start, end, self.local_tz)
        members: dict[tuple[str, int], list[Member]] = defaultdict(list)
        for r in rows:
            members[(r["model_id"], r["version"])].append(
                Member(r["metering_point_id"], r["side"], float(r["sign"]), float(r["multiplier"])))
        out: dict[str, list[DayLoss]] = {}
        for m in models:
            series = []
            for d in days:
                ver = pick[(m["model_id"], d)]
                series.append(day_loss(d, ver, members.get((m["model_id"], ver), []), usage, cover,
                                       self.day_start(d), self.day_start(d + timedelta(days=1)), COVER_TOLERANCE))
            out[m["model_id"]] = series
        return Figures(out, dict(members), usage, cover)

    async def _summed(self, conn: Connection, models: Sequence[dict[str, Any]], days: Sequence[date],
                      pick: dict[tuple[str, date], int], start: datetime, end: datetime) -> Figures:
        triples = [(m["model_id"], d, pick[(m["model_id"], d)]) for m in models for d in days]
        if self.pool.get_idle_size() >= 1:  # independent: two statements on two connections
            async with self.pool.acquire() as c2:
                sums, gaps = await asyncio.gather(
                    loss_usage.day_sums(conn, self.schema, triples, start, end, self.local_tz),
                    loss_usage.day_gaps(c2, self.schema, triples, start, end, self.local_tz, COVER_TOLERANCE))
        else:
            sums = await loss_usage.day_sums(conn, self.schema, triples, start, end, self.local_tz)
            gaps = await loss_usage.day_gaps(conn, self.schema, triples, start, end, self.local_tz, COVER_TOLERANCE)
        out: dict[str, list[DayLoss]] = {}
        for mid, d, ver in triples:
            n, missing = gaps.get((mid, d), (0, []))
            inputs, outputs = sums.get((mid, d), (0.0, 0.0))
            out.setdefault(mid, []).append(from_totals(d, ver, n, inputs, outputs, missing))
        return Figures(out, {}, {}, {})

    async def flagged(self, conn: Connection, models: Sequence[dict[str, Any]], first: date,
                      last: date, detail: bool = True) -> Figures:
        """:meth:`figures` with each day's flags (the day before ``first`` read for a sudden change on it)."""
        fig = await self.figures(conn, models, first - timedelta(days=1), last, detail)
        stored = await loss_models.thresholds(conn, self.schema)
        for m in models:
            series = fig.days[m["model_id"]]
            flag(series[1:], *threshold_of(stored, m["model_class"]), before=series[0])
            fig.days[m["model_id"]] = series[1:]
        return fig

    def ranking(self, fig: Figures, model: dict[str, Any], neighbours: Sequence[str],
                max_change: float) -> list[dict[str, object]]:
        """The points ranked by how much each explains the model's loss over the days of ``fig``: its members,
        and the outputs of the ``neighbours`` models."""
        series = [d for d in fig.days[model["model_id"]] if d.complete]
        if len(series) < 2:
            return []
        loss = [d.loss or 0.0 for d in series]
        outputs = [d.output or 0.0 for d in series]
        candidates: dict[str, tuple[str, list[float]]] = {}
        homes: dict[str, tuple[list[float], list[float]]] = {}

        def add(point: str, relation: str, sign: float, mult: float) -> bool:
            if point in candidates or any((point, d.day) not in fig.cover for d in series):
                return False
            candidates[point] = (relation, [sign * mult * fig.usage.get((point, d.day), 0.0) for d in series])
            return True

        for d in series[-1:]:
            for mem in fig.members.get((model["model_id"], d.version), []):
                add(mem.point, mem.side, mem.sign, mem.multiplier)
        for other in neighbours:
            days = fig.days.get(other) or []
            theirs = {d.day: d for d in days if d.complete}
            if not days or any(d.day not in theirs for d in series):  # its loss must be known on the same days
                continue
            mine = [theirs[d.day] for d in series]
            home = ([d.loss or 0.0 for d in mine], [d.output or 0.0 for d in mine])
            for mem in fig.members.get((other, days[-1].version), []):
                if mem.side == "output" and add(mem.point, "neighbour", mem.sign, mem.multiplier):
                    homes[mem.point] = home
        mean_in = sum(d.input or 0.0 for d in series) / len(series)
        return [r.as_json() for r in rank(loss, outputs, candidates, 0.5 * max_change * abs(mean_in), homes=homes)]

    async def explain(self, conn: Connection, model: dict[str, Any], first: date, last: date,
                      fig: Figures | None = None,
                      others: Sequence[dict[str, Any]] | None = None) -> list[dict[str, object]]:
        """Rank the points behind an abnormal model over first … last. Its own members first; when none explains
        the loss well (score < ``EXPLAINED``), also the outputs of the models of the same utility, class and company
        whose loss went negative in the period — a meter physically here but listed under one of them (``others``:
        the models to look at, default every such model; ``fig``: figures already computed for them)."""
        stored = await loss_models.thresholds(conn, self.schema)
        max_change = threshold_of(stored, model["model_class"])[2]
        if fig is None or model["model_id"] not in fig.days:
            fig = await self.flagged(conn, [model], first, last)
        ranked = self.ranking(fig, model, [], max_change)
        if ranked and float(ranked[0]["score"]) >= EXPLAINED:  # type: ignore[arg-type]
            return ranked
        if others is None:
            others = [m for m in await loss_models.list_models(conn, self.schema, utility=model["utility"],
                                                               model_class=model["model_class"])
                      if m["company_id"] == model["company_id"] and m["model_id"] != model["model_id"]]
        missing = [m for m in others if m["model_id"] not in fig.days]
        if missing:
            more = await self.flagged(conn, missing, first, last)
            fig = Figures({**fig.days, **more.days}, {**fig.members, **more.members}, {**fig.usage, **more.usage},
                          {**fig.cover, **more.cover})
        negative = [m["model_id"] for m in others if m["model_id"] != model["model_id"]
                    and m["utility"] == model["utility"] and m["model_class"] == model["model_class"]
                    and m["company_id"] == model["company_id"]
                    and any("negative" in d.flags for d in fig.days[m["model_id"]])]
        return self.ranking(fig, model, negative, max_change) if negative else ranked

    # ---- the daily run -------------------------------------------------------------------------
    async def run_day(self, day: date) -> dict[str, Any]:
        """Loss of every active model for ``day``: stored per model, abnormal ones raised with the ranking."""
        t0 = time.perf_counter()
        try:
            async with self.pool.acquire() as conn:
                models = await loss_models.list_models(conn, self.schema)
                fig = await self.flagged(conn, models, day, day, detail=False)
                abnormal = [m for m in models if fig.days[m["model_id"]][-1].flags]
                anomalies = []
                if abnormal:
                    first = day - timedelta(days=RANK_WINDOW_DAYS - 1)
                    window = await self.flagged(conn, abnormal, first, day)
                    for m in abnormal:
                        mine = fig.days[m["model_id"]][-1]
                        ranked = await self.explain(conn, m, first, day, window, abnormal)
                        for kind in mine.flags:
                            anomalies.append({"model_id": m["model_id"], "day": day, "kind": kind, "rate": mine.rate,
                                              "detail": _detail(kind, mine), "ranked": json.dumps(ranked)})
                async with conn.transaction():
                    await loss_usage.store_days(conn, self.schema, [as_row(m["model_id"], fig.days[m["model_id"]][-1])
                                                                    for m in models])
                    await loss_usage.replace_anomalies(conn, self.schema, day, [m["model_id"] for m in models],
                                                       anomalies)
        except Exception:
            metrics.RUNS.labels("failed").inc()
            raise
        elapsed = time.perf_counter() - t0
        complete = sum(1 for m in models if fig.days[m["model_id"]][-1].complete)
        metrics.RUNS.labels("done").inc()
        metrics.RUN_SECONDS.observe(elapsed)
        metrics.MODELS.labels("complete").set(complete)
        metrics.MODELS.labels("incomplete").set(len(models) - complete)
        metrics.MODELS.labels("abnormal").set(len(abnormal))
        for a in anomalies:
            metrics.ANOMALIES.labels(a["kind"]).inc()
        self.last_run = {"day": day.isoformat(), "models": len(models), "complete": complete,
                         "abnormal": len(abnormal), "anomalies": len(anomalies), "seconds": round(elapsed, 3)}
        log.info("loss_run", **self.last_run)
        return self.last_run

    async def run_recent(self) -> None:
        today = datetime.now(self.tz).date()
        for back in (2, 1):  # yesterday, and the day before (late data)
            await self.run_day(today - timedelta(days=back))

    async def run_daily(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("analytics-loss-daily", self.run_recent, 900.0).run(stop)


def _detail(kind: str, d: DayLoss) -> str:
    rate = f"{d.rate:.2%}" if d.rate is not None else "n/a"
    return {"negative": f"loss {d.loss:.3f} is negative (rate {rate})",
            "above_threshold": f"loss rate {rate} is above the class's threshold",
            "sudden_change": f"loss rate {rate} moved more than the class's change threshold"}[kind]
