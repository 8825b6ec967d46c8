"""All readings of one meter in a batch, in data-time order: verdicts, state changes, estimates, back-fill.

Per data time: judge each item's reading (:mod:`~emms_validator.engine.points`),
then the checks across items (:mod:`~emms_validator.engine.consistency`), then
apply the verdicts — valid readings move the baseline and teach the profile;
suspect ones are held and re-collected; gaps are reported, re-collected and
estimated where allowed; repairs that fit are published as repaired.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from emms_messages.events import EventClass
from emms_messages.readings import Reading, ReadingSource, ValidationStatus
from emms_validator.engine.consistency import check_group
from emms_validator.engine.points import Env, PointEval, evaluate
from emms_validator.engine.records import (
    BackfillSpec,
    EstimatedPoint,
    GapRecord,
    HeldRecord,
    MeterOutcome,
    PointResult,
    Resolved,
)
from emms_validator.estimation.chooser import estimate_gap
from emms_validator.estimation.profile import Profile
from emms_validator.items import ItemCatalog
from emms_validator.model import Action, Finding, ItemKind, iso
from emms_validator.rules.monotonic import mutually_monotone
from emms_validator.state import SeriesState

VALUE_RULES = frozenset({"monotonic", "spike", "range", "delta_limit"})


class MeterEvaluation:
    """Runs one meter's readings of one batch against its loaded state (which it updates in place)."""

    def __init__(self, env: Env, series: dict[str, SeriesState], catalog: ItemCatalog, alpha: float) -> None:
        self.env = env
        self.series = series
        self.catalog = catalog
        self.alpha = alpha
        self.out = MeterOutcome(env.info.meter_id)
        self._backfill: list[tuple[str, float, float, str]] = []
        self._held = dict(env.held)

    def run(self, readings: Sequence[Reading]) -> MeterOutcome:
        for group in _groups(readings):
            env = Env(self.env.info, self.env.meter, self.env.rules, self.env.offset_s,
                      self.env.valve_closed_value, self._held, self.env.gaps, self.env.hp)
            evals = [evaluate(env, self.catalog.spec(r.item), self._series(r.item), r) for r in group]
            check_group(env, evals, self.series)
            for ev in evals:
                self._finalize(ev)
            self._meter_state(evals)
        self.out.backfills = _merge(self._backfill)
        return self.out

    def _series(self, item: str) -> SeriesState:
        s = self.series.get(item)
        if s is None:
            s = self.series[item] = SeriesState(item)
        return s

    def _resolve(self, f: Finding, reading: Reading | None) -> Resolved:
        setting = self.env.rules[f.rule]
        severity = EventClass.IMPORTANT if self.env.info.key_customer else setting.severity
        resolved = Resolved(f.rule, f.item, f.t, setting.action, severity, f.values, reading)
        self.out.findings.append(resolved)
        return resolved

    def _finalize(self, ev: PointEval) -> None:
        if ev.path == "duplicate":
            return
        self.out.state_changed = True
        if not ev.findings and ev.path == "forward" and ev.gap is None:  # the usual case, kept short
            self._accept(ev)
            self.out.results.append(PointResult(ev.reading, ValidationStatus.VALID, ev.value, "", ()))
            ev.series.remember(ev.t, ev.value)
            if ev.episode is not None:
                ev.series.episode = ev.episode
            return
        holds = [f.rule for f in ev.findings if self.env.rules[f.rule].action is Action.HOLD]
        failed = tuple(sorted({f.rule for f in ev.findings}))
        if ev.path == "repair":  # a failed repair is one finding: repair_failed, listing what failed
            self._finish_repair(ev, bool(holds), failed)
            return
        for f in ev.findings:
            self._resolve(f, ev.reading)
        if ev.episode is not None and ev.path == "forward":
            ev.series.episode = ev.episode
        if any(f.rule == "valve_closed_flow" for f in ev.findings):
            self.env.meter.valve_flow_reported = self.env.meter.valve_closed_since
        if ev.path == "late":
            self._finish_late(ev, holds, failed)
        else:
            self._finish_forward(ev, holds, failed)

    def _publish(self, ev: PointEval, status: ValidationStatus, failed: tuple[str, ...], method: str = "") -> None:
        value = None if status is ValidationStatus.HELD else ev.value
        self.out.results.append(PointResult(ev.reading, status, value, method, failed))

    def _hold(self, ev: PointEval, failed: tuple[str, ...], prev_t: float | None, prev_value: float | None) -> None:
        record = HeldRecord(ev.spec.item, ev.t, ev.value, prev_t, prev_value, failed)
        self._held[(ev.spec.item, ev.t)] = record
        self.out.held_new.append((record, ev.reading))
        self._publish(ev, ValidationStatus.HELD, failed)
        if ev.reading.source is not ReadingSource.BACKFILL:
            self._backfill.append((ev.spec.item, ev.t, ev.t, ",".join(failed)))

    def _finish_forward(self, ev: PointEval, holds: list[str], failed: tuple[str, ...]) -> None:
        s = ev.series
        if ev.gap is not None:
            self._gap(ev, accepted=not holds)
        s.remember(ev.t, ev.value)
        if holds and self._baseline_reset(ev, holds):
            failed = tuple(sorted({*failed, "baseline_reset"}))
            holds = []
        if holds:
            if set(holds) <= VALUE_RULES and ev.value is not None:
                s.held_run.append((ev.t, ev.value))
            self._hold(ev, failed, s.last_t, s.last_value)
            return
        self._accept(ev)
        self._publish(ev, ValidationStatus.VALID, failed)

    def _accept(self, ev: PointEval) -> None:
        """The point becomes the baseline; runs, interval and profile move on."""
        s = ev.series
        prev_t = s.last_t
        if ev.value is None:
            return
        s.last_t, s.last_value = ev.t, ev.value
        if s.held_run:
            s.held_run = [p for p in s.held_run if p[0] > ev.t]
        if ev.interval_s is not None:
            s.interval_s = ev.interval_s
        if ev.zero is not None:
            s.zero = ev.zero
        if ev.stuck is not None:
            s.stuck = ev.stuck
        if s.interval_s is not None and (s.profile is None or s.profile.interval_s != s.interval_s):
            s.profile = Profile.empty(s.interval_s)
        if (s.profile is not None and ev.primary is not None and prev_t is not None and not ev.replaced
                and abs(ev.t - prev_t - s.profile.interval_s) <= 1.0):
            s.profile.update(ev.t, ev.primary, self.env.offset_s, self.alpha)

    def _baseline_reset(self, ev: PointEval, holds: list[str]) -> bool:
        """Enough held readings in a row that agree with each other: move the baseline (V9)."""
        if (ev.value is None or ev.spec.kind is not ItemKind.CUMULATIVE or not set(holds) <= VALUE_RULES
                or "range" in holds or not self.env.on("baseline_reset")):
            return False
        run = [*ev.series.held_run, (ev.t, ev.value)]
        if len(run) < int(self.env.rules["baseline_reset"].p("after")) or not mutually_monotone([v for _, v in run]):
            return False
        self._resolve(Finding("baseline_reset", ev.spec.item, ev.t, {
            "held_in_a_row": len(run), "previous_baseline": ev.series.last_value, "new_baseline": ev.value,
            "first_held": iso(run[0][0])}), ev.reading)
        ev.series.held_run = []
        return True

    def _gap(self, ev: PointEval, accepted: bool) -> None:
        gap, s = ev.gap, ev.series
        assert gap is not None
        self._resolve(Finding("completeness", gap.item, gap.start, {
            "missing": gap.count, "start": iso(gap.start), "end": iso(gap.end), "interval_s": gap.interval_s}),
            ev.reading)
        prev_value = s.last_value if gap.prev_t == s.last_t else None  # None: the point before is held
        record = GapRecord(gap.item, gap.prev_t, gap.next_t, prev_value,
                           ev.value if accepted else None, gap.interval_s, gap.count)
        if ev.reading.source is not ReadingSource.BACKFILL:
            self._backfill.append((gap.item, gap.start, gap.end, "completeness"))
        if accepted and prev_value is not None and ev.value is not None and "estimation" in self.env.rules:
            delta = ev.increment if ev.spec.kind is ItemKind.CUMULATIVE else None
            est = estimate_gap(gap, ev.spec.kind, prev_value, ev.value, delta, s.profile, self.env.offset_s,
                               self.env.rules["estimation"], self.env.info.register_modulus)
            if est is not None:
                record.estimated = est.method
                self.out.estimates += [EstimatedPoint(gap.item, t, v, est.method, ev.reading)
                                       for t, v in zip(est.times, est.values, strict=True)]
        self.out.gaps_new.append(record)

    def _finish_repair(self, ev: PointEval, hold: bool, failed: tuple[str, ...]) -> None:
        held, s = ev.held, ev.series
        assert held is not None
        if hold or ev.value is None:
            held.status = "unrepaired"
            self.out.held_changed.append((held, ev.reading))
            self._resolve(Finding("repair_failed", held.item, held.t, {
                "raw": held.raw_value, "recollected": ev.value, "rules": list(failed),
                "held_for": list(held.rules)}), ev.reading)
            return
        held.status = "repaired"
        self.out.held_changed.append((held, ev.reading))
        s.remember(ev.t, ev.value)
        if s.last_t is None or ev.t > s.last_t:
            self._accept(ev)
        else:
            s.held_run = [p for p in s.held_run if p[0] != ev.t]
        method = "backfill" if ev.reading.source is ReadingSource.BACKFILL else "recollected"
        self._publish(ev, ValidationStatus.REPAIRED, failed, method)

    def _finish_late(self, ev: PointEval, holds: list[str], failed: tuple[str, ...]) -> None:
        ev.series.remember(ev.t, ev.value)
        if holds:
            g = ev.fills
            self._hold(ev, failed, g.prev_t if g else None, g.prev_value if g else None)
            return
        if ev.fills is not None:
            self.out.gaps_filled.append((ev.fills, ev.t))
        self._publish(ev, ValidationStatus.VALID, failed)

    def _meter_state(self, evals: Sequence[PointEval]) -> None:
        for ev in evals:
            if ev.spec.role == "valve" and ev.value is not None and ev.path == "forward":
                self.env.meter.valve(ev.t, ev.value == self.env.valve_closed_value)


def _groups(readings: Sequence[Reading]) -> Iterator[list[Reading]]:
    """Readings by data time; a second reading of the same item and time goes into a later group."""
    ordered = sorted(readings, key=lambda r: r.data_time)  # stable: arrival order within one data time
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j].data_time == ordered[i].data_time:
            j += 1
        pending = ordered[i:j]
        while pending:
            seen: set[str] = set()
            group: list[Reading] = []
            rest: list[Reading] = []
            for r in pending:
                (rest if r.item in seen else group).append(r)
                seen.add(r.item)
            yield group
            pending = rest
        i = j


def _merge(specs: list[tuple[str, float, float, str]]) -> list[BackfillSpec]:
    """One back-fill request per period, listing every item missing or suspect in it."""
    periods: dict[tuple[float, float], tuple[set[str], set[str]]] = {}
    for item, start, end, reason in specs:
        items, reasons = periods.setdefault((start, end), (set(), set()))
        items.add(item)
        reasons.update(x for x in reason.split(",") if x)
    return [BackfillSpec(tuple(sorted(i)), s, e, tuple(sorted(r))) for (s, e), (i, r) in sorted(periods.items())]
