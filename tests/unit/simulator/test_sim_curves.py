"""Load curves of the simulator: AFN 0D curve answers over a frame, their physics, the truth API's /curve.

The 96 points of a day's 15-minute active-power curve integrate to that day's
active energy (import − export registers at the two daily freezes), within the
registers' 0.01 kWh and the curve's 0.0001 kW resolution.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0d_curves import Curve, CurveTag
from emms_sim.answers import answer
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.http_api import create_app
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)


def _state() -> TerminalState:
    cfg = FleetConfig(seed=11, concentrators=2, meters_per=30, rates=replace(FieldRates.quiet()))
    return TerminalState(GroundTruth(cfg), 0, started_ts=(NOW - timedelta(days=3)).timestamp())


def _curves(state: TerminalState, pns: list[int], fns: list[int], start: datetime, points: int) -> list[DataUnit]:
    tag = CurveTag(start, 1, points)
    request = b.request(state.address, 0x0D, [DataUnit(pn, fn, tag) for pn in pns for fn in fns], 3)
    return [u for f in answer(state, request, NOW.timestamp()).frames for u in decode_units(f)]


def test_a_days_active_power_curve_integrates_to_its_energy() -> None:
    state = _state()
    truth = state.truth
    meters = [m for m in truth.fleet.meters_of(0) if m.utility == "electricity" and m.present(NOW.timestamp())
              and m.scale < 200][:6]  # peaks within A.9's ±79.9999 kW
    start = truth.daily_freeze_instant(DAY - timedelta(days=1))  # local 00:00 of DAY
    units = _curves(state, [m.pn for m in meters], [81, 89, 105], start, 96)
    by_key = {(u.pn, u.fn): u.value for u in units}
    for meter in meters:
        curve = by_key[(meter.pn, 81)]
        assert isinstance(curve, Curve) and len(curve.values) == 96 and None not in curve.values
        integral = sum(v for v in curve.values if v is not None) * 0.25
        end = truth.daily_freeze_instant(DAY)
        energy = 0.0
        for register in ("energy.active.import.total", "energy.active.export.total"):
            sign = 1.0 if "import" in register else -1.0
            a, z = truth.truth(meter.meter_id, register, start), truth.truth(meter.meter_id, register, end)
            assert a is not None and z is not None
            energy += sign * (z - a)
        assert abs(integral - energy) <= 0.02 + 96 * 0.25 * 0.00005
        volts = by_key[(meter.pn, 89)]
        assert isinstance(volts, Curve) and volts.values[10] == truth.truth(
            meter.meter_id, "voltage.a", start + timedelta(minutes=150))
        pf = by_key[(meter.pn, 105)]
        assert isinstance(pf, Curve) and pf.values[0] is not None
        assert abs(pf.values[0] / 100 - (truth.truth(meter.meter_id, "power_factor.total", start) or 0.0)) < 0.001


def test_points_in_the_future_are_absent_and_flow_meters_have_no_curves() -> None:
    state = _state()
    truth = state.truth
    elec = next(m for m in truth.fleet.meters_of(0) if m.utility == "electricity" and m.present(NOW.timestamp()))
    start = NOW - timedelta(minutes=30)
    (unit,) = _curves(state, [elec.pn], [81], start, 8)
    assert isinstance(unit.value, Curve)
    assert unit.value.values[:3] != (None, None, None) and unit.value.values[3:] == (None,) * 5
    water = next((m for m in truth.fleet.meters_of(0) if m.utility != "electricity"), None)
    if water is not None:
        request = b.request(state.address, 0x0D, [DataUnit(water.pn, 81, CurveTag(start, 1, 4))], 4)
        (frame,) = answer(state, request, NOW.timestamp()).frames
        assert frame.afn == 0x00  # denied: nothing to answer


def test_truth_api_serves_the_curve() -> None:
    state = _state()
    meter = next(m for m in state.truth.fleet.meters_of(0) if m.utility == "electricity")
    client = TestClient(create_app(state.truth))
    start = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    body = client.get("/curve", params={"meter": meter.meter_id, "item": "power.active.total",
                                        "start": start.isoformat(), "points": 4}).json()
    assert [p["value"] for p in body["points"]] == [
        state.truth.truth(meter.meter_id, "power.active.total", start + timedelta(minutes=15 * i)) for i in range(4)]
    assert client.get("/curve", params={"meter": meter.meter_id, "item": "energy.active.import.total",
                                        "start": start.isoformat()}).status_code == 422
    assert client.get("/curve", params={"meter": meter.meter_id, "item": "voltage.a", "start": start.isoformat(),
                                        "points": 5000}).status_code == 422
