"""The simulator's supply-quality truth and its 1376.1 answers: AFN0D F27 daily voltage statistics and AFN0C F58
harmonic content over a real frame, against the truth's own instantaneous values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0c_harmonics import HarmonicContent
from emms_protocol.gdw1376.afn0d_voltage_stats import DailyVoltageStats
from emms_sim import supply_quality as sq
from emms_sim.answers import answer
from emms_sim.fleet import FieldRates, FleetConfig, MeterSpec
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)


def _state() -> TerminalState:
    cfg = FleetConfig(seed=17, concentrators=1, meters_per=400, rates=FieldRates.quiet())
    return TerminalState(GroundTruth(cfg), 0, started_ts=(NOW - timedelta(days=3)).timestamp())


def _ask(state: TerminalState, afn: int, units: list[DataUnit]) -> list[DataUnit]:
    request = b.request(state.address, afn, units, 3)
    return [u for f in answer(state, request, NOW.timestamp()).frames for u in decode_units(f)]


def _meters(state: TerminalState) -> list[MeterSpec]:
    return [m for m in state.truth.fleet.meters_of(0) if m.present(NOW.timestamp())]


def test_f27_counts_the_truths_voltage_per_slot() -> None:
    state = _state()
    truth = state.truth
    sag = next(m for m in _meters(state) if sq.voltage_fault(m) == "sag")
    swell = next(m for m in _meters(state) if sq.voltage_fault(m) == "swell" and m.phases == 3)
    clean = next(m for m in _meters(state) if m.utility == "electricity" and sq.voltage_fault(m) is None)
    units = {u.pn: u.value for u in _ask(state, 0x0D, [DataUnit(m.pn, 27, DAY) for m in (sag, swell, clean)])}
    start = truth.daily_freeze_instant(DAY - timedelta(days=1))
    for m in (sag, swell, clean):
        stats = units[m.pn]
        assert isinstance(stats, DailyVoltageStats) and stats.td == DAY
        volts = [truth.truth(m.meter_id, "voltage.a", start + timedelta(minutes=15 * i)) for i in range(96)]
        assert all(v is not None for v in volts)
        within = 15 * sum(1 for v in volts if v is not None and 198.0 <= v <= 220.0 * 1.07)
        assert stats.a.within_min == within and stats.a.monitored_min == 1440
        assert stats.a.maximum == max(v for v in volts if v is not None)
        assert stats.a.minimum == min(v for v in volts if v is not None)
    got = {pn: v for pn, v in units.items() if isinstance(v, DailyVoltageStats)}
    assert got[sag.pn].a.under_lower_min == 4 * 60 and got[sag.pn].a.over_upper_min == 0
    assert got[swell.pn].a.over_upper_min == 4 * 60
    assert got[clean.pn].a.within_min == 1440
    if sag.phases == 1:
        assert got[sag.pn].b.within_min is None
    # a day not over yet: no statistics
    assert [u for u in _ask(state, 0x0D, [DataUnit(sag.pn, 27, NOW.date())]) if u.fn == 27] == []


def test_f58_answers_harmonic_content_of_three_phase_meters() -> None:
    state = _state()
    distorted = next(m for m in _meters(state) if sq.distorted(m))
    clean = next(m for m in _meters(state) if sq.delivers_harmonics(m) and not sq.distorted(m))
    single = next(m for m in _meters(state) if m.utility == "electricity" and m.phases == 1)
    units = {u.pn: u.value for u in _ask(state, 0x0C, [DataUnit(m.pn, 58, None) for m in (distorted, clean, single)])}
    assert single.pn not in units
    _, second = state.truth.cal.position_ts(NOW.timestamp())
    for m in (distorted, clean):
        content = units[m.pn]
        assert isinstance(content, HarmonicContent) and content.order == 19
        truth = sq.harmonic_content(m, second)
        assert truth is not None
        assert content.thd("ua") == truth["thd.voltage.a"]
        assert content.content("ia", 5) == truth["harmonic.current.a.h5"]
    evening = sq.harmonic_content(distorted, 19 * 3600.0)
    assert evening is not None and evening["thd.voltage.a"] > 5.0 and evening["harmonic.voltage.a.h5"] > 4.0
    quiet = sq.harmonic_content(clean, 19 * 3600.0)
    assert quiet is not None and quiet["thd.voltage.a"] < 1.0


def test_injected_pressure_faults() -> None:
    state = _state()
    truth = state.truth
    midnight = truth.daily_freeze_instant(DAY - timedelta(days=1))
    water = next(m for m in _meters(state) if m.utility == "water" and sq.pressure_fault(m))
    gas = next(m for m in _meters(state) if m.utility == "gas" and sq.pressure_fault(m))
    heat = next(m for m in _meters(state) if m.utility == "heat" and sq.pressure_fault(m))
    at = {h: midnight + timedelta(hours=h) for h in (3, 8, 12, 15)}
    assert (truth.truth(water.meter_id, "pressure", at[8]) or 1) < 0.14 < (truth.truth(water.meter_id, "pressure",
                                                                                          at[15]) or 0)
    assert (truth.truth(gas.meter_id, "pressure", at[12]) or 0) > 0.003 > (truth.truth(gas.meter_id, "pressure",
                                                                                        at[15]) or 1)
    night, day = truth.truth(heat.meter_id, "pressure", at[3]), truth.truth(heat.meter_id, "pressure", at[15])
    assert night is not None and day is not None and day - night > 0.09
