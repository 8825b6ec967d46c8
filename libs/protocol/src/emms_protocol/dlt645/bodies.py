"""The meaning of a DL/T 645 DATA field, per function code and direction.

:func:`parse_body` is called by the frame decoder with the unscrambled DATA;
the ``*_data`` functions build DATA for the builders. Layouts (all after −33H):

* read 11H: DI (4, DI0 first) [+ N, + time for load-profile blocks];
  reply 91H/B1H: DI + value; follow-up 12H: DI + SEQ; reply 92H/B2H: DI + value + SEQ;
* write 14H: DI + PA P0 P1 P2 + C0..C3 + value; normal replies carry no data;
* control 1CH: PA P0 P1 P2 + C0..C3 + N1 + N2 + N3..N8 (ss mm hh DD MM YY);
  a longer DATA is the ESAM-encrypted form: password and operator, then ciphertext;
* broadcast time 08H: ss mm hh DD MM YY; freeze 16H: mm hh DD MM (99 = every);
* read / write address 13H / 15H: the 6-byte address; error replies: ERR (1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_protocol.dlt645 import control as cc
from emms_protocol.dlt645.di_registry import DataItem645, lookup
from emms_protocol.dlt645.dlt1997 import lookup_1997
from emms_protocol.dlt645.formats import Clock, Digits, Value
from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor

_TIME_SYNC = Clock("smhDMY")
_ADDRESS = Digits(6)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Read (11H / 1997: 01H) or follow-up read (12H, with ``seq``)."""

    di: int
    di_code: str
    extra: bytes = b""
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ReadReply:
    """Read reply: the DI, its registry name and unit, and the value in engineering units.

    ``name`` is empty when the DI is not in the registry; ``raw`` then holds the value bytes.
    """

    di: int
    di_code: str
    name: str
    unit: str
    value: Value
    raw: bytes
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class WriteRequest:
    di: int
    di_code: str
    password_level: int
    password: str
    operator: str
    name: str
    unit: str
    value: Value
    raw: bytes


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """Abnormal reply: the ERR byte and the names of its set bits."""

    code: int
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """Control 1CH: trip / allow close / alarm / keep power; ``ciphertext`` set when encrypted."""

    password_level: int
    password: str
    operator: str
    action: str
    action_code: int
    valid_until: datetime | None
    ciphertext: bytes = b""


@dataclass(frozen=True, slots=True)
class TimeSync:
    time: datetime | None


@dataclass(frozen=True, slots=True)
class FreezeCommand:
    """Freeze 16H: ``None`` fields are the 99 wildcard; all four None = freeze now."""

    minute: int | None
    hour: int | None
    day: int | None
    month: int | None
    mode: str


@dataclass(frozen=True, slots=True)
class AddressBody:
    address: str


Body645 = ReadRequest | ReadReply | WriteRequest | ErrorReply | ControlCommand | TimeSync | FreezeCommand | AddressBody

_make_read_reply = fast_constructor(ReadReply)
_READ_REPLY = cc.READ | cc.FROM_METER


def spec_for(di: int, edition: int) -> DataItem645 | None:
    return lookup_1997(di) if edition == 1997 else lookup(di)


def di_code(di: int, edition: int) -> str:
    return f"{di:04X}" if edition == 1997 else f"{di:08X}"


def _decode_value(di: int, edition: int, raw: bytes) -> tuple[str, str, Value]:
    spec = spec_for(di, edition)
    if spec is None:
        return "", "", None
    return spec.name, spec.unit, spec.fmt.decode(raw)


def _password(data: bytes) -> tuple[int, str, str]:
    """PA P0 P1 P2 C0 C1 C2 C3 → (level, password P2P1P0 as hex, operator C3..C0 as hex)."""
    return data[0], data[3:0:-1].hex().upper(), data[7:3:-1].hex().upper()


def _split_di(data: bytes, width: int) -> tuple[int, bytes]:
    if len(data) < width:
        raise ProtocolError("length", detail=f"DATA of {len(data)} bytes has no {width}-byte DI")
    return int.from_bytes(data[:width], "little"), data[width:]


def _parse_read(function: int, from_meter: bool, edition: int, data: bytes) -> Body645:
    di, rest = _split_di(data, 2 if edition == 1997 else 4)
    code = di_code(di, edition)
    follow_up = function in (cc.READ_FOLLOW_UP, cc.READ_FOLLOW_UP_1997)
    if not from_meter:
        if follow_up:
            if len(rest) != 1:
                raise ProtocolError("length", detail="follow-up read needs DI + SEQ")
            return ReadRequest(di, code, b"", rest[0])
        return ReadRequest(di, code, rest)
    seq = None
    if follow_up and edition == 2007:
        if not rest:
            raise ProtocolError("length", detail="follow-up reply without SEQ")
        seq, rest = rest[-1], rest[:-1]
    name, unit, value = _decode_value(di, edition, rest)
    return _make_read_reply(di, code, name, unit, value, rest, seq)


def _parse_write(edition: int, data: bytes) -> Body645:
    di, rest = _split_di(data, 2 if edition == 1997 else 4)
    if edition == 1997:  # 1997 write: DI + PA P0 P1 P2 + value (no operator code)
        if len(rest) < 4:
            raise ProtocolError("length", detail="write without password")
        level, password, operator, value_raw = rest[0], rest[3:0:-1].hex().upper(), "", rest[4:]
    else:
        if len(rest) < 8:
            raise ProtocolError("length", detail="write without password and operator code")
        (level, password, operator), value_raw = _password(rest), rest[8:]
    name, unit, value = _decode_value(di, edition, value_raw)
    return WriteRequest(di, di_code(di, edition), level, password, operator, name, unit, value, value_raw)


