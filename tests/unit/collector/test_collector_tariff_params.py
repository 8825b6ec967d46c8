"""The tariff in force as the collector shows it: half-hour rate numbers merged into periods, rates in 厘 and
元, a terminal never read refused with the reason, and F21 / F22 as managed parameters (the codec's checks)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_collector.terminal_config import values
from emms_collector.terminal_config.tariff import NeverRead, periods, view

TOU = [3] * 14 + [2] * 2 + [1] * 4 + [0] * 2 + [1] * 2 + [2] * 12 + [1] * 2 + [0] * 4 + [1] * 4 + [3] * 2
AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_runs_of_equal_rate_become_periods_with_1_based_rates() -> None:
    assert periods(TOU) == [
        {"from": "00:00", "to": "07:00", "rate": 4}, {"from": "07:00", "to": "08:00", "rate": 3},
        {"from": "08:00", "to": "10:00", "rate": 2}, {"from": "10:00", "to": "11:00", "rate": 1},
        {"from": "11:00", "to": "12:00", "rate": 2}, {"from": "12:00", "to": "18:00", "rate": 3},
        {"from": "18:00", "to": "19:00", "rate": 2}, {"from": "19:00", "to": "21:00", "rate": 1},
        {"from": "21:00", "to": "23:00", "rate": 2}, {"from": "23:00", "to": "24:00", "rate": 4}]
    assert periods([0] * 48) == [{"from": "00:00", "to": "24:00", "rate": 1}]
    assert periods([0, 1] * 24)[:2] == [{"from": "00:00", "to": "00:30", "rate": 1},
                                        {"from": "00:30", "to": "01:00", "rate": 2}]


@given(st.lists(st.integers(0, 47), min_size=48, max_size=48))
def test_periods_cover_the_day_once_and_expand_back_to_the_slots(slots: list[int]) -> None:
    found = periods(slots)
    assert found[0]["from"] == "00:00" and found[-1]["to"] == "24:00"
    assert all(a["to"] == b["from"] and a["rate"] != b["rate"] for a, b in itertools.pairwise(found))
    expanded = []
    for p in found:
        start = int(p["from"][:2]) * 2 + int(p["from"][3:]) // 30
        end = int(p["to"][:2]) * 2 + int(p["to"][3:]) // 30
        expanded += [p["rate"] - 1] * (end - start)
    assert expanded == slots


def _held(f21: object, f22: object) -> dict[int, dict[str, object]]:
    return {21: {"reported": f21, "reported_at": AT, "state": "unknown", "desired": None},
            22: {"reported": f22, "reported_at": AT, "state": "in_sync", "desired": None}}


def test_the_view_prices_each_period_in_li_and_yuan() -> None:
    shown = view("3701-00012", _held({"type": "TariffPeriods", "slots": TOU, "rate_count": 4},
                                     {"type": "EnergyRates", "rates": [1200, 900, 600, None]}), None)
    assert shown["periods"][0] == {"from": "00:00", "to": "07:00", "rate": 4, "li_per_kwh": None,
                                   "yuan_per_kwh": None}
    assert shown["periods"][3] == {"from": "10:00", "to": "11:00", "rate": 1, "li_per_kwh": 1200,
                                   "yuan_per_kwh": 1.2}
    assert [r["rate"] for r in shown["rates"]] == [1, 2, 3, 4] and all(r["used"] for r in shown["rates"])
    assert shown["read_at"] == AT.isoformat() and shown["state"] == {"F21": "unknown", "F22": "in_sync"}


def test_a_tariff_never_read_says_why() -> None:
    with pytest.raises(NeverRead, match=r"F21 and F22 missing.*no read was asked"):
        view("3701-00012", {}, None)
    tried = {"state": "failed", "tried_at": AT, "detail": "timeout: no answer"}
    with pytest.raises(NeverRead, match=r"F22 missing.*timeout: no answer"):
        view("3701-00012", _held({"type": "TariffPeriods", "slots": TOU, "rate_count": 4}, None), tried)


def test_f21_and_f22_are_managed_and_checked_by_the_codec() -> None:
    assert {21, 22} <= set(values.SETTABLE) and {21, 22} <= set(values.READ_ON_FIRST_CONNECT)
    assert values.canonical(21, {"slots": TOU, "rate_count": 4}) == {"type": "TariffPeriods", "slots": TOU,
                                                                       "rate_count": 4}
    assert values.canonical(22, {"rates": [1200, 900]}) == {"type": "EnergyRates", "rates": [1200, 900]}
    with pytest.raises(values.BadParameter, match=r"F21: .*rate number 4 is not 0..3"):
        values.canonical(21, {"slots": [4] * 48, "rate_count": 4})
    with pytest.raises(values.BadParameter, match=r"F21: .*48 half hours, got 49"):
        values.canonical(21, {"slots": [0] * 49, "rate_count": 4})
    with pytest.raises(values.BadParameter, match=r"F22: .*1..48 rates"):
        values.canonical(22, {"rates": []})
