"""Raw reading batches → rules → validated reading batches, anomalies and back-fill requests.

Pure: the caller loads the state the batches need (:class:`BatchContext`),
runs :meth:`Pipeline.run_batches`, saves the changed state and publishes
:attr:`BatchResult.messages`. Every output id is a natural key (the raw
batch's id for its validated batch; meter, item, rule and data time for the
rest), and every time it carries comes from the input (data time, collection
time) — never the wall clock — so the same batches on the same state always
yield the same messages with the same ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emms_messages.envelope import Payload
from emms_messages.events import Anomaly, EventClass
from emms_messages.readings import (
    BackfillRequest,
    RawReadingBatch,
    Reading,
    ReadingSource,
    ValidatedReading,
    ValidatedReadingBatch,
    ValidationStatus,
)
from emms_validator.config.resolve import RuleResolver
from emms_validator.engine.meter import MeterEvaluation
from emms_validator.engine.params import HotParams
from emms_validator.engine.points import Env
from emms_validator.engine.records import BackfillSpec, GapRecord, HeldRecord, MeterOutcome, Resolved
from emms_validator.items import ItemCatalog
from emms_validator.model import MeterInfo, RuleBook, iso
from emms_validator.state import MeterState, SeriesState

REQUESTER = "validator"


@dataclass(frozen=True, slots=True)
class VeeParams:
    offset_s: float = 8 * 3600.0  # local time east of UTC (China standard time)
    valve_closed_value: float = 0.0
    alpha: float = 0.3


@dataclass(slots=True)
class BatchContext:
    """The state a batch is judged against, keyed by meter (and item)."""

    meters: dict[str, MeterInfo] = field(default_factory=dict)
    meter_states: dict[str, MeterState] = field(default_factory=dict)
    series: dict[tuple[str, str], SeriesState] = field(default_factory=dict)
    held: dict[str, dict[tuple[str, float], HeldRecord]] = field(default_factory=dict)  # meter → (item, t)
    gaps: dict[str, list[GapRecord]] = field(default_factory=dict)


@dataclass(slots=True)
class BatchResult:
    outcomes: list[MeterOutcome] = field(default_factory=list)
    validated: list[ValidatedReading] = field(default_factory=list)
    batches: list[ValidatedReadingBatch] = field(default_factory=list)  # ``validated``, one per raw batch
    anomalies: list[Anomaly] = field(default_factory=list)
    backfills: list[BackfillRequest] = field(default_factory=list)
    versions: list[tuple[ValidatedReading, float | None]] = field(default_factory=list)  # (published, raw)

    @property
    def messages(self) -> list[Payload]:
        return [*self.batches, *self.anomalies, *self.backfills]


class Pipeline:
    def __init__(self, catalog: ItemCatalog, resolver: RuleResolver, params: VeeParams) -> None:
        self.catalog = catalog
        self.resolver = resolver
        self.params = params
        self._hot: dict[int, tuple[RuleBook, HotParams]] = {}

    def run_batches(self, batches: Sequence[RawReadingBatch], ctx: BatchContext) -> BatchResult:
        """Judge the raw batches together (per meter, in data-time order); one validated batch per raw batch.

        A validated reading goes into the batch of the reading it is about; an
        estimate into the batch of the reading that revealed its gap."""
        readings: list[Reading] = []
        origin: dict[int, int] = {}  # id(reading) → index of its raw batch
        terminals: dict[str, str] = {}  # meter → the terminal it was last heard through
        for i, b in enumerate(batches):
            for r in b.readings:
                r = _normalized(r)
                origin[id(r)] = i
                readings.append(r)
                terminals[r.meter_id] = r.terminal or b.terminal
        per_batch: list[list[ValidatedReading]] = [[] for _ in batches]
        result = self._run(readings, ctx, lambda r, v: per_batch[origin[id(r)]].append(v))
        for meter_id, terminal in terminals.items():
            ctx.meter_states[meter_id].terminal = terminal  # the key of the meter's manual edits
        result.batches = [ValidatedReadingBatch(
            batch_id=validated_batch_id(b.batch_id), terminal=b.terminal, readings=vs)
            for b, vs in zip(batches, per_batch, strict=True) if vs]
        return result

    def run(self, readings: Sequence[Reading], ctx: BatchContext) -> BatchResult:
        """Readings from no particular raw batch (tools, tests): ``validated`` only, no ``batches``."""
        return self._run([_normalized(r) for r in readings], ctx, None)

    def _run(self, readings: Sequence[Reading], ctx: BatchContext,
             place: Callable[[Reading, ValidatedReading], None] | None) -> BatchResult:
        by_meter: dict[str, list[Reading]] = {}
        for r in readings:
            by_meter.setdefault(r.meter_id, []).append(r)
        result = BatchResult()
        for meter_id in sorted(by_meter):
            outcome = self.run_meter(meter_id, by_meter[meter_id], ctx)
            result.outcomes.append(outcome)
            validated = validated_messages(outcome)
            result.validated += validated
            if place is not None:
                for v, r in zip(validated, _triggers(outcome), strict=True):
                    place(r, v)
            raws = [r.reading.value for r in outcome.results] + [None] * len(outcome.estimates)
            result.versions += [(v, raw) for v, raw in zip(validated, raws, strict=True)
                                if v.status is not ValidationStatus.VALID or v.raw_source is ReadingSource.BACKFILL]
            result.anomalies += [anomaly_message(meter_id, f) for f in outcome.findings]
            result.backfills += [backfill_message(meter_id, b) for b in outcome.backfills]
        return result

    def run_meter(self, meter_id: str, readings: Sequence[Reading], ctx: BatchContext) -> MeterOutcome:
        info = ctx.meters.get(meter_id) or MeterInfo(meter_id)
        meter_state = ctx.meter_states.setdefault(meter_id, MeterState())
        items = {r.item for r in readings}
        series = {i: ctx.series[(meter_id, i)] for i in items if (meter_id, i) in ctx.series}
        book = self.resolver.for_meter(info)
        cached = self._hot.get(id(book))
        if cached is None or cached[0] is not book:
            if len(self._hot) > 10_000:
                self._hot.clear()
            cached = self._hot[id(book)] = (book, HotParams.of(book))
        env = Env(info, meter_state, book, self.params.offset_s, self.params.valve_closed_value,
                  ctx.held.get(meter_id, {}), ctx.gaps.get(meter_id, []), cached[1])
        outcome = MeterEvaluation(env, series, self.catalog, self.params.alpha).run(readings)
        for item, s in series.items():
            ctx.series[(meter_id, item)] = s
        return outcome


def _normalized(r: Reading) -> Reading:
    """The reading as the engine judges it (the same object when already so — the usual case): times
    without a zone are UTC (never the machine's local zone); a NaN or infinite value is no value."""
    if r.data_time.tzinfo is None or r.collected_at.tzinfo is None:
        def utc(dt: datetime) -> datetime:
            return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
        r = r.model_copy(update={"data_time": utc(r.data_time), "collected_at": utc(r.collected_at)})
    if r.value is not None and not math.isfinite(r.value):
        r = r.model_copy(update={"value": None})
    return r


def _triggers(outcome: MeterOutcome) -> list[Reading]:
    """The reading behind each of :func:`validated_messages`' outputs, in the same order."""
    return [r.reading for r in outcome.results] + [e.trigger for e in outcome.estimates]


def validated_batch_id(raw_batch_id: str) -> str:
    """The id of a raw batch's validated batch: the same raw batch always gives the same message id."""
    return f"vee|{raw_batch_id}"


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def validated_messages(outcome: MeterOutcome) -> list[ValidatedReading]:
    make = ValidatedReading  # validating (in Rust) is faster than model_construct (in Python) here
    out = [make(
        meter_id=r.reading.meter_id, item=r.reading.item, data_time=r.reading.data_time, value=r.value,
        unit=r.reading.unit, status=r.status, method=r.method, raw_source=r.reading.source,
        rules_failed=list(r.rules_failed), validated_at=r.reading.collected_at,
    ) for r in outcome.results]
    out += [make(
        meter_id=e.trigger.meter_id, item=e.item, data_time=_dt(e.t), value=e.value, unit=e.trigger.unit,
        status=ValidationStatus.ESTIMATED, method=e.method, raw_source=None, rules_failed=["completeness"],
        validated_at=e.trigger.collected_at,
    ) for e in outcome.estimates]
    return out


def anomaly_id(meter_id: str, item: str, rule: str, t: float) -> str:
    return f"{meter_id}|{item}|{rule}|{iso(t)}"


def anomaly_message(meter_id: str, f: Resolved) -> Anomaly:
    detected = f.reading.collected_at if f.reading is not None else _dt(f.t)
    return Anomaly(anomaly_id=anomaly_id(meter_id, f.item, f.rule, f.t), meter_id=meter_id, rule=f.rule,
                   item=f.item, data_time=_dt(f.t), severity=f.severity,
                   values={**f.values, "action": f.action.value}, detected_at=detected)


def backfill_request_id(meter_id: str, b: BackfillSpec) -> str:
    return f"vee|{meter_id}|{iso(b.start)}|{iso(b.end)}|{','.join(b.items)}"


def backfill_message(meter_id: str, b: BackfillSpec) -> BackfillRequest:
    return BackfillRequest(request_id=backfill_request_id(meter_id, b), meter_id=meter_id, items=list(b.items),
                           start=_dt(b.start), end=_dt(b.end), reason=",".join(b.reasons), requested_by=REQUESTER)


def is_important(a: Anomaly) -> bool:
    return a.severity is EventClass.IMPORTANT
