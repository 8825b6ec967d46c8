"""Fixed layouts: a data unit that is a flat sequence of appendix-A fields becomes one dataclass.

``record_codec(name, cls, fields)`` builds the decoder and encoder of an Fn
whose body is ``fields`` in order, one per dataclass field of ``cls``. It also
provides the field kinds (``A5``, ``A7``, ``U8``, ``ASCII(n)`` …) the ``afnXX``
modules combine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

FieldDecoder = Callable[[bytes, int, Options], Any]
FieldEncoder = Callable[[object, Options], bytes]


@dataclass(frozen=True, slots=True)
class Field:
    """One fixed-width field: decoder, encoder, width in bytes."""

    decode: FieldDecoder
    encode: FieldEncoder
    width: int


def _uint(width: int) -> Field:
    def dec(data: bytes, pos: int, opts: Options) -> int:
        return int.from_bytes(data[pos:pos + width], "little")

    def enc(value: object, opts: Options) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 256**width:
            raise ProtocolError("value", detail=f"{value!r} does not fit {width} binary byte(s)")
        return value.to_bytes(width, "little")

    return Field(dec, enc, width)


def ascii_field(width: int) -> Field:
    """ASCII text padded to ``width`` (decoded without trailing NUL / space padding)."""

    def dec(data: bytes, pos: int, opts: Options) -> str:
        return data[pos:pos + width].decode("latin-1").rstrip("\x00 ")

    def enc(value: object, opts: Options) -> bytes:
        if not isinstance(value, str):
            raise ProtocolError("value", detail=f"expected text, got {value!r}")
        raw = value.encode("latin-1", errors="replace")
        if len(raw) > width:
            raise ProtocolError("value", detail=f"{value!r} is longer than {width} bytes")
        return raw.ljust(width, b" ")

    return Field(dec, enc, width)


def bcd_int(width: int) -> Field:
    def dec(data: bytes, pos: int, opts: Options) -> int | None:
        return f.dec_bcd(data, pos, width, opts)

    def enc(value: object, opts: Options) -> bytes:
        return f.enc_bcd(value, width)

    return Field(dec, enc, width)


U8 = _uint(1)
U16 = _uint(2)
A1 = Field(f.dec_a1, f.enc_a1, 6)
A5 = Field(f.dec_a5, f.enc_a5, 2)
A6 = Field(f.dec_a6, f.enc_a6, 2)
A7 = Field(f.dec_a7, f.enc_a7, 2)
A8 = bcd_int(2)
A9 = Field(f.dec_a9, f.enc_a9, 3)
A11 = Field(f.dec_a11, f.enc_a11, 4)
A12 = Field(f.dec_a12, f.enc_a12, 6)
A13 = Field(f.dec_a13, f.enc_a13, 4)
A14 = Field(f.dec_a14, f.enc_a14, 5)
A15 = Field(f.dec_a15, f.enc_a15, 5)
A20 = Field(f.dec_a20, f.enc_a20, 3)
A21 = Field(f.dec_a21, f.enc_a21, 2)
A22 = Field(f.dec_a22, f.enc_a22, 1)
A23 = Field(f.dec_a23, f.enc_a23, 3)
A25 = Field(f.dec_a25, f.enc_a25, 3)
A26 = Field(f.dec_a26, f.enc_a26, 2)


def record_codec(name: str, cls: type, layout: Sequence[Field]) -> FnCodec:
    """Codec for an Fn whose data is ``layout`` in order, mapped onto the fields of ``cls``."""
    names = [fld.name for fld in fields(cls)]
    if len(names) != len(layout):
        raise ValueError(f"{cls.__name__} has {len(names)} fields, layout {len(layout)}")
    width = sum(fl.width for fl in layout)
    plan = tuple(zip(names, layout, strict=True))

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        need(end, pos, width, name)
        values = []
        for fl in layout:
            values.append(fl.decode(data, pos, opts))
            pos += fl.width
        return cls(*values), pos

    def encode(value: object, opts: Options) -> bytes:
        expect(value, cls, name)
        return b"".join(fl.encode(getattr(value, attr), opts) for attr, fl in plan)

    return FnCodec(name, decode, encode)


def field_codec(name: str, fl: Field) -> FnCodec:
    """Codec for an Fn whose data is a single field (the value is the field's value)."""

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        need(end, pos, fl.width, name)
        return fl.decode(data, pos, opts), pos + fl.width

    def encode(value: object, opts: Options) -> bytes:
        return fl.encode(value, opts)

    return FnCodec(name, decode, encode)
