"""Decoded 1376.1 values → canonical data items (codes and units of :mod:`emms_protocol.items`).

Which AFN / Fn field becomes which item:

* AFN0C F25 — ``power.active.*``, ``power.reactive.*``, ``power.apparent.*`` (total, a, b, c),
  ``power_factor.*`` (1376.1 sends %, the item is a ratio: divided by 100),
  ``voltage.a|b|c``, ``current.a|b|c`` and ``current.n`` (zero-sequence current);
* AFN0C F33 / AFN0D F1 / F17 — ``energy.active.import``, ``energy.reactive.import``,
  ``energy.reactive.q1``, ``energy.reactive.q4`` (``.total`` and ``.t1`` … ``.t4``);
* AFN0C F34 / AFN0D F2 / F18 — ``energy.active.export``, ``energy.reactive.export``,
  ``energy.reactive.q2``, ``energy.reactive.q3``;
* AFN0C F129 / AFN0D F161 / F177 — ``energy.active.import``; AFN0C F130 — ``energy.reactive.import``;
* AFN0C F167 — ``balance.remaining`` (CNY) and ``energy.remaining`` (kWh);
* AFN0D F81 – F95, F105 – F108 (curves, :mod:`.afn0d_curves`) — one value per point of
  ``power.active.*``, ``power.reactive.*``, ``voltage.*``, ``current.*``, ``power_factor.*``
  (% → ratio), each stamped with its point's instant (``start + i × interval``);
* AFN0D F27 (:mod:`.afn0d_voltage_stats`, daily) — ``qualification.minutes.<band>.a|b|c`` (within,
  over_upper, under_lower, over_upper_upper, under_lower_lower) and ``voltage.day.max|min|average.a|b|c``;
* AFN0C F58 (:mod:`.afn0c_harmonics`) — ``thd.voltage|current.a|b|c`` and
  ``harmonic.voltage|current.a|b|c.h2`` … ``h19`` (% of the fundamental) at the time the
  master received them (F58 carries no Tm: ``data_time`` None, the collector stamps it).

``data_time`` is the reading time Tm for current data and the freeze date
(``date``; the first of the month for monthly data) for frozen data, whose
``freeze`` is ``"day"`` or ``"month"``. Tariff rates beyond 4 have no canonical
code and are left out; ``None`` values (EE filler) are kept as ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from emms_protocol.gdw1376.afn0c import PowerQuality, PurchaseInfo
from emms_protocol.gdw1376.afn0c_harmonics import CHANNELS, HarmonicContent
from emms_protocol.gdw1376.afn0d_curves import CURVE_FNS, Curve
from emms_protocol.gdw1376.afn0d_voltage_stats import DailyVoltageStats
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register, ReverseEnergies
from emms_protocol.gdw1376.units import DataUnit
from emms_protocol.items import ITEMS

_MAX_TARIFF = 4
_DAILY_FNS = frozenset({1, 2, 27, 161})
_MONTHLY_FNS = frozenset({17, 18, 177})
_READING_CODES = {(0x0C, 129): "energy.active.import", (0x0C, 130): "energy.reactive.import",
                  (0x0D, 161): "energy.active.import", (0x0D, 177): "energy.active.import"}
_F25_FIELDS = [
    *(("p_" + p, "power.active." + p) for p in ("total", "a", "b", "c")),
    *(("q_" + p, "power.reactive." + p) for p in ("total", "a", "b", "c")),
    *(("s_" + p, "power.apparent." + p) for p in ("total", "a", "b", "c")),
    *(("u_" + p, "voltage." + p) for p in ("a", "b", "c")),
    *(("i_" + p, "current." + p) for p in ("a", "b", "c")),
    ("i_0", "current.n"),
]
_PF_FIELDS = [("pf_" + p, "power_factor." + p) for p in ("total", "a", "b", "c")]


@dataclass(frozen=True, slots=True)
class ItemValue:
    pn: int
    item: str
    value: float | None
    unit: str
    data_time: datetime | date | None
    freeze: str | None = None


def items_from_units(afn: int, units: Iterable[DataUnit]) -> list[ItemValue]:
    """Canonical items found in decoded data units of an AFN0C / AFN0D answer ([] for others)."""
    out: list[ItemValue] = []
    for unit in units:
        _collect(out, int(afn), unit)
    return out


def _freeze(afn: int, fn: int) -> str | None:
    if afn != 0x0D:
        return None
    return "day" if fn in _DAILY_FNS else "month" if fn in _MONTHLY_FNS else None


def _collect(out: list[ItemValue], afn: int, unit: DataUnit) -> None:
    value, pn, fn = unit.value, unit.pn, unit.fn
    freeze = _freeze(afn, fn)
    if isinstance(value, EnergyReading):
        code = _READING_CODES.get((afn, fn))
        if code is not None:
            when = value.td if freeze else value.read_at
            _register(out, pn, code, Register(value.total, value.rates), when, freeze)
    elif isinstance(value, ForwardEnergies | ReverseEnergies):
        when = value.td if freeze else value.read_at
        fwd = isinstance(value, ForwardEnergies)
        direction = "import" if fwd else "export"
        regs = (value.q1, value.q4) if isinstance(value, ForwardEnergies) else (value.q2, value.q3)
        quads = ("q1", "q4") if fwd else ("q2", "q3")
        _register(out, pn, f"energy.active.{direction}", value.active, when, freeze)
        _register(out, pn, f"energy.reactive.{direction}", value.reactive, when, freeze)
        for quad, reg in zip(quads, regs, strict=True):
            _register(out, pn, f"energy.reactive.{quad}", reg, when, freeze)
    elif isinstance(value, PowerQuality) and afn == 0x0C:
        for attr, code in _F25_FIELDS:
            _add(out, pn, code, getattr(value, attr), value.read_at, None)
        for attr, code in _PF_FIELDS:
            pf = getattr(value, attr)
            _add(out, pn, code, None if pf is None else round(pf / 100, 4), value.read_at, None)
    elif isinstance(value, Curve) and afn == 0x0D and fn in CURVE_FNS:
        kind = CURVE_FNS[fn]
        for when, v in zip(value.times(), value.values, strict=False):
            _add(out, pn, kind.item, v if v is None or not kind.percent else round(v / 100, 4), when, None)
    elif isinstance(value, DailyVoltageStats | HarmonicContent):
        _quality(out, afn, pn, value)
    elif isinstance(value, PurchaseInfo) and afn == 0x0C:
        _add(out, pn, "balance.remaining", value.balance, value.read_at, None)
        _add(out, pn, "energy.remaining", value.remaining_energy, value.read_at, None)


_STAT_BANDS = (("within", "within_min"), ("over_upper", "over_upper_min"), ("under_lower", "under_lower_min"),
               ("over_upper_upper", "over_upper_upper_min"), ("under_lower_lower", "under_lower_lower_min"))


def _quality(out: list[ItemValue], afn: int, pn: int, value: DailyVoltageStats | HarmonicContent) -> None:
    if isinstance(value, DailyVoltageStats) and afn == 0x0D:
        _voltage_stats(out, pn, value)
    elif isinstance(value, HarmonicContent) and afn == 0x0C:
        for channel in CHANNELS:
            quantity, phase = ("voltage" if channel[0] == "u" else "current"), channel[1]
            _add(out, pn, f"thd.{quantity}.{phase}", value.thd(channel), None, None)
            for order in range(2, value.order + 1):
                _add(out, pn, f"harmonic.{quantity}.{phase}.h{order}", value.content(channel, order), None, None)


def _voltage_stats(out: list[ItemValue], pn: int, value: DailyVoltageStats) -> None:
    for phase, stats in value.phases().items():
        for band, attr in _STAT_BANDS:
            minutes = getattr(stats, attr)
            _add(out, pn, f"qualification.minutes.{band}.{phase}", None if minutes is None else float(minutes),
                 value.td, "day")
        for x, v in (("max", stats.maximum), ("min", stats.minimum), ("average", stats.average)):
            _add(out, pn, f"voltage.day.{x}.{phase}", v, value.td, "day")


def _register(out: list[ItemValue], pn: int, code: str, reg: Register, when: datetime | date | None,
              freeze: str | None) -> None:
    _add(out, pn, f"{code}.total", reg.total, when, freeze)
    for tariff, v in enumerate(reg.rates[:_MAX_TARIFF], start=1):
        _add(out, pn, f"{code}.t{tariff}", v, when, freeze)


def _add(out: list[ItemValue], pn: int, code: str, value: float | None, when: datetime | date | None,
         freeze: str | None) -> None:
    item = ITEMS.get(code)
    if item is not None:  # codes missing from the registry are reported by tests, not guessed here
        out.append(ItemValue(pn, code, value, item.unit, when, freeze))


def used_codes() -> set[str]:
    """Every canonical code this module can emit (the tests check each exists in the registry)."""
    codes = {code for _, code in _F25_FIELDS} | {code for _, code in _PF_FIELDS}
    codes |= {"balance.remaining", "energy.remaining"} | {kind.item for kind in CURVE_FNS.values()}
    codes |= {f"qualification.minutes.{band}.{p}" for band, _ in _STAT_BANDS for p in "abc"}
    codes |= {f"voltage.day.{x}.{p}" for x in ("max", "min", "average") for p in "abc"}
    codes |= {f"thd.{q}.{p}" for q in ("voltage", "current") for p in "abc"}
    codes |= {f"harmonic.{q}.{p}.h{h}" for q in ("voltage", "current") for p in "abc" for h in range(2, 20)}
    bases = {"energy.active.import", "energy.active.export", "energy.reactive.import", "energy.reactive.export",
              "energy.reactive.q1", "energy.reactive.q2", "energy.reactive.q3", "energy.reactive.q4"}
    for base in bases:
        codes |= {f"{base}.total", *(f"{base}.t{t}" for t in range(1, _MAX_TARIFF + 1))}
    return codes
