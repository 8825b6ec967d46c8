"""Frames as the FEP publishes them → typed data units → canonical item values.

The one direction of a reading: bytes → typed → canonical reading → row. A
frame's bytes (``UplinkFrame.raw_hex``; ``"raw_hex"`` in each frame of
``DownlinkResult.frames``) are decoded here with the pure codec
(``decode_frame`` + ``decode_units``), never rebuilt from the JSON view the FEP
publishes beside them; a frame from an FEP that sent no bytes is read back with
the protocol library's own view (``json_view.units_from_view``). The protocol
library's mapping — :func:`items_from_units` for AFN 0C / 0D, and
:func:`items_from_188` / :func:`items_from_645` for meter frames forwarded
through AFN 10 — decides which value is which item. Nothing here knows a layout;
a frame or unit that does not decode is skipped and counted, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emms_messages.terminal import UplinkFrame
from emms_protocol import ProtocolError, cjt188, dlt645
from emms_protocol.gdw1376 import DataUnit, decode_frame, decode_units
from emms_protocol.gdw1376.afn10 import ForwardReply
from emms_protocol.gdw1376.items_map import ItemValue, items_from_units
from emms_protocol.gdw1376.json_view import units_from_view
from emms_protocol.items import ITEMS, items_from_188, items_from_645


@dataclass(frozen=True, slots=True)
class MeterValue:
    """A value from a forwarded meter frame: no pn, the meter is the one the request named."""

    item: str
    value: float | None
    unit: str
    meter_address: str


@dataclass(frozen=True, slots=True)
class TypedFrame:
    """One frame's AFN and data units as the codec decodes them; ``bad``: units (or the frame) not decodable."""

    afn: int
    units: tuple[DataUnit, ...]
    bad: int = 0


def decode_hex(raw_hex: str) -> TypedFrame:
    """A whole frame's bytes (hex) → its typed units; a frame that does not decode counts as one bad unit."""
    try:
        frame = decode_frame(bytes.fromhex(raw_hex))
    except (ProtocolError, ValueError):
        return TypedFrame(0, (), 1)
    try:
        return TypedFrame(frame.afn, tuple(decode_units(frame)))
    except ProtocolError:
        return TypedFrame(frame.afn, (), 1)


def typed(frame: Mapping[str, Any]) -> TypedFrame:
    """One frame of ``DownlinkResult.frames``: its bytes when present, else its JSON view."""
    raw_hex = frame.get("raw_hex")
    if isinstance(raw_hex, str):
        return decode_hex(raw_hex)
    afn, units, bad = units_from_view(frame)
    return TypedFrame(afn, tuple(units), bad)


def typed_frames(frames: Iterable[Mapping[str, Any]]) -> list[TypedFrame]:
    return [typed(f) for f in frames]


def uplink(frame: UplinkFrame) -> TypedFrame:
    """An uplink frame (report, event) decoded from its bytes."""
    return decode_hex(frame.raw_hex)


def point_values(frames: Iterable[TypedFrame]) -> tuple[list[ItemValue], int]:
    """Canonical values (per pn) of AFN 0C / 0D answer frames, and how many units were unusable."""
    values: list[ItemValue] = []
    bad = 0
    for frame in frames:
        bad += frame.bad
        if frame.afn in (0x0C, 0x0D):
            values.extend(items_from_units(frame.afn, list(frame.units)))
    return values, bad


def forwarded_values(frames: Iterable[TypedFrame]) -> list[MeterValue]:
    """Canonical values of meter frames forwarded through AFN 10 F1 (188 or 645)."""
    out: list[MeterValue] = []
    for frame in frames:
        if frame.afn != 0x10:
            continue
        for unit in frame.units:
            if isinstance(unit.value, ForwardReply):
                out.extend(_meter_values(unit.value))
    return out


def _meter_values(reply: ForwardReply) -> list[MeterValue]:
    inner = reply.inner
    pairs: list[tuple[str, float | None]]
    try:
        if isinstance(inner, cjt188.Frame188):
            pairs, address = items_from_188(inner), inner.address
        elif isinstance(inner, dlt645.Frame645) and isinstance(inner.body, dlt645.ReadReply):
            pairs, address = items_from_645(inner.body.di, inner.body.value), inner.address
        else:
            return []
    except (ProtocolError, KeyError, TypeError, ValueError):
        return []
    return [MeterValue(code, value, ITEMS[code].unit, address) for code, value in pairs if code in ITEMS]
