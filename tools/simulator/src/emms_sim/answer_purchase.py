"""Prepayment at the concentrator and at the meter: the answers behind a purse (:mod:`emms_sim.purses`).

Concentrator (1376.1 purchase control, the terminal-executed mode):

* AFN04 F21 sets the tariff periods (48 half hours' rate numbers, M), AFN04 F22 the energy rates (厘 per
  kWh): the terminal's tariff in force (:mod:`emms_sim.tariffs`; every concentrator starts with the fleet's
  TOU table and four rates). A fee purse counts each half hour at its rate (F21 slot → F22 rate); changing
  either re-prices this terminal's purses from that instant. AFN04 F47 (pn = total-add group) takes a
  purchase with its alarm and trip levels (厘). The simulator's group n is the meter at measurement point n
  (F14 group tables are not modelled). A purchase without rate 1, or for a group with no electricity meter,
  is denied; a bill number taken before is confirmed and changes nothing.
* AFN05 F16 / F24 turn purchase control of a group on / off (off releases a trip).
* AFN0A F21 / F22 answer the tariff in force, F47 what was bought; AFN0C F23 answers what remains (厘,
  A.3; negative when the meter used more before the trip took effect than was left).
* Crossing the alarm level records ERC23 (电控告警), crossing the trip level cuts the meter and
  records ERC7 (电控跳闸) — both important events (ACD), content: time, group, round 1, control
  class D1 (purchase control), remaining and the level (A.3).

The meter-executed mode (prepaid CJ/T 188 meters) is :mod:`emms_sim.meter_purse`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from emms_protocol.gdw1376 import DataUnit
from emms_protocol.gdw1376.afn0e import EventRecord
from emms_protocol.gdw1376.control_state import ControlState, GroupControlState
from emms_protocol.gdw1376.purchase import EnergyRates, PurchaseControl, RemainingAmount, enc_a3
from emms_protocol.gdw1376.tariff import TariffPeriods
from emms_sim import answer_events, tariffs
from emms_sim.purses import Purse, Purses
from emms_sim.terminal_state import TerminalState

PURCHASE_CONTROL = 0x02  # 电控类别: D0 month control, D1 purchase control


def group_key(state: TerminalState, group: int) -> str:
    return f"{state.address.key}/{group}"


def tariff(state: TerminalState) -> tariffs.Tariff:
    return tariffs.tariff_of(state.truth.ledger, state.address.key)


def _rate(state: TerminalState) -> int | None:
    """Rate 1 (厘 per kWh) when set and positive: without it no purse can count."""
    rates = tariff(state).rates
    return rates[0] if rates and rates[0] is not None and rates[0] > 0 else None


def set_rates(state: TerminalState, value: EnergyRates, ts: float) -> bool:
    """F22: the rates change, the periods stay; this terminal's purses count at them from ``ts``."""
    tariffs.set_rates(state.truth.ledger, state.address.key, value.rates, ts)
    _reprice(state, ts)
    return True


def set_periods(state: TerminalState, value: TariffPeriods, ts: float) -> bool:
    """F21: the half hours' rate numbers and M change, the rates stay."""
    tariffs.set_periods(state.truth.ledger, state.address.key, value.slots, value.rate_count, ts)
    _reprice(state, ts)
    return True


def reset_tariff(state: TerminalState, ts: float) -> None:
    """AFN01 F3 / F4 (parameters initialised): back to the factory tariff."""
    if state.truth.ledger.tariff(state.address.key) is not None:
        default = tariffs.Tariff()
        state.truth.ledger.set_tariff(state.address.key, ts, list(default.slots), default.rate_count,
                                      list(default.rates))
        _reprice(state, ts)


def _reprice(state: TerminalState, ts: float) -> None:
    rate, prices = _rate(state), tariff(state).prices()
    purses: Purses = state.truth.purses
    if rate is None or prices is None:
        return
    for purse in purses.all():
        if purse.owner == "terminal" and purse.key.startswith(f"{state.address.key}/"):
            purses.open("terminal", purse.key, purse.meter_id, float(rate), purse.alarm, purse.trip, ts, prices)


