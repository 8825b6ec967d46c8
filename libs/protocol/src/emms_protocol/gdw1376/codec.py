"""What every Fn codec looks like, and the decoding options devices disagree on.

A codec decodes one Fn's data for one pn starting at ``pos`` in the frame body
(it may not read past ``end``) and returns the value and the new position; it
encodes a value back to bytes. Codecs are plain functions collected per AFN
family in ``afnXX.py`` modules and indexed by :mod:`.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.seq import DEVICE_TZ


@dataclass(frozen=True, slots=True)
class Options:
    """Decode/encode choices for details the notes mark UNVERIFIED (see docs/protocol.md).

    ``tz``: zone of the terminal's clock (wire times are local, decoded aware).
    ``ff_is_none``: an all-FF field means "no value" like all-EE (vendor habit).
    ``trip_time_high_nibble``: AFN05 F1 data byte has 限电时间 in D7..D4 and
    告警延时 in D3..D0 (True) or the reverse (False, the default: what terminal
    firmware executes and vendor tools build — docs/protocol.md, "AFN 05 F1").
    ``f168_rate_count_bytes``: width of the tariff count M of AFN0C F168 — 2
    (A.8, the default: the standard's table as the Kaitai description, [LM-C]
    and terminal firmware headers transcribe it) or 1 (BIN, like every other
    energy block; some terminal code answers so) — docs/protocol.md, "AFN 0C F168".
    ``afn00_dt03_is_f3``: in AFN 00, DT ``03 00`` (F1 and F2 at once, a
    contradiction) is read as F3 — some masters write DT1 as the number 3
    (public frame pub-04, [KSY] separateConfirm.3761).
    ``decode_inner``: decode the 645 / 188 frame carried by AFN 10 (off: keep raw bytes only).
    """

    tz: tzinfo = DEVICE_TZ
    ff_is_none: bool = True
    trip_time_high_nibble: bool = False
    f168_rate_count_bytes: int = 2
    afn00_dt03_is_f3: bool = True
    decode_inner: bool = True

    def __post_init__(self) -> None:
        if self.f168_rate_count_bytes not in (1, 2):
            raise ProtocolError("value", detail=f"f168_rate_count_bytes is 1 or 2, not {self.f168_rate_count_bytes}")


DEFAULT_OPTIONS = Options()

Decoder = Callable[[bytes, int, int, Options], tuple[object, int]]
Encoder = Callable[[object, Options], bytes]


@dataclass(frozen=True, slots=True)
class FnCodec:
    """Codec for one (AFN, direction, Fn). ``name`` is the standard's short title."""

    name: str
    decode: Decoder
    encode: Encoder


def need(end: int, pos: int, size: int, what: str) -> None:
    """Raise ``short`` unless ``size`` bytes remain before ``end``."""
    if pos + size > end:
        raise ProtocolError("short", pos, f"{what} needs {size} bytes, {max(end - pos, 0)} left")


def _no_data_decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    return None, pos


def _no_data_encode(value: object, opts: Options) -> bytes:
    if value is not None:
        raise ProtocolError("value", detail=f"this Fn carries no data, got {value!r}")
    return b""


def no_data(name: str) -> FnCodec:
    """Codec of an Fn whose data unit is DA/DT only."""
    return FnCodec(name, _no_data_decode, _no_data_encode)


def expect(value: object, cls: type, name: str) -> None:
    """Encoders' input check: a clear error instead of an AttributeError."""
    if not isinstance(value, cls):
        raise ProtocolError("value", detail=f"{name} expects {cls.__name__}, got {type(value).__name__}")
