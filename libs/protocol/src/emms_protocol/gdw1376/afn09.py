"""AFN 09 — terminal configuration: F1 version information (uplink; requests carry no data).

1376.1 layout (41 bytes): vendor code ASCII 4, device number ASCII 8, software
version ASCII 4, software date A.20, capacity code ASCII 11, protocol version
ASCII 4, hardware version ASCII 4, hardware date A.20. 2009-era terminals omit
the protocol version (37 bytes); a unit of exactly 37 bytes decodes that way
with ``protocol_version=None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need
from emms_protocol.gdw1376.layout import A20, ascii_field

_A4, _A8, _A11 = ascii_field(4), ascii_field(8), ascii_field(11)
LEN_2013 = 41
LEN_2009 = 37


@dataclass(frozen=True, slots=True)
class VersionInfo:
    vendor: str
    device_number: str
    software_version: str
    software_date: date | None
    capacity: str
    protocol_version: str | None
    hardware_version: str
    hardware_date: date | None


def _decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    old = end - pos == LEN_2009
    need(end, pos, LEN_2009 if old else LEN_2013, "AFN09 F1")
    vendor = _A4.decode(data, pos, opts)
    device = _A8.decode(data, pos + 4, opts)
    software = _A4.decode(data, pos + 12, opts)
    sw_date = A20.decode(data, pos + 16, opts)
    capacity = _A11.decode(data, pos + 19, opts)
    pos += 30
    protocol = None
    if not old:
        protocol = _A4.decode(data, pos, opts)
        pos += 4
    hardware = _A4.decode(data, pos, opts)
    hw_date = A20.decode(data, pos + 4, opts)
    return VersionInfo(vendor, device, software, sw_date, capacity, protocol, hardware, hw_date), pos + 7


def _encode(value: object, opts: Options) -> bytes:
    expect(value, VersionInfo, "AFN09 F1")
    assert isinstance(value, VersionInfo)
    parts = [_A4.encode(value.vendor, opts), _A8.encode(value.device_number, opts),
             _A4.encode(value.software_version, opts), A20.encode(value.software_date, opts),
             _A11.encode(value.capacity, opts)]
    if value.protocol_version is not None:
        parts.append(_A4.encode(value.protocol_version, opts))
    parts += [_A4.encode(value.hardware_version, opts), A20.encode(value.hardware_date, opts)]
    return b"".join(parts)


CODECS: dict[tuple[int, int, int], FnCodec] = {(0x09, 1, 1): FnCodec("terminal version information", _decode, _encode)}
