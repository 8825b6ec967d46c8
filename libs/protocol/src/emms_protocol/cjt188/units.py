"""CJ/T 188 unit codes (the byte after each metered value) and their canonical scale.

Codes per [CS188] ``GetUnitName``. ``CANONICAL`` maps each code to the
canonical unit of its quantity (kWh for energy, kW for power, m³ for volume,
m³/h for flow) and the factor to multiply by; :mod:`emms_protocol.items` uses
it so readings are stored in one unit whatever the meter reports.
"""

from __future__ import annotations

from typing import Final

UNIT_NAMES: Final[dict[int, str]] = {
    0x01: "J",
    0x02: "Wh",
    0x05: "kWh",
    0x08: "MWh",
    0x0A: "MWh×100",
    0x0B: "kJ",
    0x0E: "MJ",
    0x11: "GJ",
    0x13: "GJ×100",
    0x14: "W",
    0x17: "kW",
    0x1A: "MW",
    0x29: "L",
    0x2C: "m³",
    0x32: "L/h",
    0x35: "m³/h",
}
UNIT_CODES: Final[dict[str, int]] = {name: code for code, name in UNIT_NAMES.items()}

# code → (canonical unit, factor)
CANONICAL: Final[dict[int, tuple[str, float]]] = {
    0x01: ("kWh", 1 / 3_600_000),
    0x02: ("kWh", 1e-3),
    0x05: ("kWh", 1.0),
    0x08: ("kWh", 1e3),
    0x0A: ("kWh", 1e5),
    0x0B: ("kWh", 1 / 3600),
    0x0E: ("kWh", 1 / 3.6),
    0x11: ("kWh", 1e3 / 3.6),
    0x13: ("kWh", 1e5 / 3.6),
    0x14: ("kW", 1e-3),
    0x17: ("kW", 1.0),
    0x1A: ("kW", 1e3),
    0x29: ("m³", 1e-3),
    0x2C: ("m³", 1.0),
    0x32: ("m³/h", 1e-3),
    0x35: ("m³/h", 1.0),
}


def unit_name(code: int) -> str:
    """The printable unit of ``code``; ``""`` for a code the standard does not list."""
    return UNIT_NAMES.get(code, "")


def to_canonical(value: float | None, code: int, expected: str) -> float | None:
    """``value`` in the canonical unit ``expected``; None when absent or the code is of another quantity."""
    if value is None:
        return None
    unit, factor = CANONICAL.get(code, ("", 0.0))
    if unit != expected:
        return None
    return value * factor
