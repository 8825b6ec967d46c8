"""DL/T 645 control byte C, function codes, error-reply bits and control-command (1CH) codes.

C = D7 direction (1 = from the meter) | D6 abnormal reply | D5 follow-up frames |
D4..D0 function. A reply's C is the request's | 0x80 (| 0x40 on error, | 0x20
when more frames follow). DL/T 645-1997 reuses the frame with its own function
codes (01 read, 02 read follow-up, 04 write ...); the codes that exist only in
one edition identify it (see :func:`edition`).
"""

from __future__ import annotations

from typing import Final

FROM_METER: Final = 0x80
ABNORMAL: Final = 0x40
FOLLOW_UP: Final = 0x20
FUNCTION_MASK: Final = 0x1F

# DL/T 645-2007 function codes.
SECURITY = 0x03  # 身份认证 (Q/GDW ESAM meters; UNVERIFIED, not in the 2007 enum we follow)
BROADCAST_TIME = 0x08
READ = 0x11
READ_FOLLOW_UP = 0x12
READ_ADDRESS = 0x13
WRITE = 0x14
WRITE_ADDRESS = 0x15
FREEZE = 0x16
CHANGE_BAUD = 0x17
CHANGE_PASSWORD = 0x18
CLEAR_DEMAND = 0x19
CLEAR_METER = 0x1A
CLEAR_EVENTS = 0x1B
CONTROL = 0x1C

FUNCTIONS_2007: Final[dict[int, str]] = {
    SECURITY: "security",
    BROADCAST_TIME: "broadcast_time",
    READ: "read",
    READ_FOLLOW_UP: "read_follow_up",
    READ_ADDRESS: "read_address",
    WRITE: "write",
    WRITE_ADDRESS: "write_address",
    FREEZE: "freeze",
    CHANGE_BAUD: "change_baud",
    CHANGE_PASSWORD: "change_password",
    CLEAR_DEMAND: "clear_demand",
    CLEAR_METER: "clear_meter",
    CLEAR_EVENTS: "clear_events",
    CONTROL: "control",
}

# DL/T 645-1997 function codes (08 broadcast time is shared with 2007).
READ_1997 = 0x01
READ_FOLLOW_UP_1997 = 0x02
REREAD_1997 = 0x03
WRITE_1997 = 0x04
WRITE_ADDRESS_1997 = 0x0A
CHANGE_BAUD_1997 = 0x0C
CHANGE_PASSWORD_1997 = 0x0F
CLEAR_DEMAND_1997 = 0x10

FUNCTIONS_1997: Final[dict[int, str]] = {
    READ_1997: "read",
    READ_FOLLOW_UP_1997: "read_follow_up",
    REREAD_1997: "reread",
    WRITE_1997: "write",
    BROADCAST_TIME: "broadcast_time",
    WRITE_ADDRESS_1997: "write_address",
    CHANGE_BAUD_1997: "change_baud",
    CHANGE_PASSWORD_1997: "change_password",
    CLEAR_DEMAND_1997: "clear_demand",
}

# Error byte of abnormal replies (D1H, D4H, ... DCH), bit → name.
ERROR_BITS: Final[tuple[tuple[int, str], ...]] = (
    (0x01, "other"),
    (0x02, "no_data"),
    (0x04, "password_or_unauthorised"),
    (0x08, "baud_rate_unchangeable"),
    (0x10, "year_zones_exceeded"),
    (0x20, "day_periods_exceeded"),
    (0x40, "tariffs_exceeded"),
)

# N1 of the control command (1CH): action name → code.
CONTROL_ACTIONS: Final[dict[str, int]] = {
    "trip": 0x1A,
    "allow_close": 0x1B,
    "close": 0x1C,  # direct close, State Grid 2013 smart-meter amendment
    "alarm": 0x2A,
    "alarm_release": 0x2B,
    "keep_power": 0x3A,
    "keep_power_release": 0x3B,
}
CONTROL_ACTION_NAMES: Final[dict[int, str]] = {code: name for name, code in CONTROL_ACTIONS.items()}


def error_names(err: int) -> tuple[str, ...]:
    """The names of the bits set in an error-reply byte (bit 7 reserved → ``reserved``)."""
    names = tuple(name for bit, name in ERROR_BITS if err & bit)
    return (*names, "reserved") if err & 0x80 else names


def _info(control: int) -> tuple[int, str, bool, bool, bool]:
    function = control & FUNCTION_MASK
    ed = 1997 if function in FUNCTIONS_1997 and function not in FUNCTIONS_2007 else 2007
    table = FUNCTIONS_1997 if ed == 1997 else FUNCTIONS_2007
    return (ed, table.get(function, f"unknown_{function:02x}"), bool(control & FROM_METER), bool(control & ABNORMAL),
            bool(control & FOLLOW_UP))


#: control byte → (edition, function name, from meter, abnormal, follow-up); the decoder's hot path.
CONTROL_INFO: Final[tuple[tuple[int, str, bool, bool, bool], ...]] = tuple(_info(c) for c in range(256))


def edition(control: int) -> int:
    """2007 or 1997, from the function code (codes of both editions count as 2007)."""
    return CONTROL_INFO[control & 0xFF][0]


def function_name(control: int) -> str:
    """The function of C in its edition, ``"unknown_XX"`` when no edition defines it."""
    return CONTROL_INFO[control & 0xFF][1]