def set_purchase(state: TerminalState, group: int, value: PurchaseControl, ts: float) -> bool:
    """F47: True when accepted (a repeated bill number too: it is confirmed and changes nothing)."""
    meter = state.meter_at(group, ts)
    rate = _rate(state)
    if meter is None or meter.utility != "electricity" or rate is None or value.amount is None:
        return False
    purses: Purses = state.truth.purses
    key = group_key(state, group)
    existing = purses.get(key)
    if existing is not None and existing.bill_number == value.bill_number:
        return True
    before = purses.remaining(existing, ts) if existing is not None else 0.0
    purse = purses.open("terminal", key, meter.meter_id, float(rate), float(value.alarm or 0),
                        float(value.trip or 0), ts, tariff(state).prices())
    purses.buy(purse, value.bill_number, float(value.amount), value.refresh, ts)
    after = purses.remaining(purse, ts)
    content = (bytes((group & 0x3F,)) + value.bill_number.to_bytes(4, "little")
               + bytes((0xAA if value.refresh else 0x55,)) + enc_a3(value.amount) + enc_a3(value.alarm)
               + enc_a3(value.trip) + enc_a3(round(before)) + enc_a3(round(after)))
    answer_events.add(state, EventRecord.build(19, state.clock(ts), content), True)  # ERC19 purchase set
    return True


def set_control(state: TerminalState, group: int, on: bool, ts: float) -> bool:
    """F16 / F24: False when the group has no purchase."""
    purses: Purses = state.truth.purses
    purse = purses.get(group_key(state, group))
    if purse is None:
        return False
    purses.set_control(purse, on, ts)
    return True


def query(state: TerminalState, unit: DataUnit, ts: float) -> DataUnit | None:
    if unit.fn == 21:
        held = tariff(state)
        return DataUnit(0, 21, TariffPeriods(held.slots, held.rate_count))
    if unit.fn == 22:
        return DataUnit(0, 22, EnergyRates(tariff(state).rates))
    purse = state.truth.purses.get(group_key(state, unit.pn))
    if purse is None:
        return None
    return DataUnit(unit.pn, 47, PurchaseControl(max(purse.bill_number, 0), False, round(purse.last_bought),
                                                 round(purse.alarm), round(purse.trip)))


def remaining(state: TerminalState, group: int, ts: float) -> DataUnit | None:
    """AFN0C F23 of a group."""
    purses: Purses = state.truth.purses
    purse = purses.get(group_key(state, group))
    if purse is None:
        return None
    purses.settle(purse, ts)
    return DataUnit(group, 23, RemainingAmount(round(purses.remaining(purse, ts))))


def control_state(state: TerminalState, ts: float) -> DataUnit:
    """AFN0C F5: protection (保电) in force now, and each purchase-controlled group with 电控状态 D1 while its
    purchase control is on (F16 … F24)."""
    purses: Purses = state.truth.purses
    prefix = f"{state.address.key}/"
    groups = []
    for purse in sorted((p for p in purses.all() if p.key.startswith(prefix)), key=lambda p: p.key):
        tail = purse.key[len(prefix):]
        if tail.isdigit() and 1 <= int(tail) <= 8:
            number = int(tail)
            groups.append(GroupControlState(number, energy_state=PURCHASE_CONTROL if purse.control_on else 0))
    return DataUnit(0, 5, ControlState(state.protected(ts), groups=tuple(sorted(groups, key=lambda g: g.group))))


def settle(state: TerminalState, ts: float) -> None:
    """Carry out what this terminal's purses crossed and record their ERCs (before any answer)."""
    purses: Purses = state.truth.purses
    prefix = f"{state.address.key}/"
    for purse in purses.all():
        if not purse.key.startswith(prefix):
            continue
        purses.settle(purse, ts)
        for event in purse.unreported:
            _record(state, purse, event)
        purse.unreported.clear()


def _record(state: TerminalState, purse: Purse, event: dict[str, object]) -> None:
    kind = event["kind"]
    if kind not in ("alarm", "trip"):
        return
    group = int(purse.key.rsplit("/", 1)[1])
    level = purse.alarm if kind == "alarm" else purse.trip
    at = float(event["ts"])  # type: ignore[arg-type]
    content = (bytes((group & 0x3F, 0x01, PURCHASE_CONTROL)) + enc_a3(round(float(event["remaining"])))  # type: ignore[arg-type]
               + enc_a3(round(level)))
    erc = 23 if kind == "alarm" else 7
    answer_events.add(state, EventRecord.build(erc, datetime.fromtimestamp(at, tz=UTC), content), True)
