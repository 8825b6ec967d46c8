"""Properties of the whole pipeline and of the persisted state, over generated series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st
from vee_harness import Run, pipeline

from emms_messages.readings import Reading, ReadingSource, ValidationStatus
from emms_validator.estimation.profile import Profile
from emms_validator.model import MeterInfo
from emms_validator.rules.limits import StuckRun, ZeroRun
from emms_validator.state import SeriesState

T0 = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)  # local midnight, UTC+8
ITEM = "energy.active.import.total"


def _series(meter: str, values: list[float]) -> list[Reading]:
    return [Reading(meter_id=meter, item=ITEM, data_time=T0 + timedelta(days=k), value=v, unit="kWh",
                    source=ReadingSource.SCHEDULED, collected_at=T0 + timedelta(days=k, minutes=5))
            for k, v in enumerate(values)]


@settings(max_examples=40, deadline=None)
@given(start=st.floats(min_value=0, max_value=1e5), incs=st.lists(
    st.floats(min_value=0, max_value=500, allow_nan=False), min_size=2, max_size=30))
def test_a_monotone_series_never_raises_a_monotonic_anomaly(start: float, incs: list[float]) -> None:
    run = Run(pipeline())
    run.feed_by_time(_series("P", list(accumulate(incs, initial=start))))
    assert not {"monotonic", "range"} & run.rules()
    # anything held was held for its size against history, never for falling
    assert all("spike" in v.rules_failed for v in run.validated if v.status is ValidationStatus.HELD)


@settings(max_examples=40, deadline=None)
@given(digits=st.integers(min_value=4, max_value=7), start_frac=st.floats(min_value=0.5, max_value=0.999),
       incs=st.lists(st.floats(min_value=0, max_value=0.04), min_size=2, max_size=30))
def test_rollover_at_the_register_width_is_not_a_decrease(digits: int, start_frac: float,
                                                          incs: list[float]) -> None:
    modulus = float(10**digits)
    true = list(accumulate((i * modulus for i in incs), initial=start_frac * modulus))
    run = Run(pipeline())
    run.ctx.meters["W"] = MeterInfo("W", register_modulus=modulus)
    run.feed_by_time(_series("W", [v % modulus for v in true]))
    assert "monotonic" not in run.rules() and "range" not in run.rules()


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
maybe = st.none() | finite


@given(last_t=maybe, last_value=maybe, interval=st.none() | st.sampled_from([900.0, 3600.0, 86_400.0]),
       recent=st.lists(st.tuples(finite, maybe), max_size=16), held=st.lists(st.tuples(finite, finite), max_size=5),
       zero=st.tuples(maybe, st.booleans()), stuck=st.tuples(maybe, st.integers(0, 1000)), episode=st.booleans(),
       samples=st.lists(st.tuples(st.integers(0, 10**6), st.floats(min_value=0, max_value=1e4)), max_size=30))
def test_the_packed_state_round_trips(last_t: float | None, last_value: float | None, interval: float | None,
                                      recent: list[tuple[float, float | None]], held: list[tuple[float, float]],
                                      zero: tuple[float | None, bool], stuck: tuple[float | None, int],
                                      episode: bool, samples: list[tuple[int, float]]) -> None:
    profile = Profile.empty(interval) if interval else None
    for t, inc in samples:
        if profile is not None:
            profile.update(t * 900.0, inc, 28_800.0, 0.3)
    state = SeriesState("x", last_t, last_value, interval, recent, held, ZeroRun(*zero), StuckRun(*stuck),
                        profile, episode)
    back = SeriesState.unpack("x", state.pack())
    assert back.pack() == state.pack()
    assert (back.last_t, back.last_value, back.interval_s, back.recent, back.held_run, back.zero, back.stuck,
            back.episode) == (last_t, last_value, interval, recent, held, ZeroRun(*zero), StuckRun(*stuck), episode)
