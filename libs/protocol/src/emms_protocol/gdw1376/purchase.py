"""Purchase (购电) control of Q/GDW 1376.1: the terminal-executed prepayment mode.

* AFN04 / AFN0A F47 购电量(费)控参数, pn = total-add group (总加组号), 17 bytes:
  purchase (bill) number BIN 4, add / refresh flag BIN 1 (``55H`` add to the remaining amount,
  ``AAH`` replace it), purchase amount, alarm threshold and trip threshold, each data format A.3;
* AFN04 / AFN0A F22 终端电能量费率 (the terminal's energy rates), p0: rate count M (BIN 1) and M rates,
  data format A.3 (厘 per kWh with G=0) — what a terminal's fee purse counts down with;
* AFN05 F16 购电控投入 (purchase control on) and F24 购电控解除 (off), pn = group, no data;
* AFN0C F23 终端当前剩余电量(费) (the terminal's current remaining energy / fee), pn = group, A.3.

Data format A.3 (4 bytes): seven BCD digits, byte 4 carries G in D6 (0: kWh / 厘, 1: MWh / 元)
and the sign S in D4 (1 negative), the millions digit in D3..D0. Values are kept here as signed
integers in the small unit (kWh, or 厘 = 0.001 元): G=1 is chosen on encoding only when the value
does not fit seven digits and is a whole multiple of 1000. Evidence in docs/protocol.md
("Purchase control").
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need, no_data

ADD = 0x55
"""Add / refresh flag: add the purchase to what remains (追加)."""
REFRESH = 0xAA
"""Add / refresh flag: the purchase replaces what remains (刷新)."""
A3_MAX = 9_999_999
A3_LIMIT = A3_MAX * 1000
"""The largest magnitude A.3 carries, in the small unit (with G=1)."""


def dec_a3(data: bytes, pos: int) -> int | None:
    """A.3 at ``pos`` → signed integer in kWh / 厘; None for the all-EE filler."""
    chunk = data[pos:pos + 4]
    if chunk == b"\xee\xee\xee\xee":
        return None
    top = chunk[3]
    try:
        digits = int(bytes((top & 0x0F, chunk[2], chunk[1], chunk[0])).hex())
    except ValueError:
        raise ProtocolError("bcd", pos, f"A.3 {chunk.hex()} is not BCD") from None
    if any((b >> 4) > 9 or (b & 0x0F) > 9 for b in chunk[:3]) or (top & 0x0F) > 9:
        raise ProtocolError("bcd", pos, f"A.3 {chunk.hex()} is not BCD")
    value = digits * (1000 if top & 0x40 else 1)
    return -value if top & 0x10 else value


def enc_a3(value: int | None) -> bytes:
    """A signed integer in kWh / 厘 → A.3 (None → all-EE)."""
    if value is None:
        return b"\xee\xee\xee\xee"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("value", detail=f"A.3 takes an integer in kWh / 厘, got {value!r}")
    magnitude, unit = abs(value), 0
    if magnitude > A3_MAX:
        if magnitude % 1000 or magnitude > A3_LIMIT:
            raise ProtocolError("value", detail=f"{value} does not fit A.3 (7 digits of kWh / 厘, or whole MWh / 元)")
        magnitude, unit = magnitude // 1000, 0x40
    raw = bytearray(bytes.fromhex(f"{magnitude:08d}"))[::-1]
    raw[3] = (raw[3] & 0x0F) | unit | (0x10 if value < 0 else 0)
    return bytes(raw)


@dataclass(frozen=True, slots=True)
class PurchaseControl:
    """F47: one purchase (购电单) and the cost-control thresholds of a total-add group.

    ``bill_number`` 0..2³²−1 (the terminal refuses a number it has seen: it counts each bill once),
    ``refresh`` False = add (55H) / True = replace (AAH); ``amount``, ``alarm``, ``trip`` in kWh for an
    energy purchase, 厘 (0.001 元) for a fee purchase (signed, see A.3).
    """

    bill_number: int
    refresh: bool
    amount: int | None
    alarm: int | None
    trip: int | None

    def __post_init__(self) -> None:
        if not 0 <= self.bill_number <= 0xFFFFFFFF:
            raise ProtocolError("value", detail=f"purchase number must be 0..2^32-1: {self.bill_number}")


@dataclass(frozen=True, slots=True)
class RemainingAmount:
    """AFN0C F23: what the terminal has left for the group, in kWh / 厘 (negative = overdrawn)."""

    remaining: int | None


@dataclass(frozen=True, slots=True)
class EnergyRates:
    """F22: the terminal's energy rates (费率 1..M, M ≤ 48), each in 厘 per kWh (A.3)."""

    rates: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.rates) <= 48:
            raise ProtocolError("value", detail=f"F22 carries 1..48 rates, got {len(self.rates)}")


def _decode_f22(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 1, "F22")
    m = data[pos]
    if not 1 <= m <= 48:
        raise ProtocolError("value", pos, f"F22 rate count must be 1..48, got {m}")
    need(end, pos + 1, 4 * m, "F22 rates")
    return EnergyRates(tuple(dec_a3(data, pos + 1 + 4 * i) for i in range(m))), pos + 1 + 4 * m


def _encode_f22(value: object, opts: Options) -> bytes:
    expect(value, EnergyRates, "F22")
    assert isinstance(value, EnergyRates)
    return bytes((len(value.rates),)) + b"".join(enc_a3(r) for r in value.rates)


def _decode_f47(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 17, "F47")
    flag = data[pos + 4]
    if flag not in (ADD, REFRESH):
        raise ProtocolError("value", pos + 4, f"F47 add / refresh flag must be 55H or AAH, got {flag:02X}H")
    value = PurchaseControl(int.from_bytes(data[pos:pos + 4], "little"), flag == REFRESH, dec_a3(data, pos + 5),
                            dec_a3(data, pos + 9), dec_a3(data, pos + 13))
    return value, pos + 17


def _encode_f47(value: object, opts: Options) -> bytes:
    expect(value, PurchaseControl, "F47")
    assert isinstance(value, PurchaseControl)
    return (value.bill_number.to_bytes(4, "little") + bytes((REFRESH if value.refresh else ADD,))
            + enc_a3(value.amount) + enc_a3(value.alarm) + enc_a3(value.trip))


def _decode_f23(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 4, "AFN0C F23")
    return RemainingAmount(dec_a3(data, pos)), pos + 4


def _encode_f23(value: object, opts: Options) -> bytes:
    expect(value, RemainingAmount, "AFN0C F23")
    assert isinstance(value, RemainingAmount)
    return enc_a3(value.remaining)


_F22 = FnCodec("terminal energy rates", _decode_f22, _encode_f22)
_F47 = FnCodec("purchase energy (fee) control parameters", _decode_f47, _encode_f47)

CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x04, 0, 22): _F22,
    (0x0A, 1, 22): _F22,
    (0x0A, 0, 22): no_data("query terminal energy rates"),
    (0x04, 0, 47): _F47,
    (0x0A, 1, 47): _F47,
    (0x0A, 0, 47): no_data("query purchase energy (fee) control parameters"),
    (0x05, 0, 16): no_data("purchase control on"),
    (0x05, 0, 24): no_data("purchase control off"),
    (0x0C, 1, 23): FnCodec("terminal current remaining energy (fee)", _decode_f23, _encode_f23),
}
