"""Answers as the FEP publishes them (``emms_protocol``'s JSON view) → canonical item values.

A frame arrives as the JSON view of ``emms_protocol.gdw1376.json_view``: units
``[{"pn", "fn", "type", "value"}]``. Each value is rebuilt into its codec class
(by the ``type`` name and the class's field types) so that the protocol
library's own mapping — :func:`items_from_units` for AFN 0C / 0D, and
:func:`items_from_188` / :func:`items_from_645` for meter frames forwarded
through AFN 10 — decides which value is which item. Nothing here knows a
layout; a unit that cannot be rebuilt is skipped and counted, never fatal.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from emms_protocol import ProtocolError, cjt188
from emms_protocol.gdw1376 import DataUnit, afn0c, afn0d, afn0e, afn10, energy_blocks
from emms_protocol.gdw1376.items_map import ItemValue, items_from_units
from emms_protocol.items import ITEMS, items_from_188, items_from_645

_MODULES = (energy_blocks, afn0c, afn0d, afn0e, afn10)


@dataclass(frozen=True, slots=True)
class MeterValue:
    """A value from a forwarded meter frame: no pn, the meter is the one the request named."""

    item: str
    value: float | None
    unit: str
    meter_address: str


@cache
def _class(name: str) -> type | None:
    for module in _MODULES:
        found = getattr(module, name, None)
        if isinstance(found, type) and dataclasses.is_dataclass(found):
            return found
    return None


@cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: rebuild without types
        return {}


def _strip_optional(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return hint


def rebuild(raw: Any, hint: Any = None) -> Any:
    """One JSON value → the codec's value (dataclass, datetime, date, bytes, tuple) guided by ``hint``."""
    hint = _strip_optional(hint)
    if raw is None:
        return None
    if isinstance(raw, dict):
        cls = _class(str(raw["type"])) if "type" in raw else (hint if dataclasses.is_dataclass(hint) else None)
        if cls is None or not isinstance(cls, type):
            return raw
        hints = _hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        return cls(**{k: rebuild(v, hints.get(k)) for k, v in raw.items() if k in names})
    if isinstance(raw, list):
        args = typing.get_args(hint) if typing.get_origin(hint) in (tuple, list) else ()
        element = _strip_optional(args[0]) if args else None
        return tuple(rebuild(v, element) for v in raw)
    if isinstance(raw, str):
        if hint is bytes:
            return bytes.fromhex(raw)
        if hint is datetime:
            return datetime.fromisoformat(raw)
        if hint is date:
            return date.fromisoformat(raw)
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return raw


def units_of(frame: dict[str, Any]) -> tuple[int, list[DataUnit], int]:
    """(AFN, rebuilt data units, units that could not be rebuilt) of one frame's JSON view."""
    afn = int(frame.get("afn") or 0)
    out: list[DataUnit] = []
    bad = 0
    for unit in frame.get("units") or []:
        if not isinstance(unit, dict) or "value" not in unit:
            continue
        try:
            value = unit["value"]
            if isinstance(value, dict) and "type" not in value and unit.get("type"):
                value = {**value, "type": unit["type"]}
            elif isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
                value = datetime.fromisoformat(value)
            out.append(DataUnit(int(unit["pn"]), int(unit["fn"]), rebuild(value)))
        except (KeyError, TypeError, ValueError):
            bad += 1
    return afn, out, bad


def point_values(frames: list[dict[str, Any]]) -> tuple[list[ItemValue], int]:
    """Canonical values (per pn) of AFN 0C / 0D answer frames, and how many units were unusable."""
    values: list[ItemValue] = []
    bad = 0
    for frame in frames:
        afn, units, skipped = units_of(frame)
        bad += skipped
        if afn in (0x0C, 0x0D):
            values.extend(items_from_units(afn, units))
    return values, bad


def forwarded_values(frames: list[dict[str, Any]]) -> list[MeterValue]:
    """Canonical values of meter frames forwarded through AFN 10 F1 (188 or 645)."""
    out: list[MeterValue] = []
    for frame in frames:
        afn, units, _ = units_of(frame)
        if afn != 0x10:
            continue
        for unit in units:
            reply = unit.value
            if isinstance(reply, afn10.ForwardReply):
                out.extend(_meter_values(reply.payload))
    return out


def _meter_values(payload: bytes) -> list[MeterValue]:
    inner, protocol = afn10.decode_inner(payload)
    if inner is None:
        return []
    pairs: list[tuple[str, float | None]]
    try:
        if protocol == "cjt188" and isinstance(inner, cjt188.Frame188):
            pairs, address = items_from_188(inner), inner.address
        elif protocol == "dlt645":
            pairs, address = _items_645(inner), str(getattr(inner, "address", ""))
        else:
            return []
    except (ProtocolError, KeyError, TypeError, ValueError):
        return []
    return [MeterValue(code, value, ITEMS[code].unit, address) for code, value in pairs if code in ITEMS]


def _items_645(frame: Any) -> list[tuple[str, float | None]]:
    body = getattr(frame, "body", None)
    di, value = getattr(body, "di", None), getattr(body, "value", None)
    if not isinstance(di, int):
        return []
    return items_from_645(di, value)

