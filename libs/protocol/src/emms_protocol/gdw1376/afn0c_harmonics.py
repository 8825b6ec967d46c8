"""AFN 0C F57 / F58 — current harmonics of a measurement point (谐波有效值 / 谐波含有率).

Layouts from [LM-C] (``xiangruipuzhao/3761``: ``sMtAfn0cF57_f`` / ``sMtAfn0cF58_f`` and
``emtTrans_afn0cf58``; no captured frame found — **verified by one implementation only**).
Requests carry DA/DT only (AFN 0C).

* **F57** harmonic RMS values: N (1 byte, 2 ≤ N ≤ 19, the highest order), then orders
  2 … N of the voltage of phase A, B, C (A.7, V) and of the current of phase A, B, C
  (A.6, ±XX.XX A): 6 × (N − 1) values.
* **F58** harmonic content: N, then for each of Ua, Ub, Uc, Ia, Ib, Ic the total harmonic
  distortion (总畸变率) followed by the content of orders 2 … N, all A.5 (±XXX.X %):
  6 × N values.

Values here keep the wire's order: ``F57`` tuples are orders 2 … N, ``F58`` tuples are
``(THD, order 2, …, order N)``. An all-EE value is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

MIN_ORDER, MAX_ORDER = 2, 19
CHANNELS = ("ua", "ub", "uc", "ia", "ib", "ic")

Values = tuple[float | None, ...]


def _check_order(n: int, pos: int = -1) -> None:
    if not MIN_ORDER <= n <= MAX_ORDER:
        raise ProtocolError("value", pos, f"harmonic order N is {MIN_ORDER} … {MAX_ORDER}, not {n}")


@dataclass(frozen=True, slots=True)
class HarmonicRms:
    """F57: RMS of orders 2 … N per phase: voltages in V, currents in A."""

    ua: Values
    ub: Values
    uc: Values
    ia: Values
    ib: Values
    ic: Values

    def __post_init__(self) -> None:
        lengths = {len(getattr(self, c)) for c in CHANNELS}
        if len(lengths) != 1:
            raise ProtocolError("value", detail=f"F57 channels differ in length: {sorted(lengths)}")
        _check_order(lengths.pop() + 1)

    @property
    def order(self) -> int:
        return len(self.ua) + 1


@dataclass(frozen=True, slots=True)
class HarmonicContent:
    """F58: per phase (THD %, content of order 2 %, …, order N %) of voltage and current."""

    ua: Values
    ub: Values
    uc: Values
    ia: Values
    ib: Values
    ic: Values

    def __post_init__(self) -> None:
        lengths = {len(getattr(self, c)) for c in CHANNELS}
        if len(lengths) != 1:
            raise ProtocolError("value", detail=f"F58 channels differ in length: {sorted(lengths)}")
        _check_order(lengths.pop())

    @property
    def order(self) -> int:
        return len(self.ua)

    def thd(self, channel: str) -> float | None:
        values: Values = getattr(self, channel)
        return values[0]

    def content(self, channel: str, order: int) -> float | None:
        """Content of one order (2 … N) in %, None when absent."""
        values: Values = getattr(self, channel)
        return values[order - 1]


Dec = Callable[[bytes, int, Options], float | None]
Enc = Callable[[object, Options], bytes]


def _codec(name: str, cls: type, per_channel: Callable[[int], int], formats: tuple[tuple[Dec, Enc], ...]) -> FnCodec:
    """``per_channel(N)`` values per channel; ``formats[k]`` the format of channel k (2 bytes each)."""

    def decode(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
        need(end, pos, 1, name)
        n = data[pos]
        _check_order(n, pos)
        count = per_channel(n)
        need(end, pos + 1, 6 * count * 2, name)
        at = pos + 1
        channels = []
        for dec, _ in formats:
            channels.append(tuple(dec(data, at + 2 * i, opts) for i in range(count)))
            at += 2 * count
        return cls(*channels), at

    def encode(value: object, opts: Options) -> bytes:
        expect(value, cls, name)
        assert isinstance(value, HarmonicRms | HarmonicContent)
        out = bytearray((value.order,))
        for channel, (_, enc) in zip(CHANNELS, formats, strict=True):
            for v in getattr(value, channel):
                out += enc(v, opts)
        return bytes(out)

    return FnCodec(name, decode, encode)


_A7 = (f.dec_a7, f.enc_a7)
_A6 = (f.dec_a6, f.enc_a6)
_A5 = (f.dec_a5, f.enc_a5)

CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x0C, 1, 57): _codec("harmonic RMS values of phase voltages and currents, orders 2 … N", HarmonicRms,
                          lambda n: n - 1, (_A7, _A7, _A7, _A6, _A6, _A6)),
    (0x0C, 1, 58): _codec("harmonic content and total distortion of phase voltages and currents", HarmonicContent,
                          lambda n: n, (_A5,) * 6),
}
