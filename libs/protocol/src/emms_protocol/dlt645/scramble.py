"""The +33H scrambling of DL/T 645 DATA bytes (both editions).

Every DATA byte is sent as (value + 0x33) mod 256 so that a frame carries few
0x00/0x68/0x16 bytes. Done with ``bytes.translate`` tables: one C call per
frame instead of a Python loop per byte.
"""

from __future__ import annotations

ADD = bytes((b + 0x33) & 0xFF for b in range(256))
UNSCRAMBLE = bytes((b - 0x33) & 0xFF for b in range(256))


def scramble(data: bytes) -> bytes:
    """Plain DATA → wire DATA (+33H)."""
    return data.translate(ADD)


def unscramble(data: bytes) -> bytes:
    """Wire DATA → plain DATA (−33H)."""
    return data.translate(UNSCRAMBLE)
