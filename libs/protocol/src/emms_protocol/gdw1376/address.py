"""Address field A (five bytes): A1 area code, A2 terminal address, A3 master address + group flag.

A1 is kept as the 16-bit value whose hex digits are the BCD area code (bytes
``71 01`` → ``0x0171`` → "0171"); A2 is a plain integer. The session key
``f"{area:04X}-{terminal:05d}"`` is what the FEP and the registry use; vendors
print A2 in hex instead, see :attr:`Address.vendor_hex`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emms_protocol.errors import ProtocolError

_KEY = re.compile(r"^([0-9A-Fa-f]{4})-(\d{1,5})$")
BROADCAST_TERMINAL = 0xFFFF


@dataclass(frozen=True, slots=True)
class Address:
    """A terminal address. ``master`` is MSA 0..127, ``group`` the A3.D0 flag."""

    area: int
    terminal: int
    master: int = 0
    group: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.area <= 0xFFFF or not 0 <= self.terminal <= 0xFFFF or not 0 <= self.master <= 127:
            raise ProtocolError("value", detail=f"address out of range: {self!r}")

    @property
    def key(self) -> str:
        """Stable session key, e.g. ``"3701-00012"`` (A1 as printed BCD, A2 decimal)."""
        return f"{self.area:04X}-{self.terminal:05d}"

    @property
    def vendor_hex(self) -> str:
        """The 8-hex-digit form many vendor tools print (A1 then A2 in hex), e.g. ``"19040011"``."""
        return f"{self.area:04X}{self.terminal:04X}"

    @property
    def broadcast(self) -> bool:
        return self.terminal == BROADCAST_TERMINAL and self.group

    @classmethod
    def parse(cls, key: str, master: int = 0, group: bool = False) -> Address:
        """Inverse of :attr:`key`."""
        match = _KEY.match(key.strip())
        if match is None:
            raise ProtocolError("value", detail=f"{key!r} is not an address key like '3701-00012'")
        terminal = int(match.group(2))
        if terminal > 0xFFFF:
            raise ProtocolError("value", detail=f"terminal address {terminal} exceeds 65535")
        return cls(int(match.group(1), 16), terminal, master, group)

    def to_bytes(self) -> bytes:
        a3 = (self.master << 1) | (1 if self.group else 0)
        return bytes((self.area & 0xFF, self.area >> 8, self.terminal & 0xFF, self.terminal >> 8, a3))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Address:
        if len(data) != 5:
            raise ProtocolError("short", detail="address field needs 5 bytes")
        return cls(data[0] | (data[1] << 8), data[2] | (data[3] << 8), data[4] >> 1, bool(data[4] & 1))
