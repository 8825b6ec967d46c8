"""One reading judged within its series: which path it takes and what the single-item rules find.

Paths:

* ``forward`` — later than the last accepted point: completeness, alignment,
  register increment (monotonic, roll-over, replacement), rate limit, spike and
  low usage against history, zero consumption, closed valve, stuck samples, clock;
* ``repair`` — a data time held earlier comes again (back-fill or re-read): it
  must fit between the accepted neighbours to repair the held point;
* ``late`` — an older data time: fills an open gap if it fits its bounds;
* ``duplicate`` — exactly what was received before: nothing new to say.

Nothing here changes the state; :mod:`emms_validator.engine.meter` applies the
verdicts once consistency checks across items have run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emms_messages.readings import Reading
from emms_validator.engine.params import HotParams
from emms_validator.engine.records import GapRecord, HeldRecord
from emms_validator.model import Finding, Gap, ItemKind, ItemSpec, MeterInfo, RuleBook, iso
from emms_validator.rules import gaps, limits, monotonic, spikes, timing
from emms_validator.rules.limits import StuckRun, ZeroRun
from emms_validator.state import MeterState, SeriesState

REPAIRABLE = ("awaiting_backfill", "unrepaired")


@dataclass(frozen=True, slots=True)
class Env:
    """Everything about the meter a point is judged with."""

    info: MeterInfo
    meter: MeterState
    rules: RuleBook
    offset_s: float
    valve_closed_value: float
    held: Mapping[tuple[str, float], HeldRecord]
    gaps: Sequence[GapRecord]
    hp: HotParams

    def on(self, rule: str) -> bool:
        return rule in self.hp.enabled


@dataclass(slots=True)
class PointEval:
    reading: Reading
    spec: ItemSpec
    series: SeriesState
    t: float
    value: float | None
    path: str
    findings: list[Finding] = field(default_factory=list)
    increment: float | None = None  # register increment from the baseline, raw units
    primary: float | None = None  # the same in primary units (× multiplier)
    prev_t: float | None = None
    prev_value: float | None = None
    replaced: bool = False  # a recorded meter replacement lies between the baseline and this point
    gap: Gap | None = None
    interval_s: float | None = None
    zero: ZeroRun | None = None
    stuck: StuckRun | None = None
    held: HeldRecord | None = None
    fills: GapRecord | None = None
    episode: bool | None = None  # clock items: out of tolerance now

    def find(self, rule: str, values: Mapping[str, object] | None) -> None:
        if values is not None:
            self.findings.append(Finding(rule, self.spec.item, self.t, dict(values)))


def epoch(dt: datetime) -> float:
    """Epoch seconds; a time without a zone is taken as UTC (never the machine's local zone)."""
    return dt.timestamp() if dt.tzinfo is not None else dt.replace(tzinfo=UTC).timestamp()


def evaluate(env: Env, spec: ItemSpec, series: SeriesState, reading: Reading) -> PointEval:
    t = epoch(reading.data_time)
    if reading.value is not None and not math.isfinite(reading.value):  # NaN / inf: no value at all
        reading = reading.model_copy(update={"value": None})
    held = env.held.get((spec.item, t)) if env.held else None
    seen, previous = series.received(t)
    if held is not None and held.status in REPAIRABLE:
        path = "repair"
    elif seen and (previous == reading.value or (previous is not None and reading.value is not None
                                                  and abs(previous - reading.value) <= 1e-9)):
        return PointEval(reading, spec, series, t, reading.value, "duplicate")
    else:
        path = "forward" if series.last_t is None or t > series.last_t else "late"
    ev = PointEval(reading, spec, series, t, reading.value, path, held=held if path == "repair" else None)
    if seen and path != "repair" and env.on("duplicate_time"):
        ev.find("duplicate_time", timing.duplicate_conflict(previous, reading.value, env.hp.duplicate_eps))
    _common(env, ev)
    if path == "forward":
        _forward(env, ev)
    elif path == "repair":
        _repair(env, ev)
    else:
        _late(env, ev)
    return ev


def _common(env: Env, ev: PointEval) -> None:
    hp = env.hp
    if "future_time" in hp.enabled:
        ev.find("future_time", timing.future_time(ev.t, epoch(ev.reading.collected_at), hp.future_tol))
    if ev.value is None:
        if env.on("completeness"):
            ev.find("completeness", {"reason": "empty value", "time": iso(ev.t)})
        return
    if "range" in hp.enabled:
        low, high = hp.limits(limits.role_group(ev.spec.role))
        ev.find("range", limits.limit_violation(ev.spec, ev.value, low, high, env.info.register_modulus))
    if ev.spec.kind is ItemKind.CLOCK and "clock_tolerance" in hp.enabled:
        deviation = timing.clock_deviation_of(ev.spec.role, ev.value, epoch(ev.reading.collected_at))
        found = timing.clock_deviation(deviation, hp.clock_tol)
        ev.episode = found is not None
        if not ev.series.episode:  # one anomaly per episode, at its start
            ev.find("clock_tolerance", found)


def _forward(env: Env, ev: PointEval) -> None:
    s, hp = ev.series, env.hp
    interval = ev.spec.interval_s or s.interval_s
    if s.last_t is not None:
        ev.interval_s = ev.spec.interval_s or gaps.learn_interval(s.last_t, ev.t, s.interval_s, env.offset_s)
        if interval and "completeness" in hp.enabled:
            # from the last *received* point: a held one is not missing, it is awaiting back-fill
            latest = s.latest_received
            anchor = max(s.last_t, latest) if latest is not None and latest < ev.t else \
                max([s.last_t, *(rt for rt, _ in s.recent if rt < ev.t)])
            ev.gap = gaps.find_gap(ev.spec.item, anchor, ev.t, interval, hp.completeness_tol)
        if interval and "interval_alignment" in hp.enabled and not gaps.aligned(
                ev.t, interval, env.offset_s, hp.alignment_tol):
            ev.find("interval_alignment", {"interval_s": interval, "time": iso(ev.t)})
    else:
        ev.interval_s = ev.spec.interval_s
    if ev.value is None:
        return
    if ev.spec.kind is ItemKind.CUMULATIVE and s.last_t is not None and s.last_value is not None:
        _register(env, ev, s.last_t, s.last_value)
    elif ev.spec.kind is ItemKind.INSTANT and "stuck_value" in hp.enabled:
        ev.stuck, found = limits.update_stuck(s.stuck, ev.value, hp.stuck_count)
        ev.find("stuck_value", found)


def _register(env: Env, ev: PointEval, prev_t: float, prev_value: float) -> None:
    """Increment from the baseline and every rule that judges it."""
    assert ev.value is not None
    hp, on = env.hp, env.hp.enabled
    ev.prev_t, ev.prev_value = prev_t, prev_value
    inc = monotonic.register_increment(prev_t, prev_value, ev.t, ev.value, env.info.register_modulus,
                                       env.meter.replacements, hp.rollover_fraction)
    if inc.value is None:
        if "monotonic" in on:
            ev.find("monotonic", monotonic.decrease_values(prev_value, ev.value, iso(prev_t)))
        return
    ev.increment, ev.replaced = inc.value, inc.replaced
    ev.primary = primary = inc.value * env.info.multiplier
    if hp.max_per_hour is not None and "delta_limit" in on:
        ev.find("delta_limit", limits.rate_violation(primary, (ev.t - prev_t) / 3600.0, hp.max_per_hour))
    profile = ev.series.profile
    expected = profile.expected_span(prev_t, ev.t, env.offset_s, hp.history_min) if profile is not None else None
    if expected is not None and not inc.replaced:
        if "spike" in on:
            ev.find("spike", spikes.spike(primary, expected, env.rules["spike"]))
        if "low_usage" in on:
            ev.find("low_usage", spikes.low_usage(primary, ev.t - prev_t, expected, env.rules["low_usage"]))
    closed = env.meter.valve_closed_since
    if "zero_consumption" in on and (primary <= 0 or ev.series.zero.since is not None):
        excused = env.meter.outage_between(prev_t, ev.t) or (closed is not None and closed <= prev_t)
        ev.zero, found = limits.update_zero_run(
            ev.series.zero, prev_t, ev.t, primary, expected.mean if expected else None, excused,
            hp.zero_min_s, hp.zero_min_expected)
        ev.find("zero_consumption", found)


def _repair(env: Env, ev: PointEval) -> None:
    """A held point comes again: it must fit between the accepted neighbours."""
    held, s = ev.held, ev.series
    assert held is not None
    if ev.value is None or ev.spec.kind is not ItemKind.CUMULATIVE:
        return
    if held.prev_t is not None and held.prev_value is not None:
        _register(env, ev, held.prev_t, held.prev_value)
    _check_upper(env, ev, s.last_t, s.last_value)


def _late(env: Env, ev: PointEval) -> None:
    ev.fills = next((g for g in env.gaps if g.item == ev.spec.item and g.prev_t < ev.t < g.next_t), None)
    g = ev.fills
    if g is None or ev.value is None or ev.spec.kind is not ItemKind.CUMULATIVE or not env.on("monotonic"):
        return
    if g.prev_value is not None and monotonic.register_increment(
            g.prev_t, g.prev_value, ev.t, ev.value, env.info.register_modulus, env.meter.replacements,
            env.hp.rollover_fraction).value is None:
        ev.find("monotonic", monotonic.decrease_values(g.prev_value, ev.value, iso(g.prev_t)))
    _check_upper(env, ev, g.next_t, g.next_value)


def _check_upper(env: Env, ev: PointEval, next_t: float | None, next_value: float | None) -> None:
    """The point must not exceed the accepted register value that follows it."""
    if next_t is None or next_value is None or next_t <= ev.t or ev.value is None or not env.on("monotonic"):
        return
    inc = monotonic.register_increment(ev.t, ev.value, next_t, next_value, env.info.register_modulus,
                                       env.meter.replacements, env.hp.rollover_fraction)
    if inc.value is None:
        ev.find("monotonic", {"value": ev.value, "next": next_value, "next_time": iso(next_t),
                              "excess": ev.value - next_value})
