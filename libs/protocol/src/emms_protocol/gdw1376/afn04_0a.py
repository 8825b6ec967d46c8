"""AFN 04 (set parameters, downlink, PW present) and AFN 0A (query parameters) — same layouts.

The data of AFN 04 Fn (downlink) and of the AFN 0A answer (uplink) are the
same; the AFN 0A query (downlink) carries nothing except for F10, which lists
the device serial numbers wanted.

* F1 uplink communication parameters ([LM-C] ``sMtAfn04F1_f``, 6 bytes);
* F3 master station IP addresses, ports and APN ([LM-C] ``sMtAfn04F3_f``, 28 bytes);
* F10 meter / AC-sampling device configuration (count + 27-byte records, §3.4);
* F25 measurement-point basic parameters (11 bytes; the last two fields,
  rated load A.23 and wiring byte, from the standard's table — [LM-C] stops
  after the rated current);
* F89 terminal address: A1 (BCD, 2) + A2 (BIN, 2) — 1376.1-2013 addition,
  UNVERIFIED layout.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need, no_data
from emms_protocol.gdw1376.layout import A7, A22, A23, U16, ascii_field, record_codec

BAUD_CODES = (0, 600, 1200, 2400, 4800, 7200, 9600, 19200)  # index = code; 0 = port default


@dataclass(frozen=True, slots=True)
class UplinkCommParams:
    """F1. ``rts_20ms`` modem RTS delay, ``master_delay_min`` allowed transmission delay as initiator,
    ``response_timeout_s`` 0..4095 and ``resend_count`` 0..3, which active reports need a confirm, heartbeat."""

    rts_20ms: int
    master_delay_min: int
    response_timeout_s: int
    resend_count: int
    confirm_class1: bool
    confirm_class2: bool
    confirm_class3: bool
    heartbeat_min: int


@dataclass(frozen=True, slots=True)
class MasterAddress:
    """F3: primary / backup master IPv4 address and TCP port, APN (ASCII, 16 bytes)."""

    primary_ip: str
    primary_port: int
    backup_ip: str
    backup_port: int
    apn: str


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """One F10 record: which meter (address, protocol, port) belongs to which measurement point."""

    serial: int
    pn: int
    port: int
    baud: int
    protocol: int
    address: str
    password: str
    tariffs: int
    integer_digits: int
    decimal_digits: int
    collector: str
    big_class: int
    small_class: int


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """F10 set / query answer: the records."""

    records: tuple[MeterRecord, ...]


@dataclass(frozen=True, slots=True)
class MeterConfigQuery:
    """AFN0A F10 request: device serial numbers to report."""

    serials: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PointBasicParams:
    """F25: PT and CT ratios, rated voltage (V), rated current (A), rated load (kVA), wiring.

    ``wiring``: 1 three-phase three-wire, 2 three-phase four-wire, 3 single phase;
    ``phase``: for single phase, 1 A / 2 B / 3 C (0 unknown).
    """

    pt_ratio: int
    ct_ratio: int
    rated_voltage: float | None
    rated_current: float | None
    rated_load: float | None
    wiring: int
    phase: int


@dataclass(frozen=True, slots=True)
class TerminalAddress:
    """F89: the terminal's A1 (BCD area code as its 16-bit value) and A2."""

    area: int
    terminal: int


# --- F1 -------------------------------------------------------------------------------------------

def _decode_f1(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 6, "F1")
    b = data[pos:pos + 6]
    value = UplinkCommParams(b[0], b[1], b[2] | ((b[3] & 0x0F) << 8), (b[3] >> 4) & 0x03,
                             bool(b[4] & 1), bool(b[4] & 2), bool(b[4] & 4), b[5])
    return value, pos + 6


def _encode_f1(value: object, opts: Options) -> bytes:
    expect(value, UplinkCommParams, "F1")
    assert isinstance(value, UplinkCommParams)
    v = value
    if not (0 <= v.response_timeout_s <= 4095 and 0 <= v.resend_count <= 3
            and all(0 <= x <= 255 for x in (v.rts_20ms, v.master_delay_min, v.heartbeat_min))):
        raise ProtocolError("value", detail=f"F1 out of range: {v!r}")
    flags = int(v.confirm_class1) | int(v.confirm_class2) << 1 | int(v.confirm_class3) << 2
    return bytes((v.rts_20ms, v.master_delay_min, v.response_timeout_s & 0xFF,
                  (v.response_timeout_s >> 8) | (v.resend_count << 4), flags, v.heartbeat_min))


