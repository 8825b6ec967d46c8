"""The validator's runtime: bus handlers for raw readings, device events and master data; periodic workers.

Raw readings, per consumer batch, in one transaction: claim the messages in the
inbox → load the state of the meters and items they touch (rows locked) → run
the pure pipeline → save state, anomalies, held points, gaps, versions →
publish the outputs → commit. Publishing *before* the commit means a crash in
between redelivers the batch onto the unchanged state, which yields the same
outputs with the same ids (consumers deduplicate on them); a redelivery after
the commit finds the inbox rows and does nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import structlog

from emms_bus import BusProducer, Delivery, PermanentHandlerError
from emms_bus.consumer import gc_paused
from emms_db.connection import Connection
from emms_db.inbox import claim, purge
from emms_messages.envelope import Payload
from emms_messages.events import Anomaly, DeviceEvent, EventClass
from emms_messages.masterdata import MasterDataChange
from emms_messages.readings import RawReadingBatch, ValidationStatus
from emms_runtime.periodic import PeriodicWorker, sleep_or_stop
from emms_validator import metrics
from emms_validator.config.resolve import RuleResolver
from emms_validator.engine.records import Resolved
from emms_validator.events import EVENT_ITEM, apply_event
from emms_validator.items import ItemCatalog
from emms_validator.keycustomers import ConsumptionRule, key_by_consumption
from emms_validator.masterdata import customer_change, installation_change, meter_change, region_change
from emms_validator.model import Action, MeterInfo
from emms_validator.pipeline import BatchResult, Pipeline, VeeParams, anomaly_message
from emms_validator.repository import meters as meters_repo
from emms_validator.repository.batch import insert_anomalies, load_context, load_meters, save_result
from emms_validator.repository.review import expire_overdue
from emms_validator.repository.rules import load_overrides
from emms_validator.settings import ValidatorSettings
from emms_validator.state import SeriesState

log = structlog.get_logger("emms.validator")
SCHEMA = "validator"
RAW_TOPIC = "emms.reading.raw.v1"
EVENT_TOPIC = "emms.device.event.v1"
MASTERDATA_TOPIC = "emms.masterdata.change.v1"
METER_ENTITIES = ("meter", "meters", "metering_point")


def build_pipeline(settings: ValidatorSettings) -> tuple[Pipeline, RuleResolver]:
    vee = settings.vee
    catalog = ItemCatalog(vee.item_patterns(), list(vee.intervals.items()))
    resolver = RuleResolver(vee.rules, vee.utilities)
    params = VeeParams(float(vee.local_utc_offset_s), vee.valve_closed_value, vee.profile_alpha)
    return Pipeline(catalog, resolver, params), resolver


@dataclass
class ValidatorRuntime:
    settings: ValidatorSettings
    pool: asyncpg.Pool
    producer: BusProducer
    pipeline: Pipeline
    resolver: RuleResolver
    consumption_rules: list[ConsumptionRule] = field(default_factory=list)
    readings_handled: int = 0
    batches_handled: int = 0

    @property
    def deadline_s(self) -> float:
        return self.resolver.for_meter(MeterInfo("*"))["repair_failed"].p("deadline_s")

    async def refresh_config(self) -> None:
        async with self.pool.acquire() as conn:
            stored = await load_overrides(conn, SCHEMA)
            rules = await meters_repo.list_key_rules(conn, SCHEMA)
        self.resolver.replace_stored(stored)
        self.consumption_rules = [
            ConsumptionRule(r["rule_id"], r["min_daily_consumption"], r["utility"], r["customer_category"])
            for r in rules if r["min_daily_consumption"] is not None]

    async def handle_raw(self, deliveries: Sequence[Delivery]) -> None:
        with gc_paused():  # the batch's objects all live until it is done; collect after, not during
            await self._handle_raw(deliveries)

    async def _handle_raw(self, deliveries: Sequence[Delivery]) -> None:
        started = time.perf_counter()
        unique = {d.envelope.message_id: d for d in deliveries}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "raw-readings", list(unique))
            batches = [d.payload for mid, d in unique.items()
                       if mid in fresh and isinstance(d.payload, RawReadingBatch)]
            if not batches:
                return
            result = await self.validate(conn, batches)
            await self.producer.publish_many(result.messages)
        self.readings_handled += sum(len(b.readings) for b in batches)
        self.batches_handled += len(fresh)
        _count(result)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    async def validate(self, conn: Connection, batches: Sequence[RawReadingBatch]) -> BatchResult:
        """Load, run and save (in the caller's transaction); the caller publishes."""
        loaded = await load_context(conn, SCHEMA, [r for b in batches for r in b.readings])
        result = self.pipeline.run_batches(batches, loaded.ctx)
        await save_result(conn, SCHEMA, loaded, result, self.deadline_s)
        if self.consumption_rules:
            await self._key_by_rule(conn, loaded.ctx.meters.values(), loaded.ctx.series)
        return result

    async def _key_by_rule(self, conn: Connection, infos: Iterable[MeterInfo],
                           series: Mapping[tuple[str, str], SeriesState]) -> None:
        for info in infos:
            mine = {item: s for (m, item), s in series.items() if m == info.meter_id}
            found = key_by_consumption(info, mine, self.pipeline.catalog, self.consumption_rules)
            if found is not None:
                await meters_repo.mark_key(conn, SCHEMA, found[0], "rule", found[1], "validator")

    async def handle_events(self, deliveries: Sequence[Delivery]) -> None:
        codes = self.settings.vee.event_codes
        anomalies: list[Anomaly] = []
        async with self.pool.acquire() as conn, conn.transaction():
            unique = {d.envelope.message_id: d.payload for d in deliveries}
            fresh = await claim(conn, SCHEMA, "device-events", list(unique))
            for mid, event in unique.items():
                if mid not in fresh or not isinstance(event, DeviceEvent) or not event.meter_id:
                    continue
                meaning = codes.get(event.code)
                if meaning is None:
                    continue
                anomaly = await self._apply_event(conn, event, meaning)
                if anomaly is not None:
                    anomalies.append(anomaly)
            if anomalies:
                await insert_anomalies(conn, SCHEMA, BatchResult(anomalies=anomalies))
                await self.producer.publish_many(anomalies)
        _count(BatchResult(anomalies=anomalies))

    async def _apply_event(self, conn: Connection, event: DeviceEvent,
                           meaning: str) -> Anomaly | None:
        assert event.meter_id is not None
        state = await meters_repo.lock_meter_state(conn, SCHEMA, event.meter_id)
        infos = await load_meters(conn, SCHEMA, [event.meter_id])
        info = infos[0][0] if infos else MeterInfo(event.meter_id)
        book = self.resolver.for_meter(info)
        clock = book["clock_tolerance"]
        finding = apply_event(event, meaning, state, clock.p("meter_tolerance_s") if clock.enabled else None)
        await meters_repo.save_meter_state(conn, SCHEMA, event.meter_id, state)
        if finding is None:
            return None
        severity = EventClass.IMPORTANT if info.key_customer else clock.severity
        return anomaly_message(event.meter_id, Resolved(finding.rule, EVENT_ITEM, finding.t, clock.action, severity,
                                                        finding.values, None))

    async def handle_masterdata(self, deliveries: Sequence[Delivery]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            unique = {d.envelope.message_id: d.payload for d in deliveries}
            fresh = await claim(conn, SCHEMA, "masterdata", list(unique))
            for mid, change in unique.items():
                if mid in fresh and isinstance(change, MasterDataChange):
                    await self._apply_change(conn, change)

    async def _apply_change(self, conn: Connection, change: MasterDataChange) -> None:
        try:
            if change.entity.lower() in METER_ENTITIES:
                await meters_repo.apply_meter_change(conn, SCHEMA, meter_change(change))
            elif change.entity.lower() == "customer":
                await meters_repo.apply_customer_change(conn, SCHEMA, customer_change(change), change.changed_by)
            elif change.entity.lower() == "meter_installation":
                installed = installation_change(change)
                if installed is not None:
                    await meters_repo.apply_installation_change(conn, SCHEMA, installed)
            elif change.entity.lower() == "region":
                await meters_repo.apply_region_change(conn, SCHEMA, region_change(change))
        except (ValueError, TypeError) as exc:
            raise PermanentHandlerError(f"master data change {change.change_id}: {exc}") from exc

    async def sweep(self) -> int:
        """Held points past their back-fill deadline: unrepaired, with an important anomaly each."""
        anomalies: list[Anomaly] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for row in await expire_overdue(conn, SCHEMA):
                infos = await load_meters(conn, SCHEMA, [row["meter_id"]])
                info = infos[0][0] if infos else MeterInfo(row["meter_id"])
                setting = self.resolver.for_meter(info)["repair_failed"]
                severity = EventClass.IMPORTANT if info.key_customer else setting.severity
                t = row["data_time"].timestamp()
                anomalies.append(anomaly_message(row["meter_id"], Resolved(
                    "repair_failed", row["item"], t, Action.HOLD, severity,
                    {"raw": row["raw_value"], "held_for": list(row["rules"]),
                     "reason": "no valid back-fill before the deadline"}, None)))
            if anomalies:
                await insert_anomalies(conn, SCHEMA, BatchResult(anomalies=anomalies))
                await self.producer.publish_many(anomalies)
        metrics.REPAIRS.labels("unrepaired").inc(len(anomalies))
        _count(BatchResult(anomalies=anomalies))
        return len(anomalies)

    async def sweep_and_purge(self) -> None:
        await self.sweep()
        async with self.pool.acquire() as conn:
            await purge(conn, SCHEMA, older_than_days=8)

    async def run_sweep(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("validator-sweep", self.sweep_and_purge,
                             lambda: self.settings.vee.sweep_interval_s).run(stop)

    async def run_config_refresh(self, stop: asyncio.Event) -> None:
        if await sleep_or_stop(stop, self.settings.vee.config_refresh_s):  # loaded at start already
            return
        await PeriodicWorker("validator-config-refresh", self.refresh_config,
                             lambda: self.settings.vee.config_refresh_s).run(stop)

    async def publish(self, payloads: Sequence[Payload]) -> None:
        await self.producer.publish_many(payloads)


def _count(result: BatchResult) -> None:
    """Metrics of one batch: counted here, then one increment per label set (not one per reading)."""
    by_status = Counter(v.status for v in result.validated)
    for status, n in by_status.items():
        metrics.READINGS.labels(status.value).inc(n)
    if by_status.get(ValidationStatus.ESTIMATED):
        for method, n in Counter(v.method for v in result.validated
                                 if v.method and v.status is ValidationStatus.ESTIMATED).items():
            metrics.ESTIMATED.labels(method).inc(n)
    for a in result.anomalies:
        metrics.FINDINGS.labels(a.rule, a.severity.value).inc()
        if a.severity is EventClass.IMPORTANT:
            metrics.ALARMS.labels(a.rule).inc()
            log.warning("alarm", meter_id=a.meter_id, rule=a.rule, item=a.item, data_time=a.data_time.isoformat())
    metrics.BACKFILLS.inc(len(result.backfills))
    for outcome in result.outcomes:
        for record, _ in outcome.held_changed:
            metrics.REPAIRS.labels(record.status).inc()
