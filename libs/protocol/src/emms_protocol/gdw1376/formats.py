"""Appendix-A data formats (A.1 … A.26) used by the supported Fn.

All BCD, least significant byte first. A field filled with ``EE`` (and, by
option, ``FF``) means "no value" and decodes to ``None``; ``None`` encodes to
the EE filler. Numbers decode to ``float`` (the BCD integer divided by a power
of ten, which Python rounds correctly: ``0100`` in A.14 is exactly ``0.01``).
Times decode to aware datetimes in the terminal's zone (:class:`Options.tz`).

Every decoder has the shape ``dec_aN(data, pos, opts) -> value`` and reads a
fixed width ``WIDTH[N]``; bounds are checked by the caller (the Fn codec
checks the whole block once). Every encoder ``enc_aN(value, opts) -> bytes``.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import Options

#: BCD byte → 0..99, or -1 when a nibble is above 9.
_BCD = [(b >> 4) * 10 + (b & 0x0F) if (b >> 4) < 10 and (b & 0x0F) < 10 else -1 for b in range(256)]
#: 0..99 → BCD byte.
_TO_BCD = bytes(((v // 10) << 4) | (v % 10) for v in range(100))

_POW10 = tuple(10**n for n in range(9))

_EE = {n: b"\xee" * n for n in range(1, 8)}
_FF = {n: b"\xff" * n for n in range(1, 8)}


def absent(data: bytes, pos: int, width: int, opts: Options) -> bool:
    """True when the field is the all-EE (or, by option, all-FF) 'no value' filler."""
    chunk = data[pos:pos + width]
    return chunk == _EE[width] or (opts.ff_is_none and chunk == _FF[width])


def _digits(data: bytes, pos: int, width: int) -> int:
    """Unsigned little-endian BCD integer of ``width`` bytes.

    Reversed BCD bytes printed in hex *are* the decimal digits, so ``int(hex)``
    converts the whole field in C; a nibble above 9 shows up as a-f and fails.
    """
    try:
        return int(data[pos:pos + width][::-1].hex())
    except ValueError:
        bad = next(i for i in range(pos, pos + width) if _BCD[data[i]] < 0)
        raise ProtocolError("bcd", bad, f"byte {data[bad]:02X} is not BCD") from None


def _signed(data: bytes, pos: int, width: int) -> tuple[int, bool]:
    """BCD integer whose most significant byte carries the sign in D7."""
    top = data[pos + width - 1]
    if not top & 0x80:
        return _digits(data, pos, width), False
    chunk = bytearray(data[pos:pos + width])
    chunk[-1] = top & 0x7F
    return _digits(bytes(chunk), 0, width), True


def _to_bcd(value: int, width: int) -> bytearray:
    """The low ``2 * width`` decimal digits of ``value`` as little-endian BCD bytes.

    Zero-padded decimal digits read as hex *are* the big-endian BCD bytes, so
    the conversion runs in C (``bytes.fromhex``) rather than a divmod per byte.
    """
    if width <= 0:
        return bytearray(width)  # (a negative width raises, as the per-byte loop did)
    return bytearray(bytes.fromhex(f"{value % 100**width:0{2 * width}d}"))[::-1]


def _scaled(value: object, scale: int, width: int, what: str, signed: bool = False) -> bytes:
    """A number → ``width`` BCD bytes with ``scale`` decimals; sign in D7 of the top byte if ``signed``."""
    if value is None:
        return _EE[width]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError("value", detail=f"{what} expects a number, got {value!r}")
    number = round(float(value) * _POW10[scale])
    negative = number < 0
    number = abs(number)
    # a signed format keeps D7 of its top byte for the sign: top byte at most 7 9
    limit = 100 ** (width - 1) * (80 if signed else 100)
    if number >= limit or (negative and not signed):
        raise ProtocolError("value", detail=f"{value} does not fit format {what}")
    out = _to_bcd(number, width)
    if negative:
        out[-1] |= 0x80
    return bytes(out)


def _tz_local(value: datetime, tz: tzinfo) -> datetime:
    return value.astimezone(tz) if value.tzinfo is not None else value


# --- numbers -----------------------------------------------------------------------------------

def dec_a5(data: bytes, pos: int, opts: Options) -> float | None:
    """A.5 ±XXX.X (2 bytes)."""
    if absent(data, pos, 2, opts):
        return None
    v, neg = _signed(data, pos, 2)
    return -v / 10 if neg else v / 10


def enc_a5(value: object, opts: Options) -> bytes:
    return _scaled(value, 1, 2, "A.5", signed=True)


def dec_a6(data: bytes, pos: int, opts: Options) -> float | None:
    """A.6 ±XX.XX (2 bytes)."""
    if absent(data, pos, 2, opts):
        return None
    v, neg = _signed(data, pos, 2)
    return -v / 100 if neg else v / 100


def enc_a6(value: object, opts: Options) -> bytes:
    return _scaled(value, 2, 2, "A.6", signed=True)


def dec_a7(data: bytes, pos: int, opts: Options) -> float | None:
    """A.7 XXX.X (2 bytes): voltage in V."""
    if absent(data, pos, 2, opts):
        return None
    return _digits(data, pos, 2) / 10


def enc_a7(value: object, opts: Options) -> bytes:
    return _scaled(value, 1, 2, "A.7")


def dec_a9(data: bytes, pos: int, opts: Options) -> float | None:
    """A.9 ±XX.XXXX (3 bytes): power in kW / kvar / kVA."""
    if absent(data, pos, 3, opts):
        return None
    v, neg = _signed(data, pos, 3)
    return -v / 10000 if neg else v / 10000


def enc_a9(value: object, opts: Options) -> bytes:
    return _scaled(value, 4, 3, "A.9", signed=True)


def dec_a11(data: bytes, pos: int, opts: Options) -> float | None:
    """A.11 XXXXXX.XX (4 bytes): energy (reactive kvarh, money)."""
    if absent(data, pos, 4, opts):
        return None
    return _digits(data, pos, 4) / 100


def enc_a11(value: object, opts: Options) -> bytes:
    return _scaled(value, 2, 4, "A.11")


def dec_a13(data: bytes, pos: int, opts: Options) -> float | None:
    """A.13 XXXX.XXXX (4 bytes)."""
    if absent(data, pos, 4, opts):
        return None
    return _digits(data, pos, 4) / 10000


def enc_a13(value: object, opts: Options) -> bytes:
    return _scaled(value, 4, 4, "A.13")


def dec_a14(data: bytes, pos: int, opts: Options) -> float | None:
    """A.14 XXXXXX.XXXX (5 bytes): active energy in kWh."""
    if absent(data, pos, 5, opts):
        return None
    return _digits(data, pos, 5) / 10000


def enc_a14(value: object, opts: Options) -> bytes:
    return _scaled(value, 4, 5, "A.14")


def dec_a22(data: bytes, pos: int, opts: Options) -> float | None:
    """A.22 X.X (1 byte)."""
    if absent(data, pos, 1, opts):
        return None
    return _digits(data, pos, 1) / 10


def enc_a22(value: object, opts: Options) -> bytes:
    return _scaled(value, 1, 1, "A.22")


def dec_a23(data: bytes, pos: int, opts: Options) -> float | None:
    """A.23 XX.XXXX (3 bytes): apparent power / demand."""
    if absent(data, pos, 3, opts):
        return None
    return _digits(data, pos, 3) / 10000


def enc_a23(value: object, opts: Options) -> bytes:
    return _scaled(value, 4, 3, "A.23")


def dec_a25(data: bytes, pos: int, opts: Options) -> float | None:
    """A.25 ±XXX.XXX (3 bytes): current in A."""
    if absent(data, pos, 3, opts):
        return None
    v, neg = _signed(data, pos, 3)
    return -v / 1000 if neg else v / 1000


def enc_a25(value: object, opts: Options) -> bytes:
    return _scaled(value, 3, 3, "A.25", signed=True)


def dec_a26(data: bytes, pos: int, opts: Options) -> float | None:
    """A.26 X.XXX (2 bytes)."""
    if absent(data, pos, 2, opts):
        return None
    return _digits(data, pos, 2) / 1000


def enc_a26(value: object, opts: Options) -> bytes:
    return _scaled(value, 3, 2, "A.26")


def dec_bcd(data: bytes, pos: int, width: int, opts: Options) -> int | None:
    """Plain unsigned BCD integer (A.8 width 2, A.10 width 3, A.27 width 4)."""
    if absent(data, pos, width, opts):
        return None
    return _digits(data, pos, width)


def enc_bcd(value: object, width: int, what: str = "BCD") -> bytes:
    if value is None:
        return _EE[width]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 100**width:
        raise ProtocolError("value", detail=f"{value!r} does not fit {width} BCD bytes ({what})")
    return bytes(_to_bcd(value, width))


def dec_a12(data: bytes, pos: int, opts: Options) -> str | None:
    """A.12: 12-digit BCD number (meter / collector address), most significant digit first."""
    if absent(data, pos, 6, opts):
        return None
    for i in range(pos, pos + 6):
        if _BCD[data[i]] < 0:
            raise ProtocolError("bcd", i, f"byte {data[i]:02X} is not BCD")
    return data[pos:pos + 6][::-1].hex()


def enc_a12(value: object, opts: Options) -> bytes:
    if value is None:
        return _EE[6]
    if not isinstance(value, str) or len(value) != 12 or not value.isdigit():
        raise ProtocolError("value", detail=f"A.12 expects 12 decimal digits, got {value!r}")
    return bytes.fromhex(value)[::-1]


def unsigned_run(data: bytes, pos: int, count: int, width: int, divisor: int, opts: Options) -> list[float | None]:
    """``count`` consecutive unsigned BCD fields of ``width`` bytes, each divided by ``divisor``.

    The whole run is reversed and hex-printed once: reversing the block reverses
    the order of the fields *and* the bytes inside each, so the printed digits
    are one decimal number whose lowest ``2 * width`` digits are the first
    field. Without filler that number is split with ``divmod``; with filler,
    field by field.
    """
    try:
        # filler (EE / FF) and bad BCD print as a-f and fail here: then go field by field
        big = int(data[pos:pos + count * width][::-1].hex())
    except ValueError:
        big = -1
    if big >= 0 and pos + count * width <= len(data):
        base = _BASES[width]
        out: list[float | None] = []
        for _ in range(count):
            big, field = divmod(big, base)
            out.append(field / divisor)
        return out
    return [_one(data, p, width, divisor, opts) for p in range(pos, pos + count * width, width)]


_BASES = {w: 100**w for w in range(1, 9)}


def _one(data: bytes, pos: int, width: int, divisor: int, opts: Options) -> float | None:
    if absent(data, pos, width, opts):
        return None
    return _digits(data, pos, width) / divisor


# --- times -------------------------------------------------------------------------------------

def _dt(tz: tzinfo, pos: int, year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise ProtocolError("value", pos, f"not a valid time: {exc}") from None


def _fields(data: bytes, pos: int, width: int) -> list[int]:
    out = [_BCD[b] for b in data[pos:pos + width]]
    if min(out) < 0:
        bad = next(i for i, v in enumerate(out) if v < 0)
        raise ProtocolError("bcd", pos + bad, f"byte {data[pos + bad]:02X} is not BCD")
    return out


def dec_a1(data: bytes, pos: int, opts: Options) -> datetime | None:
    """A.1 ss mm hh DD (week|month) YY: clock; the weekday is checked loosely (0 = not given)."""
    if absent(data, pos, 6, opts):
        return None
    mb = data[pos + 4]
    ss, mi, hh, dd = _fields(data, pos, 4)
    month = _BCD[mb & 0x1F]
    yy = _BCD[data[pos + 5]]
    if month < 0 or yy < 0:
        raise ProtocolError("bcd", pos + 4, "A.1 month/year is not BCD")
    return _dt(opts.tz, pos, 2000 + yy, month, dd, hh, mi, ss)


def enc_a1(value: object, opts: Options) -> bytes:
    if value is None:
        return _EE[6]
    if not isinstance(value, datetime):
        raise ProtocolError("value", detail=f"A.1 expects a datetime, got {value!r}")
    t = _tz_local(value, opts.tz)
    _check_century(t.year)
    week_month = (t.isoweekday() << 5) | _TO_BCD[t.month]
    return bytes((_TO_BCD[t.second], _TO_BCD[t.minute], _TO_BCD[t.hour], _TO_BCD[t.day], week_month,
                  _TO_BCD[t.year - 2000]))


_A15_CACHE: dict[tuple[bytes, tzinfo], datetime] = {}
_A20_CACHE: dict[bytes, date] = {}
_CACHE_MAX = 4096


def dec_a15(data: bytes, pos: int, opts: Options) -> datetime | None:
    """A.15 mm hh DD MM YY: minute timestamp (Tm, reading time); memoised (Tm repeats across points)."""
    key = (data[pos:pos + 5], opts.tz)
    hit = _A15_CACHE.get(key)
    if hit is not None:
        return hit
    if absent(data, pos, 5, opts):
        return None
    mi, hh, dd, mo, yy = _fields(data, pos, 5)
    value = _dt(opts.tz, pos, 2000 + yy, mo, dd, hh, mi)
    if len(_A15_CACHE) >= _CACHE_MAX:
        _A15_CACHE.clear()
    _A15_CACHE[key] = value
    return value


_A15_ENC_CACHE: dict[tuple[datetime, tzinfo], bytes] = {}


def enc_a15(value: object, opts: Options) -> bytes:
    """A.15 of a datetime; memoised (an answer's units share their Tm: a freeze instant, a read minute)."""
    if value is None:
        return _EE[5]
    if not isinstance(value, datetime):
        raise ProtocolError("value", detail=f"A.15 expects a datetime, got {value!r}")
    exact = type(value) is datetime  # subclasses may hash / compare their own way: not memoised
    if exact:
        hit = _A15_ENC_CACHE.get((value, opts.tz))
        if hit is not None:
            return hit
    t = _tz_local(value, opts.tz)
    _check_century(t.year)
    out = bytes((_TO_BCD[t.minute], _TO_BCD[t.hour], _TO_BCD[t.day], _TO_BCD[t.month], _TO_BCD[t.year - 2000]))
    if exact:
        if len(_A15_ENC_CACHE) >= _CACHE_MAX:
            _A15_ENC_CACHE.clear()
        _A15_ENC_CACHE[(value, opts.tz)] = out
    return out


def dec_a17(data: bytes, pos: int, opts: Options) -> tuple[int, int, int, int] | None:
    """A.17 mm hh DD MM (no year): returned as (month, day, hour, minute)."""
    if absent(data, pos, 4, opts):
        return None
    mi, hh, dd, mo = _fields(data, pos, 4)
    return mo, dd, hh, mi


def enc_a17(value: object, opts: Options) -> bytes:
    if value is None:
        return _EE[4]
    if not (isinstance(value, tuple) and len(value) == 4 and all(isinstance(v, int) and 0 <= v <= 99
                                                                 for v in value)):
        raise ProtocolError("value", detail=f"A.17 expects (month, day, hour, minute), got {value!r}")
    mo, dd, hh, mi = value
    return bytes((_TO_BCD[mi], _TO_BCD[hh], _TO_BCD[dd], _TO_BCD[mo]))


def dec_a20(data: bytes, pos: int, opts: Options) -> date | None:
    """A.20 DD MM YY: daily freeze tag Td_d (memoised)."""
    key = data[pos:pos + 3]
    hit = _A20_CACHE.get(key)
    if hit is not None:
        return hit
    if absent(data, pos, 3, opts):
        return None
    dd, mo, yy = _fields(data, pos, 3)
    try:
        value = date(2000 + yy, mo, dd)
    except ValueError as exc:
        raise ProtocolError("value", pos, f"Td_d is not a date: {exc}") from None
    if len(_A20_CACHE) >= _CACHE_MAX:
        _A20_CACHE.clear()
    _A20_CACHE[key] = value
    return value


def enc_a20(value: object, opts: Options) -> bytes:
    if value is None:
        return _EE[3]
    if not isinstance(value, date):
        raise ProtocolError("value", detail=f"A.20 expects a date, got {value!r}")
    _check_century(value.year)
    return bytes((_TO_BCD[value.day], _TO_BCD[value.month], _TO_BCD[value.year - 2000]))


def dec_a21(data: bytes, pos: int, opts: Options) -> date | None:
    """A.21 MM YY: monthly freeze tag Td_m, returned as the first day of that month."""
    if absent(data, pos, 2, opts):
        return None
    mo, yy = _fields(data, pos, 2)
    if not 1 <= mo <= 12:
        raise ProtocolError("value", pos, f"Td_m month {mo} out of 1..12")
    return date(2000 + yy, mo, 1)


def enc_a21(value: object, opts: Options) -> bytes:
    if value is None:
        return _EE[2]
    if not isinstance(value, date):
        raise ProtocolError("value", detail=f"A.21 expects a date (day ignored), got {value!r}")
    _check_century(value.year)
    return bytes((_TO_BCD[value.month], _TO_BCD[value.year - 2000]))


def _check_century(year: int) -> None:
    if not 2000 <= year <= 2099:
        raise ProtocolError("value", detail=f"year {year} outside 2000..2099 (two BCD digits)")
