"""AFN 0D curve data (曲线数据): power, voltage, current and power-factor curves of a measurement point.

The master's request carries the curve time tag Td_c after DA/DT: the start
time (A.15, minutes), the density m (1 byte) and the number of points n
(1 byte). The terminal's answer repeats Td_c and then n values of the Fn's
format, the i-th standing for ``start + i × interval(m)``.

Which Fn is which curve ([LM-C] ``eMtCmd`` group 11, 12 and 14, repository
``xiangruipuzhao/3761`` ``qgdw_3761_api.h``): F81 – F84 active power total /
A / B / C (A.9, kW), F85 – F88 reactive power total / A / B / C (A.9, kvar),
F89 – F91 voltage A / B / C (A.7, V), F92 – F94 current A / B / C and F95
zero-sequence current (A.25, A), F105 – F108 power factor total / A / B / C
(A.5, %). Density codes: 1 = 15 min, 2 = 30 min, 3 = 60 min (terminal and
master code agree: ``GotoNextTime`` / ``getInterval`` of public implementations),
254 = 5 min and 255 = 1 min (1376.1-2013 additions, **UNVERIFIED**); 0 = no
freeze (refused: it names no interval).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

#: density code m → minutes between two points
DENSITY_MINUTES: dict[int, int] = {1: 15, 2: 30, 3: 60, 254: 5, 255: 1}
MAX_POINTS = 255


def density_of(minutes: int) -> int:
    """The density code of an interval in minutes (ProtocolError when 1376.1 has none)."""
    for code, m in DENSITY_MINUTES.items():
        if m == minutes:
            return code
    raise ProtocolError("value", detail=f"no curve density of {minutes} min (1, 5, 15, 30, 60)")


@dataclass(frozen=True, slots=True)
class CurveTag:
    """Td_c of a curve request: the first point's time, the density code and the number of points."""

    start: datetime | None
    density: int
    points: int

    def __post_init__(self) -> None:
        _check(self.density, self.points)


@dataclass(frozen=True, slots=True)
class Curve:
    """A curve answer: Td_c (``start``, ``density``) and one value per point (None = the terminal has none)."""

    start: datetime | None
    density: int
    values: tuple[float | None, ...]

    def __post_init__(self) -> None:
        _check(self.density, len(self.values))

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=DENSITY_MINUTES[self.density])

    def times(self) -> list[datetime]:
        """The instant of each point (empty when the start time is absent)."""
        if self.start is None:
            return []
        step = self.interval
        return [self.start + i * step for i in range(len(self.values))]


def _check(density: int, points: int) -> None:
    if density not in DENSITY_MINUTES:
        raise ProtocolError("value", detail=f"curve density code {density} is not one of {sorted(DENSITY_MINUTES)}")
    if not 1 <= points <= MAX_POINTS:
        raise ProtocolError("value", detail=f"a curve has 1 … {MAX_POINTS} points, not {points}")


Dec = Callable[[bytes, int, Options], float | None]
Enc = Callable[[object, Options], bytes]


class CurveKind(NamedTuple):
    """What one curve Fn carries: its canonical item code, the value format and the unit on the wire."""

    item: str
    fmt: str
    width: int
    dec: Dec
    enc: Enc
    percent: bool = False  # A.5 power factor in %: the canonical item is the ratio


_A9 = ("A.9", 3, f.dec_a9, f.enc_a9)
_A7 = ("A.7", 2, f.dec_a7, f.enc_a7)
_A25 = ("A.25", 3, f.dec_a25, f.enc_a25)
_A5 = ("A.5", 2, f.dec_a5, f.enc_a5)


def _kind(item: str, fmt: tuple[str, int, Dec, Enc], percent: bool = False) -> CurveKind:
    return CurveKind(item, fmt[0], fmt[1], fmt[2], fmt[3], percent)


CURVE_FNS: dict[int, CurveKind] = {
    81: _kind("power.active.total", _A9), 82: _kind("power.active.a", _A9),
    83: _kind("power.active.b", _A9), 84: _kind("power.active.c", _A9),
    85: _kind("power.reactive.total", _A9), 86: _kind("power.reactive.a", _A9),
    87: _kind("power.reactive.b", _A9), 88: _kind("power.reactive.c", _A9),
    89: _kind("voltage.a", _A7), 90: _kind("voltage.b", _A7), 91: _kind("voltage.c", _A7),
    92: _kind("current.a", _A25), 93: _kind("current.b", _A25), 94: _kind("current.c", _A25),
    95: _kind("current.n", _A25),
    105: _kind("power_factor.total", _A5, True), 106: _kind("power_factor.a", _A5, True),
    107: _kind("power_factor.b", _A5, True), 108: _kind("power_factor.c", _A5, True),
}
FN_OF_ITEM: dict[str, int] = {kind.item: fn for fn, kind in CURVE_FNS.items()}

_TAG_BYTES = 7


def _dec_tag(data: bytes, pos: int, end: int, opts: Options, what: str) -> tuple[datetime | None, int, int]:
    need(end, pos, _TAG_BYTES, what)
    start = f.dec_a15(data, pos, opts)
    density, points = data[pos + 5], data[pos + 6]
    if density not in DENSITY_MINUTES:
        raise ProtocolError("value", pos + 5, f"{what}: curve density code {density} is unknown")
    if points == 0:
        raise ProtocolError("value", pos + 6, f"{what}: a curve of 0 points")
    return start, density, points


def _enc_tag(start: datetime | None, density: int, points: int, opts: Options) -> bytes:
    return f.enc_a15(start, opts) + bytes((density, points))


def _request_codec(name: str) -> FnCodec:
    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        start, density, points = _dec_tag(data, pos, end, opts, name)
        return CurveTag(start, density, points), pos + _TAG_BYTES

    def encode(value: object, opts: Options) -> bytes:
        expect(value, CurveTag, name)
        assert isinstance(value, CurveTag)
        return _enc_tag(value.start, value.density, value.points, opts)

    return FnCodec(name, decode, encode)


def _answer_codec(name: str, kind: CurveKind) -> FnCodec:
    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        start, density, points = _dec_tag(data, pos, end, opts, name)
        pos += _TAG_BYTES
        need(end, pos, points * kind.width, name)
        values = tuple(kind.dec(data, pos + i * kind.width, opts) for i in range(points))
        return Curve(start, density, values), pos + points * kind.width

    def encode(value: object, opts: Options) -> bytes:
        expect(value, Curve, name)
        assert isinstance(value, Curve)
        body = b"".join(kind.enc(v, opts) for v in value.values)
        return _enc_tag(value.start, value.density, len(value.values), opts) + body

    return FnCodec(name, decode, encode)


_NAMES: dict[str, str] = {
    "power.active": "active power curve", "power.reactive": "reactive power curve", "voltage": "voltage curve",
    "current": "current curve", "power_factor": "power factor curve",
}


def curve_name(fn: int) -> str:
    kind = CURVE_FNS[fn]
    base, _, phase = kind.item.rpartition(".")
    what = "zero-sequence current curve" if kind.item == "current.n" else _NAMES[base]
    return what if phase == "total" or kind.item == "current.n" else f"phase {phase.upper()} {what}"


CODECS: dict[tuple[int, int, int], FnCodec] = {}
for _fn, _kind_of_fn in CURVE_FNS.items():
    CODECS[(0x0D, 0, _fn)] = _request_codec(f"{curve_name(_fn)} (request: Td_c)")
    CODECS[(0x0D, 1, _fn)] = _answer_codec(curve_name(_fn), _kind_of_fn)
