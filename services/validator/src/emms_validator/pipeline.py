"""A batch of raw readings → rules → validated readings, anomalies and back-fill requests.

Pure: the caller loads the state the batch needs (:class:`BatchContext`),
runs :meth:`Pipeline.run`, saves the changed state and publishes
:attr:`BatchResult.messages`. Every output id is a natural key (meter, item,
data time, rule or status), and every time it carries comes from the input
(data time, collection time) — never the wall clock — so the same batch on
the same state always yields the same messages with the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emms_messages.envelope import Payload
from emms_messages.events import Anomaly, EventClass
from emms_messages.readings import BackfillRequest, Reading, ReadingSource, ValidatedReading, ValidationStatus
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
    anomalies: list[Anomaly] = field(default_factory=list)
    backfills: list[BackfillRequest] = field(default_factory=list)
    versions: list[tuple[ValidatedReading, float | None]] = field(default_factory=list)  # (published, raw)

    @property
    def messages(self) -> list[Payload]:
        return [*self.validated, *self.anomalies, *self.backfills]


class Pipeline:
    def __init__(self, catalog: ItemCatalog, resolver: RuleResolver, params: VeeParams) -> None:
        self.catalog = catalog
        self.resolver = resolver
        self.params = params
        self._hot: dict[int, tuple[RuleBook, HotParams]] = {}

    def run(self, readings: Sequence[Reading], ctx: BatchContext) -> BatchResult:
        by_meter: dict[str, list[Reading]] = {}
        for r in readings:
            if r.data_time.tzinfo is None or r.collected_at.tzinfo is None:
                r = _as_utc(r)
            by_meter.setdefault(r.meter_id, []).append(r)
        result = BatchResult()
        for meter_id in sorted(by_meter):
            outcome = self.run_meter(meter_id, by_meter[meter_id], ctx)
            result.outcomes.append(outcome)
            validated = validated_messages(outcome)
            result.validated += validated
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


def _as_utc(r: Reading) -> Reading:
    """A reading whose times carry no zone is taken as UTC (never the machine's local zone)."""
    def utc(dt: datetime) -> datetime:
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return r.model_copy(update={"data_time": utc(r.data_time), "collected_at": utc(r.collected_at)})


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def validated_messages(outcome: MeterOutcome) -> list[ValidatedReading]:
    make = ValidatedReading
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
