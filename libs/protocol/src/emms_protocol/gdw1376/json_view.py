"""The one JSON view of decoded frames and values, both ways (the CLI, the FEP's bus payloads, the collector).

To JSON (:func:`to_jsonable`, :func:`frame_view`, :func:`unit_view`): numbers stay
JSON numbers (``242.7``, never ``"242.7"``; a non-finite float is ``null``), times
ISO 8601 with their offset, dates ``YYYY-MM-DD``, bytes **lower-case** hex.

**One tagging rule:** every dataclass object is ``{"type": tag, field: …}`` — at
every depth, 645 / 188 frames nested in AFN 10 included. A data unit is
``{"pn", "fn", "name"?, "type", "value"}``: its ``type`` repeats the value's tag
so that a reader can pick units without opening values; a unit whose Fn the
codec does not know is ``{"pn", "fn", "type": "RawData", "raw": hex}``.

Back (:func:`from_jsonable`, :func:`unit_from_json`, :func:`units_from_view`):
the tag names a class of :data:`VALUE_TYPES` — imported here by name, so that
renaming a protocol class fails this module's import and ``mypy`` instead of a
consumer at run time — and each field is converted by the class's declared
type (``bytes`` from hex, ``date`` / ``datetime`` from ISO, ``float`` from an
integer, tuples from lists). An object without a tag takes the declared type
of the field it sits in. Unknown tags, unknown fields and values the class
refuses raise :class:`ProtocolError` (``kind="value"``). Derived fields
(``inner`` of AFN 10) are recomputed from the bytes, never trusted from JSON.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from enum import Enum
from functools import cache
from typing import Any, Final

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.afn0c import PowerQuality, PurchaseInfo, SettlementInfo
from emms_protocol.gdw1376.afn0c_harmonics import HarmonicContent, HarmonicRms
from emms_protocol.gdw1376.afn0d_curves import Curve, CurveTag
from emms_protocol.gdw1376.afn0d_voltage_stats import DailyVoltageStats, PhaseVoltageStats
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord, EventRequest, PointEvent, PowerEvent, VersionChange
from emms_protocol.gdw1376.afn00 import PerUnitAck, UnitAck
from emms_protocol.gdw1376.afn04_0a import (
    EventConfig,
    MasterAddress,
    MeterConfig,
    MeterConfigQuery,
    MeterRecord,
    PointBasicParams,
    TerminalAddress,
    UplinkCommParams,
)
from emms_protocol.gdw1376.afn05 import ProtectCommand, TripCommand
from emms_protocol.gdw1376.afn09 import VersionInfo
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest, SerialSettings, decode_inner
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, Options
from emms_protocol.gdw1376.control_state import ControlState, GroupControlState
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register, ReverseEnergies
from emms_protocol.gdw1376.frame import AFN, Frame
from emms_protocol.gdw1376.purchase import EnergyRates, PurchaseControl, RemainingAmount
from emms_protocol.gdw1376.registry import lookup
from emms_protocol.gdw1376.tariff import TariffPeriods
from emms_protocol.gdw1376.units import DataUnit, RawData, decode_units

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]

VALUE_TYPES: Final[Mapping[str, type]] = {
    # The wire tags of the 1376.1 value classes. A tag is part of the bus format: keep it when a class
    # is renamed (``"EnergyReading": RenamedReading``) — the import above breaks first, on purpose.
    "UnitAck": UnitAck, "PerUnitAck": PerUnitAck,
    "UplinkCommParams": UplinkCommParams, "MasterAddress": MasterAddress, "MeterRecord": MeterRecord,
    "MeterConfig": MeterConfig, "MeterConfigQuery": MeterConfigQuery, "PointBasicParams": PointBasicParams,
    "TerminalAddress": TerminalAddress, "EventConfig": EventConfig,
    "TripCommand": TripCommand, "ProtectCommand": ProtectCommand,
    "VersionInfo": VersionInfo,
    "PowerQuality": PowerQuality, "PurchaseInfo": PurchaseInfo, "SettlementInfo": SettlementInfo,
    "EventRequest": EventRequest, "EventBatch": EventBatch, "EventRecord": EventRecord,
    "VersionChange": VersionChange, "PowerEvent": PowerEvent, "PointEvent": PointEvent,
    "SerialSettings": SerialSettings, "ForwardRequest": ForwardRequest, "ForwardReply": ForwardReply,
    "Register": Register, "EnergyReading": EnergyReading, "ForwardEnergies": ForwardEnergies,
    "ReverseEnergies": ReverseEnergies,
    "CurveTag": CurveTag, "Curve": Curve,
    "HarmonicRms": HarmonicRms, "HarmonicContent": HarmonicContent,
    "DailyVoltageStats": DailyVoltageStats, "PhaseVoltageStats": PhaseVoltageStats,
    "EnergyRates": EnergyRates, "PurchaseControl": PurchaseControl, "RemainingAmount": RemainingAmount,
    "TariffPeriods": TariffPeriods,
    "ControlState": ControlState, "GroupControlState": GroupControlState,
    "RawData": RawData,
}
_TAGS: Final[Mapping[type, str]] = {cls: tag for tag, cls in VALUE_TYPES.items()}
_DERIVED: Final[frozenset[str]] = frozenset({"inner", "inner_protocol"})  # AFN 10: recomputed from ``payload``


def tag_of(obj: object) -> str:
    """The ``type`` tag of a dataclass value (the registry's tag; the class name for 645 / 188 classes)."""
    cls = type(obj)
    return _TAGS.get(cls) or cls.__name__


# -- to JSON ---------------------------------------------------------------------------------------------------

def to_jsonable(obj: object, options: Options = DEFAULT_OPTIONS) -> Any:
    """Any decoded object (Frame, DataUnit, value, 645 / 188 frame) → JSON types. A Frame includes its units."""
    if isinstance(obj, Frame):
        return frame_view(obj, options)
    return _plain(obj)


def _plain(obj: object) -> Any:
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, Enum):
        return obj.value if isinstance(obj.value, int | str) else obj.name
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex()
    if isinstance(obj, DataUnit):
        return unit_view(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": tag_of(obj)}
        for f in dataclasses.fields(obj):
            out[f.name] = _plain(getattr(obj, f.name))
        return out
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    return str(obj)


def unit_view(unit: DataUnit, afn: int | None = None, direction: int | None = None) -> dict[str, Any]:
    """``{"pn", "fn", "name"?, "type", "value"}``; ``{"pn", "fn", "type": "RawData", "raw"}`` for unknown Fn."""
    out: dict[str, Any] = {"pn": unit.pn, "fn": unit.fn}
    value = unit.value
    if afn is not None and direction is not None and unit.fn:
        codec = lookup(afn, direction, unit.fn)
        if codec is not None and not isinstance(value, RawData):
            out["name"] = codec.name
    if isinstance(value, RawData):
        out["type"] = "RawData"
        out["raw"] = value.data.hex()
        return out
    if value is not None and dataclasses.is_dataclass(value):
        out["type"] = tag_of(value)
    out["value"] = _plain(value)
    return out


def frame_view(frame: Frame, options: Options = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Every header field, the AUX fields and the decoded data units of one frame."""
    out = frame_header(frame)
    try:
        units = decode_units(frame, options)
    except ProtocolError as exc:
        out["units"] = None
        out["units_error"] = str(exc)
        out["body"] = frame.body.hex()
        return out
    out["units"] = [unit_view(u, frame.afn, frame.control.direction) for u in units]
    return out


def frame_header(frame: Frame) -> dict[str, Any]:
    """The header and AUX fields of :func:`frame_view` (no units)."""
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
    return out


# -- from JSON -------------------------------------------------------------------------------------------------

def value_type(tag: str) -> type:
    """The value class of a ``type`` tag; ProtocolError for an unknown tag."""
    cls = VALUE_TYPES.get(tag)
    if cls is None:
        raise ProtocolError("value", detail=f"no 1376.1 value type named {tag!r}")
    return cls


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _init_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init)


def _unwrap_optional(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else None  # a union of several classes: the tag decides
    return hint


def _element_type(hint: Any) -> Any:
    if typing.get_origin(hint) in (tuple, list, Sequence):
        args = typing.get_args(hint)
        if args:
            return _unwrap_optional(args[0])
    return None


def from_jsonable(raw: Any, hint: Any = None, *, now: datetime | None = None) -> Any:
    """One JSON value → the codec's value (dataclass, datetime, date, bytes, tuple), guided by ``hint``.

    ``now``: when given, the string ``"now"`` becomes that moment (whole seconds) — request data only.
    """
    hint = _unwrap_optional(hint)
    if raw is None:
        return None
    if isinstance(raw, dict):
        if "type" in raw:
            if set(raw) == {"type", "value"} and isinstance(raw["value"], dict):  # the unit's shape
                return _typed(value_type(str(raw["type"])), raw["value"], now)
            return _typed(value_type(str(raw["type"])), raw, now)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return _typed(hint, raw, now)
        return {str(k): from_jsonable(v, now=now) for k, v in raw.items()}
    if isinstance(raw, list):
        element = _element_type(hint)
        return tuple(from_jsonable(v, element, now=now) for v in raw)
    if isinstance(raw, str):
        return _string(raw, hint, now)
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return raw


def _string(raw: str, hint: Any, now: datetime | None) -> object:
    if hint is bytes:
        try:
            return bytes.fromhex(raw)
        except ValueError:
            raise ProtocolError("value", detail=f"{raw!r} is not hex") from None
    if hint is str:
        return raw
    if raw == "now" and now is not None:
        return now.replace(microsecond=0)
    looks_like_date = len(raw) >= 10 and raw[4:5] == "-" and raw[7:8] == "-" and raw[:4].isdigit()
    if hint in (datetime, date) or (hint is None and looks_like_date):
        try:
            if len(raw) == 10 and hint is not datetime:
                return date.fromisoformat(raw)
            return datetime.fromisoformat(raw)
        except ValueError:
            raise ProtocolError("value", detail=f"{raw!r} is not an ISO date or time") from None
    return raw


def _typed(cls: type, raw: Mapping[str, Any], now: datetime | None) -> object:
    names = _init_fields(cls)
    unknown = set(raw) - names - {"type"}
    if unknown:
        raise ProtocolError("value", detail=f"{cls.__name__} has no field(s) {sorted(unknown)}")
    hints = _hints(cls)
    kwargs = {k: from_jsonable(v, hints.get(k), now=now) for k, v in raw.items()
              if k != "type" and k not in _DERIVED}
    if cls in (ForwardRequest, ForwardReply) and isinstance(kwargs.get("payload"), bytes):
        kwargs["inner"], kwargs["inner_protocol"] = decode_inner(kwargs["payload"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ProtocolError("value", detail=f"{cls.__name__}: {exc}") from None


def unit_from_json(raw: Mapping[str, Any], afn: int, *, now: datetime | None = None) -> DataUnit:
    """One unit of :func:`unit_view`'s shape back into a :class:`DataUnit` (ProtocolError when malformed)."""
    try:
        pn, fn = int(raw["pn"]), int(raw["fn"])
    except (KeyError, TypeError, ValueError):
        raise ProtocolError("value", detail="a unit needs integer pn and fn") from None
    tag = raw.get("type")
    if tag == "RawData":
        try:
            return DataUnit(pn, fn, RawData(afn, fn, pn, bytes.fromhex(str(raw.get("raw", "")))))
        except ValueError:
            raise ProtocolError("value", detail="unit raw data must be hex") from None
    value = raw.get("value")
    if isinstance(value, dict) and tag is not None and "type" not in value:
        value = {**value, "type": tag}
    return DataUnit(pn, fn, from_jsonable(value, now=now))


def units_from_view(view: Mapping[str, Any]) -> tuple[int, list[DataUnit], int]:
    """(AFN, data units, units that could not be read back) of one :func:`frame_view`."""
    afn = int(view.get("afn") or 0)
    out: list[DataUnit] = []
    bad = 0
    for unit in view.get("units") or []:
        if not isinstance(unit, Mapping) or ("value" not in unit and unit.get("type") != "RawData"):
            continue
        try:
            out.append(unit_from_json(unit, afn))
        except ProtocolError:
            bad += 1
    return afn, out, bad


__all__ = ["JSON", "VALUE_TYPES", "frame_header", "frame_view", "from_jsonable", "tag_of", "to_jsonable",
           "unit_from_json", "unit_view", "units_from_view", "value_type"]
