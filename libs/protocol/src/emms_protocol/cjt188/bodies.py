"""The meaning of a CJ/T 188 payload (after DI and SER), per function, direction and DI.

* read reply 81H of 901F → :class:`WaterGasData` / :class:`HeatData`;
* write 04H: A017 valve (1 byte: 55H open, 99H close — **UNVERIFIED** common
  values), A015 standard time (7 bytes, ss-first like the 901F real time by
  default; year-first as sent by some tools is recognised too — **UNVERIFIED**);
* write replies 84H / 95H / 96H and abnormal replies carry ST (2) → :class:`StatusReply`;
* write address 15H: the new 7-byte address → :class:`AddressBody`.
Anything else keeps its bytes in ``Frame188.payload`` with ``body = None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_protocol.cjt188 import data_ids as ids
from emms_protocol.cjt188 import meter_types as mt
from emms_protocol.cjt188.layouts import HeatData, Status188, WaterGasData, decode_current_data, status
from emms_protocol.dlt645.formats import DEVICE_TZ
from emms_protocol.errors import ProtocolError

VALVE_OPEN = 0x55
VALVE_CLOSE = 0x99
VALVE_CODES = {"open": VALVE_OPEN, "close": VALVE_CLOSE}
TIME_LAYOUTS = ("ss_first", "year_first")


@dataclass(frozen=True, slots=True)
class StatusReply:
    status: Status188


@dataclass(frozen=True, slots=True)
class ValveCommand:
    action: str
    code: int


@dataclass(frozen=True, slots=True)
class TimeWrite:
    time: datetime | None
    layout: str


@dataclass(frozen=True, slots=True)
class AddressBody:
    address: str


Body188 = WaterGasData | HeatData | StatusReply | ValveCommand | TimeWrite | AddressBody


def _time(payload: bytes, layout: str) -> datetime | None:
    digits = payload.hex() if layout == "year_first" else payload[::-1].hex()
    if not digits.isdigit() or not 2000 <= int(digits[0:4]) <= 2099:
        return None
    try:
        return datetime(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]),
                        int(digits[10:12]), int(digits[12:14]), tzinfo=DEVICE_TZ)
    except ValueError:
        return None


def time_bytes(when: datetime, layout: str = "ss_first") -> bytes:
    """A015 payload: 7 BCD bytes of ``when`` (CST wall clock) in ``layout``."""
    if layout not in TIME_LAYOUTS:
        raise ProtocolError("value", detail=f"time layout {layout!r} is not one of {TIME_LAYOUTS}")
    t = when.astimezone(DEVICE_TZ) if when.tzinfo is not None else when
    raw = bytes.fromhex(f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}")
    return raw if layout == "year_first" else raw[::-1]


def _parse_time(payload: bytes) -> TimeWrite:
    if len(payload) != 7:
        raise ProtocolError("length", detail=f"A015 time needs 7 bytes, got {len(payload)}")
    for layout in TIME_LAYOUTS:
        when = _time(payload, layout)
        if when is not None:
            return TimeWrite(when, layout)
    return TimeWrite(None, "")


def _parse_request(di: int | None, function: int, payload: bytes) -> Body188 | None:
    if function == mt.WRITE_DATA and di == ids.VALVE_CONTROL:
        if len(payload) != 1:
            raise ProtocolError("length", detail=f"valve control needs 1 byte, got {len(payload)}")
        action = {VALVE_OPEN: "open", VALVE_CLOSE: "close"}.get(payload[0], f"unknown_{payload[0]:02x}")
        return ValveCommand(action, payload[0])
    if function == mt.WRITE_DATA and di == ids.WRITE_TIME:
        return _parse_time(payload)
    if function == mt.WRITE_ADDRESS and di == ids.WRITE_ADDRESS:
        if len(payload) != 7:
            raise ProtocolError("length", detail=f"new address needs 7 bytes, got {len(payload)}")
        return AddressBody(payload[::-1].hex().upper())
    return None


def parse_body(control: int, di: int | None, payload: bytes) -> Body188 | None:
    """Typed meaning of ``payload`` (the bytes after DI and SER), ``None`` if not decoded."""
    function = control & mt.FUNCTION_MASK
    if not control & mt.FROM_METER:
        return _parse_request(di, function, payload)
    if control & mt.ABNORMAL or function in (mt.WRITE_DATA, mt.WRITE_ADDRESS, mt.WRITE_SYNC):
        if not payload and not control & mt.ABNORMAL:
            return None  # some meters acknowledge a write with DI + SER only
        if len(payload) != 2:
            raise ProtocolError("length", detail=f"status reply needs ST (2 bytes), got {len(payload)}")
        return StatusReply(status(int.from_bytes(payload, "little")))
    if function == mt.READ_DATA and di == ids.CURRENT_DATA:
        return decode_current_data(payload)
    return None
