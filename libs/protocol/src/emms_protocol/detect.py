"""Protocol auto-detection: find every 1376.1, DL/T 645 and CJ/T 188 frame in a byte blob.

Used by ``emms-proto decode`` on pasted captures: FE preambles, garbage, and
several frames back to back. At each ``68`` the three frame shapes are tried
in order of how much they check — 1376.1 (doubled length field, protocol id,
second 68 at +5), then 645 (second 68 at +7), then 188 — each needing its
checksum and end byte. A hit moves past the frame; a miss moves one byte on,
so a false ``68`` in garbage never hides the frame behind it. Only the
envelope is checked here; decoding is the caller's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emms_protocol import cjt188, dlt645
from emms_protocol.checksum import sum8
from emms_protocol.errors import ProtocolError

GDW1376 = "1376.1"
DLT645 = "645"
CJT188 = "188"
_START, _END = 0x68, 0x16
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")
_SEPARATORS = re.compile(r"0[xX](?=[0-9A-Fa-f])|[\s,;:\-]+")


@dataclass(frozen=True, slots=True)
class FoundFrame:
    """A checksum-valid frame at ``data[start:end]`` (FE preamble not included)."""

    protocol: str
    start: int
    end: int
    raw: bytes


def parse_hex(text: str) -> bytes:
    """Hex text with any spacing, ``0x`` prefixes or ``,;:-`` separators → bytes."""
    compact = _SEPARATORS.sub("", text)
    bad = _NOT_HEX.search(compact)
    if bad is not None:
        raise ProtocolError("hex", bad.start(), f"{bad.group()!r} is not a hex digit")
    if len(compact) % 2:
        raise ProtocolError("hex", len(compact), "odd number of hex digits")
    return bytes.fromhex(compact)


def frame_end_1376(data: bytes, pos: int) -> int:
    """End offset of a 1376.1 frame starting at ``data[pos]``; ProtocolError if there is none."""
    if len(data) - pos < 6 + 8 + 2:
        raise ProtocolError("short", pos)
    l1 = data[pos + 1] | (data[pos + 2] << 8)
    l2 = data[pos + 3] | (data[pos + 4] << 8)
    if l1 != l2 or not l1 & 0x03 or data[pos + 5] != _START:
        raise ProtocolError("start", pos, "not a 1376.1 header")
    end = pos + 6 + (l1 >> 2)
    if end + 2 > len(data) or (l1 >> 2) < 8:
        raise ProtocolError("short", pos)
    if sum8(data[pos + 6 : end]) != data[end] or data[end + 1] != _END:
        raise ProtocolError("checksum", end)
    return end + 2


def frame_at(data: bytes, pos: int) -> FoundFrame | None:
    """The frame starting at ``data[pos]`` if one of the three shapes fits there."""
    try:
        return FoundFrame(GDW1376, pos, (end := frame_end_1376(data, pos)), data[pos:end])
    except ProtocolError:
        pass
    for protocol, split in ((DLT645, dlt645.split_frame), (CJT188, cjt188.split_frame)):
        try:
            _, end = split(data, pos)
        except ProtocolError:
            continue
        return FoundFrame(protocol, pos, end, data[pos:end])
    return None


def scan(data: bytes | bytearray | memoryview) -> list[FoundFrame]:
    """Every frame in ``data``, in order; never raises."""
    data = bytes(data)
    found: list[FoundFrame] = []
    pos = data.find(_START)
    while pos >= 0:
        frame = frame_at(data, pos)
        if frame is not None:
            found.append(frame)
            pos = data.find(_START, frame.end)
        else:
            pos = data.find(_START, pos + 1)
    return found


def detect(raw: bytes | bytearray | memoryview) -> str | None:
    """The protocol of a single frame (leading FE allowed), ``None`` when none fits."""
    data = bytes(raw).lstrip(b"\xfe")
    frame = frame_at(data, 0) if data else None
    return frame.protocol if frame is not None and frame.end == len(data) else None
