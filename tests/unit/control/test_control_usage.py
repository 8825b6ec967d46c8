"""Usage from validated register readings: per tariff register or from the total, marks for estimated and
held readings, late and repeated readings ignored, walking the same readings twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from emms_control.charges.usage import advance, points, register_key
from emms_control.tariffs.periods import Period
from emms_messages.readings import ValidatedReading, ValidationStatus

T0 = datetime(2026, 3, 1, tzinfo=UTC)
V = ValidationStatus


def r(item: str, hour: int, value: float | None, status: ValidationStatus = V.VALID, meter: str = "M1"
      ) -> ValidatedReading:
    return ValidatedReading(meter_id=meter, item=item, data_time=T0 + timedelta(hours=hour), value=value, unit="kWh",
                            status=status, validated_at=T0)


def walk(readings: list[ValidatedReading], utility: str = "electricity", baseline=None, multiplier: str = "1"):
    return advance("M1", baseline, points(readings, utility), Decimal(multiplier), T0)


def test_register_items_per_utility() -> None:
    assert register_key("electricity", "energy.active.import.t3") == "t3"
    assert register_key("electricity", "energy.active.import.total") == "total"
    assert register_key("electricity", "energy.active.export.total") is None
    assert register_key("water", "water.volume") == "total"
    assert register_key("heat", "heat.power") is None


def test_tariff_registers_when_the_meter_has_them_else_the_total() -> None:
    regs = [r(f"energy.active.import.t{i}", h, 100.0 * i + h * i) for h in (0, 1) for i in (1, 2, 3, 4)]
    result = walk([*regs, r("energy.active.import.total", 0, 1000.0), r("energy.active.import.total", 1, 1010.0)])
    (u,) = result.usages
    assert u.by_register == {Period.SHARP: 1, Period.PEAK: 2, Period.FLAT: 3, Period.VALLEY: 4}
    assert u.total == 10
    only_total = walk([r("energy.active.import.total", 0, 1000.0), r("energy.active.import.total", 1, 1012.5)],
                      multiplier="40")
    assert only_total.usages[0].by_register is None and only_total.usages[0].total == Decimal(500)


def test_estimated_and_held_readings_are_marked_on_the_usage() -> None:
    result = walk([r("water.volume", 0, 10.0), r("water.volume", 1, None, V.HELD), r("water.volume", 2, 12.0),
                   r("water.volume", 3, 13.0, V.ESTIMATED), r("water.volume", 4, 15.0)], utility="water")
    assert [(u.start.hour, u.end.hour, u.total, u.flags) for u in result.usages] == [
        (0, 2, 2, ("held",)), (2, 3, 1, ("estimated",)), (3, 4, 2, ("estimated",))]
    assert result.skipped == {"held": 1}


def test_an_actual_wins_over_an_estimate_of_the_same_time() -> None:
    (pt,) = points([r("gas.volume", 1, 5.0), r("gas.volume", 1, 4.0, V.ESTIMATED)], "gas")
    assert pt.values == {"total": Decimal(5)} and pt.status == "valid"


def test_late_repeated_and_falling_readings_are_not_charged() -> None:
    first = walk([r("water.volume", 0, 10.0), r("water.volume", 2, 12.0)], utility="water")
    again = walk([r("water.volume", 1, 11.0), r("water.volume", 2, 12.0)], utility="water", baseline=first.baseline)
    assert again.usages == [] and again.baseline == first.baseline
    assert again.skipped == {"not_after_baseline": 2}
    fell = walk([r("water.volume", 3, 2.0)], utility="water", baseline=first.baseline)
    assert fell.usages == [] and fell.skipped == {"register_fell": 1}


@given(st.lists(st.tuples(st.integers(0, 200), st.floats(0, 1e6)), min_size=1, max_size=40))
def test_usage_adds_up_to_the_register_advance_and_a_second_walk_adds_nothing(series: list) -> None:
    values = sorted(dict(series).items())
    values = [(h, v) for (h, _), v in zip(values, sorted(v for _, v in values), strict=True)]  # monotonic
    readings = [r("heat.energy", h, v) for h, v in values]
    result = walk(readings, utility="heat")
    advance_total = Decimal(repr(values[-1][1])).quantize(Decimal("0.000001")) - Decimal(
        repr(values[0][1])).quantize(Decimal("0.000001"))
    assert sum((u.total for u in result.usages), Decimal(0)) == advance_total
    assert walk(readings, utility="heat", baseline=result.baseline).usages == []
