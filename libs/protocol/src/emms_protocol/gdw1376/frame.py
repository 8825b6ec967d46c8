"""The 1376.1 frame: ``68 L L 68 | C A AFN SEQ data AUX | CS 16`` (§1 of the notes).

``decode_frame`` checks the envelope (start bytes, doubled length with protocol
identifier, total length, end byte, checksum), splits the AUX field (PW on the
downlink AFNs that carry it, EC when ACD=1 on the uplink, Tp when TpV) and keeps
the data units as raw bytes in :attr:`Frame.body`; decoding them is
:func:`emms_protocol.gdw1376.units.decode_units`' job (lazy: a router that only
needs the address and AFN never pays for it). ``encode_frame`` is its exact
inverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import IntEnum

from emms_protocol.checksum import sum8
from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor
from emms_protocol.gdw1376.address import Address
from emms_protocol.gdw1376.control import Control
from emms_protocol.gdw1376.seq import DEVICE_TZ, Seq, TimeLabel


class AFN(IntEnum):
    """Application function codes (§1.4)."""

    CONFIRM = 0x00
    RESET = 0x01
    LINK_CHECK = 0x02
    RELAY = 0x03
    SET_PARAMS = 0x04
    CONTROL = 0x05
    AUTH = 0x06
    CASCADE = 0x08
    CONFIG = 0x09
    QUERY_PARAMS = 0x0A
    TASK_DATA = 0x0B
    CLASS1 = 0x0C
    CLASS2 = 0x0D
    CLASS3 = 0x0E
    FILE_TRANSFER = 0x0F
    FORWARD = 0x10


#: Downlink frames of these AFNs carry the 16-byte PW ([KSY] ``has_pw``).
PW_AFNS = frozenset({0x01, 0x04, 0x05, 0x06, 0x0F, 0x10})
PW_LEN = 16
EC_LEN = 2
TP_LEN = 6
PROTOCOL_ID = 2
MAX_USER_DATA = 0x3FFF
_FIXED = 8  # C + A(5) + AFN + SEQ
_AFN_TABLE: list[int] = [AFN(v) if v in AFN._value2member_map_ else v for v in range(256)]
_ADDRESS_CACHE: dict[bytes, Address] = {}
_ADDRESS_CACHE_MAX = 65536


@dataclass(frozen=True, slots=True)
class Frame:
    """One 1376.1 frame. ``body`` is the data-unit bytes only (DA DT data …), AUX split out.

    ``protocol_id`` is the identifier in the low two bits of L: 2 for 376.1 /
    1376.1; 1 and 3 are accepted on decode (devices disagree) and kept so that
    re-encoding is exact.
    """

    control: Control
    address: Address
    afn: int
    seq: Seq
    body: bytes
    pw: bytes | None = None
    ec: tuple[int, int] | None = None
    tp: TimeLabel | None = None
    protocol_id: int = PROTOCOL_ID

    @property
    def direction(self) -> int:
        return self.control.direction

    @property
    def key(self) -> str:
        return self.address.key


_make_frame = fast_constructor(Frame)


def has_pw(direction: int, afn: int) -> bool:
    return direction == 0 and afn in PW_AFNS


def decode_frame(raw: bytes | bytearray | memoryview, *, reference: datetime | None = None,
                 tz: tzinfo = DEVICE_TZ, strict_protocol_id: bool = False) -> Frame:
    """Decode one whole frame; raises :class:`ProtocolError` for anything malformed.

    ``reference`` is the time used to complete Tp's day-of-month into a date
    (default: now). ``strict_protocol_id`` refuses L identifiers other than 2.
    """
    if not isinstance(raw, bytes):
        raw = bytes(raw)
    pid = _check_envelope(raw, strict_protocol_id)
    size = len(raw)
    control = Control._TABLE[raw[6]]
    akey = raw[7:12]
    address = _ADDRESS_CACHE.get(akey)
    if address is None:
        address = Address(raw[7] | (raw[8] << 8), raw[9] | (raw[10] << 8), raw[11] >> 1, bool(raw[11] & 1))
        if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_MAX:
            _ADDRESS_CACHE.clear()
        _ADDRESS_CACHE[akey] = address
    afn = _AFN_TABLE[raw[12]]
    seq = Seq._TABLE[raw[13]]
    has_ec = control.direction == 1 and control.fcb_acd == 1
    with_pw = control.direction == 0 and afn in PW_AFNS
    end = size - 2 - (TP_LEN if seq.tpv else 0) - (EC_LEN if has_ec else 0) - (PW_LEN if with_pw else 0)
    if end < 14:
        raise ProtocolError("length", 14, "frame too short for its PW / EC / Tp")
    aux = end
    pw = ec = tp = None
    if with_pw:
        pw = raw[aux:aux + PW_LEN]
        aux += PW_LEN
    elif has_ec:
        ec = (raw[aux], raw[aux + 1])
        aux += EC_LEN
    if seq.tpv:
        tp = TimeLabel.from_bytes(raw[aux:aux + TP_LEN], reference, tz)
    return _make_frame(control, address, afn, seq, raw[14:end], pw, ec, tp, pid)


def _check_envelope(raw: bytes, strict_protocol_id: bool) -> int:
    """Start bytes, doubled L, protocol id, total length, end byte, checksum; returns the protocol id."""
    size = len(raw)
    if size < 6 + _FIXED + 2:
        raise ProtocolError("short", 0, f"{size} bytes cannot hold a 1376.1 frame")
    if raw[0] != 0x68 or raw[5] != 0x68:
        raise ProtocolError("start", 0 if raw[0] != 0x68 else 5, "start bytes 68 .. 68 missing")
    length = raw[1] | (raw[2] << 8)
    if length != raw[3] | (raw[4] << 8):
        raise ProtocolError("length", 3, "the two length copies differ")
    pid = length & 3
    if pid == 0 or (strict_protocol_id and pid != PROTOCOL_ID):
        raise ProtocolError("length", 1, f"protocol identifier {pid} in L is not 1376.1")
    total = (length >> 2) + 8
    if total != size:
        raise ProtocolError("short" if size < total else "length", size,
                            f"L says {total} bytes, frame has {size}")
    if (length >> 2) < _FIXED:
        raise ProtocolError("length", 1, f"user data of {length >> 2} bytes is too short")
    if raw[-1] != 0x16:
        raise ProtocolError("end", size - 1, f"end byte {raw[-1]:02X} is not 16")
    if sum8(raw, 6, size - 2) != raw[-2]:
        raise ProtocolError("checksum", size - 2, f"CS {raw[-2]:02X} != {sum8(raw, 6, size - 2):02X}")
    return pid


def encode_frame(frame: Frame, *, tz: tzinfo = DEVICE_TZ) -> bytes:
    """Build the wire bytes; refuses AUX fields that contradict C / SEQ / AFN."""
    control, seq = frame.control, frame.seq
    if seq.tpv != (frame.tp is not None):
        raise ProtocolError("value", detail="Tp must be present exactly when SEQ.TpV is set")
    if control.acd != (frame.ec is not None):
        raise ProtocolError("value", detail="EC must be present exactly on uplink frames with ACD=1")
    if has_pw(control.direction, frame.afn) != (frame.pw is not None):
        raise ProtocolError("value", detail=f"PW must be present exactly on downlink AFN {sorted(PW_AFNS)}")
    if frame.pw is not None and len(frame.pw) != PW_LEN:
        raise ProtocolError("value", detail=f"PW must be {PW_LEN} bytes")
    if not 0 <= frame.afn <= 255:
        raise ProtocolError("value", detail=f"AFN {frame.afn} out of range")
    if frame.protocol_id not in (1, 2, 3):
        raise ProtocolError("value", detail=f"protocol identifier {frame.protocol_id} not in 1..3")
    user = bytearray((control.to_byte(),))
    user += frame.address.to_bytes()
    user.append(frame.afn)
    user.append(seq.to_byte())
    user += frame.body
    if frame.pw is not None:
        user += frame.pw
    if frame.ec is not None:
        ec1, ec2 = frame.ec
        if not (0 <= ec1 <= 255 and 0 <= ec2 <= 255):
            raise ProtocolError("value", detail=f"EC {frame.ec} out of range")
        user += bytes((ec1, ec2))
    if frame.tp is not None:
        user += frame.tp.to_bytes(tz)
    if len(user) > MAX_USER_DATA:
        raise ProtocolError("length", detail=f"user data of {len(user)} bytes exceeds {MAX_USER_DATA}")
    length = (len(user) << 2) | frame.protocol_id
    head = bytes((0x68, length & 0xFF, length >> 8, length & 0xFF, length >> 8, 0x68))
    return head + bytes(user) + bytes((sum(user) & 0xFF, 0x16))
