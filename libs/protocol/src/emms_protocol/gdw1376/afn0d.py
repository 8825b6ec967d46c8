"""AFN 0D — class-2 (frozen / history) data (§3.8 of the notes).

The master's request carries the freeze tag after DA/DT: Td_d (A.20) for the
daily Fn, Td_m (A.21) for the monthly ones; its value here is a ``date``
(first of the month for Td_m). The terminal's answer repeats the tag and then
the block: F1 / F17 the F33-style forward block, F2 / F18 the F34-style reverse
block, F161 / F177 Tm + M + forward active energy (A.14 × (M+1)). F161 / F177
layouts come from [LM-C] only (no captured frame).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import FnCodec, Options, need
from emms_protocol.gdw1376.energy_blocks import (
    EnergyReading,
    ForwardEnergies,
    ReverseEnergies,
    decode_quadrants,
    decode_reading,
    encode_quadrants,
    encode_reading,
)

TagDecoder = Callable[[bytes, int, Options], date | None]
Tag = tuple[TagDecoder, Callable[[object, Options], bytes], int]

_DAILY: Tag = (f.dec_a20, f.enc_a20, 3)
_MONTHLY: Tag = (f.dec_a21, f.enc_a21, 2)


def _tag_codec(name: str, tag: Tag) -> FnCodec:
    dec, enc, width = tag

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        need(end, pos, width, name)
        return dec(data, pos, opts), pos + width

    def encode(value: object, opts: Options) -> bytes:
        return enc(value, opts)

    return FnCodec(name, decode, encode)


def _reading(name: str, tag: Tag) -> FnCodec:
    dec, enc, width = tag

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        if pos + width > end:
            need(end, pos, width, name)
        return decode_reading(data, pos + width, end, opts, 5, dec(data, pos, opts))

    def encode(value: object, opts: Options) -> bytes:
        td = value.td if isinstance(value, EnergyReading) else None
        return enc(td, opts) + encode_reading(value, opts, 5)

    return FnCodec(name, decode, encode)


def _quadrants(name: str, tag: Tag,
               cls: type[ForwardEnergies | ReverseEnergies]) -> FnCodec:
    dec, enc, width = tag

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        need(end, pos, width, name)
        return decode_quadrants(data, pos + width, end, opts, cls, dec(data, pos, opts))

    def encode(value: object, opts: Options) -> bytes:
        td = value.td if isinstance(value, ForwardEnergies | ReverseEnergies) else None
        return enc(td, opts) + encode_quadrants(value, opts, cls)

    return FnCodec(name, decode, encode)


_FNS: dict[int, tuple[str, Tag, type[ForwardEnergies] | type[ReverseEnergies] | None]] = {
    1: ("daily frozen forward active / reactive energy", _DAILY, ForwardEnergies),
    2: ("daily frozen reverse active / reactive energy", _DAILY, ReverseEnergies),
    17: ("monthly frozen forward active / reactive energy", _MONTHLY, ForwardEnergies),
    18: ("monthly frozen reverse active / reactive energy", _MONTHLY, ReverseEnergies),
    161: ("daily frozen forward active energy", _DAILY, None),
    177: ("monthly frozen forward active energy", _MONTHLY, None),
}

CODECS: dict[tuple[int, int, int], FnCodec] = {}
for _fn, (_name, _tag, _cls) in _FNS.items():
    CODECS[(0x0D, 0, _fn)] = _tag_codec(f"{_name} (request: freeze tag)", _tag)
    CODECS[(0x0D, 1, _fn)] = _reading(_name, _tag) if _cls is None else _quadrants(_name, _tag, _cls)
