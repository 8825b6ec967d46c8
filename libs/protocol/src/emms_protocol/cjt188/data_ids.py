"""CJ/T 188 data identifiers and their byte order on the wire.

Sources and real meters disagree on the order of the two DI bytes: 901F is
mostly sent ``1F 90`` (low byte first) but some meters answer ``90 1F``; the
8xxx / Axxx identifiers are sent ``81 0A`` / ``A0 17`` (high byte first) by the
tested implementations. So:

* decoding accepts either order of a *known* DI and reports which one it saw;
* encoding takes ``di_order``: ``"le"`` (low byte first), ``"be"`` (high byte
  first) or ``"auto"`` — the per-DI convention above (9xxx/Dxxx ``le``,
  8xxx/Axxx ``be``; **UNVERIFIED**, make it a per-meter-model setting).
"""

from __future__ import annotations

from typing import Final

from emms_protocol.errors import ProtocolError

CURRENT_DATA = 0x901F
REALTIME_2018 = 0x907F
HEAT_COOL_2018 = 0x911F
PRICE_TABLE = 0x8102
SETTLEMENT_DAY = 0x8103
READING_DAY = 0x8104
PURCHASE = 0x8105
KEY_VERSION = 0x8106
READ_ADDRESS = 0x810A
WRITE_PRICE = 0xA010
WRITE_SETTLEMENT_DAY = 0xA011
WRITE_READING_DAY = 0xA012
WRITE_PURCHASE = 0xA013
WRITE_KEY = 0xA014
WRITE_TIME = 0xA015
WRITE_SYNC_VALUE = 0xA016
VALVE_CONTROL = 0xA017
WRITE_ADDRESS = 0xA018
FACTORY_ENABLE = 0xA019
HISTORY_FIRST = 0xD120  # D120..D12B: last 1..12 months' settlement data

NAMES: Final[dict[int, str]] = {
    CURRENT_DATA: "current_data",
    REALTIME_2018: "realtime_data_2018",
    HEAT_COOL_2018: "heat_cool_data_2018",
    PRICE_TABLE: "price_table",
    SETTLEMENT_DAY: "settlement_day",
    READING_DAY: "reading_day",
    PURCHASE: "purchase_amount",
    KEY_VERSION: "key_version",
    READ_ADDRESS: "read_address",
    WRITE_PRICE: "write_price",
    WRITE_SETTLEMENT_DAY: "write_settlement_day",
    WRITE_READING_DAY: "write_reading_day",
    WRITE_PURCHASE: "write_purchase",
    WRITE_KEY: "write_key",
    WRITE_TIME: "write_time",
    WRITE_SYNC_VALUE: "write_sync_value",
    VALVE_CONTROL: "valve_control",
    WRITE_ADDRESS: "write_address",
    FACTORY_ENABLE: "factory_enable",
    **{HISTORY_FIRST + m: f"history_month_{m + 1}" for m in range(12)},
}
KNOWN: Final[frozenset[int]] = frozenset(NAMES)
ORDERS: Final = ("auto", "le", "be")


def conventional_order(di: int) -> str:
    """The order tested implementations use for ``di``: ``be`` for 8xxx/Axxx, else ``le``."""
    return "be" if di >> 12 in (0x8, 0xA) else "le"


def di_to_bytes(di: int, order: str = "auto") -> bytes:
    if not 0 <= di <= 0xFFFF:
        raise ProtocolError("value", detail=f"DI {di:#x} does not fit 2 bytes")
    if order not in ORDERS:
        raise ProtocolError("value", detail=f"di_order {order!r} is not one of {ORDERS}")
    if order == "auto":
        order = conventional_order(di)
    return di.to_bytes(2, "little" if order == "le" else "big")


def di_from_bytes(b0: int, b1: int) -> tuple[int | None, str]:
    """(DI, order seen) of the two wire bytes; (None, "") when neither order is a known DI."""
    le, be = (b1 << 8) | b0, (b0 << 8) | b1
    le_known, be_known = le in KNOWN, be in KNOWN
    if le_known and be_known:
        return (le, "le") if conventional_order(le) == "le" else (be, "be")
    if le_known:
        return le, "le"
    if be_known:
        return be, "be"
    return None, ""
