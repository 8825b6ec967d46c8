"""Limits, spikes, consistency and time rules, by hand-made cases and properties."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st

from emms_messages.events import EventClass
from emms_validator.config.catalog import RULES
from emms_validator.estimation.profile import Expected
from emms_validator.model import Action, ItemKind, ItemSpec, RuleSetting
from emms_validator.rules import consistency, limits, spikes, timing
from emms_validator.rules.limits import StuckRun, ZeroRun


def _rule(name: str, **params: float | None) -> RuleSetting:
    d = RULES[name]
    return RuleSetting(True, Action.HOLD, EventClass.NORMAL, MappingProxyType({**d.params, **params}))


def test_range_by_role_and_register_bounds() -> None:
    volt = ItemSpec("voltage.a", ItemKind.INSTANT, "voltage")
    assert limits.range_violation(volt, 231.0, _rule("range"), None) is None
    assert limits.range_violation(volt, 400.0, _rule("range"), None) == {"value": 400.0, "high": 300.0}
    supply = ItemSpec("temperature.supply", ItemKind.INSTANT, "temperature_supply")
    assert limits.range_violation(supply, -60.0, _rule("range"), None) == {"value": -60.0, "low": -40.0}
    power = ItemSpec("power.active", ItemKind.INSTANT, "power")
    assert limits.range_violation(power, 1e9, _rule("range"), None) is None  # no default limit for power
    assert limits.range_violation(power, 60.0, _rule("range", power_high=50.0), None) is not None
    reg = ItemSpec("energy", ItemKind.CUMULATIVE, "energy")
    assert limits.range_violation(reg, -1.0, _rule("range"), None) is not None
    assert limits.range_violation(reg, 1e6, _rule("range"), 1e6) is not None
    assert limits.range_violation(reg, 999_999.99, _rule("range"), 1e6) is None


def test_rate_limit_only_when_configured() -> None:
    assert limits.rate_violation(100.0, 1.0, None) is None
    assert limits.rate_violation(100.0, 2.0, 60.0) is None
    assert limits.rate_violation(100.0, 1.0, 60.0) == {"increment": 100.0, "per_hour": 100.0, "max_per_hour": 60.0}


def test_zero_run_reports_once_and_is_excused_by_outages() -> None:
    run = ZeroRun(None, False)
    found = []
    for k in range(1, 6):
        run, f = limits.update_zero_run(run, (k - 1) * 3600 * 12, k * 3600 * 12, 0.0, 5.0, False, 86_400, 0.1)
        found.append(f)
    assert [f is not None for f in found] == [False, True, False, False, False]
    run, f = limits.update_zero_run(ZeroRun(None, False), 0, 200_000, 0.0, 5.0, True, 86_400, 0.1)
    assert f is None and run.since is None
    # a meter that never consumes is not expected to
    _, f = limits.update_zero_run(ZeroRun(None, False), 0, 200_000, 0.0, 0.01, False, 86_400, 0.1)
    assert f is None


@given(values=st.lists(st.sampled_from([0.0, 1.5, 2.5]), min_size=1, max_size=80), limit=st.integers(2, 10))
def test_stuck_is_reported_exactly_when_a_run_reaches_the_limit(values: list[float], limit: int) -> None:
    run = StuckRun(None, 0)
    reports = 0
    expected = 0
    length = 0
    previous = None
    for v in values:
        run, f = limits.update_stuck(run, v, limit)
        length = length + 1 if v == previous and v != 0 else 1
        previous = v
        expected += int(length == limit and v != 0)
        reports += int(f is not None)
    assert reports == expected


@given(mean=st.floats(min_value=1, max_value=1e4), noise=st.floats(min_value=0.5, max_value=1.5))
def test_consumption_near_its_history_is_never_a_spike(mean: float, noise: float) -> None:
    e = Expected(mean, 0.1 * mean, 10)
    assert spikes.spike(mean * noise, e, _rule("spike")) is None


def test_spike_needs_ratio_sigma_floor_and_history() -> None:
    s = _rule("spike")
    assert spikes.spike(40.0, Expected(10.0, 1.0, 10), s) is not None
    assert spikes.spike(40.0, Expected(10.0, 10.0, 10), s) is None  # within 4 σ of a noisy meter
    assert spikes.spike(40.0, Expected(10.0, 1.0, 2), s) is None  # not enough history
    assert spikes.spike(0.4, Expected(0.01, 0.001, 10), s) is None  # below the absolute floor
    assert spikes.spike(40.0, None, s) is None


def test_low_usage_is_a_daily_rule_and_leaves_zero_to_its_own() -> None:
    low = _rule("low_usage")
    assert spikes.low_usage(0.5, 86_400, Expected(10.0, 1.0, 10), low) is not None
    assert spikes.low_usage(0.0, 86_400, Expected(10.0, 1.0, 10), low) is None
    assert spikes.low_usage(0.5, 900, Expected(10.0, 1.0, 10), low) is None
    assert spikes.low_usage(5.0, 86_400, Expected(10.0, 1.0, 10), low) is None


@given(shares=st.lists(st.floats(min_value=0, max_value=1e5), min_size=1, max_size=8))
def test_tariffs_that_add_up_are_consistent(shares: list[float]) -> None:
    assert consistency.tariff_sum_mismatch(sum(shares), shares, 0.01, 0.5) is None


def test_tariff_sum_tolerance_is_max_of_an_lsb_per_register_and_percent() -> None:
    assert consistency.tariff_sum_mismatch(1000.0, [500.0, 504.9], 0.01, 0.5) is None
    found = consistency.tariff_sum_mismatch(1000.0, [500.0, 506.0], 0.01, 0.5)
    assert found is not None and found["difference"] == 6.0
    assert consistency.tariff_sum_mismatch(1.0, [0.5, 0.52], 0.01, 0.5) is None  # two registers: 2 LSB
    assert consistency.tariff_sum_mismatch(1.0, [0.5, 0.53], 0.01, 0.5) is not None
    # a new meter: four tariff registers truncated to 0.01 each sum to 0.03 below the total it shows
    assert consistency.tariff_sum_mismatch(3.05, [0.71, 0.9, 1.07, 0.34], 0.01, 0.5) is None
    assert consistency.tariff_sum_mismatch(3.05, [0.71, 0.9, 1.07, 0.3], 0.01, 0.5) is not None


def test_valve_closed_for_the_whole_interval_and_volume_advancing() -> None:
    assert consistency.valve_closed_flow(100.0, 200.0, 0.5, 0.01) is not None
    assert consistency.valve_closed_flow(250.0, 200.0, 0.5, 0.01) is None  # closed during the interval
    assert consistency.valve_closed_flow(None, 200.0, 0.5, 0.01) is None
    assert consistency.valve_closed_flow(100.0, 200.0, 0.005, 0.01) is None


def test_power_against_energy() -> None:
    assert consistency.power_energy_mismatch(10.0, 1.0, 9.0, 11.0, 3.0, 0.5) is None
    assert consistency.power_energy_mismatch(100.0, 1.0, 9.0, 11.0, 3.0, 0.5)["bound"] == "high"  # type: ignore[index]
    assert consistency.power_energy_mismatch(0.1, 1.0, 9.0, 11.0, 3.0, 0.5)["bound"] == "low"  # type: ignore[index]
    assert consistency.power_energy_mismatch(0.1, 1.0, 0.2, 0.3, 3.0, 0.5) is None  # idle meter


def test_supply_below_return_with_tolerance() -> None:
    assert consistency.supply_below_return(70.0, 45.0, 0.5) is None
    assert consistency.supply_below_return(44.8, 45.0, 0.5) is None
    assert consistency.supply_below_return(42.0, 45.0, 0.5) == {"supply": 42.0, "return": 45.0, "difference": -3.0}


def test_time_rules() -> None:
    assert timing.future_time(1000.0, 900.0, 300.0) is None
    assert timing.future_time(1300.0, 900.0, 300.0) == {"ahead_s": 400.0, "tolerance_s": 300.0}
    assert timing.clock_deviation(9.0, 10.0) is None
    assert timing.clock_deviation(-11.0, 10.0) is not None
    assert timing.clock_deviation_of("clock", 1000.0 + 12, 1000.0) == 12.0
    assert timing.clock_deviation_of("clock_deviation", 12.0, 1000.0) == 12.0
    assert timing.duplicate_conflict(5.0, 5.0, 1e-6) is None
    assert timing.duplicate_conflict(5.0, 6.0, 1e-6) == {"previous": 5.0, "value": 6.0}
