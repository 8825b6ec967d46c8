"""AFN 02 — link interface check (uplink, p0): F1 login, F2 logout, F3 heartbeat.

The basic form has no data after DA/DT. Variants (UNVERIFIED, not seen in the
public captures) append the terminal clock (A.1, 6 bytes) to the F3 heartbeat:
F3 decodes those 6 bytes to a datetime when present and valid, otherwise to
``None``; :func:`emms_protocol.gdw1376.builders.heartbeat` writes them only when
given a clock. Extra bytes after F1/F2 are kept by the unit decoder as raw
trailing data.
"""

from __future__ import annotations

from datetime import datetime

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, no_data
from emms_protocol.gdw1376.formats import dec_a1, enc_a1


def _decode_heartbeat(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    if end - pos != 6:
        return None, pos
    try:
        return dec_a1(data, pos, opts), pos + 6
    except ProtocolError:
        return None, pos


def _encode_heartbeat(value: object, opts: Options) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, datetime):
        raise ProtocolError("value", detail=f"heartbeat clock must be a datetime, got {value!r}")
    return enc_a1(value, opts)


CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x02, 1, 1): no_data("login"),
    (0x02, 1, 2): no_data("logout"),
    (0x02, 1, 3): FnCodec("heartbeat", _decode_heartbeat, _encode_heartbeat),
}
