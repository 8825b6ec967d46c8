"""A concentrator's tariff in force in the simulator: AFN0A F21 / F22 answer it, AFN04 F21 / F22 change it
(confirmed, and the truth with it), AFN01 F3 restores the factory one, and the fee purse counts each half hour
at that half hour's rate — checked against the meter's own registers in the ground truth."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.purchase import EnergyRates, PurchaseControl
from emms_protocol.gdw1376.tariff import TariffPeriods
from emms_sim.answers import Outcome, answer
from emms_sim.fleet import FieldRates, FleetConfig, MeterSpec
from emms_sim.http_api import create_app
from emms_sim.shapes import TARIFF_OF_SLOT
from emms_sim.tariffs import DEFAULT_RATES, DEFAULT_SLOTS, periods
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

T0 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC).timestamp()  # local midnight (UTC+8)
HALF_HOUR = 1800.0
DAY = 86400.0


def _state() -> tuple[TerminalState, MeterSpec]:
    truth = GroundTruth(FleetConfig(seed=11, concentrators=6, meters_per=12, rates=FieldRates.quiet()))
    for index in truth.fleet.terminals():
        for meter in truth.fleet.meters_of(index):
            if meter.utility == "electricity" and meter.present(T0) and meter.pn <= 8 and meter.replaced_at is None:
                return TerminalState(truth, index, started_ts=T0 - DAY), meter
    raise AssertionError("no electricity meter in the fleet")


def _ask(state: TerminalState, afn: int, units: list[DataUnit], ts: float) -> Outcome:
    return answer(state, b.request(state.address, afn, units, 1), ts)


def _confirmed(outcome: Outcome) -> bool:
    (frame,) = outcome.frames
    return frame.afn == 0x00 and decode_units(frame)[0].fn == 1


def _read(state: TerminalState, ts: float) -> dict[int, object]:
    (frame,) = _ask(state, 0x0A, [DataUnit(0, 21, None), DataUnit(0, 22, None)], ts).frames
    return {u.fn: u.value for u in decode_units(frame)}


def _register(state: TerminalState, meter: MeterSpec, item: str, ts: float) -> float:
    value = state.truth.truth(meter.meter_id, item, datetime.fromtimestamp(ts, tz=UTC))
    assert value is not None
    return value


def _spent(state: TerminalState, meter: MeterSpec, since: float, until: float) -> float:
    (purse,) = state.truth.purse_states(meter.meter_id, datetime.fromtimestamp(since, tz=UTC))
    before = float(purse["remaining"])  # type: ignore[arg-type]
    (purse,) = state.truth.purse_states(meter.meter_id, datetime.fromtimestamp(until, tz=UTC))
    return before - float(purse["remaining"])  # type: ignore[arg-type]


def _buy(state: TerminalState, meter: MeterSpec, ts: float) -> None:
    purchase = PurchaseControl(1, False, 9_000_000, 1000, 0)  # 9000 元: never trips here
    assert _confirmed(_ask(state, 0x04, [DataUnit(meter.pn, 47, purchase)], ts))
    assert _confirmed(_ask(state, 0x05, [DataUnit(meter.pn, 16, None)], ts))


def test_the_default_table_is_the_meters_own_tou_split() -> None:
    for quarter, tariff in enumerate(TARIFF_OF_SLOT):
        assert DEFAULT_SLOTS[quarter // 2] + 1 == tariff
    assert periods(DEFAULT_SLOTS)[:3] == [{"from": "00:00", "to": "07:00", "rate": 4},
                                          {"from": "07:00", "to": "08:00", "rate": 3},
                                          {"from": "08:00", "to": "10:00", "rate": 2}]
    assert periods(DEFAULT_SLOTS)[-1] == {"from": "23:00", "to": "24:00", "rate": 4}


def test_f21_f22_answer_the_truth_and_a_set_changes_it() -> None:
    state, _ = _state()
    held = _read(state, T0)
    assert held == {21: TariffPeriods(DEFAULT_SLOTS, 4), 22: EnergyRates(DEFAULT_RATES)}
    api = TestClient(create_app(state.truth))
    truth = api.get("/tariff", params={"terminal": state.index}).json()
    assert truth["told"] is False and truth["slots"] == list(DEFAULT_SLOTS) and truth["rates"] == list(DEFAULT_RATES)

    new = TariffPeriods((1,) * 16 + (0,) * 32, 2)
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 21, new), DataUnit(0, 22, EnergyRates((700, 350)))], T0))
    assert _read(state, T0 + 1) == {21: new, 22: EnergyRates((700, 350))}
    truth = api.get("/tariff", params={"key": state.address.key}).json()
    assert truth["told"] is True and truth["rate_count"] == 2 and truth["rates"] == [700, 350]
    assert truth["periods"] == [{"from": "00:00", "to": "08:00", "rate": 2},
                                {"from": "08:00", "to": "24:00", "rate": 1}]
    assert api.get("/tariff", params={"terminal": 99}).status_code == 404
    assert api.get("/tariff", params={"key": "FFFF-1"}).status_code == 404

    assert _confirmed(_ask(state, 0x01, [DataUnit(0, 3, None)], T0 + 2))  # parameters initialised
    assert _read(state, T0 + 3) == {21: TariffPeriods(DEFAULT_SLOTS, 4), 22: EnergyRates(DEFAULT_RATES)}


def test_the_purse_counts_each_meter_tariff_at_its_rate() -> None:
    state, meter = _state()
    _buy(state, meter, T0)
    spent = _spent(state, meter, T0, T0 + DAY)
    items = [f"energy.active.import.t{k}" for k in range(1, 5)]
    used = [_register(state, meter, i, T0 + DAY) - _register(state, meter, i, T0) for i in items]
    expected = sum(rate * kwh for rate, kwh in zip(DEFAULT_RATES, used, strict=True))  # type: ignore[misc]
    assert used[0] > 0 and used[3] > 0
    assert abs(spent - expected) <= 0.02 * sum(DEFAULT_RATES)  # type: ignore[arg-type]  # display resolution
    flat = _register(state, meter, "energy.active.import.total", T0 + DAY) \
        - _register(state, meter, "energy.active.import.total", T0)
    assert abs(spent - 1200 * flat) > 1.0  # not rate 1 for every period


def test_a_table_across_the_meters_tariffs_counts_half_hour_by_half_hour() -> None:
    state, meter = _state()
    slots = tuple(h % 2 for h in range(48))  # every other half hour: splits each meter tariff
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 21, TariffPeriods(slots, 2)),
                                         DataUnit(0, 22, EnergyRates((1000, 100)))], T0))
    _buy(state, meter, T0)
    spent = _spent(state, meter, T0, T0 + DAY)
    total = [_register(state, meter, "energy.active.import.total", T0 + h * HALF_HOUR) for h in range(49)]
    expected = sum((1000 if h % 2 == 0 else 100) * (total[h + 1] - total[h]) for h in range(48))
    assert abs(spent - expected) <= 0.01 * 1100 * 48
    assert abs(spent - expected) < 0.02 * spent


def test_one_rate_for_every_period_when_f22_carries_only_rate_1() -> None:
    state, meter = _state()
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 22, EnergyRates((800,)))], T0))  # what EMMS's control sends
    _buy(state, meter, T0)
    spent = _spent(state, meter, T0, T0 + DAY)
    used = _register(state, meter, "energy.active.import.total", T0 + DAY) \
        - _register(state, meter, "energy.active.import.total", T0)
    assert abs(spent - 800 * used) <= 0.01 * 800 * 2


def test_a_tariff_change_reaches_the_parents_ledger() -> None:
    """A fleet child forwards its ledger's changes; the parent's truth API shows the tariff its concentrator holds."""
    state, _ = _state()
    forwarded: list[dict[str, object]] = []
    state.truth.ledger.listener = forwarded.append
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 22, EnergyRates((500, None)))], T0))
    parent = GroundTruth(FleetConfig(seed=11, concentrators=6, meters_per=12, rates=FieldRates.quiet()))
    for change in forwarded:
        parent.ledger.apply(change)
    held = TestClient(create_app(parent)).get("/tariff", params={"terminal": state.index}).json()
    assert held["told"] is True and held["rates"] == [500, None] and held["slots"] == list(DEFAULT_SLOTS)
