"""CJ/T 188-2004 meter type T and control code C.

T ranges: 10–19H water, 20–29H heat, 30–39H gas, 40–49H other (electricity /
custom); ``AA`` is the wildcard type used with the wildcard address. Vendors
use codes inside a range (a real heat meter answers T = 25H), so the utility is
decided by the range, not by the listed codes.

C = D7 direction (1 = reply) | D6 abnormal reply | D5..D0 function.
"""

from __future__ import annotations

from typing import Final

WATER_COLD = 0x10
WATER_HOT = 0x11
WATER_DRINKING = 0x12
WATER_RECLAIMED = 0x13
HEAT = 0x20
COOLING = 0x21
HEAT_COOLING = 0x22  # CJ/T 188-2018 only
GAS = 0x30
ELECTRICITY = 0x40
WILDCARD_TYPE = 0xAA

METER_TYPES: Final[dict[int, str]] = {
    WATER_COLD: "cold water",
    WATER_HOT: "domestic hot water",
    WATER_DRINKING: "direct drinking water",
    WATER_RECLAIMED: "reclaimed water",
    HEAT: "heat meter (heat)",
    COOLING: "heat meter (cooling)",
    HEAT_COOLING: "heat meter (heat and cooling, 2018)",
    GAS: "gas",
    ELECTRICITY: "electricity / custom",
    WILDCARD_TYPE: "wildcard",
}

FROM_METER: Final = 0x80
ABNORMAL: Final = 0x40
FUNCTION_MASK: Final = 0x3F

READ_DATA = 0x01
READ_ADDRESS = 0x03
WRITE_DATA = 0x04
READ_KEY_VERSION = 0x09
WRITE_ADDRESS = 0x15
WRITE_SYNC = 0x16

FUNCTIONS: Final[dict[int, str]] = {
    READ_DATA: "read",
    READ_ADDRESS: "read_address",
    WRITE_DATA: "write",
    READ_KEY_VERSION: "read_key_version",
    WRITE_ADDRESS: "write_address",
    WRITE_SYNC: "write_sync_value",
}


def utility(meter_type: int) -> str:
    """``water`` / ``heat`` / ``gas`` / ``other`` by range, ``any`` for AA, else ``unknown``."""
    if meter_type == WILDCARD_TYPE:
        return "any"
    return {1: "water", 2: "heat", 3: "gas", 4: "other"}.get(meter_type >> 4, "unknown")


def function_name(control: int) -> str:
    function = control & FUNCTION_MASK
    return FUNCTIONS.get(function, f"unknown_{function:02x}")
