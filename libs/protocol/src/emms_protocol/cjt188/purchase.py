"""CJ/T 188-2004 prepaid meters: write the purchase amount (04H, DI A013) and read it back (01H, DI 8105).

* A010 write price table: price 1, step 1, price 2, step 2, price 3 (3 BCD bytes each; prices XXXX.XX 元
  per unit — decimals **UNVERIFIED**); a single-price meter gets one price three times;
* A013 write: purchase number (购入序号, 1 BCD byte, 0..99) + purchase amount (本次购入金额, 4 BCD bytes,
  XXXXXX.XX 元, low byte first); the meter answers 84H with ST;
* 8105 read reply: purchase number (1 BCD) + this purchase (4 BCD) + purchased in total (累计购入金额,
  4 BCD) + remaining amount (剩余金额, 4 BCD) + ST (2). Amounts are cents here (integers, exact).

Layout as public meter and master code transcribe the standard's table (docs/protocol.md, "CJ/T 188
purchase"). The standard's security layer (a key, DI 8106 / A014) is not used: the plaintext write.
A meter takes a purchase whose number is the one after its last (mod 100) and refuses any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.cjt188 import data_ids as ids
from emms_protocol.cjt188 import meter_types as mt
from emms_protocol.cjt188.frame import encode_raw
from emms_protocol.errors import ProtocolError

MAX_CENTS = 99_999_999


def _bcd(value: int, width: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 100**width:
        raise ProtocolError("value", detail=f"{what} {value!r} does not fit {width} BCD bytes")
    return bytes.fromhex(f"{value:0{2 * width}d}")[::-1]


def _unbcd(raw: bytes, what: str) -> int:
    try:
        text = raw[::-1].hex()
        if not text.isdigit():
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise ProtocolError("bcd", detail=f"{what} {raw.hex()} is not BCD") from None


@dataclass(frozen=True, slots=True)
class PurchaseWrite:
    """A013: the purchase number (0..99) and the amount bought, in cents."""

    number: int
    amount_cents: int

    def payload(self) -> bytes:
        return _bcd(self.number, 1, "purchase number") + _bcd(self.amount_cents, 4, "purchase amount")


@dataclass(frozen=True, slots=True)
class PurchaseState:
    """8105 reply: last purchase number, its amount, all purchased and what remains (cents), ST."""

    number: int
    last_cents: int
    total_cents: int
    remaining_cents: int
    status: int = 0

    def payload(self) -> bytes:
        return (_bcd(self.number, 1, "purchase number") + _bcd(self.last_cents, 4, "purchase amount")
                + _bcd(self.total_cents, 4, "purchased in total") + _bcd(self.remaining_cents, 4, "remaining amount")
                + self.status.to_bytes(2, "little"))


def price_payload(price_cents: int) -> bytes:
    """A010 price table with one price: price 1, step 1 = 0, price 2, step 2 = 0, price 3 (3 BCD bytes each,
    prices XXXX.XX 元 per unit, steps XXXXXX units — a single-price meter)."""
    price = _bcd(price_cents, 3, "price")
    return price + b"\x00\x00\x00" + price + b"\x00\x00\x00" + price


def write_price(meter_type: int, address: str, price_cents: int, *, seq: int = 0, di_order: str = "auto") -> bytes:
    data = ids.di_to_bytes(ids.WRITE_PRICE, di_order) + bytes((seq & 0xFF,)) + price_payload(price_cents)
    return encode_raw(meter_type, address, mt.WRITE_DATA, data)


def parse_write(payload: bytes) -> PurchaseWrite:
    if len(payload) != 5:
        raise ProtocolError("length", detail=f"A013 needs 5 bytes (number, amount), got {len(payload)}")
    return PurchaseWrite(_unbcd(payload[:1], "purchase number"), _unbcd(payload[1:5], "purchase amount"))


def parse_state(payload: bytes) -> PurchaseState:
    if len(payload) != 15:
        raise ProtocolError("length", detail=f"8105 reply needs 15 bytes, got {len(payload)}")
    return PurchaseState(_unbcd(payload[:1], "purchase number"), _unbcd(payload[1:5], "purchase amount"),
                         _unbcd(payload[5:9], "purchased in total"), _unbcd(payload[9:13], "remaining amount"),
                         int.from_bytes(payload[13:15], "little"))


def write_purchase(meter_type: int, address: str, purchase: PurchaseWrite, *, seq: int = 0,
                   di_order: str = "auto") -> bytes:
    data = ids.di_to_bytes(ids.WRITE_PURCHASE, di_order) + bytes((seq & 0xFF,)) + purchase.payload()
    return encode_raw(meter_type, address, mt.WRITE_DATA, data)


def read_purchase(meter_type: int, address: str, *, seq: int = 0, di_order: str = "auto") -> bytes:
    data = ids.di_to_bytes(ids.PURCHASE, di_order) + bytes((seq & 0xFF,))
    return encode_raw(meter_type, address, mt.READ_DATA, data)


def purchase_reply(meter_type: int, address: str, state: PurchaseState, *, seq: int = 0,
                   di_order: str = "auto") -> bytes:
    data = ids.di_to_bytes(ids.PURCHASE, di_order) + bytes((seq & 0xFF,)) + state.payload()
    return encode_raw(meter_type, address, mt.READ_DATA | mt.FROM_METER, data)
