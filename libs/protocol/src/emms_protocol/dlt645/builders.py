"""Ready-to-send DL/T 645 frames: the master's requests and the meter's replies (simulator).

Addresses are 12 hex digits A5..A0 as printed on the meter (``"151230011061"``);
DIs are ints DI3..DI0 (``0x00010000``; 1997: ``0x9010``). Passwords are 8 hex
digits ``PA P2 P1 P0`` (level first, e.g. ``"02000000"``), operator codes 8 hex
digits C3..C0. Every builder returns wire bytes, optionally preceded by
``preamble`` FE bytes. Bad arguments raise ProtocolError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from emms_protocol.dlt645 import control as cc
from emms_protocol.dlt645.bodies import (
    address_data,
    control_data,
    di_bytes,
    freeze_data,
    password_bytes,
    time_sync_data,
    value_bytes,
)
from emms_protocol.dlt645.frame import BROADCAST, WILDCARD, encode_raw
from emms_protocol.errors import ProtocolError

#: Control-command validity when none is given: far in the future, as deployed masters send.
FOREVER = datetime(2099, 12, 30)
#: Optional ESAM hook for 1CH: gets the plaintext N1..N8 (8 bytes), returns what replaces them.
Encryptor = Callable[[bytes], bytes]


def _split_password(password: str) -> tuple[int, str]:
    if len(password) != 8:
        raise ProtocolError("value", detail=f"password {password!r} is not 8 hex digits (PA P2 P1 P0)")
    try:
        return int(password[:2], 16), password[2:]
    except ValueError:
        raise ProtocolError("value", detail=f"password {password!r} is not hex") from None


def read_request(address: str, di: int, *, preamble: int = 0) -> bytes:
    """Read data (11H) of ``di`` from the meter at ``address`` (``WILDCARD`` when alone on the bus)."""
    return encode_raw(address, cc.READ, di_bytes(di, 2007), preamble)


def read_follow_up(address: str, di: int, seq: int, *, preamble: int = 0) -> bytes:
    """Read follow-up data (12H): the frame ``seq`` of a multi-frame answer."""
    if not 0 <= seq <= 0xFF:
        raise ProtocolError("value", detail=f"SEQ {seq} is not a byte")
    return encode_raw(address, cc.READ_FOLLOW_UP, di_bytes(di, 2007) + bytes((seq,)), preamble)


def read_reply(address: str, di: int, value: object, *, follow_up: bool = False, preamble: int = 0) -> bytes:
    """Meter side: normal read reply 91H (B1H with ``follow_up``) carrying ``value`` in the DI's format.

    ``value`` is what the decoder yields for that DI (float, tuple for blocks, datetime ...);
    raw ``bytes`` are sent unchanged.
    """
    control = cc.READ | cc.FROM_METER | (cc.FOLLOW_UP if follow_up else 0)
    return encode_raw(address, control, di_bytes(di, 2007) + value_bytes(di, 2007, value), preamble)


def error_reply(address: str, function: int, errors: int | Iterable[str], *, preamble: int = 0) -> bytes:
    """Meter side: abnormal reply to ``function`` (e.g. 11H → D1H) with the ERR bits (int or names)."""
    if isinstance(errors, int):
        err = errors
    else:
        names = {name: bit for bit, name in cc.ERROR_BITS}
        try:
            err = sum(names[n] for n in set(errors))
        except KeyError as exc:
            raise ProtocolError("value", detail=f"unknown error bit {exc}") from None
    if not 0 <= err <= 0xFF:
        raise ProtocolError("value", detail=f"ERR {err} is not a byte")
    control = (function & cc.FUNCTION_MASK) | cc.FROM_METER | cc.ABNORMAL
    return encode_raw(address, control, bytes((err,)), preamble)


def ack_reply(address: str, function: int, *, preamble: int = 0) -> bytes:
    """Meter side: normal reply without data (write 94H, control 9CH, freeze 96H …)."""
    return encode_raw(address, (function & cc.FUNCTION_MASK) | cc.FROM_METER, b"", preamble)


def write_request(address: str, di: int, value: object, *, password: str, operator: str,
                  preamble: int = 0) -> bytes:
    """Write data (14H): DI + password + operator code + value in the DI's format."""
    level, pw = _split_password(password)
    data = di_bytes(di, 2007) + password_bytes(level, pw, operator) + value_bytes(di, 2007, value)
    return encode_raw(address, cc.WRITE, data, preamble)


def control_command(address: str, action: str | int, password: str, operator: str,
                    valid_until: datetime = FOREVER, *, encryptor: Encryptor | None = None,
                    preamble: int = 0) -> bytes:
    """Control (1CH): ``action`` trip / allow_close / close / alarm / alarm_release / keep_power /
    keep_power_release (or the N1 code), valid until ``valid_until`` (meter wall clock when naive).

    With ``encryptor`` the plaintext N1..N8 is replaced by its output (ESAM ciphertext + MAC).
    """
    if isinstance(action, str):
        if action not in cc.CONTROL_ACTIONS:
            raise ProtocolError("value", detail=f"unknown control action {action!r}")
        code = cc.CONTROL_ACTIONS[action]
    else:
        code = action
    if not 0 <= code <= 0xFF:
        raise ProtocolError("value", detail=f"N1 {code} is not a byte")
    level, pw = _split_password(password)
    data = control_data(level, pw, operator, code, valid_until)
    if encryptor is not None:
        data = data[:8] + encryptor(data[8:])
    return encode_raw(address, cc.CONTROL, data, preamble)


def broadcast_time_sync(when: datetime, *, address: str = BROADCAST, preamble: int = 0) -> bytes:
    """Broadcast time sync (08H) to 99…99; meters do not answer. Aware times are converted to CST."""
    return encode_raw(address, cc.BROADCAST_TIME, time_sync_data(when), preamble)


def freeze(address: str, *, minute: int | None = None, hour: int | None = None, day: int | None = None,
           month: int | None = None, preamble: int = 0) -> bytes:
    """Freeze (16H): all None = freeze now; otherwise a timed freeze with 99 wildcards
    (minute only = hourly, minute + hour = daily, + day = monthly). Broadcast with ``BROADCAST``."""
    return encode_raw(address, cc.FREEZE, freeze_data(minute, hour, day, month), preamble)


def read_address(*, preamble: int = 0) -> bytes:
    """Read communication address (13H) to the wildcard address; only one meter may be on the bus."""
    return encode_raw(WILDCARD, cc.READ_ADDRESS, b"", preamble)


def address_reply(address: str, *, preamble: int = 0) -> bytes:
    """Meter side: the 93H reply to :func:`read_address`."""
    return encode_raw(address, cc.READ_ADDRESS | cc.FROM_METER, address_data(address), preamble)


def read_request_1997(address: str, di: int, *, preamble: int = 0) -> bytes:
    """DL/T 645-1997 read (01H) of a 2-byte DI (e.g. ``0x9010``)."""
    return encode_raw(address, cc.READ_1997, di_bytes(di, 1997), preamble)


def read_reply_1997(address: str, di: int, value: object, *, preamble: int = 0) -> bytes:
    """Meter side: DL/T 645-1997 read reply (81H)."""
    return encode_raw(address, cc.READ_1997 | cc.FROM_METER, di_bytes(di, 1997) + value_bytes(di, 1997, value),
                      preamble)
