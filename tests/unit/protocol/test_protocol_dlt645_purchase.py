"""DL/T 645-2007 cost-control frames (plaintext): recharge 03H / 070102FF and its answers, threshold and price
writes (14H), the read-back DIs — round trips, the wire layout byte by byte, and refusals of bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_protocol import ProtocolError, dlt645
from emms_protocol.dlt645 import ReadReply, WriteRequest
from emms_protocol.dlt645 import purchase as p645
from emms_protocol.dlt645.di_registry import lookup

ADDRESS = "000009000301"
addresses = st.text("0123456789", min_size=12, max_size=12)
customers = st.text("0123456789", min_size=12, max_size=12)
u32 = st.integers(0, 0xFFFF_FFFF)
macs = st.binary(min_size=4, max_size=4)


@given(addresses, u32, u32, customers, macs, macs, st.integers(0, 4))
def test_recharge_round_trips(address: str, amount: int, count: int, customer: str, mac1: bytes, mac2: bytes,
                              preamble: int) -> None:
    recharge = p645.Recharge(amount, count, customer, mac1, mac2)
    raw = p645.recharge_request(address, recharge, "11223344", preamble=preamble)
    request = p645.parse_security_request(raw)
    assert (request.address, request.di, request.operator) == (address, p645.RECHARGE, "11223344")
    assert p645.parse_recharge(request.payload) == recharge
    frame = dlt645.decode_frame(raw)  # the generic decoder takes it too (03H: no typed body)
    assert frame.function == "security" and not frame.from_meter and len(frame.data) == 30


@given(addresses, st.one_of(st.none(), st.tuples(u32, u32, customers)))
def test_normal_answer_round_trips(address: str, state: tuple[int, int, str] | None) -> None:
    if state is None:
        answer = p645.parse_recharge_answer(p645.recharge_ack(address, preamble=4))
        assert answer == p645.RechargeAnswer(True)
    else:
        remaining, count, customer = state
        raw = p645.recharge_ack(address, remaining_cents=remaining, count=count, customer=customer)
        assert p645.parse_recharge_answer(raw) == p645.RechargeAnswer(True, remaining_cents=remaining, count=count,
                                                                      customer=customer)


@given(addresses, st.integers(0, 0xFFFF))
def test_abnormal_answer_round_trips(address: str, serr: int) -> None:
    answer = p645.parse_recharge_answer(p645.security_error(address, serr))
    assert not answer.ok and answer.serr == serr
    assert answer.errors == tuple(name for bit, name in p645.SECURITY_ERROR_BITS if serr & bit)


def test_recharge_wire_layout() -> None:
    raw = p645.recharge_request(ADDRESS, p645.Recharge(10_050, 2, "123456789012"), "00000000")
    assert raw[8] == 0x03 and raw[9] == 30  # C = 03H, L = DI 4 + operator 4 + 22
    data = bytes((b - 0x33) & 0xFF for b in raw[10:40])
    assert data[:4] == bytes.fromhex("FF020107")  # DI0..DI3 of 070102FF
    assert data[8:12] == (10_050).to_bytes(4, "little")  # amount, binary, 0.01 yuan
    assert data[12:16] == (2).to_bytes(4, "little")  # count
    assert data[16:20] == bytes(4) and data[26:30] == bytes(4)  # MAC1, MAC2: zero (no ESAM)
    assert data[20:26] == bytes.fromhex("129078563412")  # customer number, BCD, low byte first


def test_the_encryptor_fills_the_macs() -> None:
    def esam(plain: bytes) -> bytes:
        return plain[:8] + b"\xaa" * 4 + plain[12:18] + b"\xbb" * 4
    raw = p645.recharge_request(ADDRESS, p645.Recharge(1, 1, "000000000001"), encryptor=esam)
    parsed = p645.parse_recharge(p645.parse_security_request(raw).payload)
    assert (parsed.mac1, parsed.mac2) == (b"\xaa" * 4, b"\xbb" * 4)
    with pytest.raises(ProtocolError):
        p645.recharge_request(ADDRESS, p645.Recharge(1, 1, "000000000001"), encryptor=lambda b: b[:10])


def test_named_security_errors() -> None:
    raw = p645.security_error(ADDRESS, ["repeated_recharge", "customer_mismatch"])
    assert raw[8] == 0xC3 and raw[9] == 2
    assert p645.parse_recharge_answer(raw).errors == ("repeated_recharge", "customer_mismatch")
    with pytest.raises(ProtocolError):
        p645.security_error(ADDRESS, ["no_such_bit"])


@pytest.mark.parametrize("bad", [
    lambda: p645.Recharge(-1, 1, "000000000001").payload(),
    lambda: p645.Recharge(2**32, 1, "000000000001").payload(),
    lambda: p645.Recharge(1, 1, "12345").payload(),
    lambda: p645.Recharge(1, 1, "12345678901A").payload(),
    lambda: p645.recharge_request(ADDRESS, p645.Recharge(1, 1, "000000000001"), "123"),
    lambda: p645.parse_recharge(bytes(21)),
    lambda: p645.parse_security_request(dlt645.read_request(ADDRESS, p645.REMAINING)),
    lambda: p645.parse_recharge_answer(dlt645.ack_reply(ADDRESS, 0x14)),
    lambda: p645.threshold_write(ADDRESS, p645.REMAINING, 1, password="02000000", operator="00000000"),
    lambda: p645.threshold_write(ADDRESS, p645.ALARM_1, "1.005", password="02000000", operator="00000000"),
    lambda: p645.threshold_write(ADDRESS, p645.ALARM_1, -1, password="02000000", operator="00000000"),
    lambda: p645.price_write(ADDRESS, "0.00001", password="02000000", operator="00000000"),
])
def test_bad_input_is_refused(bad: object) -> None:
    with pytest.raises(ProtocolError):
        bad()  # type: ignore[operator]


@given(st.sampled_from(p645.THRESHOLDS), st.integers(0, 99_999_999))
def test_threshold_writes_round_trip(di: int, cents: int) -> None:
    amount = Decimal(cents) / 100
    frame = dlt645.decode_frame(p645.threshold_write(ADDRESS, di, amount, password="02000000", operator="00000000"))
    body = frame.body
    assert isinstance(body, WriteRequest) and body.di == di and body.unit == "CNY"
    assert Decimal(str(body.value)) == amount


@given(st.integers(0, 99_999_999))
def test_price_write_round_trips(ten_thousandths: int) -> None:
    price = Decimal(ten_thousandths) / 10_000
    body = dlt645.decode_frame(p645.price_write(ADDRESS, price, password="02000000", operator="00000000")).body
    assert isinstance(body, WriteRequest) and body.di == p645.PRICE_1
    assert Decimal(str(body.value)) == price


@given(st.integers(0, 99_999_999), st.integers(0, 9999))
def test_read_back_replies_decode(cents: int, count: int) -> None:
    remaining = dlt645.decode_frame(dlt645.read_reply(ADDRESS, p645.REMAINING, cents / 100)).body
    counted = dlt645.decode_frame(dlt645.read_reply(ADDRESS, p645.PURCHASE_COUNT, count)).body
    assert isinstance(remaining, ReadReply) and round(float(remaining.value) * 100) == cents  # type: ignore[arg-type]
    assert isinstance(counted, ReadReply) and counted.value == count
    assert dlt645.decode_frame(p645.read_remaining(ADDRESS)).body == dlt645.ReadRequest(p645.REMAINING, "00900200")
    assert dlt645.decode_frame(p645.read_purchase_count(ADDRESS)).body == dlt645.ReadRequest(p645.PURCHASE_COUNT,
                                                                                             "03330201")


def test_registry_names_the_cost_control_items() -> None:
    names = {di: lookup(di).name for di in (*p645.THRESHOLDS, p645.PRICE_1, p645.PURCHASE_COUNT,  # type: ignore[union-attr]
                                            p645.REMAINING, p645.OVERDRAFT)}
    assert names[p645.OVERDRAFT_LIMIT] == "prepay.overdraft_limit"
    assert names[p645.ALLOW_CLOSE_LIMIT] == "prepay.allow_close_limit"
    assert names[p645.PURCHASE_COUNT] == "prepay.purchase_count.last_1"
    assert names[p645.REMAINING] == "balance.remaining"
