"""Ready-to-send CJ/T 188 frames: the master's requests and the meter's replies (simulator).

``meter_type`` is T (``0x10`` cold water, ``0x20`` heat, ``0x30`` gas …),
``address`` the 14 hex digits A6..A0, ``seq`` the SER byte the meter echoes.
``di_order`` is the per-meter-model DI byte order (``"auto"`` / ``"le"`` /
``"be"``, see :mod:`emms_protocol.cjt188.data_ids`).
"""

from __future__ import annotations

from datetime import datetime

from emms_protocol.cjt188 import data_ids as ids
from emms_protocol.cjt188 import meter_types as mt
from emms_protocol.cjt188.bodies import VALVE_CODES, time_bytes
from emms_protocol.cjt188.frame import WILDCARD, address_bytes, encode_raw
from emms_protocol.cjt188.layouts import HeatData, Status188, WaterGasData, encode_current_data
from emms_protocol.errors import ProtocolError


def _data(di: int, seq: int, payload: bytes, di_order: str) -> bytes:
    if not 0 <= seq <= 0xFF:
        raise ProtocolError("value", detail=f"SER {seq} is not a byte")
    return ids.di_to_bytes(di, di_order) + bytes((seq,)) + payload


def read_request(meter_type: int, address: str, di: int = ids.CURRENT_DATA, *, seq: int = 0,
                 di_order: str = "auto", preamble: int = 0) -> bytes:
    """Read data (01H) of ``di`` (901F current data by default)."""
    return encode_raw(meter_type, address, mt.READ_DATA, _data(di, seq, b"", di_order), preamble)


def read_reply(meter_type: int, address: str, di: int, value: WaterGasData | HeatData | bytes, *,
               seq: int = 0, di_order: str = "auto", preamble: int = 0) -> bytes:
    """Meter side: read reply (81H); ``value`` a 901F layout or the raw payload bytes."""
    payload = bytes(value) if isinstance(value, bytes | bytearray) else encode_current_data(value)
    return encode_raw(meter_type, address, mt.READ_DATA | mt.FROM_METER, _data(di, seq, payload, di_order),
                      preamble)


def valve_command(meter_type: int, address: str, action: str, *, seq: int = 0, di_order: str = "auto",
                  preamble: int = 0) -> bytes:
    """Valve control (04H, DI A017): ``action`` ``"open"`` (55H) or ``"close"`` (99H)."""
    if action not in VALVE_CODES:
        raise ProtocolError("value", detail=f"valve action {action!r} is not open / close")
    data = _data(ids.VALVE_CONTROL, seq, bytes((VALVE_CODES[action],)), di_order)
    return encode_raw(meter_type, address, mt.WRITE_DATA, data, preamble)


def write_time(meter_type: int, address: str, when: datetime, *, seq: int = 0, di_order: str = "auto",
               time_layout: str = "ss_first", preamble: int = 0) -> bytes:
    """Write standard time (04H, DI A015); aware times are converted to CST."""
    data = _data(ids.WRITE_TIME, seq, time_bytes(when, time_layout), di_order)
    return encode_raw(meter_type, address, mt.WRITE_DATA, data, preamble)


def write_reply(meter_type: int, address: str, di: int, status: Status188 | int, *, seq: int = 0,
                di_order: str = "auto", preamble: int = 0) -> bytes:
    """Meter side: normal write reply (84H) carrying ST."""
    raw = status if isinstance(status, int) else status.raw
    if not 0 <= raw <= 0xFFFF:
        raise ProtocolError("value", detail=f"ST {raw} is not 2 bytes")
    data = _data(di, seq, raw.to_bytes(2, "little"), di_order)
    return encode_raw(meter_type, address, mt.WRITE_DATA | mt.FROM_METER, data, preamble)


def error_reply(meter_type: int, address: str, function: int, status: Status188 | int, *, seq: int = 0,
                preamble: int = 0) -> bytes:
    """Meter side: abnormal reply (C | C0H) with SER + ST and no DI."""
    raw = status if isinstance(status, int) else status.raw
    if not 0 <= raw <= 0xFFFF or not 0 <= seq <= 0xFF:
        raise ProtocolError("value", detail="ST must be 2 bytes and SER one byte")
    control = (function & mt.FUNCTION_MASK) | mt.FROM_METER | mt.ABNORMAL
    return encode_raw(meter_type, address, control, bytes((seq,)) + raw.to_bytes(2, "little"), preamble)


def read_address(*, meter_type: int = mt.WILDCARD_TYPE, seq: int = 0, di_order: str = "auto",
                 preamble: int = 0) -> bytes:
    """Read address (03H, DI 810A) to the wildcard address; only one meter may be on the bus."""
    return encode_raw(meter_type, WILDCARD, mt.READ_ADDRESS, _data(ids.READ_ADDRESS, seq, b"", di_order), preamble)


def address_reply(meter_type: int, address: str, *, seq: int = 0, di_order: str = "auto",
                  preamble: int = 0) -> bytes:
    """Meter side: the 83H reply to :func:`read_address` (the address is in the header)."""
    data = _data(ids.READ_ADDRESS, seq, b"", di_order)
    return encode_raw(meter_type, address, mt.READ_ADDRESS | mt.FROM_METER, data, preamble)


def write_address(meter_type: int, address: str, new_address: str, *, seq: int = 0, di_order: str = "auto",
                  preamble: int = 0) -> bytes:
    """Write address (15H, DI A018) to ``new_address``."""
    data = _data(ids.WRITE_ADDRESS, seq, address_bytes(new_address), di_order)
    return encode_raw(meter_type, address, mt.WRITE_ADDRESS, data, preamble)
