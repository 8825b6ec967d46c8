"""The frame checksum of all three protocols: arithmetic sum modulo 256."""

from __future__ import annotations


def sum8(data: bytes | bytearray | memoryview) -> int:
    """Arithmetic sum of ``data`` modulo 256 (1376.1, DL/T 645 and CJ/T 188 CS)."""
    return sum(data) & 0xFF
