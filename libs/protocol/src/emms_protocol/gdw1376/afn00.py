"""AFN 00 — confirm / deny (p0): F1 all confirmed, F2 all denied, F3 confirm/deny per data unit."""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need, no_data
from emms_protocol.gdw1376.data_id import da_of, dt_of, fns_of, pns_of


@dataclass(frozen=True, slots=True)
class UnitAck:
    """One answered data unit: ``ok`` is ERR = 0."""

    pn: int
    fn: int
    ok: bool


@dataclass(frozen=True, slots=True)
class PerUnitAck:
    """F3 body: the AFN being answered and one verdict per (pn, Fn)."""

    afn: int
    units: tuple[UnitAck, ...]


def _decode_f3(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 1, "AFN00 F3")
    afn = data[pos]
    pos += 1
    units: list[UnitAck] = []
    while pos < end:
        need(end, pos, 5, "AFN00 F3 item")
        pns = pns_of(data[pos], data[pos + 1])
        fns = fns_of(data[pos + 2], data[pos + 3])
        ok = data[pos + 4] == 0
        if not pns or not fns:
            raise ProtocolError("value", pos, "AFN00 F3 item names no pn or no Fn")
        units.extend(UnitAck(pn, fn, ok) for pn in pns for fn in fns)
        pos += 5
    return PerUnitAck(afn, tuple(units)), pos


def _encode_f3(value: object, opts: Options) -> bytes:
    expect(value, PerUnitAck, "AFN00 F3")
    assert isinstance(value, PerUnitAck)
    out = bytearray((value.afn,))
    for unit in value.units:
        out += bytes((*da_of(unit.pn), *dt_of(unit.fn), 0 if unit.ok else 1))
    return bytes(out)


_F3 = FnCodec("confirm/deny per data unit", _decode_f3, _encode_f3)
_BOTH = {1: no_data("all confirmed"), 2: no_data("all denied"), 3: _F3}

CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x00, direction, fn): codec for direction in (0, 1) for fn, codec in _BOTH.items()
}
