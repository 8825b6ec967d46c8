"""DL/T 645-2007 data identifiers (DI3 DI2 DI1 DI0) → name, unit and value format.

DI3 is the class (00 energy, 01 demand, 02 instantaneous variables, 04
parameters, 05 frozen data). Families are resolved by rule rather than listed
one by one — energy alone has 11 kinds × 64 tariffs × 13 settlement periods —
and the result is cached, so a lookup on the hot path is one dict probe.

``items`` gives, for each element of the decoded value (one for a scalar, one
per tariff for a block, one per part for a composite), the canonical item code
of :mod:`emms_protocol.items` or ``None``. Only *current* values and daily /
timed / hourly frozen values carry codes; settlement-period history does not
(the collector stores it as history, not as a reading).

Combined reactive 1 / 2 are mapped to reactive import / export: that holds for
the factory-default combination words (Q1+Q2, Q3+Q4) — **UNVERIFIED** per meter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from emms_protocol.dlt645.formats import AnyFormat, Block, Clock, Composite, Digits, Number, Word

ENERGY = Number(4, 2)
ENERGY_SIGNED = Number(4, 2, signed=True)
DEMAND = Composite((Number(3, 4), Clock("mhDMY")))
DEMAND_SIGNED = Composite((Number(3, 4, signed=True), Clock("mhDMY")))
MINUTE_TIME = Clock("mhDMY")
TARIFF_ITEMS = 4  # tariffs that have canonical codes (t1..t4)


@dataclass(frozen=True, slots=True)
class DataItem645:
    """One data identifier: what it is, its unit and how its value is laid out."""

    di: int
    name: str
    description: str
    unit: str
    fmt: AnyFormat
    items: tuple[str | None, ...] = ()

    @property
    def code(self) -> str:
        """The DI as 8 hex digits DI3..DI0 (``"00010000"``)."""
        return f"{self.di:08X}"


# DI2 of class 00 / 01: (name part, description, signed, canonical prefix or None).
_ENERGY_KINDS: dict[int, tuple[str, str, bool, str | None]] = {
    0x00: ("active.combined", "combined active energy", True, "energy.active.combined"),
    0x01: ("active.import", "forward (import) active energy", False, "energy.active.import"),
    0x02: ("active.export", "reverse (export) active energy", False, "energy.active.export"),
    0x03: ("reactive.combined1", "combined reactive energy 1", True, "energy.reactive.import"),
    0x04: ("reactive.combined2", "combined reactive energy 2", True, "energy.reactive.export"),
    0x05: ("reactive.q1", "quadrant I reactive energy", False, "energy.reactive.q1"),
    0x06: ("reactive.q2", "quadrant II reactive energy", False, "energy.reactive.q2"),
    0x07: ("reactive.q3", "quadrant III reactive energy", False, "energy.reactive.q3"),
    0x08: ("reactive.q4", "quadrant IV reactive energy", False, "energy.reactive.q4"),
    0x09: ("apparent.import", "forward apparent energy", False, None),
    0x0A: ("apparent.export", "reverse apparent energy", False, None),
}
_ENERGY_UNITS = {"active": "kWh", "reactive": "kvarh", "apparent": "kVAh"}
_DEMAND_ITEMS = {0x01: "demand.active.import.max", 0x02: "demand.active.export.max"}
_PHASE_ENERGY = {0x15: ("a", "import"), 0x16: ("a", "export"), 0x29: ("b", "import"), 0x2A: ("b", "export"),
                 0x3D: ("c", "import"), 0x3E: ("c", "export")}
_PREPAY = {
    0x00900100: ("energy.remaining", "remaining prepaid energy", "kWh", "energy.remaining"),
    0x00900101: ("energy.overdraft", "overdraft energy", "kWh", None),
    0x00900200: ("balance.remaining", "remaining prepaid amount", "CNY", "balance.remaining"),
    0x00900201: ("balance.overdraft", "overdraft amount", "CNY", None),
}

# Class 02 (instantaneous variables): DI2 → (name, description, unit, element format, item prefix).
_VARIABLES: dict[int, tuple[str, str, str, Number, str | None]] = {
    0x01: ("voltage", "phase voltage", "V", Number(2, 1), "voltage"),
    0x02: ("current", "phase current", "A", Number(3, 3, signed=True), "current"),
    0x03: ("power.active", "active power", "kW", Number(3, 4, signed=True), "power.active"),
    0x04: ("power.reactive", "reactive power", "kvar", Number(3, 4, signed=True), "power.reactive"),
    0x05: ("power.apparent", "apparent power", "kVA", Number(3, 4, signed=True), "power.apparent"),
    0x06: ("power_factor", "power factor", "", Number(2, 3, signed=True), "power_factor"),
    0x07: ("phase_angle", "phase angle", "°", Number(2, 1), None),
}
_PHASES = {0x00: "total", 0x01: "a", 0x02: "b", 0x03: "c"}
_MISC_VARIABLES: dict[int, tuple[str, str, str, Number, str | None]] = {
    0x02800001: ("current.neutral", "neutral current", "A", Number(3, 3, signed=True), "current.n"),
    0x02800002: ("frequency", "grid frequency", "Hz", Number(2, 2), "frequency"),
    0x02800003: ("power.active.avg_1min", "one-minute average active power", "kW", Number(3, 4, signed=True), None),
    0x02800004: ("demand.active", "current active demand", "kW", Number(3, 4, signed=True), "demand.active"),
    0x02800005: ("demand.reactive", "current reactive demand", "kvar", Number(3, 4, signed=True), None),
    0x02800006: ("demand.apparent", "current apparent demand", "kVA", Number(3, 4, signed=True), None),
    0x02800007: ("temperature.meter", "meter temperature", "°C", Number(2, 1, signed=True), None),
    0x02800008: ("battery.clock_voltage", "clock battery voltage", "V", Number(2, 2), None),
    0x02800009: ("battery.reading_voltage", "meter-reading battery voltage", "V", Number(2, 2), None),
    0x0280000A: ("battery.working_minutes", "internal battery working time", "min", Number(4, 0), None),
    0x0280000B: ("price.current_step", "current step price", "CNY/kWh", Number(4, 4), None),
}
_PARAMETERS: dict[int, DataItem645] = {
    d.di: d
    for d in (
        DataItem645(0x04000101, "date", "date and weekday (YYMMDDWW)", "", Clock("WDMY")),
        DataItem645(0x04000102, "time", "time of day (hhmmss)", "", Clock("smh")),
        DataItem645(0x0400010C, "datetime", "date, weekday and time (YYMMDDWWhhmmss; UNVERIFIED)", "",
                    Clock("smhWDMY")),
        DataItem645(0x04000401, "address", "communication address", "", Digits(6)),
        DataItem645(0x04000402, "meter_number", "meter number", "", Digits(6)),
        DataItem645(0x04000B01, "settlement_day.1", "first settlement day (DDhh)", "", Digits(2)),
        DataItem645(0x04000B02, "settlement_day.2", "second settlement day (DDhh)", "", Digits(2)),
        DataItem645(0x04000B03, "settlement_day.3", "third settlement day (DDhh)", "", Digits(2)),
        DataItem645(0x040005FF, "status_words", "running status words 1..7 (block)", "", Block(Word(2), 7)),
        *(DataItem645(0x04000500 + n, f"status_word.{n}", f"meter running status word {n}", "", Word(2))
          for n in range(1, 8)),
        # cost-control (费控) meters, State Grid additions (docs/protocol-dlt645-cjt188.md, "cost-control meters")
        DataItem645(0x04001001, "prepay.alarm_amount.1", "alarm amount 1 limit", "CNY", Number(4, 2)),
        DataItem645(0x04001002, "prepay.alarm_amount.2", "alarm amount 2 limit", "CNY", Number(4, 2)),
        DataItem645(0x04001003, "prepay.overdraft_limit", "overdraft amount limit", "CNY", Number(4, 2)),
        DataItem645(0x04001004, "prepay.hoard_limit", "hoarding (maximum purse) amount limit", "CNY", Number(4, 2)),
        DataItem645(0x04001005, "prepay.allow_close_limit", "allow-close amount limit", "CNY", Number(4, 2)),
        DataItem645(0x04050101, "price.table_1.rate_1", "first rate table, price 1", "CNY/kWh", Number(4, 4)),
        DataItem645(0x03330201, "prepay.purchase_count.last_1",
                    "total purchase count after the last purchase", "", Number(2, 0)),
    )
}
# Frozen data class 05: DI2 of the freeze kind → (name, description, highest DI1 record number).
_FREEZES = {0x00: ("timed", "timed freeze", 60), 0x01: ("instant", "instant freeze", 3),
            0x06: ("daily", "daily freeze", 62)}


def _settlement(di0: int) -> str:
    return "" if di0 == 0 else f".settlement_{di0}"


def _energy(di: int, di2: int, di1: int, di0: int) -> DataItem645 | None:
    if di2 in _PHASE_ENERGY and di1 == 0 and di0 <= 12:
        phase, direction = _PHASE_ENERGY[di2]
        return DataItem645(di, f"energy.active.{direction}.{phase}{_settlement(di0)}",
                           f"phase {phase.upper()} {direction} active energy", "kWh", ENERGY)
    kind = _ENERGY_KINDS.get(di2)
    if kind is None or di0 > 12 or not (di1 <= 0x3F or di1 == 0xFF):
        return None
    name, text, signed, prefix = kind
    unit = _ENERGY_UNITS[name.split(".")[0]]
    element = ENERGY_SIGNED if signed else ENERGY
    current = prefix if di0 == 0 else None
    when = _settlement(di0)
    if di1 == 0xFF:
        items = (f"{current}.total", *(f"{current}.t{i}" for i in range(1, TARIFF_ITEMS + 1))) if current else ()
        return DataItem645(di, f"energy.{name}.block{when}", f"{text}, total and all tariffs", unit,
                           Block(element), items)
    rate = "total" if di1 == 0 else f"t{di1}"
    item = f"{current}.{rate}" if current and di1 <= TARIFF_ITEMS else None
    return DataItem645(di, f"energy.{name}.{rate}{when}", f"{text}, {rate}", unit, element, (item,))


def _demand(di: int, di2: int, di1: int, di0: int) -> DataItem645 | None:
    kind = _ENERGY_KINDS.get(di2)
    if kind is None or di2 > 0x08 or di0 > 12 or not (di1 <= 0x3F or di1 == 0xFF):
        return None
    name, text, signed, _ = kind
    unit = "kW" if name.startswith("active") else "kvar"
    element = DEMAND_SIGNED if signed else DEMAND
    item = _DEMAND_ITEMS.get(di2) if di0 == 0 and di1 == 0 else None
    when = _settlement(di0)
    if di1 == 0xFF:
        return DataItem645(di, f"demand.{name}.max.block{when}", f"{text} maximum demand and time, all tariffs",
                           unit, Block(element))
    rate = "total" if di1 == 0 else f"t{di1}"
    return DataItem645(di, f"demand.{name}.max.{rate}{when}", f"{text} maximum demand and its time, {rate}",
                       unit, element, (item, None))


def _variable(di: int, di2: int, di1: int, di0: int) -> DataItem645 | None:
    if di in _MISC_VARIABLES:
        name, text, unit, fmt, item = _MISC_VARIABLES[di]
        return DataItem645(di, name, text, unit, fmt, (item,))
    spec = _VARIABLES.get(di2)
    if spec is None or di0 != 0:
        return None
    name, text, unit, fmt, prefix = spec
    phases = ("a", "b", "c") if di2 in (0x01, 0x02, 0x07) else ("total", "a", "b", "c")
    if di1 == 0xFF:
        items = tuple(f"{prefix}.{p}" for p in phases) if prefix else ()
        return DataItem645(di, f"{name}.block", f"{text}, all phases", unit, Block(fmt, len(phases)), items)
    phase = _PHASES.get(di1)
    if phase not in phases:
        return None
    return DataItem645(di, f"{name}.{phase}", f"{text}, {phase}", unit, fmt,
                       (f"{prefix}.{phase}" if prefix else None,))


def _frozen(di: int, di2: int, di1: int, di0: int) -> DataItem645 | None:
    if di2 == 0x04:  # hourly freeze: DI1 00 time, 01 import total, 02 export total; DI0 record 1..254
        if not 1 <= di0 <= 0xFE or di1 > 2:
            return None
        if di1 == 0:
            return DataItem645(di, f"frozen.hourly_{di0}.time", "hourly freeze time", "", MINUTE_TIME)
        direction = "import" if di1 == 1 else "export"
        return DataItem645(di, f"frozen.hourly_{di0}.energy.active.{direction}.total",
                           f"hourly frozen {direction} active energy total", "kWh", ENERGY,
                           (f"energy.active.{direction}.total",))
    freeze = _FREEZES.get(di2)
    if freeze is None or not 1 <= di0 <= freeze[2]:
        return None
    tag, text = f"frozen.{freeze[0]}_{di0}", freeze[1]
    if di1 == 0x00:
        return DataItem645(di, f"{tag}.time", f"{text} time", "", MINUTE_TIME)
    if di1 == 0x10:
        items = ("power.active.total", "power.active.a", "power.active.b", "power.active.c",
                 "power.reactive.total", "power.reactive.a", "power.reactive.b", "power.reactive.c")
        return DataItem645(di, f"{tag}.power", f"{text} active and reactive power (total, A, B, C)", "kW/kvar",
                           Block(Number(3, 4, signed=True), 8), items)
    if 0x01 <= di1 <= 0x08:
        energy = _energy(di, di1, 0xFF, 0)
        if energy is None:
            return None
        return DataItem645(di, f"{tag}.{energy.name.removesuffix('.block')}", f"{text} {energy.description}",
                           energy.unit, energy.fmt, energy.items)
    if di1 in (0x09, 0x0A):
        demand = _demand(di, di1 - 8, 0xFF, 0)
        if demand is None:
            return None
        return DataItem645(di, f"{tag}.{demand.name.removesuffix('.block')}", f"{text} {demand.description}",
                           demand.unit, demand.fmt)
    return None


@lru_cache(maxsize=8192)
def lookup(di: int) -> DataItem645 | None:
    """The registry entry of ``di`` (DI3..DI0 as one int), ``None`` when not covered."""
    if di in _PARAMETERS:
        return _PARAMETERS[di]
    if di in _PREPAY:
        name, text, unit, item = _PREPAY[di]
        return DataItem645(di, name, text, unit, ENERGY, (item,))
    di3, di2, di1, di0 = di >> 24, (di >> 16) & 0xFF, (di >> 8) & 0xFF, di & 0xFF
    if di3 == 0x00:
        return _energy(di, di2, di1, di0)
    if di3 == 0x01:
        return _demand(di, di2, di1, di0)
    if di3 == 0x02:
        return _variable(di, di2, di1, di0)
    if di3 == 0x05:
        return _frozen(di, di2, di1, di0)
    return None


def representative() -> Iterator[DataItem645]:
    """Every family with tariffs 0..4 and block, settlement 0..1, frozen records 1..2 (docs and tests)."""
    candidates: list[int] = [*_PARAMETERS, *_PREPAY, *_MISC_VARIABLES]
    for di2 in (*_ENERGY_KINDS, *_PHASE_ENERGY):
        for di1 in (0, 1, 2, 3, 4, 0xFF):
            candidates += [(di2 << 16) | (di1 << 8) | di0 for di0 in (0, 1)]
            candidates += [0x01000000 | (di2 << 16) | (di1 << 8) | di0 for di0 in (0, 1)]
    for di2 in _VARIABLES:
        candidates += [0x02000000 | (di2 << 16) | (di1 << 8) for di1 in (0, 1, 2, 3, 0xFF)]
    for di2 in (*_FREEZES, 0x04):
        candidates += [0x05000000 | (di2 << 16) | (di1 << 8) | di0
                       for di1 in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0A, 0x10) for di0 in (1, 2)]
    seen: set[int] = set()
    for di in candidates:
        item = lookup(di)
        if item is not None and di not in seen:
            seen.add(di)
            yield item
