"""``emms-proto decode``: every frame in a hex blob → one JSON object per frame.

Frames are found by :func:`emms_protocol.detect.scan`. Each object carries
``protocol``, ``offset`` (of the 68 in the input), ``preamble`` (FE bytes just
before it), ``hex``, every header field, the decoded body in engineering units
and, for 645 / 188, the canonical ``items``. A 1376.1 frame is decoded with
``emms_protocol.gdw1376`` when that package is importable; its AFN 10
forwarded 645 / 188 frames come out decoded under ``units[].value.inner``
(plus their ``items``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from emms_protocol import cjt188, dlt645
from emms_protocol.detect import CJT188, DLT645, GDW1376, FoundFrame, scan
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.json_view import to_jsonable
from emms_protocol.items import ITEMS, items_from_188, items_from_645


def _items(pairs: list[tuple[str, float | None]]) -> list[dict[str, Any]]:
    return [{"code": code, "value": value, "unit": ITEMS[code].unit} for code, value in pairs]


def items_of(frame: object) -> list[dict[str, Any]]:
    """Canonical items of a decoded 645 / 188 frame ([] for requests and unmapped values)."""
    if isinstance(frame, dlt645.Frame645) and isinstance(frame.body, dlt645.ReadReply):
        return _items(items_from_645(frame.body.di, frame.body.value, edition=frame.edition))
    if isinstance(frame, cjt188.Frame188):
        return _items(items_from_188(frame))
    return []


def frame_json(frame: dlt645.Frame645 | cjt188.Frame188) -> dict[str, Any]:
    """Header fields, body and items of a 645 / 188 frame."""
    out: dict[str, Any] = to_jsonable(frame)
    out["items"] = items_of(frame)
    return out


def _gdw1376() -> tuple[Any, Callable[[object], Any]] | None:
    try:
        module = import_module("emms_protocol.gdw1376")
    except ImportError:
        return None
    return module, to_jsonable


def _attach_inner_items(unit_json: Any, unit: object) -> None:
    """Add ``items`` next to a decoded forwarded frame (AFN 10 F1 ``inner``)."""
    inner = getattr(getattr(unit, "value", None), "inner", None)
    value_json = unit_json.get("value") if isinstance(unit_json, dict) else None
    if inner is None or not isinstance(value_json, dict):
        return
    if not isinstance(value_json.get("inner"), dict):
        value_json["inner"] = frame_json(inner)
    else:
        value_json["inner"]["items"] = items_of(inner)


def _decode_1376(raw: bytes) -> dict[str, Any]:
    loaded = _gdw1376()
    if loaded is None:
        raise ProtocolError("unsupported", detail="the 1376.1 decoder is not installed")
    module, view = loaded
    frame = module.decode_frame(raw)
    out = view(frame)
    out = dict(out) if isinstance(out, dict) else {"frame": out}
    if isinstance(out.get("units"), list):  # the 1376.1 view already holds the decoded units
        for unit_json, unit in zip(out["units"], module.decode_units(frame), strict=False):
            _attach_inner_items(unit_json, unit)
        return out
    if "units_error" in out:
        return out
    out.pop("body", None)
    out["units"] = []
    for unit in module.decode_units(frame):
        unit_json = view(unit)
        _attach_inner_items(unit_json, unit)
        out["units"].append(unit_json)
    return out


def decode_found(found: FoundFrame) -> dict[str, Any]:
    """Decode one scanned frame; ProtocolError when its content is malformed."""
    if found.protocol == DLT645:
        body = frame_json(dlt645.decode_frame(found.raw))
    elif found.protocol == CJT188:
        body = frame_json(cjt188.decode_frame(found.raw))
    else:
        body = _decode_1376(found.raw)
    body.pop("protocol", None)
    return {"protocol": found.protocol, **body}


def _preamble(data: bytes, start: int) -> int:
    n = 0
    while start - n > 0 and data[start - n - 1] == 0xFE:
        n += 1
    return n


def decode_blob(data: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """(decoded frames, one problem line per frame found but not decodable)."""
    decoded: list[dict[str, Any]] = []
    problems: list[str] = []
    for found in scan(data):
        try:
            obj = decode_found(found)
        except ProtocolError as exc:
            problems.append(f"{found.protocol} frame at offset {found.start} not decoded: {exc}")
            continue
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # The 1376.1 decoder is another team's code: report, never crash.
            problems.append(f"{found.protocol} frame at offset {found.start} not decoded: {type(exc).__name__}: {exc}")
            continue
        header = {"protocol": obj.pop("protocol"), "offset": found.start, "preamble": _preamble(data, found.start),
                  "length": found.end - found.start, "hex": found.raw.hex(" ").upper()}
        decoded.append({**header, **obj})
    return decoded, problems


__all__ = ["GDW1376", "decode_blob", "frame_json", "items_of"]
