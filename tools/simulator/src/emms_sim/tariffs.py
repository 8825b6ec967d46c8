"""A concentrator's tariff in force (1376.1 AFN04 / AFN0A F21 periods and F22 rates), as the truth holds it.

Every concentrator starts with the fleet's own time-of-use table — the one the simulated meters split their
energy into t1…t4 by (:data:`emms_sim.shapes.TARIFF_OF_SLOT`): 费率 1 尖 (sharp) 10:00–11:00 and
19:00–21:00, 费率 2 峰 (peak) 08:00–10:00, 11:00–12:00 and 18:00–19:00, 21:00–23:00, 费率 3 平 (flat)
07:00–08:00 and 12:00–18:00, 费率 4 谷 (valley) 23:00–07:00, local time — with M = 4 and the rates
1200 / 900 / 600 / 300 厘 per kWh. F21 (slots, M) and F22 (rates) change it separately, as the master sends them.

The terminal's fee purse (:mod:`emms_sim.answer_purchase`) counts each half hour at the rate of its rate
number (F21 slot r → F22 rate r + 1). A rate number F22 does not carry (fewer rates than M, as EMMS's control
service sends: one rate) or carries as "no value" counts at rate 1; without rate 1 nothing is priced.

A tariff is kept in the :class:`~emms_sim.controls.ControlLedger` (``op: tariff``) so that a fleet's parent
process shows what its children's concentrators were told; a terminal never told holds the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emms_sim.controls import ControlLedger
from emms_sim.shapes import TARIFF_OF_SLOT, TARIFFS

HALF_HOURS = 48
DEFAULT_RATES: tuple[int | None, ...] = (1200, 900, 600, 300)  # 厘 per kWh: 尖, 峰, 平, 谷
RATE_NAMES = ("sharp", "peak", "flat", "valley")


def _default_slots() -> tuple[int, ...]:
    per_half = len(TARIFF_OF_SLOT) // HALF_HOURS
    slots = []
    for h in range(HALF_HOURS):
        quarter = TARIFF_OF_SLOT[h * per_half:(h + 1) * per_half]
        assert len(set(quarter)) == 1, "the meters' TOU table changes inside a half hour"
        slots.append(quarter[0] - 1)
    return tuple(slots)


DEFAULT_SLOTS = _default_slots()


@dataclass(frozen=True, slots=True)
class Tariff:
    """F21 ``slots`` (0-based rate number per half hour from 00:00) and ``rate_count`` M; F22 ``rates`` (厘/kWh)."""

    slots: tuple[int, ...] = DEFAULT_SLOTS
    rate_count: int = TARIFFS
    rates: tuple[int | None, ...] = DEFAULT_RATES

    def price(self, half_hour: int) -> float | None:
        """厘 per kWh counted in a half hour 0..47 (rate 1 when F22 lacks its rate number; None: no rate 1)."""
        number = self.slots[half_hour]
        rate = self.rates[number] if number < len(self.rates) else None
        if rate is None:
            rate = self.rates[0] if self.rates else None
        return None if rate is None else float(rate)

    def prices(self) -> tuple[float, ...] | None:
        """The 48 half hours' prices; None when rate 1 is not set (nothing can be counted)."""
        out = [self.price(h) for h in range(HALF_HOURS)]
        return None if any(p is None for p in out) else tuple(p for p in out if p is not None)

    def as_json(self) -> dict[str, Any]:
        return {"slots": list(self.slots), "rate_count": self.rate_count, "rates": list(self.rates),
                "periods": periods(self.slots)}


def periods(slots: tuple[int, ...]) -> list[dict[str, Any]]:
    """Runs of equal rate: ``[{"from": "00:00", "to": "07:00", "rate": 4}, …]`` (rate 1-based)."""
    out: list[dict[str, Any]] = []
    for h, number in enumerate(slots):
        if out and out[-1]["rate"] == number + 1:
            out[-1]["to"] = _clock(h + 1)
        else:
            out.append({"from": _clock(h), "to": _clock(h + 1), "rate": number + 1})
    return out


def _clock(half_hour: int) -> str:
    return f"{half_hour // 2:02d}:{30 * (half_hour % 2):02d}"


def tariff_of(ledger: ControlLedger, terminal: str) -> Tariff:
    held = ledger.tariff(terminal)
    if held is None:
        return Tariff()
    return Tariff(tuple(held["slots"]), int(held["rate_count"]), tuple(held["rates"]))


def set_periods(ledger: ControlLedger, terminal: str, slots: tuple[int, ...], rate_count: int, ts: float) -> Tariff:
    """F21: new periods and M (the rates stay)."""
    now = tariff_of(ledger, terminal)
    ledger.set_tariff(terminal, ts, list(slots), rate_count, list(now.rates))
    return tariff_of(ledger, terminal)


def set_rates(ledger: ControlLedger, terminal: str, rates: tuple[int | None, ...], ts: float) -> Tariff:
    """F22: new rates (the periods stay)."""
    now = tariff_of(ledger, terminal)
    ledger.set_tariff(terminal, ts, list(now.slots), now.rate_count, list(rates))
    return tariff_of(ledger, terminal)
