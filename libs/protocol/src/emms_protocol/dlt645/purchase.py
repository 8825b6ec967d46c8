"""DL/T 645-2007 cost-control (费控) meters: remote recharge, the purse thresholds and their read-back — in the
*plaintext* form of the State Grid cost-control meter frames.

A real cost-control meter takes money only through its ESAM: the master authenticates (03H, 070000FF) and
the recharge carries MACs the ESAM computes. Without an ESAM the frames are built here with the MAC fields
**zero-filled**; an ``encryptor`` hook (as :func:`emms_protocol.dlt645.builders.control_command` has for 1CH)
gets the plaintext N1..Nm and returns what replaces it (the same fields with the MACs filled). Layouts as
public meter firmware and master code transcribe them (docs/protocol-dlt645-cjt188.md, "cost-control meters"):

* **recharge** (远程充值), control code 03H (security), DI ``070102FF``:
  DI (4) + operator code C0..C3 (4) + purchase amount (4, binary, 0.01 yuan, low byte first) +
  purchase count (4, binary) + MAC1 (4) + customer number (6, BCD, low byte first) + MAC2 (4);
  the meter takes it when its own count is the command's − 1 (then counts +1), calls the same count again
  a repeated recharge (SERR bit 1) and any other count a count error (SERR bit 5);
* **normal answer** 83H: the DI (4), optionally followed (some firmware) by remaining (4, binary, 0.01
  yuan), count (4) and customer number (6) — both forms are parsed;
* **abnormal answer** C3H: SERR, the security error word (2 bytes, low first): bit 0 other, 1 repeated
  recharge, 2 ESAM verification failed, 3 identity authentication failed, 4 customer number mismatch,
  5 recharge count error, 6 purchase over the hoarding limit;
* **thresholds** written with 14H (write data), XXXXXX.XX yuan as 4 BCD bytes: 04001001 / 04001002 alarm
  amount 1 / 2, 04001003 overdraft limit, 04001004 hoarding limit, 04001005 allow-close amount limit;
  the price 04050101 (first rate table, price 1, XXXX.XXXX yuan per kWh);
* **read-back** (11H): 00900200 remaining amount, 00900201 overdraft amount (XXXXXX.XX), 03330201 the total
  purchase count after the last purchase (XXXX), 04000503 status word 3 (bit 4: relay open).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from emms_protocol.dlt645 import control as cc
from emms_protocol.dlt645.bodies import di_bytes
from emms_protocol.dlt645.builders import read_request, write_request
from emms_protocol.dlt645.frame import PREAMBLE, encode_raw, split_frame
from emms_protocol.dlt645.scramble import unscramble
from emms_protocol.errors import ProtocolError

RECHARGE = 0x070102FF
ALARM_1 = 0x04001001
ALARM_2 = 0x04001002
OVERDRAFT_LIMIT = 0x04001003
HOARD_LIMIT = 0x04001004
ALLOW_CLOSE_LIMIT = 0x04001005
PRICE_1 = 0x04050101
REMAINING = 0x00900200
OVERDRAFT = 0x00900201
PURCHASE_COUNT = 0x03330201
STATUS_WORD_3 = 0x04000503
RELAY_OPEN = 0x0010  # status word 3, bit 4

#: The thresholds written with 14H, each XXXXXX.XX yuan (4 BCD bytes).
THRESHOLDS: tuple[int, ...] = (ALARM_1, ALARM_2, OVERDRAFT_LIMIT, HOARD_LIMIT, ALLOW_CLOSE_LIMIT)

#: SERR (安全认证错误信息字) bit → name.
SECURITY_ERROR_BITS: tuple[tuple[int, str], ...] = (
    (0x0001, "other"),
    (0x0002, "repeated_recharge"),
    (0x0004, "esam_verification_failed"),
    (0x0008, "authentication_failed"),
    (0x0010, "customer_mismatch"),
    (0x0020, "recharge_count_error"),
    (0x0040, "hoarding_limit_exceeded"),
)
MAC_ZERO = bytes(4)
MAX_BINARY = 0xFFFF_FFFF
RECHARGE_LENGTH = 22  # N1..Nm: amount 4 + count 4 + MAC1 4 + customer 6 + MAC2 4

#: ESAM hook: gets the plaintext N1..Nm (22 bytes, MACs zero), returns what replaces them (22 bytes).
Encryptor = Callable[[bytes], bytes]


def _binary(value: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BINARY:
        raise ProtocolError("value", detail=f"{what} {value!r} does not fit 4 binary bytes")
    return value.to_bytes(4, "little")


def _customer_bytes(customer: str) -> bytes:
    if len(customer) != 12 or not customer.isdigit():
        raise ProtocolError("value", detail=f"customer number {customer!r} is not 12 decimal digits")
    return bytes.fromhex(customer)[::-1]


def _customer(raw: bytes) -> str:
    digits = raw[::-1].hex()
    if not digits.isdigit():
        raise ProtocolError("bcd", detail=f"customer number {raw.hex(' ')} is not BCD")
    return digits


def _operator_bytes(operator: str) -> bytes:
    try:
        op = bytes.fromhex(operator)
    except ValueError:
        raise ProtocolError("value", detail=f"operator code {operator!r} is not hex") from None
    if len(op) != 4:
        raise ProtocolError("value", detail=f"operator code {operator!r} is not 8 hex digits (C3..C0)")
    return op[::-1]


@dataclass(frozen=True, slots=True)
class Recharge:
    """The recharge's N1..Nm: amount (0.01 yuan), the purchase count it makes, the customer number (12
    digits), the MACs (zero-filled without an ESAM)."""

    amount_cents: int
    count: int
    customer: str
    mac1: bytes = MAC_ZERO
    mac2: bytes = MAC_ZERO

    def payload(self) -> bytes:
        if len(self.mac1) != 4 or len(self.mac2) != 4:
            raise ProtocolError("value", detail="a MAC is 4 bytes")
        return (_binary(self.amount_cents, "purchase amount") + _binary(self.count, "purchase count") + self.mac1
                + _customer_bytes(self.customer) + self.mac2)


@dataclass(frozen=True, slots=True)
class SecurityRequest:
    """A 03H request: its DI, the operator code (C3..C0 as hex) and N1..Nm."""

    address: str
    di: int
    operator: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class RechargeAnswer:
    """The meter's answer to a recharge: taken (83H) or refused (C3H with SERR and its bit names). A normal
    answer of the longer form also carries what remains (0.01 yuan), the count and the customer number."""

    ok: bool
    serr: int = 0
    errors: tuple[str, ...] = ()
    remaining_cents: int | None = None
    count: int | None = None
    customer: str | None = None


def parse_recharge(payload: bytes) -> Recharge:
    """N1..Nm of a 070102FF request."""
    if len(payload) != RECHARGE_LENGTH:
        raise ProtocolError("length", detail=f"recharge needs {RECHARGE_LENGTH} bytes after the operator code,"
                                             f" got {len(payload)}")
    return Recharge(int.from_bytes(payload[:4], "little"), int.from_bytes(payload[4:8], "little"),
                    _customer(payload[12:18]), payload[8:12], payload[18:22])


def recharge_request(address: str, recharge: Recharge, operator: str = "00000000", *,
                     encryptor: Encryptor | None = None, preamble: int = 0) -> bytes:
    """03H recharge (070102FF) to the meter at ``address``; MACs as in ``recharge`` (zero) unless ``encryptor``."""
    body = recharge.payload()
    if encryptor is not None:
        body = encryptor(body)
        if len(body) != RECHARGE_LENGTH:
            raise ProtocolError("length", detail=f"the encryptor returned {len(body)} bytes, need {RECHARGE_LENGTH}")
    return encode_raw(address, cc.SECURITY, di_bytes(RECHARGE, 2007) + _operator_bytes(operator) + body, preamble)


def _frame(raw: bytes) -> tuple[str, int, bytes]:
    """(address, control, unscrambled DATA) of exactly one 645 frame (leading FE allowed)."""
    pos = 0
    while pos < len(raw) and raw[pos] == PREAMBLE:
        pos += 1
    start, stop = split_frame(raw, pos)
    if stop != len(raw):
        raise ProtocolError("length", stop, f"{len(raw) - stop} bytes after the end byte")
    return raw[start + 1:start + 7][::-1].hex().upper(), raw[start + 8], unscramble(raw[start + 10:stop - 2])


def parse_security_request(raw: bytes) -> SecurityRequest:
    """A 03H request (master → meter): ProtocolError when ``raw`` is another frame."""
    address, control, data = _frame(bytes(raw))
    if control != cc.SECURITY:
        raise ProtocolError("value", detail=f"control {control:02X} is not a security request (03)")
    if len(data) < 8:
        raise ProtocolError("length", detail=f"security DATA of {len(data)} bytes has no DI and operator code")
    return SecurityRequest(address, int.from_bytes(data[:4], "little"), data[7:3:-1].hex().upper(), data[8:])


def security_error_names(serr: int) -> tuple[str, ...]:
    return tuple(name for bit, name in SECURITY_ERROR_BITS if serr & bit)


def recharge_ack(address: str, *, remaining_cents: int | None = None, count: int | None = None,
                 customer: str | None = None, preamble: int = 0) -> bytes:
    """Meter side: the normal answer 83H — the DI, or (all three given) the DI with remaining, count, customer."""
    data = di_bytes(RECHARGE, 2007)
    if remaining_cents is not None and count is not None and customer is not None:
        data += _binary(remaining_cents, "remaining amount") + _binary(count, "purchase count") \
            + _customer_bytes(customer)
    return encode_raw(address, cc.SECURITY | cc.FROM_METER, data, preamble)


def security_error(address: str, errors: int | Iterable[str], *, preamble: int = 0) -> bytes:
    """Meter side: the abnormal answer C3H with SERR (2 bytes, low first), from an int or bit names."""
    if isinstance(errors, int):
        serr = errors
    else:
        names = {name: bit for bit, name in SECURITY_ERROR_BITS}
        try:
            serr = sum(names[n] for n in set(errors))
        except KeyError as exc:
            raise ProtocolError("value", detail=f"unknown security error bit {exc}") from None
    if not 0 <= serr <= 0xFFFF:
        raise ProtocolError("value", detail=f"SERR {serr} is not 2 bytes")
    return encode_raw(address, cc.SECURITY | cc.FROM_METER | cc.ABNORMAL, serr.to_bytes(2, "little"), preamble)


def parse_recharge_answer(raw: bytes) -> RechargeAnswer:
    """The meter's answer to a recharge (83H or C3H); ProtocolError for anything else."""
    _, control, data = _frame(bytes(raw))
    if control == cc.SECURITY | cc.FROM_METER | cc.ABNORMAL:
        if len(data) != 2:
            raise ProtocolError("length", detail=f"SERR needs 2 bytes, got {len(data)}")
        serr = int.from_bytes(data, "little")
        return RechargeAnswer(False, serr, security_error_names(serr))
    if control != cc.SECURITY | cc.FROM_METER:
        raise ProtocolError("value", detail=f"control {control:02X} is not a security answer (83 / C3)")
    if len(data) < 4 or int.from_bytes(data[:4], "little") != RECHARGE:
        raise ProtocolError("value", detail="the answer does not carry the recharge DI 070102FF")
    if len(data) == 4:
        return RechargeAnswer(True)
    if len(data) != 18:
        raise ProtocolError("length", detail=f"a recharge answer has 4 or 18 bytes of DATA, got {len(data)}")
    return RechargeAnswer(True, remaining_cents=int.from_bytes(data[4:8], "little"),
                          count=int.from_bytes(data[8:12], "little"), customer=_customer(data[12:18]))


