"""Plain-JSON view of decoded 1376.1 frames and values (for the CLI, logs of callers, the bus).

Numbers stay JSON numbers (``242.7``, never ``"242.7"``), times become ISO 8601
strings with their offset, dates ``YYYY-MM-DD``, bytes lower-case hex. Any
frozen dataclass (including the 645 / 188 frames nested in AFN 10) is turned
into an object of its fields; a data unit's value also gets ``"type"``.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from enum import Enum
from typing import Any

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, Options
from emms_protocol.gdw1376.frame import AFN, Frame
from emms_protocol.gdw1376.registry import lookup
from emms_protocol.gdw1376.units import DataUnit, RawData, decode_units

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]


def to_jsonable(obj: object, options: Options = DEFAULT_OPTIONS) -> Any:
    """Any decoded object (Frame, DataUnit, value) → JSON types. A Frame includes its decoded units."""
    if isinstance(obj, Frame):
        return frame_view(obj, options)
    return _plain(obj)


def _plain(obj: object) -> Any:
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, Enum):
        return obj.value if isinstance(obj.value, int | str) else obj.name
    if isinstance(obj, int | float):
        return obj
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex()
    if isinstance(obj, DataUnit):
        return unit_view(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    return str(obj)


def unit_view(unit: DataUnit, afn: int | None = None, direction: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"pn": unit.pn, "fn": unit.fn}
    if afn is not None and direction is not None and unit.fn:
        codec = lookup(afn, direction, unit.fn)
        if codec is not None and not isinstance(unit.value, RawData):
            out["name"] = codec.name
    value = unit.value
    if isinstance(value, RawData):
        out["type"] = "RawData"
        out["raw"] = value.data.hex()
        return out
    if value is not None and dataclasses.is_dataclass(value):
        out["type"] = type(value).__name__
    out["value"] = _plain(value)
    return out


def frame_view(frame: Frame, options: Options = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Every header field, the AUX fields and the decoded data units of one frame."""
    c, a, s = frame.control, frame.address, frame.seq
    afn_name = AFN(frame.afn).name if frame.afn in AFN._value2member_map_ else None
    out: dict[str, Any] = {
        "protocol": "gdw1376",
        "protocol_id": frame.protocol_id,
        "control": {"byte": c.to_byte(), "direction": "up" if c.direction else "down", "prm": c.prm,
                    ("acd" if c.direction else "fcb"): c.fcb_acd, "fcv": c.fcv, "function": c.function},
        "address": {"area": f"{a.area:04X}", "terminal": a.terminal, "master": a.master, "group": a.group,
                    "key": a.key, "vendor_hex": a.vendor_hex},
        "afn": int(frame.afn),
        "afn_name": afn_name,
        "seq": {"tpv": s.tpv, "fir": s.fir, "fin": s.fin, "con": s.con, "seq": s.seq},
        "pw": frame.pw.hex() if frame.pw is not None else None,
        "ec": list(frame.ec) if frame.ec is not None else None,
        "tp": None if frame.tp is None else {"pfc": frame.tp.pfc, "sent_at": frame.tp.sent_at.isoformat(),
                                             "delay_min": frame.tp.delay_min},
    }
    try:
        units = decode_units(frame, options)
    except ProtocolError as exc:
        out["units"] = None
        out["units_error"] = str(exc)
        out["body"] = frame.body.hex()
        return out
    out["units"] = [unit_view(u, frame.afn, c.direction) for u in units]
    return out