# --- F3 -------------------------------------------------------------------------------------------

_APN = ascii_field(16)


def _ip(data: bytes, pos: int) -> str:
    return ".".join(str(b) for b in data[pos:pos + 4])


def _ip_bytes(text: str) -> bytes:
    try:
        return ipaddress.IPv4Address(text).packed
    except ValueError:
        raise ProtocolError("value", detail=f"{text!r} is not an IPv4 address") from None


def _port_bytes(port: int) -> bytes:
    if not 0 <= port <= 0xFFFF:
        raise ProtocolError("value", detail=f"port {port} out of range")
    return port.to_bytes(2, "little")


def _decode_f3(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 28, "F3")
    value = MasterAddress(_ip(data, pos), int.from_bytes(data[pos + 4:pos + 6], "little"), _ip(data, pos + 6),
                          int.from_bytes(data[pos + 10:pos + 12], "little"), _APN.decode(data, pos + 12, opts))
    return value, pos + 28


def _encode_f3(value: object, opts: Options) -> bytes:
    expect(value, MasterAddress, "F3")
    assert isinstance(value, MasterAddress)
    apn = value.apn.encode("latin-1", errors="replace")
    if len(apn) > 16:
        raise ProtocolError("value", detail="APN longer than 16 bytes")
    return (_ip_bytes(value.primary_ip) + _port_bytes(value.primary_port) + _ip_bytes(value.backup_ip)
            + _port_bytes(value.backup_port) + apn.ljust(16, b"\x00"))


# --- F9 -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EventConfig:
    """F9 terminal event record configuration (终端事件记录配置设置): which ERC codes the terminal records
    (``recorded``) and which of them are important (``important``: class 1, ACD), each as a BS64 with bit
    ERC − 1 (ERC 1..64): two 8-byte bit strings, recorded first. Checked against public implementations, not
    the standard's text: a terminal test bench's F9 of ``40 00 … 00`` enabling ERC 7, and C / JavaScript codecs
    with 8 bytes of record-valid flags then 8 of importance flags, byte j bit i = ERC 8j + i + 1."""

    recorded: tuple[int, ...]
    important: tuple[int, ...]


def _bits(data: bytes) -> tuple[int, ...]:
    word = int.from_bytes(data, "little")
    return tuple(erc for erc in range(1, 65) if word >> (erc - 1) & 1)


def _bits_bytes(codes: tuple[int, ...], what: str) -> bytes:
    word = 0
    for erc in codes:
        if not 1 <= erc <= 64:
            raise ProtocolError("value", detail=f"{what}: ERC {erc} outside 1..64")
        word |= 1 << (erc - 1)
    return word.to_bytes(8, "little")


def _decode_f9(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 16, "F9")
    return EventConfig(_bits(data[pos:pos + 8]), _bits(data[pos + 8:pos + 16])), pos + 16


def _encode_f9(value: object, opts: Options) -> bytes:
    expect(value, EventConfig, "F9")
    assert isinstance(value, EventConfig)
    return _bits_bytes(value.recorded, "recorded") + _bits_bytes(value.important, "important")


# --- F10 ------------------------------------------------------------------------------------------

_RECORD = 27


def _hex6(data: bytes, pos: int) -> str:
    return data[pos:pos + 6][::-1].hex()


