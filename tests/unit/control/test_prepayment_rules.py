"""The master-mode prepayment rule and the quantity-control counter: each transition once, whatever the
order and repetition of evaluations; a limit exceeded once per period; operation plans for the devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_control.prepayment.rules import CloseAction, State, Thresholds, evaluate, standing
from emms_control.prepayment.units import li, plan
from emms_control.quantity.rules import Counter, Period, advance, period_key
from emms_protocol.cjt188 import decode_frame as decode_188
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.gdw1376.json_view import from_jsonable
from emms_protocol.gdw1376.purchase import EnergyRates, PurchaseControl

T = Thresholds(Decimal("20"), Decimal("5"))
MONEY = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        Thresholds(Decimal("5"), Decimal("5"))


@pytest.mark.parametrize(("state", "balance", "after", "notice", "command"), [
    (State.NORMAL, "25", None, None, None),
    (State.NORMAL, "20", State.ALARM, "alarm", None),
    (State.NORMAL, "5", State.TRIPPED, "trip", "trip"),
    (State.ALARM, "-3", State.TRIPPED, "trip", "trip"),
    (State.TRIPPED, "5.01", State.ALARM, "restore", "allow_close"),
    (State.TRIPPED, "50", State.NORMAL, "restore", "allow_close"),
    (State.ALARM, "20.01", State.NORMAL, "alarm_cleared", None),
    (State.TRIPPED, "4", None, None, None),
])
def test_steps(state: State, balance: str, after: State | None, notice: str | None, command: str | None) -> None:
    step = evaluate(state, Decimal(balance), T, "electricity")
    if after is None:
        assert step is None
        return
    assert step is not None and (step.after, step.notice, step.command) == (after, notice, command)


def test_water_cuts_with_the_valve_and_electricity_may_close_directly() -> None:
    assert evaluate(State.NORMAL, Decimal(0), T, "water").command == "valve_close"  # type: ignore[union-attr]
    assert evaluate(State.TRIPPED, Decimal(90), T, "gas").command == "valve_open"  # type: ignore[union-attr]
    step = evaluate(State.TRIPPED, Decimal(90), T, "electricity", CloseAction.DIRECT_CLOSE)
    assert step is not None and step.command == "direct_close"


@given(st.lists(MONEY, min_size=1, max_size=40))
def test_any_sequence_of_balances_gives_one_step_per_change_of_standing(balances: list[Decimal]) -> None:
    state, cuts, restores = State.NORMAL, 0, 0
    for balance in balances:
        for _ in range(2):  # the same balance evaluated again (a redelivery) changes nothing
            step = evaluate(state, balance, T, "electricity")
            if step is None:
                continue
            assert step.before == state and step.after == standing(balance, T)
            cuts += step.command == "trip"
            restores += step.command == "allow_close"
            state = step.after
    assert state == standing(balances[-1], T)
    assert cuts - restores == (1 if state == State.TRIPPED else 0)  # cut and restore alternate


START = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 23:00 local (UTC+8)


def test_period_keys_are_local() -> None:
    assert period_key(START, Period.DAY, 480) == "2026-12-04"
    assert period_key(START + timedelta(hours=1), Period.DAY, 480) == "2026-12-05"
    assert period_key(datetime(2026, 11, 30, 16, 30, tzinfo=UTC), Period.MONTH, 480) == "2026-12"


def test_a_limit_is_exceeded_once_per_period_and_the_next_period_starts_from_the_last_value() -> None:
    limit = Decimal(10)
    c: Counter | None = None
    crossings = []
    for hour, value in enumerate([100, 104, 109, 111, 115, 120]):  # local 23:00 … 04:00
        at = START + timedelta(minutes=10 * hour)
        step = advance(c, Decimal(value), at, period_key(at, Period.DAY, 480), limit)
        assert step is not None
        c = step.counter
        crossings.append(step.crossed)
    assert crossings == [False, False, False, True, False, False] and c is not None and c.used == 20
    assert advance(c, Decimal(130), c.last_time, c.period_key, limit) is None  # not later: nothing
    next_day = START + timedelta(days=1)
    step = advance(c, Decimal(125), next_day, period_key(next_day, Period.DAY, 480), limit)
    assert step is not None and step.counter.start_value == 120 and step.counter.used == 5 and not step.crossed
    assert step.counter.exceeded_at is None


@given(st.lists(st.decimals(min_value=0, max_value=50, places=3), min_size=1, max_size=30),
       st.decimals(min_value=1, max_value=200, places=3))
def test_usage_is_the_sum_of_increments_and_crossing_happens_at_most_once(increments: list[Decimal],
                                                                          limit: Decimal) -> None:
    c: Counter | None = None
    value, crossed = Decimal(1000), 0
    for i, inc in enumerate(increments):
        value += inc
        step = advance(c, value, START + timedelta(seconds=i + 1), "2026-12-05", limit)
        assert step is not None
        c, crossed = step.counter, crossed + step.crossed
    assert c is not None and c.used == value - (1000 + increments[0])  # the first reading is the base
    assert crossed == (1 if c.used > limit else 0)


def test_terminal_purchase_plan_carries_rate_purchase_and_levels_in_li() -> None:
    device = {"terminal": "3701-00001", "pn": 3, "port": 31, "protocol": "dlt645-2007", "meter_address": "",
              "utility": "electricity"}
    p = plan({"kind": "purchase", "mode": "terminal", "purchase_number": 2, "amount": "50.00", "alarm": "20.00",
              "trip": "5.00", "price": "0.8000"}, device)
    assert p.afn == 0x04 and p.verify == {"afn": 0x0A, "units": [{"pn": [3], "fn": [47], "data": {}}],
                                          "expect": {"check": "purchase_count", "value": 2}}
    rates, purchase = (from_jsonable(u["data"]["value"]) for u in p.units)
    assert rates == EnergyRates((800,)) and purchase == PurchaseControl(2, False, 50_000, 20_000, 5_000)
    on = plan({"kind": "control_on", "mode": "terminal", "purchase_number": 2}, device)
    assert (on.afn, on.units) == (0x05, [{"pn": [3], "fn": [16], "data": {}}])
    assert li("0.8") == 800 and li("-1.25") == -1250


def test_meter_purchase_plan_forwards_a_188_write() -> None:
    device = {"terminal": "3701-00001", "pn": 4, "port": 2, "protocol": "cjt188-2004",
              "meter_address": "00000001000401", "utility": "water"}
    p = plan({"kind": "purchase", "mode": "meter", "purchase_number": 101, "amount": "12.34", "alarm": "5",
              "trip": "0", "price": "3.5"}, device)
    assert p.afn == 0x10
    raw = bytes.fromhex(p.units[0]["data"]["value"]["payload"])
    assert p188.parse_write(decode_188(raw).data[3:]) == p188.PurchaseWrite(1, 1234)
