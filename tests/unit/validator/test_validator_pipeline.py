"""The pipeline on synthetic meters: clean meters raise nothing, each injected case its own rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from vee_harness import Run, pipeline

from emms_messages.events import EventClass
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource, ValidationStatus
from emms_validator.config.resolve import RuleOverride
from emms_validator.model import MeterInfo
from emms_validator.pipeline import BatchContext, validated_batch_id
from emms_validator.state import MeterState, SeriesState
from emms_validator.synthetic import SyntheticMeter, readings, replacement_time

START = datetime(2026, 1, 1, tzinfo=UTC)
FAULT_UTILITY = {"valve_closed_flow": "water", "supply_below_return": "heat", "zero_consumption": "water"}
EXPECTED_RULE = {
    "missing_day": "completeness", "spike": "spike", "transient": "monotonic",
    "valve_closed_flow": "valve_closed_flow", "replaced_unrecorded": "baseline_reset",
    "clock_drift": "clock_tolerance", "tariff_mismatch": "tariff_sum", "supply_below_return": "supply_return",
    "zero_consumption": "zero_consumption",
}


@pytest.mark.parametrize(("utility", "interval"), [
    ("electricity", 86_400), ("electricity", 3600), ("water", 86_400), ("water", 900), ("heat", 86_400),
])
def test_clean_meters_raise_no_findings(utility: str, interval: int) -> None:
    run = Run(pipeline())
    days = 45 if interval == 86_400 else 12
    run.feed_by_time(readings(SyntheticMeter(f"C-{utility}-{interval}", utility, interval), START, days))
    assert run.anomalies == []
    assert {v.status for v in run.validated} == {ValidationStatus.VALID}
    assert run.backfills == []


@pytest.mark.parametrize("fault", sorted(EXPECTED_RULE))
def test_each_injected_case_is_flagged_by_its_rule(fault: str) -> None:
    meter = SyntheticMeter(f"F-{fault}", FAULT_UTILITY.get(fault, "electricity"), faults=frozenset({fault}))
    run = Run(pipeline())
    run.feed_by_time(readings(meter, START, 45))
    assert EXPECTED_RULE[fault] in run.rules()
    fault_day = START + timedelta(days=meter.fault_day)
    flagged = {a.data_time.date() for a in run.anomalies if a.rule == EXPECTED_RULE[fault]}
    assert min(flagged) >= (fault_day - timedelta(days=2)).date()  # nothing before the fault


def test_a_recorded_replacement_is_no_decrease() -> None:
    meter = SyntheticMeter("R-1", "electricity", faults=frozenset({"replaced"}))
    run = Run(pipeline())
    run.ctx.meter_states["R-1"] = MeterState(replacements=[(replacement_time(meter, START).timestamp(), 0.0)])
    run.feed_by_time(readings(meter, START, 45))
    assert run.anomalies == []
    assert {v.status for v in run.validated} == {ValidationStatus.VALID}


def test_missing_day_is_reported_backfilled_estimated_and_filled_later() -> None:
    meter = SyntheticMeter("G-1", "electricity", faults=frozenset({"missing_day"}))
    run = Run(pipeline())
    run.feed_by_time(readings(meter, START, 40))
    gap_requests = [b for b in run.backfills if "completeness" in b.reason]
    assert len(gap_requests) == 1 and len(gap_requests[0].items) == 6  # one request for every item of the day
    estimates = [v for v in run.validated if v.status is ValidationStatus.ESTIMATED]
    assert {v.item for v in estimates} == {"energy.active.import.total", *(f"energy.active.import.t{n}"
                                                                           for n in range(1, 5))}
    assert {v.method for v in estimates} == {"profile"}
    truth = {r.item: r for r in readings(SyntheticMeter("G-1", "electricity"), START, 40)
             if r.data_time == gap_requests[0].start}
    total = next(v for v in estimates if v.item == "energy.active.import.total")
    assert abs(total.value - truth["energy.active.import.total"].value) < 0.2 * meter.per_day  # type: ignore[operator]
    backfilled = [r.model_copy(update={"source": ReadingSource.BACKFILL}) for r in truth.values()]
    result = run.feed(backfilled)
    assert {v.status for v in result.validated} == {ValidationStatus.VALID}
    assert sum(len(o.gaps_filled) for o in result.outcomes) == 6
    assert result.backfills == [] and result.anomalies == []


def _held_total(run: Run) -> Reading:
    held = next(v for v in run.validated if v.status is ValidationStatus.HELD
                and v.item == "energy.active.import.total")
    return Reading(meter_id=held.meter_id, item=held.item, data_time=held.data_time, value=0.0, unit="kWh",
                   source=ReadingSource.BACKFILL, collected_at=held.data_time + timedelta(days=1))


def test_transient_fault_is_held_then_repaired_by_backfill() -> None:
    meter = SyntheticMeter("T-1", "electricity", faults=frozenset({"transient"}))
    run = Run(pipeline())
    run.feed_by_time(readings(meter, START, 35))
    assert "monotonic" in run.rules()
    point = _held_total(run)
    request = next(b for b in run.backfills if point.item in b.items)
    assert request.start == request.end == point.data_time and "monotonic" in request.reason
    true = next(r for r in readings(SyntheticMeter("T-1", "electricity"), START, 35)
                if r.item == point.item and r.data_time == point.data_time)
    result = run.feed([point.model_copy(update={"value": true.value})])
    assert [(v.status, v.value, v.method) for v in result.validated] == [
        (ValidationStatus.REPAIRED, true.value, "backfill")]
    assert result.outcomes[0].held_changed[0][0].status == "repaired"


def test_a_backfill_that_still_fails_leaves_the_point_unrepaired() -> None:
    meter = SyntheticMeter("T-2", "electricity", faults=frozenset({"transient"}))
    run = Run(pipeline())
    run.feed_by_time(readings(meter, START, 35))
    point = _held_total(run)
    result = run.feed([point])  # back-fill brings 0.0 again: still a decrease
    assert result.validated == []
    assert [a.rule for a in result.anomalies] == ["repair_failed"]
    assert result.anomalies[0].severity is EventClass.IMPORTANT
    assert result.outcomes[0].held_changed[0][0].status == "unrepaired"


def test_same_input_on_same_state_gives_the_same_message_ids() -> None:
    meter = SyntheticMeter("D-1", "electricity", faults=frozenset({"spike", "missing_day"}))
    series = readings(meter, START, 40)
    first, second = Run(pipeline()), Run(pipeline())
    first.feed_by_time(series)
    second.feed_by_time(series)
    ids = [[m.stable_id() for m in r.messages] for r in first.results]
    assert ids == [[m.stable_id() for m in r.messages] for r in second.results]
    assert len({i for batch in ids for i in batch}) == sum(len(b) for b in ids)  # no id used twice


def test_restart_from_saved_state_gives_the_same_results() -> None:
    meter = SyntheticMeter("S-1", "heat", interval_s=3600, faults=frozenset({"supply_below_return"}), fault_day=6)
    series = readings(meter, START, 10)
    whole = Run(pipeline())
    whole.feed_by_time(series)
    half = len(series) // 2
    cut = series[half].data_time
    before, after = [r for r in series if r.data_time < cut], [r for r in series if r.data_time >= cut]
    first = Run(pipeline())
    first.feed_by_time(before)
    restarted = Run(pipeline())  # a new process: states only through their JSON
    restarted.ctx.series = {k: SeriesState.unpack(k[1], s.pack()) for k, s in first.ctx.series.items()}
    restarted.ctx.meter_states = {m: MeterState.from_json(json.loads(json.dumps(s.to_json())))
                                  for m, s in first.ctx.meter_states.items()}
    restarted.feed_by_time(after)
    assert [m.stable_id() for m in first.validated + restarted.validated] == [m.stable_id() for m in whole.validated]
    assert [a.anomaly_id for a in first.anomalies + restarted.anomalies] == [a.anomaly_id for a in whole.anomalies]


def test_redelivered_readings_produce_nothing_new() -> None:
    series = readings(SyntheticMeter("X-1", "water"), START, 20)
    run = Run(pipeline())
    run.feed_by_time(series)
    again = run.feed(series[-10:])
    assert again.validated == [] and again.anomalies == [] and again.backfills == []


def test_duplicate_time_with_a_different_value_and_future_time_are_held() -> None:
    series = readings(SyntheticMeter("X-2", "water"), START, 10)
    run = Run(pipeline())
    run.feed_by_time(series)
    last = series[-2]
    assert last.item == "water.volume"
    result = run.feed([last.model_copy(update={"value": last.value + 5})])  # type: ignore[operator]
    assert [a.rule for a in result.anomalies] == ["duplicate_time"]
    assert result.validated[0].status is ValidationStatus.HELD
    future = last.model_copy(update={"data_time": last.data_time + timedelta(days=3),
                                     "value": last.value + 1})  # type: ignore[operator]
    result = run.feed([future])
    assert "future_time" in {a.rule for a in result.anomalies}
    assert result.validated[-1].status is ValidationStatus.HELD


def test_key_customers_anomalies_are_important_and_rules_can_be_switched_off() -> None:
    meter = SyntheticMeter("K-1", "heat", faults=frozenset({"supply_below_return"}))
    run = Run(pipeline())
    run.ctx.meters["K-1"] = MeterInfo("K-1", utility="heat", customer_id="C1", key_customer=True)
    run.feed_by_time(readings(meter, START, 35))
    assert [(a.rule, a.severity) for a in run.anomalies] == [("supply_return", EventClass.IMPORTANT)]
    off = Run(pipeline({"supply_return": RuleOverride(enabled=False)}))
    off.feed_by_time(readings(meter, START, 35))
    assert off.anomalies == []


def test_power_against_energy_on_hourly_data() -> None:
    series = readings(SyntheticMeter("P-1", "electricity", interval_s=3600, daily=240.0), START, 3)
    times = sorted({r.data_time for r in series})[-3:-1]  # two consecutive hours: 100 kW sampled, ~10 kWh/h metered
    broken = [r.model_copy(update={"value": 100.0}) if r.item == "power.active.total" and r.data_time in times
              else r for r in series]
    run = Run(pipeline())
    run.feed_by_time(broken)
    assert [(a.rule, a.item, a.data_time) for a in run.anomalies] == [
        ("power_energy", "energy.active.import.total", times[1])]
    assert run.anomalies[0].values["bound"] == "low"


def test_bad_input_is_a_finding_never_a_crash() -> None:
    series = readings(SyntheticMeter("N-1", "water"), START, 5)
    volume = [r for r in series if r.item == "water.volume"]
    nan = volume[-1].model_copy(update={"value": float("nan")})
    naive = volume[-2].model_copy(update={"data_time": volume[-2].data_time.replace(tzinfo=None)})
    run = Run(pipeline())
    run.feed_by_time(volume[:-2])
    run.feed([naive])
    assert run.anomalies == [] and {v.status for v in run.validated} == {ValidationStatus.VALID}
    result = run.feed([nan])
    assert [(a.rule, a.values["reason"]) for a in result.anomalies] == [("completeness", "empty value")]
    assert result.validated[0].status is ValidationStatus.HELD


def _water(meter_id: str, t: datetime, volume: float, valve: float) -> list[Reading]:
    return [Reading(meter_id=meter_id, item=item, data_time=t, value=value, unit=unit, source=ReadingSource.SCHEDULED,
                    collected_at=t + timedelta(minutes=1))
            for item, value, unit in (("water.volume", volume, "m³"), ("valve.state", valve, ""))]


def test_a_slow_flow_behind_a_closed_valve_is_found_from_the_closure_on() -> None:
    """0.01 m³ an hour never exceeds ``min_advance`` in one interval; 0.02 since the closure does."""
    run = Run(pipeline())
    volume = 100.0
    for h in range(30):
        closed = 24 <= h < 29
        volume += 0.01 if closed else 0.02
        run.feed(_water("VF-1", START + timedelta(hours=h), round(volume, 2), 0.0 if closed else 1.0))
    found = [(a.rule, a.data_time) for a in run.anomalies]
    assert found == [("valve_closed_flow", START + timedelta(hours=26))]  # once per closure
    assert run.anomalies[0].values["advance"] == pytest.approx(0.02)


def test_a_valve_read_open_again_leaves_the_interval_in_doubt() -> None:
    """Closed at one daily read, open at the next: the day's use may all be after it opened."""
    run = Run(pipeline())
    for d in range(12):
        run.feed(_water("VF-2", START + timedelta(days=d), 100.0 + 0.5 * d, 0.0 if d == 8 else 1.0))
    assert run.anomalies == []


