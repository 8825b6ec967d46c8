"""Runs the pure pipeline over a series batch by batch, keeping held points and gaps as the database would."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from emms_messages.events import Anomaly
from emms_messages.readings import BackfillRequest, RawReadingBatch, Reading, ValidatedReading
from emms_validator.config.resolve import RuleOverride, RuleResolver
from emms_validator.items import ItemCatalog
from emms_validator.pipeline import BatchContext, BatchResult, Pipeline, VeeParams


@dataclass
class Run:
    pipeline: Pipeline
    ctx: BatchContext = field(default_factory=BatchContext)
    validated: list[ValidatedReading] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    backfills: list[BackfillRequest] = field(default_factory=list)
    results: list[BatchResult] = field(default_factory=list)

    def feed(self, readings: Sequence[Reading]) -> BatchResult:
        """One raw batch (its id numbered by the feed, so two runs of the same series give the same ids)."""
        batch = RawReadingBatch(batch_id=f"feed-{len(self.results)}", terminal=readings[0].terminal or "T",
                                readings=list(readings))
        result = self.pipeline.run_batches([batch], self.ctx)
        for o in result.outcomes:
            for record, _ in [*o.held_new, *o.held_changed]:
                self.ctx.held.setdefault(o.meter_id, {})[(record.item, record.t)] = record
            self.ctx.gaps.setdefault(o.meter_id, []).extend(o.gaps_new)
        self.validated += result.validated
        self.anomalies += result.anomalies
        self.backfills += result.backfills
        self.results.append(result)
        return result

    def feed_by_time(self, readings: Iterable[Reading]) -> None:
        by_t: dict[object, list[Reading]] = {}
        for r in readings:
            by_t.setdefault(r.data_time, []).append(r)
        for t in sorted(by_t):  # type: ignore[type-var]
            self.feed(by_t[t])

    def rules(self) -> set[str]:
        return {a.rule for a in self.anomalies}


def pipeline(global_rules: dict[str, RuleOverride] | None = None) -> Pipeline:
    return Pipeline(ItemCatalog(), RuleResolver(global_rules or {}), VeeParams())