def _yuan(value: Decimal | int | float | str, what: str) -> float:
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ProtocolError("value", detail=f"{what} {value} is not a non-negative amount in 0.01 yuan")
    return float(amount)


def threshold_write(address: str, di: int, yuan: Decimal | int | float | str, *, password: str, operator: str,
                    preamble: int = 0) -> bytes:
    """14H write of one threshold (:data:`THRESHOLDS`), XXXXXX.XX yuan."""
    if di not in THRESHOLDS:
        raise ProtocolError("value", detail=f"DI {di:08X} is not a cost-control threshold")
    return write_request(address, di, _yuan(yuan, "threshold"), password=password, operator=operator,
                         preamble=preamble)


def price_write(address: str, yuan_per_kwh: Decimal | int | float | str, *, password: str, operator: str,
                preamble: int = 0) -> bytes:
    """14H write of the price (04050101, XXXX.XXXX yuan per kWh)."""
    price = Decimal(str(yuan_per_kwh))
    if not price.is_finite() or price < 0 or price != price.quantize(Decimal("0.0001")):
        raise ProtocolError("value", detail=f"price {yuan_per_kwh} is not a non-negative XXXX.XXXX")
    return write_request(address, PRICE_1, float(price), password=password, operator=operator, preamble=preamble)


def read_remaining(address: str, *, preamble: int = 0) -> bytes:
    return read_request(address, REMAINING, preamble=preamble)


def read_purchase_count(address: str, *, preamble: int = 0) -> bytes:
    return read_request(address, PURCHASE_COUNT, preamble=preamble)


__all__ = [
    "ALARM_1", "ALARM_2", "ALLOW_CLOSE_LIMIT", "HOARD_LIMIT", "OVERDRAFT", "OVERDRAFT_LIMIT", "PRICE_1",
    "PURCHASE_COUNT", "RECHARGE", "RELAY_OPEN", "REMAINING", "STATUS_WORD_3", "THRESHOLDS", "Recharge",
    "RechargeAnswer", "SecurityRequest", "parse_recharge", "parse_recharge_answer", "parse_security_request",
    "price_write", "read_purchase_count", "read_remaining", "recharge_ack", "recharge_request",
    "security_error", "security_error_names", "threshold_write",
]
