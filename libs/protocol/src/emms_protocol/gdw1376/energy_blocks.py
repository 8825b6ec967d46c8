"""Energy register blocks shared by AFN 0C (current) and AFN 0D (frozen) data.

A *register* is a total plus one value per tariff rate 1..M. The blocks are:

* ``EnergyReading`` — Tm, M, one register (AFN0C F129 / F130, AFN0D F161 / F177
  with the freeze tag ``td``);
* ``ForwardEnergies`` — Tm, M, forward active (A.14), forward reactive, Q1 and
  Q4 reactive (A.11) registers (AFN0C F33, AFN0D F1 / F17);
* ``ReverseEnergies`` — the same for reverse active, reverse reactive, Q2, Q3
  (AFN0C F34, AFN0D F2 / F18).

``td`` is the freeze date (Td_d, or the first day of the month for Td_m);
``None`` on current data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor
from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

_unsigned_run = f.unsigned_run
_dec_a15 = f.dec_a15
MAX_RATES = 14  # the standard says 1..12 (some versions 14); larger M is refused as corrupt


@dataclass(frozen=True, slots=True)
class Register:
    """One energy register: the total and the per-tariff values (rate 1 first)."""

    total: float | None
    rates: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """Reading time Tm and one register (kWh for active A.14, kvarh for reactive A.11)."""

    read_at: datetime | None
    total: float | None
    rates: tuple[float | None, ...]
    td: date | None = None


@dataclass(frozen=True, slots=True)
class ForwardEnergies:
    """F33 / F1 / F17: forward active (kWh), forward reactive, Q1 and Q4 reactive (kvarh)."""

    read_at: datetime | None
    active: Register
    reactive: Register
    q1: Register
    q4: Register
    td: date | None = None


@dataclass(frozen=True, slots=True)
class ReverseEnergies:
    """F34 / F2 / F18: reverse active (kWh), reverse reactive, Q2 and Q3 reactive (kvarh)."""

    read_at: datetime | None
    active: Register
    reactive: Register
    q2: Register
    q3: Register
    td: date | None = None


_make_reading = fast_constructor(EnergyReading)


def _rate_count(data: bytes, pos: int, what: str) -> int:
    m = data[pos]
    if m > MAX_RATES:
        raise ProtocolError("value", pos, f"{what}: {m} tariff rates is more than {MAX_RATES}")
    return m


def _values(data: bytes, pos: int, count: int, width: int, opts: Options) -> list[float | None]:
    """``count`` consecutive A.14 (width 5) or A.11 (width 4) values, decoded in one pass."""
    return f.unsigned_run(data, pos, count, width, 10000 if width == 5 else 100, opts)


def decode_reading(data: bytes, pos: int, end: int, opts: Options, width: int,
                   td: date | None) -> tuple[EnergyReading, int]:
    """Tm, M, (M+1) values — the hot path of F129 / F161 answers, kept flat on purpose."""
    if pos + 6 > end:
        need(end, pos, 6, "energy reading")
    m = data[pos + 5]
    stop = pos + 6 + (m + 1) * width
    if m > MAX_RATES or stop > end:
        _rate_count(data, pos + 5, "energy reading")
        need(end, pos + 6, (m + 1) * width, "energy reading values")
    values = _unsigned_run(data, pos + 6, m + 1, width, 10000 if width == 5 else 100, opts)
    return _make_reading(_dec_a15(data, pos, opts), values[0], tuple(values[1:]), td), stop


def encode_reading(value: object, opts: Options, width: int) -> bytes:
    expect(value, EnergyReading, "energy reading")
    assert isinstance(value, EnergyReading)
    enc = f.enc_a14 if width == 5 else f.enc_a11
    return _head(value.read_at, len(value.rates), opts) + b"".join(
        enc(v, opts) for v in (value.total, *value.rates))


def _head(read_at: datetime | None, rates: int, opts: Options) -> bytes:
    if rates > MAX_RATES:
        raise ProtocolError("value", detail=f"{rates} tariff rates is more than {MAX_RATES}")
    return f.enc_a15(read_at, opts) + bytes((rates,))


def decode_quadrants(data: bytes, pos: int, end: int, opts: Options, cls: type[ForwardEnergies | ReverseEnergies],
                     td: date | None) -> tuple[ForwardEnergies | ReverseEnergies, int]:
    need(end, pos, 6, cls.__name__)
    read_at = f.dec_a15(data, pos, opts)
    m = _rate_count(data, pos + 5, cls.__name__)
    pos += 6
    n = m + 1
    need(end, pos, n * 5 + 3 * n * 4, cls.__name__)
    regs = []
    for width in (5, 4, 4, 4):
        values = _values(data, pos, n, width, opts)
        regs.append(Register(values[0], tuple(values[1:])))
        pos += n * width
    return cls(read_at, regs[0], regs[1], regs[2], regs[3], td), pos


def encode_quadrants(value: object, opts: Options, cls: type[ForwardEnergies | ReverseEnergies]) -> bytes:
    expect(value, cls, cls.__name__)
    assert isinstance(value, ForwardEnergies | ReverseEnergies)
    regs = (value.active, value.reactive, *((value.q1, value.q4) if isinstance(value, ForwardEnergies)
                                            else (value.q2, value.q3)))
    m = len(value.active.rates)
    if any(len(r.rates) != m for r in regs):
        raise ProtocolError("value", detail=f"{cls.__name__}: every register needs the same number of rates")
    out = bytearray(_head(value.read_at, m, opts))
    for i, reg in enumerate(regs):
        enc = f.enc_a14 if i == 0 else f.enc_a11
        for v in (reg.total, *reg.rates):
            out += enc(v, opts)
    return bytes(out)


def reading_codec(name: str, width: int) -> FnCodec:
    """AFN0C register block without freeze tag (F129 A.14, F130 A.11)."""

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        return decode_reading(data, pos, end, opts, width, None)

    def encode(value: object, opts: Options) -> bytes:
        return encode_reading(value, opts, width)

    return FnCodec(name, decode, encode)


def quadrant_codec(name: str, cls: type[ForwardEnergies | ReverseEnergies]) -> FnCodec:
    """AFN0C F33 / F34 block."""

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        return decode_quadrants(data, pos, end, opts, cls, None)

    def encode(value: object, opts: Options) -> bytes:
        return encode_quadrants(value, opts, cls)

    return FnCodec(name, decode, encode)