def test_each_raw_batch_gets_its_own_validated_batch_and_estimates_go_with_the_reading_that_found_the_gap() -> None:
    series = readings(SyntheticMeter("B-1", "electricity", faults=frozenset({"missing_day"}), fault_day=23,
                                     terminal="0101-00007"), START, 25)
    by_day: dict[datetime, list[Reading]] = {}
    for r in series:
        by_day.setdefault(r.data_time, []).append(r)
    days = sorted(by_day)
    p, ctx = pipeline(), BatchContext()
    first = [RawReadingBatch(batch_id=f"raw-{k}", terminal="0101-00007", readings=by_day[d]) for k, d in
             enumerate(days[:-2])]
    p.run_batches(first, ctx)
    last = [RawReadingBatch(batch_id=f"raw-{k}", terminal="0101-00007", readings=by_day[d]) for k, d in
            enumerate(days[-2:], start=len(days) - 2)]
    again = RawReadingBatch(batch_id="raw-again", terminal="0101-00007", readings=by_day[days[-3]])
    result = p.run_batches([again, *last], ctx)  # judged together, published apart
    assert [b.batch_id for b in result.batches] == [validated_batch_id(b.batch_id) for b in last]
    assert all(b.terminal == "0101-00007" for b in result.batches)
    gap_day = next(b for b in result.batches if any(v.status is ValidationStatus.ESTIMATED for v in b.readings))
    raw = next(b for b in last if validated_batch_id(b.batch_id) == gap_day.batch_id)
    assert {v.data_time for v in gap_day.readings if v.status is ValidationStatus.VALID} == {raw.readings[0].data_time}
    estimated = {v.data_time for v in gap_day.readings if v.status is ValidationStatus.ESTIMATED}
    assert estimated and all(days[-3] < t < raw.readings[0].data_time for t in estimated)  # the missing day
    assert sum(len(b.readings) for b in result.batches) == len(result.validated)
    assert result.messages[:len(result.batches)] == result.batches
