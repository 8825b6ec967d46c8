"""CJ/T 188-2004 payloads: the 901F layouts (water / gas and heat), status word, real time.

All numbers are BCD, least significant byte first, *not* scrambled. After DI
and SER the 901F reply carries (bytes):

* water / gas (19): current cumulative flow 4+unit, settlement-day flow 4+unit,
  real time 7, ST 2 (L = 22);
* heat (43): settlement-day heat 4+unit, current heat 4+unit, heat power
  4+unit, flow rate 4+unit (XXXX.XXXX), cumulative flow 4+unit, supply and
  return temperature 3 each (XXXX.XX °C), working hours 3, real time 7, ST 2
  (L = 46; [NG188]'s 3-byte power and flow would give 44 — the real capture has 46).

The layout is chosen by payload length, so a vendor type code inside the wrong
range still decodes. Real time is ss mm hh DD MM YY(low) YY(high); an all-zero
or impossible time decodes to ``None`` (meters without a clock send zeros).
ST byte 0: D1 D0 valve (00 open, 01 closed, 1x fault), D2 battery low;
byte 1 and D3..D7 are vendor-defined and kept in ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_protocol.cjt188.units import unit_name
from emms_protocol.dlt645.formats import DEVICE_TZ, Number
from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor

WATER_GAS_SIZE = 19
HEAT_SIZE = 43

_VOLUME = Number(4, 2)
_FLOW_RATE = Number(4, 4)
_TEMPERATURE = Number(3, 2)
_HOURS = Number(3, 0)


@dataclass(frozen=True, slots=True)
class Quantity:
    """A metered value with the unit code the meter sent (value in that unit)."""

    value: float | None
    unit_code: int
    unit: str


@dataclass(frozen=True, slots=True)
class Status188:
    """ST: ``valve`` is ``open`` / ``closed`` / ``fault``; ``raw`` = ST0 | ST1 << 8."""

    raw: int
    valve: str
    battery_low: bool


@dataclass(frozen=True, slots=True)
class WaterGasData:
    current: Quantity
    settlement: Quantity
    time: datetime | None
    status: Status188


@dataclass(frozen=True, slots=True)
class HeatData:
    settlement_heat: Quantity
    current_heat: Quantity
    heat_power: Quantity
    flow_rate: Quantity
    cumulative_flow: Quantity
    supply_temperature: float | None
    return_temperature: float | None
    working_hours: int | None
    time: datetime | None
    status: Status188


_make_quantity = fast_constructor(Quantity)
_make_status = fast_constructor(Status188)
_make_water_gas = fast_constructor(WaterGasData)


def status(raw: int) -> Status188:
    valve_bits = raw & 0x03
    valve = "open" if valve_bits == 0 else "closed" if valve_bits == 1 else "fault"
    return _make_status(raw, valve, bool(raw & 0x04))


def status_word(valve: str, battery_low: bool = False, vendor_bits: int = 0) -> Status188:
    """A Status188 from its meaning (meter side); ``vendor_bits`` fills D3..D15."""
    bits = {"open": 0, "closed": 1, "fault": 3}.get(valve)
    if bits is None:
        raise ProtocolError("value", detail=f"valve state {valve!r} is not open / closed / fault")
    return status((vendor_bits & 0xFFF8) | bits | (4 if battery_low else 0))


def decode_time(data: bytes) -> datetime | None:
    digits = data[::-1].hex()
    if not digits.isdigit() or not any(data):
        return None
    year, month, day, hour, minute, second = (int(digits[0:4]), int(digits[4:6]), int(digits[6:8]),
                                              int(digits[8:10]), int(digits[10:12]), int(digits[12:14]))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=DEVICE_TZ)
    except ValueError:
        return None


def encode_time(when: datetime | None) -> bytes:
    if when is None:
        return bytes(7)
    t = when.astimezone(DEVICE_TZ) if when.tzinfo is not None else when
    return bytes.fromhex(f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}")[::-1]


def _quantity(data: bytes, fmt: Number = _VOLUME) -> Quantity:
    value = fmt.decode(data[:4])
    return _make_quantity(None if value is None else float(value), data[4], unit_name(data[4]))


def _quantity_bytes(q: Quantity, fmt: Number = _VOLUME) -> bytes:
    if not 0 <= q.unit_code <= 0xFF:
        raise ProtocolError("value", detail=f"unit code {q.unit_code} is not a byte")
    return fmt.encode(q.value) + bytes((q.unit_code,))


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def decode_current_data(payload: bytes) -> WaterGasData | HeatData:
    """The 901F payload after DI and SER, by its length."""
    if len(payload) == WATER_GAS_SIZE:
        return _make_water_gas(_quantity(payload[0:5]), _quantity(payload[5:10]), decode_time(payload[10:17]),
                            status(int.from_bytes(payload[17:19], "little")))
    if len(payload) == HEAT_SIZE:
        hours = _HOURS.decode(payload[31:34])
        return HeatData(
            settlement_heat=_quantity(payload[0:5]),
            current_heat=_quantity(payload[5:10]),
            heat_power=_quantity(payload[10:15]),
            flow_rate=_quantity(payload[15:20], _FLOW_RATE),
            cumulative_flow=_quantity(payload[20:25]),
            supply_temperature=_float(_TEMPERATURE.decode(payload[25:28])),
            return_temperature=_float(_TEMPERATURE.decode(payload[28:31])),
            working_hours=None if hours is None else int(hours),
            time=decode_time(payload[34:41]),
            status=status(int.from_bytes(payload[41:43], "little")),
        )
    raise ProtocolError("length", detail=f"901F payload of {len(payload)} bytes is neither "
                                         f"water/gas ({WATER_GAS_SIZE}) nor heat ({HEAT_SIZE})")


def _status_bytes(st: Status188) -> bytes:
    if not 0 <= st.raw <= 0xFFFF:
        raise ProtocolError("value", detail=f"ST {st.raw} is not 2 bytes")
    return st.raw.to_bytes(2, "little")


def encode_current_data(data: WaterGasData | HeatData) -> bytes:
    """Meter side: the 901F payload (after DI and SER) of ``data``."""
    if isinstance(data, WaterGasData):
        return (_quantity_bytes(data.current) + _quantity_bytes(data.settlement) + encode_time(data.time)
                + _status_bytes(data.status))
    return b"".join((
        _quantity_bytes(data.settlement_heat), _quantity_bytes(data.current_heat), _quantity_bytes(data.heat_power),
        _quantity_bytes(data.flow_rate, _FLOW_RATE), _quantity_bytes(data.cumulative_flow),
        _TEMPERATURE.encode(data.supply_temperature), _TEMPERATURE.encode(data.return_temperature),
        _HOURS.encode(data.working_hours), encode_time(data.time), _status_bytes(data.status),
    ))
