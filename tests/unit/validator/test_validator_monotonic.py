"""Cumulative registers (V14, R5): monotone series, roll-over at the register width, replacements."""

from __future__ import annotations

from itertools import accumulate, pairwise

from hypothesis import given
from hypothesis import strategies as st

from emms_validator.rules.monotonic import mutually_monotone, register_increment

increments = st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=1, max_size=40)


@given(start=st.floats(min_value=0, max_value=1e6, allow_nan=False), incs=increments)
def test_a_monotone_series_never_raises_a_decrease(start: float, incs: list[float]) -> None:
    values = list(accumulate(incs, initial=start))
    for (t0, a), (t1, b) in pairwise(enumerate(values)):
        inc = register_increment(t0, a, t1, b, modulus=None)
        assert inc.value is not None and inc.value >= 0
        assert not inc.rolled_over


@given(digits=st.integers(min_value=3, max_value=9), frac_prev=st.floats(min_value=0, max_value=0.999999),
       frac_inc=st.floats(min_value=0, max_value=0.49))
def test_rollover_at_width_w_is_not_a_decrease(digits: int, frac_prev: float, frac_inc: float) -> None:
    modulus = float(10**digits)
    prev = frac_prev * modulus
    inc = frac_inc * modulus
    cur = (prev + inc) % modulus
    result = register_increment(0, prev, 1, cur, modulus)
    assert result.value is not None
    assert abs(result.value - inc) <= 1e-6 * modulus
    assert result.rolled_over == (cur < prev)


@given(prev=st.floats(min_value=1, max_value=1e6), drop=st.floats(min_value=1e-3, max_value=1.0))
def test_a_real_decrease_without_width_is_suspect(prev: float, drop: float) -> None:
    assert register_increment(0, prev, 1, prev * (1 - drop) - 1e-6, modulus=None).value is None


def test_a_large_fall_is_not_mistaken_for_a_rollover() -> None:
    # 600 → 100 on a 1000 register would be a 500 roll-over: more than half the range, so a decrease
    assert register_increment(0, 600.0, 1, 100.0, 1000.0).value is None
    assert register_increment(0, 900.0, 1, 100.0, 1000.0).value == 200.0
    assert register_increment(0, 900.0, 1, 100.0, 1000.0, max_rollover_fraction=0.1).value is None


def test_a_recorded_replacement_restarts_the_register() -> None:
    inc = register_increment(100.0, 5234.0, 200.0, 3.5, None, replacements=[(150.0, 0.5)])
    assert inc.replaced and inc.value == 3.0
    # a replacement outside the interval changes nothing
    assert register_increment(100.0, 5234.0, 200.0, 3.5, None, replacements=[(250.0, 0.0)]).value is None
    # below the new meter's start value is still a decrease
    assert register_increment(100.0, 5234.0, 200.0, 0.2, None, replacements=[(150.0, 0.5)]).value is None


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=20))
def test_mutually_monotone_is_sortedness(values: list[float]) -> None:
    assert mutually_monotone(values) == (values == sorted(values))
