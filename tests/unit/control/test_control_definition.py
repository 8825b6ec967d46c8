"""A tariff version's rules between fields: prices for every period and category, categories of the
tariff's utility, ascending tiers; the reasons say what is wrong."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from tariff_fixtures import CHINA_DAY, version

from emms_control.tariffs.definition import VersionBody, build_version
from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.tiers import Block, TierBasis, Tiers, check_blocks


def build(**changes: object) -> object:
    return build_version(VersionBody.model_validate(version(**changes)), "electricity", 1)


def test_a_complete_version_builds() -> None:
    built = build()
    assert built.unpriced("e_residential") == []


@pytest.mark.parametrize(("changes", "reason"), [
    ({"prices": {"e_residential": {"peak": "1", "flat": "1", "valley": "1"}}}, r"no price for period\(s\) \['sharp'\]"),
    ({"prices": {"w_residential": {"flat": "1"}}}, "belongs to water"),
    ({"day_table": CHINA_DAY[1:]}, "day table: gap in the day table: 23:00–07:00"),
    ({"tiers": {"basis": "year", "blocks": [{"up_to": "10", "surcharge": "0"}, {"up_to": "5", "surcharge": "0"},
                                            {"up_to": None, "surcharge": "0"}]}}, "block 2 ends at 5"),
    ({"tiers": {"basis": "year", "blocks": [{"up_to": "10", "surcharge": "0"}]}}, "must be open"),
    ({"seasons": [{"name": "s", "start": "01-01", "end": "01-31", "day_table": [
        {"start": "00:00", "end": "23:00", "period": "flat"}]}]}, "season 's' day table: gap"),
])
def test_refusals_say_why(changes: dict, reason: str) -> None:
    with pytest.raises(TariffError, match=reason):
        build(**changes)


@pytest.mark.parametrize("changes", [
    {"effective_from": "9999-12-31T23:59:59+00:00"}, {"effective_from": "2026-01-01T00:00:00"},
    {"day_table": [{"start": "25:00", "end": "01:00", "period": "flat"}]},
    {"prices": {"e_residential": {"flat": "-1"}}}, {"prices": {"e_residential": {"flat": "NaN"}}},
])
def test_malformed_bodies_are_refused_by_their_shape(changes: dict) -> None:
    body = {**version(), **changes}
    with pytest.raises(ValidationError):
        VersionBody.model_validate(body)


@given(st.lists(st.decimals(min_value=Decimal("0.001"), max_value=10**6, places=3), min_size=1, max_size=8,
                unique=True), st.decimals(min_value=0, max_value=10**4, places=3),
       st.decimals(min_value=0, max_value=10**4, places=3))
def test_tier_split_fills_blocks_in_order_and_adds_up(thresholds: list, before: Decimal, quantity: Decimal) -> None:
    ups = sorted(thresholds)
    blocks = check_blocks([*(Block(u, Decimal(i)) for i, u in enumerate(ups)), Block(None, Decimal(99))])
    tiers = Tiers(TierBasis.YEAR, blocks, frozenset())
    parts = tiers.split(before, quantity)
    assert sum(q for _, q, _ in parts) == quantity
    assert [n for n, _, _ in parts] == sorted(n for n, _, _ in parts)
    position = before
    for number, q, _ in parts:
        upper = blocks[number - 1].up_to
        assert upper is None or position + q <= upper
        position += q
