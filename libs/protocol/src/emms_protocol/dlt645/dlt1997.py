"""DL/T 645-1997 basic reads: the 2-byte data identifiers still met in the field.

Same frame as 2007 (68 A 68 C L DATA CS 16, DATA +33H) but read is C=01 (reply
81H, error C1H) and the DI has two bytes, sent low byte first (9010 → ``10 90``
→ ``43 C3`` on the wire). Only the common metering values are listed; any other
DI decodes to its raw bytes. Entries reuse :class:`DataItem645` with a 16-bit
``di``.
"""

from __future__ import annotations

from collections.abc import Iterator

from emms_protocol.dlt645.di_registry import DataItem645
from emms_protocol.dlt645.formats import Block, Clock, Digits, Number, Word

_ENERGY = Number(4, 2)


def _energy(base: int, name: str, text: str, unit: str, prefix: str | None) -> list[DataItem645]:
    out = [DataItem645(base, f"{name}.total", f"{text}, total", unit, _ENERGY,
                       (f"{prefix}.total" if prefix else None,))]
    out += [DataItem645(base + t, f"{name}.t{t}", f"{text}, tariff {t}", unit, _ENERGY,
                        (f"{prefix}.t{t}" if prefix else None,)) for t in range(1, 5)]
    items = (f"{prefix}.total", *(f"{prefix}.t{t}" for t in range(1, 5))) if prefix else ()
    out.append(DataItem645(base + 0xF, f"{name}.block", f"{text}, total and tariffs 1-4", unit,
                           Block(_ENERGY, 5), items))
    return out


def _phases(base: int, name: str, text: str, unit: str, fmt: Number, prefix: str,
            with_total: bool) -> list[DataItem645]:
    phases = ("total", "a", "b", "c") if with_total else ("a", "b", "c")
    first = base if with_total else base + 1
    out = [DataItem645(first + i, f"{name}.{p}", f"{text}, {p}", unit, fmt, (f"{prefix}.{p}",))
           for i, p in enumerate(phases)]
    out.append(DataItem645(base + 0xF, f"{name}.block", f"{text}, all phases", unit, Block(fmt, len(phases)),
                           tuple(f"{prefix}.{p}" for p in phases)))
    return out


REGISTRY_1997: dict[int, DataItem645] = {
    d.di: d
    for d in (
        *_energy(0x9010, "energy.active.import", "forward active energy", "kWh", "energy.active.import"),
        *_energy(0x9020, "energy.active.export", "reverse active energy", "kWh", "energy.active.export"),
        *_energy(0x9110, "energy.reactive.import", "forward reactive energy", "kvarh", "energy.reactive.import"),
        *_energy(0x9120, "energy.reactive.export", "reverse reactive energy", "kvarh", "energy.reactive.export"),
        DataItem645(0xA010, "demand.active.import.max.total", "forward active maximum demand", "kW",
                    Number(3, 4), ("demand.active.import.max",)),
        DataItem645(0xA020, "demand.active.export.max.total", "reverse active maximum demand", "kW",
                    Number(3, 4), ("demand.active.export.max",)),
        *_phases(0xB610, "voltage", "phase voltage", "V", Number(2, 0), "voltage", with_total=False),
        *_phases(0xB620, "current", "phase current", "A", Number(2, 2), "current", with_total=False),
        *_phases(0xB630, "power.active", "active power", "kW", Number(3, 4), "power.active", with_total=True),
        *_phases(0xB640, "power.reactive", "reactive power", "kvar", Number(2, 2), "power.reactive",
                 with_total=True),
        *_phases(0xB650, "power_factor", "power factor", "", Number(2, 3), "power_factor", with_total=True),
        DataItem645(0xC010, "date", "date and weekday (YYMMDDWW)", "", Clock("WDMY")),
        DataItem645(0xC011, "time", "time of day (hhmmss)", "", Clock("smh")),
        DataItem645(0xC020, "status_word", "meter running status word", "", Word(1)),
        DataItem645(0xC030, "meter_constant.active", "active meter constant", "imp/kWh", Number(3, 0)),
        DataItem645(0xC032, "meter_number", "meter number", "", Digits(6)),
        DataItem645(0xC033, "user_number", "user number", "", Digits(6)),
        DataItem645(0xC034, "device_code", "device code", "", Digits(6)),
    )
}


def lookup_1997(di: int) -> DataItem645 | None:
    """The 1997 registry entry of a 2-byte DI, ``None`` when not covered."""
    return REGISTRY_1997.get(di)


def representative_1997() -> Iterator[DataItem645]:
    """Every 1997 entry (docs and tests)."""
    return iter(REGISTRY_1997.values())