def _parse_control(data: bytes) -> Body645:
    if len(data) < 8:
        raise ProtocolError("length", detail=f"control DATA of {len(data)} bytes, need at least 8")
    level, password, operator = _password(data)
    if len(data) != 16:
        return ControlCommand(level, password, operator, "encrypted", 0, None, data[8:])
    code = data[8]
    valid_until = Clock("smhDMY").decode(data[10:16])
    if not isinstance(valid_until, datetime | None):  # pragma: no cover - layout has Y and h
        raise ProtocolError("value")
    return ControlCommand(level, password, operator, cc.CONTROL_ACTION_NAMES.get(code, f"unknown_{code:02x}"),
                          code, valid_until)


def _parse_freeze(data: bytes) -> Body645:
    if len(data) != 4:
        raise ProtocolError("length", detail="freeze needs mm hh DD MM")
    fields: list[int | None] = []
    for b in data:
        fields.append(None if b == 0x99 else int(f"{b:02x}") if f"{b:02x}".isdigit() else -1)
    if -1 in fields:
        raise ProtocolError("bcd", detail=f"freeze time {data.hex(' ')} is not BCD")
    minute, hour, day, month = fields
    mode = ("instant" if hour is None and minute is None else "hourly" if hour is None
            else "daily" if day is None else "monthly" if month is None else "once")
    return FreezeCommand(minute, hour, day, month, mode)


def parse_body(edition: int, control: int, data: bytes) -> Body645 | None:  # noqa: C901 - one dispatch table
    """The typed body of DATA, or ``None`` when the function carries nothing to decode."""
    if control == _READ_REPLY and len(data) >= 4:  # the hot path: a 2007 meter reading
        di = int.from_bytes(data[:4], "little")
        rest = data[4:]
        spec = lookup(di)
        if spec is None:
            return _make_read_reply(di, f"{di:08X}", "", "", None, rest, None)
        return _make_read_reply(di, f"{di:08X}", spec.name, spec.unit, spec.fmt.decode(rest), rest, None)
    function = control & cc.FUNCTION_MASK
    from_meter = bool(control & cc.FROM_METER)
    if control & cc.ABNORMAL:
        if len(data) != 1:
            raise ProtocolError("length", detail=f"error reply with {len(data)} bytes, need ERR (1)")
        return ErrorReply(data[0], cc.error_names(data[0]))
    if edition == 1997:
        if function in (cc.READ_1997, cc.READ_FOLLOW_UP_1997):
            return _parse_read(function, from_meter, edition, data)
        if function == cc.WRITE_1997 and not from_meter:
            return _parse_write(edition, data)
        return None
    if function in (cc.READ, cc.READ_FOLLOW_UP):
        return _parse_read(function, from_meter, edition, data)
    if function == cc.WRITE and not from_meter:
        return _parse_write(edition, data)
    if function == cc.CONTROL and not from_meter:
        return _parse_control(data)
    if function == cc.BROADCAST_TIME and not from_meter:
        value = _TIME_SYNC.decode(data)
        if not isinstance(value, datetime | None):  # pragma: no cover - layout has Y and h
            raise ProtocolError("value")
        return TimeSync(value)
    if function == cc.FREEZE and not from_meter:
        return _parse_freeze(data)
    if (function == cc.READ_ADDRESS and from_meter) or (function == cc.WRITE_ADDRESS and not from_meter):
        return AddressBody(_ADDRESS.decode(data))
    return None


# ---- DATA builders (unscrambled) -------------------------------------------------


def password_bytes(level: int, password: str, operator: str) -> bytes:
    """PA + P0..P2 + C0..C3 from a level, 6 hex digits P2P1P0 and 8 hex digits C3..C0."""
    if not 0 <= level <= 0xFF:
        raise ProtocolError("value", detail=f"password level {level} is not a byte")
    try:
        p, op = bytes.fromhex(password), bytes.fromhex(operator)
    except ValueError:
        raise ProtocolError("value", detail="password and operator must be hex digits") from None
    if len(p) != 3 or len(op) != 4:
        raise ProtocolError("value", detail="password needs 6 hex digits, operator 8")
    return bytes((level,)) + p[::-1] + op[::-1]


def value_bytes(di: int, edition: int, value: object) -> bytes:
    """The value of ``di`` in its registry format (ProtocolError when the DI is not covered)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    spec = spec_for(di, edition)
    if spec is None:
        raise ProtocolError("unsupported", detail=f"DI {di_code(di, edition)} is not in the registry; pass bytes")
    return spec.fmt.encode(value)


def di_bytes(di: int, edition: int) -> bytes:
    width = 2 if edition == 1997 else 4
    if not 0 <= di < 256**width:
        raise ProtocolError("value", detail=f"DI {di:#x} does not fit {width} bytes")
    return di.to_bytes(width, "little")


def control_data(level: int, password: str, operator: str, action_code: int, valid_until: datetime) -> bytes:
    return (password_bytes(level, password, operator) + bytes((action_code, 0))
            + _TIME_SYNC.encode(valid_until))


def time_sync_data(when: datetime) -> bytes:
    return _TIME_SYNC.encode(when)


def freeze_data(minute: int | None, hour: int | None, day: int | None, month: int | None) -> bytes:
    out = bytearray()
    for value, top in ((minute, 59), (hour, 23), (day, 31), (month, 12)):
        if value is None:
            out.append(0x99)
        elif 0 <= value <= top:
            out.append(int(f"{value:02d}", 16))
        else:
            raise ProtocolError("value", detail=f"freeze field {value} out of range 0..{top}")
    return bytes(out)


def address_data(address: str) -> bytes:
    return _ADDRESS.encode(address)
