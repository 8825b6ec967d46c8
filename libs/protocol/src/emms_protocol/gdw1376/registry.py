"""Index of every supported (AFN, direction, Fn) codec, built from the ``afnXX`` modules.

Direction is that of the frame carrying the unit (0 = downlink, master → terminal,
1 = uplink). Whole AFN families whose downlink requests never carry data
(AFN 0C and AFN 09 requests) are answered by a rule rather than a list, so a
request for an Fn this package does not decode still frames correctly.
"""

from __future__ import annotations

from emms_protocol.gdw1376 import (
    afn0c,
    afn0c_harmonics,
    afn0d,
    afn0d_curves,
    afn0d_voltage_stats,
    afn0e,
    afn00,
    afn01,
    afn02,
    afn04_0a,
    afn05,
    afn09,
    afn10,
    control_state,
    purchase,
    tariff,
)
from emms_protocol.gdw1376.codec import FnCodec, no_data

_TABLE: dict[int, FnCodec] = {}
for _family in (afn00.CODECS, afn01.CODECS, afn02.CODECS, afn04_0a.CODECS, afn05.CODECS, afn09.CODECS,
                afn0c.CODECS, afn0d.CODECS, afn0d_curves.CODECS, afn0e.CODECS, afn10.CODECS,
                purchase.CODECS, control_state.CODECS, afn0c_harmonics.CODECS, afn0d_voltage_stats.CODECS,
                tariff.CODECS):
    for (_afn, _direction, _fn), _codec in _family.items():
        _TABLE[(_afn << 16) | (_direction << 8) | _fn] = _codec

#: AFNs whose downlink data units are DA/DT only, whatever the Fn.
_EMPTY_DOWNLINK = {0x0C: no_data("class-1 data request"), 0x09: no_data("configuration request")}


def lookup(afn: int, direction: int, fn: int) -> FnCodec | None:
    """The codec for one Fn, or None when this package does not know its layout."""
    codec = _TABLE.get((afn << 16) | (direction << 8) | fn)
    if codec is None and direction == 0:
        return _EMPTY_DOWNLINK.get(afn)
    return codec


def supported() -> list[tuple[int, int, int, str]]:
    """(AFN, direction, Fn, name) of every codec, sorted — the coverage table's source."""
    return sorted(((k >> 16, (k >> 8) & 0xFF, k & 0xFF, c.name) for k, c in _TABLE.items()))
