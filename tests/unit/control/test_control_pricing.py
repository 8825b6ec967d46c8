"""Pricing usages by a tariff: hand-computed cases, version and tier boundaries, and properties
(quantities add up exactly, the same usage always gives the same lines, the surcharge of a tier
period does not depend on the order usages arrive in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tariff_fixtures import PRICES, tariff, version

from emms_control.charges.pricing import charge_id, price, split
from emms_control.charges.usage import Usage
from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.periods import Period

T1 = tariff(version())
LOCAL = timedelta(hours=8)


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - LOCAL  # type: ignore[misc]


def usage(start: datetime, end: datetime, total: str, by: dict[Period, str] | None = None) -> Usage:
    regs = {p: Decimal(v) for p, v in by.items()} if by else None
    return Usage("M1", start, end, Decimal(total), regs, (), "valid", "valid")


def test_total_register_is_spread_over_the_periods_by_time() -> None:
    u = usage(_local(2026, 3, 1, 6), _local(2026, 3, 1, 8), "20")
    priced = price(u, T1, "e_lv_three_phase", {})  # no tiers for this category
    assert [(line.period, line.quantity, line.unit_price) for line in priced.lines] == [
        (Period.VALLEY, Decimal("10.000000"), Decimal("0.35")), (Period.FLAT, Decimal("10.000000"), Decimal("0.7"))]
    assert priced.amount == Decimal("10.50")


def test_tiers_continue_from_the_months_usage_so_far() -> None:
    u = usage(_local(2026, 3, 1, 6), _local(2026, 3, 1, 8), "20")
    priced = price(u, T1, "e_residential", {("month", "2026-03"): Decimal(95)})
    # valley 10: 5 in block 1 at 0.3, 5 in block 2 at 0.35; flat 10 in block 2 at 0.65
    assert [(line.tier, line.quantity, line.unit_price) for line in priced.lines] == [
        (1, Decimal(5), Decimal("0.3")), (2, Decimal(5), Decimal("0.35")), (2, Decimal(10), Decimal("0.65"))]
    assert priced.amount == Decimal("9.75")
    assert priced.tier_used == {("month", "2026-03"): Decimal(115)}


def test_a_new_month_starts_its_tiers_from_zero() -> None:
    u = usage(_local(2026, 3, 31, 23), _local(2026, 4, 1, 1), "4")
    priced = price(u, T1, "e_residential", {("month", "2026-03"): Decimal(500)})
    assert [(line.tier, line.quantity, line.unit_price) for line in priced.lines] == [
        (3, Decimal(2), Decimal("0.6")), (1, Decimal(2), Decimal("0.3"))]
    assert priced.tier_used == {("month", "2026-03"): Decimal(502), ("month", "2026-04"): Decimal(2)}


def test_tariff_registers_are_priced_at_their_own_period() -> None:
    u = usage(_local(2026, 3, 1, 0), _local(2026, 3, 2, 0), "30",
              {Period.SHARP: "2", Period.PEAK: "8", Period.FLAT: "12", Period.VALLEY: "8"})
    priced = price(u, T1, "e_lv_three_phase", {})
    assert {line.period: line.quantity for line in priced.lines} == {
        Period.SHARP: 2, Period.PEAK: 8, Period.FLAT: 12, Period.VALLEY: 8}
    assert priced.amount == Decimal("2.4") + Decimal(8) + Decimal("8.4") + Decimal("2.8")


def test_a_version_change_inside_the_interval_prices_each_part_by_its_own_version() -> None:
    cheaper = {c: {p: str(Decimal(v) / 2) for p, v in ps.items()} for c, ps in PRICES.items()}
    two = tariff(version(), version(_local(2026, 3, 1, 8), prices=cheaper))
    u = usage(_local(2026, 3, 1, 7), _local(2026, 3, 1, 9), "10")
    priced = price(u, two, "e_lv_three_phase", {})
    assert [(line.version, line.quantity, line.unit_price) for line in priced.lines] == [
        (1, Decimal(5), Decimal("0.7")), (2, Decimal(5), Decimal("0.35"))]
    assert two.quote(_local(2026, 3, 1, 7, 59), "e_residential").version.number == 1
    assert two.quote(_local(2026, 3, 1, 8), "e_residential").price == Decimal("0.3")


def test_seasons_have_their_own_day_table() -> None:
    summer = [{"name": "summer", "start": "07-01", "end": "08-31",
               "day_table": [{"start": "00:00", "end": "12:00", "period": "valley"},
                             {"start": "12:00", "end": "24:00", "period": "sharp"}]}]
    t = tariff(version(seasons=summer))
    q = t.quote(_local(2026, 7, 15, 13), "e_residential")
    assert (q.season, q.period, q.price) == ("summer", Period.SHARP, Decimal("1.0"))
    assert t.quote(_local(2026, 9, 1, 13), "e_residential").period is Period.FLAT


def test_before_the_first_version_there_is_no_price() -> None:
    with pytest.raises(TariffError, match="no version in force"):
        price(usage(_local(2025, 12, 31, 1), _local(2025, 12, 31, 2), "1"), T1, "e_residential", {})


@given(st.decimals(min_value=0, max_value=10**9, places=6), st.lists(st.floats(0.1, 1e6), min_size=1, max_size=30))
def test_split_adds_up_exactly_and_never_goes_negative(quantity: Decimal, weights: list[float]) -> None:
    parts = split(quantity, weights)
    assert sum(parts) == quantity and all(p >= 0 for p in parts)


starts = st.integers(0, 60 * 24 * 27).map(lambda m: _local(2026, 2, 1) + timedelta(minutes=m))
usages = st.builds(lambda s, minutes, q: usage(s, s + timedelta(minutes=minutes), str(q)),
                   starts, st.integers(1, 3000), st.decimals(min_value=Decimal("0.000001"), max_value=500, places=6))


@settings(max_examples=60, deadline=None)
@given(st.lists(usages, min_size=1, max_size=8), st.randoms())
def test_a_months_total_does_not_depend_on_the_order_usages_arrive_in(batch: list[Usage], rnd) -> None:
    def run(order: list[Usage]) -> tuple[Decimal, Decimal]:
        used: dict = {}
        exact = Decimal(0)
        for u in order:
            priced = price(u, T1, "e_residential", used)
            used.update(priced.tier_used)
            assert sum(line.quantity for line in priced.lines) == u.total
            exact += sum(line.amount for line in priced.lines)
        return exact, sum(used.values(), Decimal(0))
    shuffled = list(batch)
    rnd.shuffle(shuffled)
    assert run(batch) == run(shuffled)


@settings(max_examples=40, deadline=None)
@given(usages)
def test_the_same_usage_always_gives_the_same_charge(u: Usage) -> None:
    assert price(u, T1, "e_residential", {}) == price(u, T1, "e_residential", {})
    assert charge_id("A", u) == charge_id("A", u) != charge_id("B", u)


def test_times_in_any_zone_are_read_at_the_tariffs_local_time() -> None:
    at = datetime.fromisoformat("2026-03-01T20:00:00+08:00")
    assert T1.quote(at, "e_residential").period is Period.SHARP
    assert T1.quote(at.astimezone(UTC), "e_residential").period is Period.SHARP
    assert T1.quote(datetime.fromisoformat("2026-03-01T07:00:00-05:00"), "e_residential").period is Period.SHARP
