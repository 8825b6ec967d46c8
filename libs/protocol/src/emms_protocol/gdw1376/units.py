"""Data units: ``DA DT data`` repeated, one DA/DT group covering several pn and Fn.

Order inside a group is pn-major: for each pn ascending, every Fn ascending
(the standard's rule "finish all Fn of one point before the next"). An Fn this
package cannot decode ends the walk: its unit gets the remaining bytes as
:class:`RawData` (the data length of an unknown Fn is unknowable), never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, Options
from emms_protocol.gdw1376.data_id import da_group, dt_group, fns_of, pns_of
from emms_protocol.gdw1376.frame import Frame
from emms_protocol.gdw1376.registry import lookup

_MEMO: dict[tuple[int, int, bytes], tuple[Options, list[DataUnit]]] = {}
_MEMO_MAX = 4096
_MEMO_MAX_BODY = 12  # DA/DT-only bodies of up to three units
_F1_F2 = (1, 2)
_F3 = (3,)


@dataclass(frozen=True, slots=True)
class RawData:
    """Bytes of a data unit this package does not decode (or trailing bytes, ``fn`` = 0)."""

    afn: int
    fn: int
    pn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class DataUnit:
    pn: int
    fn: int
    value: object


_make_unit = fast_constructor(DataUnit)


def decode_units(frame: Frame, options: Options = DEFAULT_OPTIONS) -> list[DataUnit]:
    """Decode every data unit of ``frame.body``; raises :class:`ProtocolError` on malformed known Fn."""
    return decode_body(frame.afn, frame.control.direction, frame.body, options)


def decode_body(afn: int, direction: int, body: bytes, options: Options = DEFAULT_OPTIONS) -> list[DataUnit]:
    """Decode the data units of a body. Short bodies (requests, link frames) are memoised."""
    if len(body) > _MEMO_MAX_BODY:
        return _decode_body(afn, direction, body, options)
    key = (afn, direction, body)
    hit = _MEMO.get(key)
    if hit is None or hit[0] is not options:  # same Options object (identity is cheaper than hashing it)
        units = _decode_body(afn, direction, body, options)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = (options, units)
        return list(units)
    return list(hit[1])


def _decode_body(afn: int, direction: int, body: bytes, options: Options) -> list[DataUnit]:
    out: list[DataUnit] = []
    add = out.append
    unit = _make_unit
    pos = 0
    end = len(body)
    while pos < end:
        if end - pos < 4:
            out.append(DataUnit(0, 0, RawData(afn, 0, 0, body[pos:])))
            break
        pns = pns_of(body[pos], body[pos + 1])
        fns = fns_of(body[pos + 2], body[pos + 3])
        if afn == 0 and fns == _F1_F2 and options.afn00_dt03_is_f3:
            fns = _F3
        if not pns or not fns:
            out.append(DataUnit(0, 0, RawData(afn, 0, 0, body[pos:])))
            break
        pos += 4
        codecs = [(fn, lookup(afn, direction, fn)) for fn in fns]
        for pn in pns:
            for fn, codec in codecs:
                if codec is None:
                    out.append(DataUnit(pn, fn, RawData(afn, fn, pn, body[pos:])))
                    return out
                value, pos = codec.decode(body, pos, end, options)
                add(unit(pn, fn, value))
    return out


def encode_units(afn: int, direction: int, units: Iterable[DataUnit], options: Options = DEFAULT_OPTIONS) -> bytes:
    """Encode units; consecutive units that form a full pn × Fn block of one DA/DT group share it."""
    items = list(units)
    out = bytearray()
    i = 0
    while i < len(items):
        unit = items[i]
        if isinstance(unit.value, RawData) and unit.fn == 0:
            out += unit.value.data  # trailing bytes kept from decoding
            i += 1
            continue
        size, pns, fns = _block(items, i)
        out += bytes((*da_group(pns), *dt_group(fns)))
        for item in items[i:i + size]:
            out += _encode_value(afn, direction, item, options)
        i += size
    return bytes(out)


def encode_value(afn: int, direction: int, unit: DataUnit, options: Options = DEFAULT_OPTIONS) -> bytes:
    """The data of one unit, without its DA/DT (what :func:`join_units` takes)."""
    return _encode_value(afn, direction, unit, options)


def join_units(units: Sequence[DataUnit], values: Sequence[bytes]) -> bytes:
    """:func:`encode_units` of units whose data are already encoded (``values[i]`` is that of ``units[i]``,
    from :func:`encode_value`): the same DA/DT blocks, the same bytes. For a caller that needs each unit's
    size before it lays units out over frames — a terminal splitting a long answer — without encoding twice.
    """
    if len(values) != len(units):
        raise ProtocolError("value", detail=f"{len(units)} units but {len(values)} encoded values")
    items = units if isinstance(units, list) else list(units)
    out = bytearray()
    i = 0
    while i < len(items):
        unit = items[i]
        if isinstance(unit.value, RawData) and unit.fn == 0:
            out += values[i]  # trailing bytes kept from decoding
            i += 1
            continue
        size, pns, fns = _block(items, i)
        out += bytes((*da_group(pns), *dt_group(fns)))
        for value in values[i:i + size]:
            out += value
        i += size
    return bytes(out)


def _encode_value(afn: int, direction: int, unit: DataUnit, options: Options) -> bytes:
    if isinstance(unit.value, RawData):
        return unit.value.data
    codec = lookup(afn, direction, unit.fn)
    if codec is None:
        raise ProtocolError("unsupported", detail=f"AFN {afn:02X} F{unit.fn} ({'up' if direction else 'down'}) "
                                                  "has no codec; pass RawData")
    return codec.encode(unit.value, options)


def _block(items: list[DataUnit], start: int) -> tuple[int, list[int], list[int]]:
    """Largest prefix at ``start`` that is exactly pns × fns in pn-major order within one group each."""
    first = items[start]
    best = (1, [first.pn], [first.fn])
    if first.pn == 0 and first.fn == 0:
        return best
    fns = [first.fn]
    j = start + 1
    # Fn run for the first pn
    while j < len(items) and items[j].pn == first.pn and _same_group(items[j].fn, fns, 8) \
            and items[j].fn > fns[-1] and not isinstance(items[j - 1].value, RawData):
        fns.append(items[j].fn)
        j += 1
    width = len(fns)
    best = (width, [first.pn], list(fns))
    pns = [first.pn]
    if first.pn in (0, 0xFFFF):
        return best
    k = j
    while k + width <= len(items):
        row = items[k:k + width]
        pn = row[0].pn
        if pn <= pns[-1] or not _same_group(pn, pns, 8) or pn in (0, 0xFFFF) \
                or any(u.pn != pn or u.fn != f for u, f in zip(row, fns, strict=True)) \
                or any(isinstance(u.value, RawData) for u in items[k - 1:k + width - 1]):
            break
        pns.append(pn)
        k += width
        best = (len(pns) * width, list(pns), list(fns))
    return best


def _same_group(n: int, group: list[int], size: int) -> bool:
    return (n - 1) // size == (group[0] - 1) // size
