"""Ground truth: closed-form sums, monotone registers, replacement, rollover, outages, controls, determinism."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_sim.fleet import REGISTER_WIDTH, FieldRates, FleetConfig
from emms_sim.series import HeatingSeries, PeriodicSeries, in_heating_season
from emms_sim.shapes import GAS, RESIDENTIAL_POWER
from emms_sim.truth import GroundTruth, UnknownItemError, UnknownMeterError

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
CUMULATIVE = {"electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
              "heat": "heat.energy"}


def _truth(**rates: float) -> GroundTruth:
    return GroundTruth(FleetConfig(seed=7, concentrators=4, meters_per=20, rates=replace(FieldRates(), **rates)))


TRUTH = _truth()


@pytest.mark.parametrize(("d0", "d1"), [(0, 1), (3, 40), (100, 1500), (2400, 2401), (17, 17)])
def test_periodic_sum_matches_brute_force(d0: int, d1: int) -> None:
    series = PeriodicSeries(3.0, RESIDENTIAL_POWER.week_factors, RESIDENTIAL_POWER.harmonics)
    assert series.mean_sum(d0, d1) == pytest.approx(sum(series.mean(d) for d in range(d0, d1)), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("d0", "d1"), [(0, 400), (1000, 1800), (1400, 1420), (1600, 1601)])
def test_heating_sum_matches_brute_force(d0: int, d1: int) -> None:
    series = HeatingSeries(2.0, 6.0, 15.0)
    assert series.mean_sum(d0, d1) == pytest.approx(sum(series.mean(d) for d in range(d0, d1)), rel=1e-9, abs=1e-9)
    assert all(series.mean(d) > 0 for d in range(d0, d1) if in_heating_season(d))


def test_gas_shape_peaks_in_winter() -> None:
    assert GAS.season(14) > GAS.season(196)


def test_every_utility_has_sane_values() -> None:
    seen = set()
    for meter in TRUTH.fleet.meters_of(0) + TRUTH.fleet.meters_of(1):
        reading = TRUTH.reading(meter.meter_id, NOW)
        if reading is None:
            continue
        seen.add(meter.utility)
        assert reading[CUMULATIVE[meter.utility]] is not None
        if meter.utility == "electricity":
            assert 190 < (reading["voltage.a"] or 0) < 240
            assert 0 < (reading["power_factor.total"] or 0) <= 1
            assert reading["relay.state"] == 1.0
        if meter.utility == "heat":
            assert (reading["temperature.supply"] or 0) > (reading["temperature.return"] or 0)  # November: heating
            assert (reading["heat.power"] or 0) > 0
    assert seen == {"electricity", "water", "gas", "heat"}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3), st.integers(1, 21), st.floats(0, 86400 * 400), st.floats(1, 86400 * 40))
def test_registers_only_grow_except_rollover_or_replacement(term: int, pn: int, offset: float, step: float) -> None:
    meter = TRUTH.fleet.meter(term, pn)
    assert meter is not None
    t1 = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=offset)
    t2 = t1 + timedelta(seconds=step)
    item = CUMULATIVE[meter.utility]
    v1, v2 = TRUTH.truth(meter.meter_id, item, t1), TRUTH.truth(meter.meter_id, item, t2)
    if v1 is None or v2 is None:
        return
    replaced = meter.replaced_at is not None and t1.timestamp() < meter.replaced_at <= t2.timestamp()
    if v2 < v1:
        assert replaced or (meter.rollover_at is not None and v1 > REGISTER_WIDTH * 0.9), (meter, v1, v2)


def test_power_integrates_to_energy_within_a_slot() -> None:
    meter = next(m for m in TRUTH.fleet.meters_of(0) if m.utility == "electricity")
    t = datetime(2026, 11, 25, 11, 0, 30, tzinfo=UTC)
    reading = TRUTH.reading(meter.meter_id, t)
    assert reading is not None
    model = TRUTH.model
    e1 = sum(model.regs.effective(meter, f"imp{k}", t.timestamp()) for k in range(1, 5))
    e2 = sum(model.regs.effective(meter, f"imp{k}", t.timestamp() + 600) for k in range(1, 5))
    assert (e2 - e1) / (600 / 3600) == pytest.approx(reading["power.active.total"], abs=1e-3)


def test_daily_consumption_is_positive_and_varies() -> None:
    meter = next(m for m in TRUTH.fleet.meters_of(0) if m.utility == "electricity")
    totals = []
    for d in range(10):
        a = TRUTH.frozen_daily(meter.meter_id, date(2026, 10, 1) + timedelta(days=d))
        b = TRUTH.frozen_daily(meter.meter_id, date(2026, 10, 2) + timedelta(days=d))
        assert a is not None and b is not None
        totals.append((b["energy.active.import.total"] or 0) - (a["energy.active.import.total"] or 0))
    assert all(x > 0 for x in totals)
    assert len({round(x, 1) for x in totals}) > 5


def test_tariff_registers_add_up_to_the_total() -> None:
    for meter in TRUTH.fleet.meters_of(2):
        r = TRUTH.reading(meter.meter_id, NOW)
        if r is None or meter.utility != "electricity" or meter.rollover_at is not None:
            continue
        parts = sum(r[f"energy.active.import.t{k}"] or 0 for k in range(1, 5))
        assert parts == pytest.approx(r["energy.active.import.total"], abs=0.05)


def test_replaced_meter_restarts_its_register() -> None:
    truth = _truth(replaced_fraction=1.0)
    meter = next(m for m in truth.fleet.meters_of(0) if m.replaced_at is not None and m.removed_at is None)
    assert meter.replaced_at is not None
    at = datetime.fromtimestamp(meter.replaced_at, tz=UTC)
    item = CUMULATIVE[meter.utility]
    before = truth.truth(meter.meter_id, item, at - timedelta(minutes=1))
    after = truth.truth(meter.meter_id, item, at + timedelta(hours=1))
    assert before is not None and after is not None and after < before and after < 50
    assert meter.address(1) != meter.address(0)
    kinds = {e.kind for e in truth.events(0, at - timedelta(seconds=1), at + timedelta(seconds=1))}
    assert "meter_replaced" in kinds


def test_rollover_meter_wraps_at_the_register_width() -> None:
    truth = _truth(rollover_fraction=1.0, replaced_fraction=0.0, removed_fraction=0.0)
    meter = next(m for m in truth.fleet.meters_of(0) if m.utility == "electricity" and m.rollover_at is not None)
    assert meter.rollover_at is not None
    at = datetime.fromtimestamp(meter.rollover_at, tz=UTC)
    before = truth.truth(meter.meter_id, "energy.active.import.total", at - timedelta(hours=6))
    after = truth.truth(meter.meter_id, "energy.active.import.total", at + timedelta(hours=6))
    assert before is not None and after is not None
    assert before > REGISTER_WIDTH - 1000 and after < 1000


def test_removed_and_added_meters_are_absent_outside_their_life() -> None:
    truth = _truth(removed_fraction=1.0, replaced_fraction=0.0)
    meter = truth.fleet.meter(0, 3)
    assert meter is not None and meter.removed_at is not None
    gone = datetime.fromtimestamp(meter.removed_at, tz=UTC)
    assert truth.reading(meter.meter_id, gone - timedelta(hours=1)) is not None
    assert truth.reading(meter.meter_id, gone + timedelta(hours=1)) is None
    spare = truth.fleet.meter(0, 21)  # meters_per=20, one spare point
    assert spare is not None
    assert truth.reading(spare.meter_id, datetime.fromtimestamp(spare.installed_at - 60, tz=UTC)) is None
    kinds = {e.kind for e in truth.events(0, datetime.fromtimestamp(spare.installed_at - 60, tz=UTC),
                                         datetime.fromtimestamp(spare.installed_at + 60, tz=UTC))}
    assert "meter_added" in kinds


def test_outage_freezes_registers_and_drops_voltage() -> None:
    truth = _truth(outage_per_day=1.0)
    day, _ = truth.cal.position(NOW)
    window = truth.schedule.outage(0, day)
    assert window is not None
    start = truth.cal.day_start(day) + timedelta(seconds=window[0])
    end = truth.cal.day_start(day) + timedelta(seconds=window[1])
    meter = next(m for m in truth.fleet.meters_of(0) if m.utility == "electricity")
    a = truth.truth(meter.meter_id, "energy.active.import.total", start + timedelta(seconds=1))
    b = truth.truth(meter.meter_id, "energy.active.import.total", end - timedelta(seconds=1))
    assert a == b
    assert truth.truth(meter.meter_id, "voltage.a", start + timedelta(seconds=30)) == 0.0
    assert not truth.schedule.powered(0, (start + timedelta(seconds=30)).timestamp())
    kinds = [e.kind for e in truth.events(0, start - timedelta(seconds=1), end + timedelta(seconds=1))]
    assert "power_off" in kinds and "power_on" in kinds


def test_trip_stops_energy_and_close_resumes_it() -> None:
    truth = _truth()
    meter = next(m for m in truth.fleet.meters_of(1) if m.utility == "electricity")
    t0 = NOW
    assert truth.ledger.set_cut_off(meter.meter_id, t0.timestamp(), True)
    truth.ledger.set_cut_off(meter.meter_id, (t0 + timedelta(hours=3)).timestamp(), False)
    e = [truth.truth(meter.meter_id, "energy.active.import.total", t0 + timedelta(hours=h)) for h in (0, 1, 2, 5)]
    assert e[0] == e[1] == e[2]
    assert e[3] is not None and e[2] is not None and e[3] > e[2]
    assert truth.truth(meter.meter_id, "relay.state", t0 + timedelta(hours=1)) == 0.0
    assert truth.truth(meter.meter_id, "power.active.total", t0 + timedelta(hours=1)) == 0.0
    assert truth.truth(meter.meter_id, "relay.state", t0 + timedelta(hours=4)) == 1.0


def test_leaking_valve_reports_closed_while_volume_advances() -> None:
    truth = _truth(valve_leak_per_day=1.0)
    meter = next(m for m in truth.fleet.meters_of(0) if m.utility in ("water", "gas"))
    day, _ = truth.cal.position(NOW)
    window = truth.schedule.leak(meter, day)
    assert window is not None
    start = truth.cal.day_start(day) + timedelta(seconds=window[0])
    end = truth.cal.day_start(day) + timedelta(seconds=window[1])
    assert truth.truth(meter.meter_id, "valve.state", start + timedelta(seconds=5)) == 0.0
    v1 = truth.truth(meter.meter_id, f"{meter.utility}.volume", start)
    v2 = truth.truth(meter.meter_id, f"{meter.utility}.volume", end)
    assert v1 is not None and v2 is not None and v2 > v1


def test_heat_is_zero_in_summer() -> None:
    meter = next(m for t in range(4) for m in TRUTH.fleet.meters_of(t) if m.utility == "heat")
    jul1, jul20 = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 20, tzinfo=UTC)
    assert TRUTH.truth(meter.meter_id, "heat.energy", jul1) == TRUTH.truth(meter.meter_id, "heat.energy", jul20)
    assert TRUTH.truth(meter.meter_id, "heat.power", jul20) == 0.0


def test_unknown_meter_and_item_raise() -> None:
    with pytest.raises(UnknownMeterError):
        TRUTH.truth("m-999999-0001", "water.volume", NOW)
    with pytest.raises(UnknownItemError):
        TRUTH.truth("m-000000-0001", "nonsense", NOW)
    with pytest.raises(ValueError, match="naive"):
        TRUTH.truth("m-000000-0001", "water.volume", datetime(2026, 1, 1))


def test_freeze_instants_are_local_midnights() -> None:
    daily = TRUTH.daily_freeze_instant(date(2026, 11, 24))
    assert daily == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 00:00 CST on the 25th
    assert TRUTH.monthly_freeze_instant(2026, 12) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_truth_is_identical_in_another_process() -> None:
    probes = [(f"m-00000{t}-00{pn:02d}", item, (NOW + timedelta(hours=h)).isoformat())
              for t, pn, item, h in [(0, 1, "energy.active.import.t2", 0), (1, 5, "water.volume", 7),
                                     (2, 9, "voltage.a", 30), (3, 12, "flow.rate", 100), (0, 20, "heat.energy", 2000)]]
    code = (
        "import json,sys\nfrom datetime import datetime\nfrom emms_sim.fleet import FleetConfig\n"
        "from emms_sim.truth import GroundTruth\n"
        "t=GroundTruth(FleetConfig(seed=7,concentrators=4,meters_per=20))\n"
        "print(json.dumps([t.truth(m,i,datetime.fromisoformat(a)) if i in t.reading(m,datetime.fromisoformat(a)) "
        "else None for m,i,a in json.loads(sys.argv[1])]))"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(probes)], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    here = []
    for m, i, a in probes:
        r = TRUTH.reading(m, datetime.fromisoformat(a))
        here.append(r.get(i) if r is not None and i in r else None)
    assert json.loads(out.stdout) == here
    assert any(v is not None and not math.isnan(v) for v in here)