def _hex6_bytes(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise ProtocolError("value", detail=f"{what} must be 12 hex digits, got {text!r}")
    return raw[::-1]


def _decode_record(data: bytes, pos: int) -> MeterRecord:
    speed, digits, cls = data[pos + 4], data[pos + 19], data[pos + 26]
    return MeterRecord(
        serial=int.from_bytes(data[pos:pos + 2], "little"), pn=int.from_bytes(data[pos + 2:pos + 4], "little"),
        port=speed & 0x1F, baud=BAUD_CODES[speed >> 5], protocol=data[pos + 5], address=_hex6(data, pos + 6),
        password=_hex6(data, pos + 12), tariffs=data[pos + 18],
        integer_digits=((digits >> 2) & 0x03) + 4, decimal_digits=(digits & 0x03) + 1,
        collector=_hex6(data, pos + 20), big_class=cls >> 4, small_class=cls & 0x0F)


def _encode_record(r: MeterRecord) -> bytes:
    if r.baud not in BAUD_CODES:
        raise ProtocolError("value", detail=f"baud {r.baud} not in {BAUD_CODES}")
    if not (1 <= r.port <= 31 and 4 <= r.integer_digits <= 7 and 1 <= r.decimal_digits <= 4
            and 0 <= r.big_class <= 15 and 0 <= r.small_class <= 15 and 0 <= r.protocol <= 255
            and 0 <= r.tariffs <= 255):
        raise ProtocolError("value", detail=f"F10 record out of range: {r!r}")
    return (U16.encode(r.serial, DEFAULT) + U16.encode(r.pn, DEFAULT)
            + bytes(((BAUD_CODES.index(r.baud) << 5) | r.port, r.protocol))
            + _hex6_bytes(r.address, "meter address") + _hex6_bytes(r.password, "meter password")
            + bytes((r.tariffs, ((r.integer_digits - 4) << 2) | (r.decimal_digits - 1)))
            + _hex6_bytes(r.collector, "collector address") + bytes(((r.big_class << 4) | r.small_class,)))


def _decode_f10(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 2, "F10")
    n = int.from_bytes(data[pos:pos + 2], "little")
    pos += 2
    need(end, pos, n * _RECORD, "F10 records")
    records = tuple(_decode_record(data, p) for p in range(pos, pos + n * _RECORD, _RECORD))
    return MeterConfig(records), pos + n * _RECORD


def _encode_f10(value: object, opts: Options) -> bytes:
    expect(value, MeterConfig, "F10")
    assert isinstance(value, MeterConfig)
    return len(value.records).to_bytes(2, "little") + b"".join(_encode_record(r) for r in value.records)


def _decode_f10_query(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 2, "AFN0A F10 query")
    n = int.from_bytes(data[pos:pos + 2], "little")
    pos += 2
    need(end, pos, 2 * n, "AFN0A F10 serials")
    serials = tuple(int.from_bytes(data[p:p + 2], "little") for p in range(pos, pos + 2 * n, 2))
    return MeterConfigQuery(serials), pos + 2 * n


def _encode_f10_query(value: object, opts: Options) -> bytes:
    expect(value, MeterConfigQuery, "AFN0A F10 query")
    assert isinstance(value, MeterConfigQuery)
    if any(not 0 <= s <= 0xFFFF for s in value.serials):
        raise ProtocolError("value", detail="serial numbers are 0..65535")
    return len(value.serials).to_bytes(2, "little") + b"".join(s.to_bytes(2, "little") for s in value.serials)


# --- F25 / F89 ------------------------------------------------------------------------------------

def _decode_f25(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 11, "F25")
    wiring = data[pos + 10]
    value = PointBasicParams(U16.decode(data, pos, opts), U16.decode(data, pos + 2, opts),
                             A7.decode(data, pos + 4, opts), A22.decode(data, pos + 6, opts),
                             A23.decode(data, pos + 7, opts), wiring & 0x03, (wiring >> 2) & 0x03)
    return value, pos + 11


def _encode_f25(value: object, opts: Options) -> bytes:
    expect(value, PointBasicParams, "F25")
    assert isinstance(value, PointBasicParams)
    if not (0 <= value.wiring <= 3 and 0 <= value.phase <= 3):
        raise ProtocolError("value", detail=f"F25 wiring / phase out of range: {value!r}")
    return (U16.encode(value.pt_ratio, opts) + U16.encode(value.ct_ratio, opts) + A7.encode(value.rated_voltage, opts)
            + A22.encode(value.rated_current, opts) + A23.encode(value.rated_load, opts)
            + bytes((value.wiring | (value.phase << 2),)))


_F89 = record_codec("terminal address", TerminalAddress, [U16, U16])
DEFAULT = Options()

_PARAMS: dict[int, FnCodec] = {
    1: FnCodec("uplink communication parameters", _decode_f1, _encode_f1),
    3: FnCodec("master station IP address and port", _decode_f3, _encode_f3),
    9: FnCodec("terminal event record configuration", _decode_f9, _encode_f9),
    10: FnCodec("meter / AC sampling device configuration", _decode_f10, _encode_f10),
    25: FnCodec("measurement point basic parameters", _decode_f25, _encode_f25),
    89: _F89,
}

CODECS: dict[tuple[int, int, int], FnCodec] = {}
for _fn, _codec in _PARAMS.items():
    CODECS[(0x04, 0, _fn)] = _codec
    CODECS[(0x0A, 1, _fn)] = _codec
    CODECS[(0x0A, 0, _fn)] = no_data(f"query {_codec.name}")
CODECS[(0x0A, 0, 10)] = FnCodec("query meter configuration", _decode_f10_query, _encode_f10_query)
