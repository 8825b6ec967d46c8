"""``emms-proto encode`` for Q/GDW 1376.1 downlink frames (reads, sets, controls, time sync, forwarding).

Built on ``emms_protocol.gdw1376`` (``builders.request`` + ``encode_frame``),
imported lazily so the 645 / 188 side of the CLI works without it. Unit values
in JSON are converted to the codec's types: ``{"type": "ClassName", ...}``
constructs that value class (``emms_protocol.gdw1376.json_view``, the view
``decode`` prints, read back), ``{"raw": "hex"}`` sends bytes as they are, ISO
strings become dates / datetimes, ``"now"`` the current time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from emms_protocol.cli.values import int_field, moment, optional_int, parse_time, require, string_field
from emms_protocol.errors import ProtocolError

DEFAULT_CONTROL_WORD = 0x6B  # 2400 8E1, the DL/T 645 default
DEFAULT_FRAME_TIMEOUT = 0xBC  # as in the public capture pub-24
DEFAULT_BYTE_TIMEOUT = 0x0A


def _module(name: str) -> Any:
    try:
        return import_module(f"emms_protocol.gdw1376{name}")
    except ImportError:
        raise ProtocolError("unsupported", detail="the 1376.1 codec (emms_protocol.gdw1376) is not installed") from None


def _value(raw: Any) -> object:
    """A unit value in JSON → the codec's type, by the protocol library's one JSON view."""
    view = _module(".json_view")
    return view.from_jsonable(raw, now=datetime.now(UTC))


_UNIT_KEYS = {"pn", "fn", "value", "date", "type", "raw", "name"}


def _unit(raw: Any, afn: int) -> Any:
    if not isinstance(raw, dict):
        raise ProtocolError("value", detail="each unit must be an object with pn and fn")
    units = _module(".units")
    unknown = set(raw) - _UNIT_KEYS
    if unknown:
        raise ProtocolError("value", detail=f"unit keys {sorted(unknown)} unknown (use {sorted(_UNIT_KEYS)})")
    pn, fn = int_field(raw, "pn", 0), int_field(raw, "fn")
    value = raw.get("value", raw.get("date"))  # AFN 0D: the freeze tag (Td_d / Td_m) as "date"
    if raw.get("type") == "RawData":  # the shape `decode` prints: {"pn", "fn", "type": "RawData", "raw"}
        value = {"raw": raw.get("raw")}
    elif "type" in raw and isinstance(value, dict) and "type" not in value:  # {"type": T, "value": {fields}}
        value = {"type": raw["type"], **value}
    if isinstance(value, dict) and set(value) == {"raw"}:
        try:
            return units.DataUnit(pn, fn, units.RawData(afn, fn, pn, bytes.fromhex(str(value["raw"]))))
        except ValueError:
            raise ProtocolError("value", detail="unit raw value must be hex") from None
    return units.DataUnit(pn, fn, _value(value))


def _forward(spec: dict[str, Any], encode_inner: Callable[[Any], bytes]) -> Any:
    afn10 = _module(".afn10")
    if "frame_hex" in spec:
        try:
            payload = bytes.fromhex(string_field(spec, "frame_hex"))
        except ValueError:
            raise ProtocolError("value", detail="frame_hex must be hex") from None
    else:
        inner = require(spec, "frame")
        if isinstance(inner, dict) and str(inner.get("protocol", "")).startswith("1376"):
            raise ProtocolError("value", detail="a forwarded frame must be 645 or 188")
        payload = encode_inner(inner)
    request = afn10.ForwardRequest(int_field(spec, "port", 1), int_field(spec, "control_word", DEFAULT_CONTROL_WORD),
                                   int_field(spec, "frame_timeout", DEFAULT_FRAME_TIMEOUT),
                                   int_field(spec, "byte_timeout", DEFAULT_BYTE_TIMEOUT), payload)
    return _module(".units").DataUnit(0, 1, request)


def _units_for(spec: dict[str, Any], op: str, encode_inner: Callable[[Any], bytes]) -> tuple[int, list[Any]]:
    units = _module(".units")
    if op == "read":
        afn = int_field(spec, "afn")
        raw_units = require(spec, "units")
        if not isinstance(raw_units, list) or not raw_units:
            raise ProtocolError("value", detail="units must be a non-empty list")
        return afn, [_unit(u, afn) for u in raw_units]
    if op == "time_sync":
        return 0x05, [units.DataUnit(0, 31, moment(spec, "time"))]
    if op == "trip":
        trip = _module(".afn05").TripCommand(int_field(spec, "limit_half_hours", 0),
                                             int_field(spec, "alarm_delay_min", 0))
        return 0x05, [units.DataUnit(int_field(spec, "pn", 1), 1, trip)]
    if op == "allow_close":
        return 0x05, [units.DataUnit(int_field(spec, "pn", 1), 2, None)]
    if op == "forward":
        return 0x10, [_forward(spec, encode_inner)]
    raise ProtocolError("value", detail=f"1376.1 op {op!r} is not one of read, time_sync, trip, allow_close, forward")


def _time_label(raw: Any) -> Any:
    seq = _module(".seq")
    if raw is True:
        raw = {}
    if not isinstance(raw, dict):
        raise ProtocolError("value", detail='tp must be true or {"pfc", "time", "delay_min"}')
    sent: datetime = parse_time(raw.get("time", "now"), "tp.time")
    return seq.TimeLabel(int_field(raw, "pfc", 0), sent, int_field(raw, "delay_min", 0))


def encode_1376(spec: dict[str, Any], op: str, encode_inner: Callable[[Any], bytes]) -> bytes:
    """A master request frame from the JSON ``spec`` (see the CLI's schema help)."""
    gdw = _module("")
    builders = _module(".builders")
    address = gdw.Address.parse(string_field(spec, "terminal"), master=int_field(spec, "master", 0))
    afn, units = _units_for(spec, op, encode_inner)
    pw = None
    if "pw" in spec:
        try:
            pw = bytes.fromhex(string_field(spec, "pw"))
        except ValueError:
            raise ProtocolError("value", detail="pw must be hex") from None
    tp = _time_label(spec["tp"]) if spec.get("tp") else None
    frame = builders.request(address, afn, units, int_field(spec, "seq", 0), pw, tp=tp,
                             function=optional_int(spec, "function"))
    return bytes(gdw.encode_frame(frame))
