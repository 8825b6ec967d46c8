"""Control field C (one byte): DIR, PRM, FCB/ACD, FCV, function code (§1.2 of the notes).

All 256 possible values are decoded once at import, so ``Control.from_byte`` is
a list index on the hot path and equal control bytes share one object.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from emms_protocol.errors import ProtocolError

DOWN = 0
UP = 1


class FunctionPrm1(IntEnum):
    """Function codes of the initiating station (PRM=1)."""

    RESET = 1
    USER_DATA = 4
    LINK_TEST = 9
    REQUEST_CLASS1 = 10
    REQUEST_CLASS2 = 11


class FunctionPrm0(IntEnum):
    """Function codes of the responding station (PRM=0)."""

    CONFIRM = 0
    USER_DATA = 8
    DENY_NO_DATA = 9
    LINK_STATUS = 11


@dataclass(frozen=True, slots=True)
class Control:
    """Decoded control byte. ``fcb_acd`` is FCB on the downlink and ACD on the uplink."""

    direction: int
    prm: int
    fcb_acd: int
    fcv: int
    function: int

    _TABLE: ClassVar[list[Control]]

    def __post_init__(self) -> None:
        if self.direction not in (0, 1) or self.prm not in (0, 1) or self.fcb_acd not in (0, 1) \
                or self.fcv not in (0, 1) or not 0 <= self.function <= 15:
            raise ProtocolError("value", detail=f"control field out of range: {self!r}")

    @property
    def uplink(self) -> bool:
        return self.direction == UP

    @property
    def acd(self) -> bool:
        """Uplink only: the terminal has important events waiting (EC present)."""
        return self.direction == UP and self.fcb_acd == 1

    def to_byte(self) -> int:
        return (self.direction << 7) | (self.prm << 6) | (self.fcb_acd << 5) | (self.fcv << 4) | self.function

    @classmethod
    def from_byte(cls, value: int) -> Control:
        if not 0 <= value <= 255:
            raise ProtocolError("value", detail=f"control byte {value} out of range")
        return cls._TABLE[value]


Control._TABLE = [
    Control((b >> 7) & 1, (b >> 6) & 1, (b >> 5) & 1, (b >> 4) & 1, b & 0x0F) for b in range(256)
]
