"""One reading pass: plan requests, send them, turn answers into readings, publish, report per meter.

Shared by scheduled runs, back-fill and manual reads; they differ only in the
source stamped on the readings and what they do with the per-meter outcome.
Readings of one answer are published as one ``RawReadingBatch`` (id = the
request id) *before* the caller records the items as collected — a crash in
between re-collects and re-publishes values whose natural key is the same,
which the consumers deduplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

import structlog

from emms_bus import BusProducer
from emms_collector import metrics
from emms_collector.reading.answers import forwarded_values, point_values, typed_frames
from emms_collector.reading.normalise import Stamp, from_meter, from_points
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.scheduling.planner import PlannedRequest, PlanOptions, Wanted, plan
from emms_collector.settings import DispatchSettings
from emms_collector.tasks.types import TaskType
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource
from emms_messages.terminal import DownlinkResult, RequestOutcome

log = structlog.get_logger("emms.collector.reading")


@dataclass(slots=True)
class MeterOutcome:
    """What one pass got for one meter: items collected (at the expected data time) and why not the rest."""

    meter_id: str
    collected: set[str] = field(default_factory=set)
    reason: str = ""
    via: str = ""
    readings: list[Reading] = field(default_factory=list)


OnOutcome = Callable[[list[MeterOutcome]], None]


@dataclass(frozen=True, slots=True)
class Pass:
    task_type: TaskType
    source: ReadingSource
    purpose: str
    requested_by: str
    tag: date | None = None  # freeze date for frozen data
    expect_time: datetime | None = None  # only values at this data time count as collected
    priority: int = 5
    keep_readings: bool = False


PLAN_SLICE = 2000
"""Meters planned between two turns of the event loop (whole terminals, so batching is unchanged)."""


def terminal_slices(wanted: Sequence[Wanted], size: int) -> Iterator[list[Wanted]]:
    """``wanted`` grouped by terminal, in slices of at least ``size`` meters (a terminal is never split)."""
    by_terminal: dict[str, list[Wanted]] = {}
    for w in wanted:
        by_terminal.setdefault(w.point.terminal, []).append(w)
    piece: list[Wanted] = []
    for group in by_terminal.values():
        piece += group
        if len(piece) >= size:
            yield piece
            piece = []
    if piece:
        yield piece


class ReadingEngine:
    def __init__(self, dispatcher: Dispatcher, producer: BusProducer, settings: DispatchSettings, tz: tzinfo,
                 freeze_at: str) -> None:
        self._dispatcher = dispatcher
        self._producer = producer
        self._settings = settings
        self.tz = tz
        self.freeze_at = freeze_at

    def options(self, p: Pass) -> PlanOptions:
        s = self._settings
        return PlanOptions(purpose=p.purpose, requested_by=p.requested_by, max_points=s.max_points_per_request,
                           timeout_s=s.request_timeout_s, fep_retries=s.fep_retries, priority=p.priority,
                           send_within_s=s.send_within_s)

    async def read(self, p: Pass, wanted: Sequence[Wanted], on_outcome: OnOutcome | None = None,
                   ) -> list[MeterOutcome]:
        """Read ``wanted`` once; every meter gets one outcome (collected items, reason for the rest).

        A run of 200,000 meters is planned in slices of whole terminals, yielding to the event
        loop between them: planned in one go it held the loop for seconds, and every manual read
        and result waited."""
        outcomes: dict[str, MeterOutcome] = {w.point.meter_id: MeterOutcome(w.point.meter_id) for w in wanted}

        async def one(pr: PlannedRequest) -> None:
            got = await self._exchange(p, pr)
            for o in got:
                merged = outcomes[o.meter_id]
                merged.collected |= o.collected
                merged.readings.extend(o.readings)
                merged.via = merged.via or o.via
                if o.reason:
                    merged.reason = o.reason
            if on_outcome is not None:
                on_outcome(got)

        started: list[asyncio.Task[None]] = []
        opts = self.options(p)
        try:
            for piece in terminal_slices(wanted, PLAN_SLICE):
                planned = plan(p.task_type, piece, p.tag, opts, datetime.now(UTC))
                for w, uncovered in planned.unroutable:
                    outcomes[w.point.meter_id].reason = f"no route for {uncovered[:3]} on a {w.point.protocol} meter"
                started += [asyncio.ensure_future(one(pr)) for pr in planned.requests]
                await asyncio.sleep(0)
            await asyncio.gather(*started)
        except BaseException:
            for task in started:  # cancelled (a stop) or failed: nothing of this pass goes on alone
                task.cancel()
            raise
        return list(outcomes.values())

    async def _exchange(self, p: Pass, pr: PlannedRequest) -> list[MeterOutcome]:
        try:
            result = await self._dispatcher.send(pr.request, p.purpose)
        except Exception as exc:  # the bus refused the request: a failure of this pass, not of the run
            log.warning("request could not be published", request=pr.request.request_id, error=repr(exc))
            return [MeterOutcome(w.point.meter_id, reason=f"request not published: {exc!r}"[:200])
                    for w in pr.meters.values()]
        if result.outcome is not RequestOutcome.ANSWERED:
            reason = f"{result.outcome.value}: {result.detail}".strip(": ")
            return [MeterOutcome(w.point.meter_id, reason=reason) for w in pr.meters.values()]
        readings = self._readings(p, pr, result)
        if readings:
            await self._producer.publish(RawReadingBatch(batch_id=pr.request.request_id, terminal=pr.terminal,
                                                         readings=readings))
            metrics.READINGS.labels(p.source.value).inc(len(readings))
        return self._attribute(p, pr, readings)

    def _readings(self, p: Pass, pr: PlannedRequest, result: DownlinkResult) -> list[Reading]:
        stamp = Stamp(p.source, result.completed_at, self.tz, self.freeze_at)
        if pr.route.forward:
            (w,) = pr.meters.values()
            meter_values = [v for v in forwarded_values(typed_frames(result.frames))
                            if not w.point.meter_address or _same_address(v.meter_address, w.point.meter_address)]
            when = result.completed_at if pr.route.current or not p.expect_time else p.expect_time
            return from_meter(meter_values, w.point, stamp, when, wanted=w.items)
        values, bad = point_values(typed_frames(result.frames))
        points = {pn: w.point for pn, w in pr.meters.items()}
        readings, unmatched = from_points(values, points, pr.terminal, stamp,
                                          wanted={pn: w.items for pn, w in pr.meters.items()})
        if unmatched or bad:
            metrics.UNMATCHED.labels(p.purpose).inc(unmatched + bad)
        return readings

    def _attribute(self, p: Pass, pr: PlannedRequest, readings: list[Reading]) -> list[MeterOutcome]:
        by_meter: dict[str, MeterOutcome] = {w.point.meter_id: MeterOutcome(w.point.meter_id, via=pr.route.name)
                                             for w in pr.meters.values()}
        for r in readings:
            o = by_meter.get(r.meter_id)
            if o is None:
                continue
            if p.expect_time is None or pr.route.current or r.data_time == p.expect_time:
                o.collected.add(r.item)
            if p.keep_readings:
                o.readings.append(r)
        for w in pr.meters.values():
            o = by_meter[w.point.meter_id]
            missing = [i for i in w.items if i not in o.collected]
            if missing:
                o.reason = "answer without a value for " + ", ".join(missing[:3]) + (
                    " at the expected freeze time" if p.expect_time and not pr.route.current else "")
        return list(by_meter.values())


def _same_address(reported: str, expected: str) -> bool:
    return reported.lstrip("0").upper() == expected.lstrip("0").upper()
