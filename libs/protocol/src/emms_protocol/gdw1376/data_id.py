"""Data-unit identifiers: DA (pn, measurement point) and DT (Fn, information class).

``DA1`` is a bit set over eight points of group ``DA2``; ``DT1`` a bit set over
eight Fn of group ``DT2`` (§1.7 of the notes). p0 is ``DA1 = DA2 = 0``. DT1 is
a bit set, never a number: ``04 00`` is F3, not F4. The lists for every DA and
DT byte pair are computed on first use and cached (hot path is a dict lookup).
"""

from __future__ import annotations

from emms_protocol.errors import ProtocolError

MAX_PN = 2040
MAX_FN = 248
#: DA1 = FF, DA2 = 00 names "all valid measurement points"; decoded as this pseudo pn.
ALL_PN = 0xFFFF

_BITS: list[tuple[int, ...]] = [tuple(i for i in range(8) if b >> i & 1) for b in range(256)]
_PN_CACHE: dict[int, tuple[int, ...]] = {}
_FN_CACHE: dict[int, tuple[int, ...]] = {}


def pns_of(da1: int, da2: int) -> tuple[int, ...]:
    """Measurement points named by DA; ``()`` when DA names none (DA1=0, DA2≠0)."""
    key = da1 | (da2 << 8)
    hit = _PN_CACHE.get(key)
    if hit is None:
        if da1 == 0 and da2 == 0:
            hit = (0,)
        elif da2 == 0 and da1 == 0xFF:
            hit = (ALL_PN,)
        elif da2 == 0:
            hit = ()
        else:
            base = (da2 - 1) * 8 + 1
            hit = tuple(base + i for i in _BITS[da1])
        _PN_CACHE[key] = hit
    return hit


def fns_of(dt1: int, dt2: int) -> tuple[int, ...]:
    """Information classes named by DT (``()`` when DT1 is zero)."""
    key = dt1 | (dt2 << 8)
    hit = _FN_CACHE.get(key)
    if hit is None:
        base = dt2 * 8 + 1
        hit = tuple(base + i for i in _BITS[dt1])
        _FN_CACHE[key] = hit
    return hit


def da_of(pn: int) -> tuple[int, int]:
    """(DA1, DA2) for one point."""
    if pn == 0:
        return 0, 0
    if pn == ALL_PN:
        return 0xFF, 0
    if not 1 <= pn <= MAX_PN:
        raise ProtocolError("value", detail=f"pn {pn} out of 0..{MAX_PN}")
    return 1 << ((pn - 1) % 8), (pn - 1) // 8 + 1


def dt_of(fn: int) -> tuple[int, int]:
    """(DT1, DT2) for one information class."""
    if not 1 <= fn <= MAX_FN:
        raise ProtocolError("value", detail=f"Fn {fn} out of 1..{MAX_FN}")
    return 1 << ((fn - 1) % 8), (fn - 1) // 8


def da_group(pns: list[int] | tuple[int, ...]) -> tuple[int, int]:
    """DA naming several points of one group of eight (or p0 alone)."""
    if not pns:
        raise ProtocolError("value", detail="empty pn group")
    da1, da2 = da_of(pns[0])
    for pn in pns[1:]:
        b1, b2 = da_of(pn)
        if b2 != da2 or da2 == 0:
            raise ProtocolError("value", detail=f"pn {list(pns)} are not in one DA group")
        da1 |= b1
    return da1, da2


def dt_group(fns: list[int] | tuple[int, ...]) -> tuple[int, int]:
    """DT naming several Fn of one group of eight."""
    if not fns:
        raise ProtocolError("value", detail="empty Fn group")
    dt1, dt2 = dt_of(fns[0])
    for fn in fns[1:]:
        b1, b2 = dt_of(fn)
        if b2 != dt2:
            raise ProtocolError("value", detail=f"Fn {list(fns)} are not in one DT group")
        dt1 |= b1
    return dt1, dt2
