"""The tariff message the collector publishes (``terminal_config.tariff.message``): the tariff as held, ordered by
the newer of the F21 / F22 reads; nothing before F21 was read; no rates before F22 was."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_collector.terminal_config.tariff import message

F21 = {"type": "TariffPeriods", "slots": [3] * 14 + [0] * 34, "rate_count": 4}
F22 = {"type": "EnergyRates", "rates": [1200, 900, 600, 300]}
EARLY, LATE = datetime(2026, 12, 1, 8, tzinfo=UTC), datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_the_message_carries_the_tariff_as_held_with_the_newer_read() -> None:
    held = {21: {"reported": F21, "reported_at": EARLY}, 22: {"reported": F22, "reported_at": LATE}}
    tariff = message("0171-00001", held)
    assert tariff is not None
    assert (tariff.slots, tariff.rate_count, tariff.rates) == (F21["slots"], 4, F22["rates"])
    assert (tariff.periods_read_at, tariff.rates_read_at, tariff.read_at) == (EARLY, LATE, LATE)
    assert message("0171-00001", {21: {"reported": F21, "reported_at": LATE},
                                  22: {"reported": F22, "reported_at": EARLY}}).read_at == LATE  # type: ignore[union-attr]


def test_no_message_before_f21_was_read_and_no_rates_before_f22() -> None:
    assert message("0171-00001", {22: {"reported": F22, "reported_at": LATE}}) is None
    assert message("0171-00001", {21: {"reported": None, "reported_at": None}}) is None
    only = message("0171-00001", {21: {"reported": F21, "reported_at": EARLY}})
    assert only is not None and only.rates is None and only.rates_read_at is None and only.read_at == EARLY
