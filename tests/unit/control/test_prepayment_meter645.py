"""Electricity meter mode without a broker: the data units a decided operation sends a DL/T 645-2007 cost-control
meter (price and threshold writes, the plaintext recharge with its verify read) and the read-back of what a
meter answers (remaining, overdraft, purchase count) as the FEP hands it over."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from emms_control.commands import checks
from emms_control.prepayment import readback, topology, units
from emms_control.prepayment.rules import Mode
from emms_messages.terminal import DownlinkResult, RequestOutcome
from emms_protocol import dlt645
from emms_protocol.dlt645 import WriteRequest
from emms_protocol.dlt645 import purchase as p645
from emms_protocol.gdw1376 import Address, DataUnit, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.json_view import frame_view, from_jsonable

DEVICE = {"utility": "electricity", "meter_address": "000009000301", "port": None, "pn": 3}


def _inner(unit: dict[str, Any]) -> bytes:
    value = from_jsonable(unit["data"]["value"], ForwardRequest)
    assert isinstance(value, ForwardRequest) and value.port == units.PORT_645
    return value.payload


def test_price_and_thresholds_are_14h_writes() -> None:
    plan = units.plan({"kind": "price", "mode": "meter", "price": "0.5123"}, DEVICE)
    body = dlt645.decode_frame(_inner(plan.units[0])).body
    assert plan.afn == 0x10 and isinstance(body, WriteRequest) and body.di == p645.PRICE_1 and body.value == 0.5123
    assert (body.password_level, body.password) == (2, "000000")
    written = []
    for di, amount in units.thresholds_645("20", "-5"):
        plan = units.plan({"kind": "threshold", "mode": "meter", "di": f"{di:08X}", "amount": str(amount)}, DEVICE)
        body = dlt645.decode_frame(_inner(plan.units[0])).body
        assert isinstance(body, WriteRequest)
        written.append((body.di, body.value))
    assert written == [(p645.ALARM_1, 20.0), (p645.ALARM_2, 20.0), (p645.OVERDRAFT_LIMIT, 5.0),
                       (p645.ALLOW_CLOSE_LIMIT, 0.0)]


def test_a_purchase_is_a_plaintext_recharge_verified_by_the_purchase_count() -> None:
    customer = units.customer_number("acc-1")
    assert customer == units.customer_number("acc-1") and len(customer) == 12 and customer.isdigit()
    plan = units.plan({"kind": "purchase", "mode": "meter", "amount": "123.45", "purchase_number": 7,
                       "customer": customer}, DEVICE)
    request = p645.parse_security_request(_inner(plan.units[0]))
    assert request.di == p645.RECHARGE and request.address == "000009000301"
    assert p645.parse_recharge(request.payload) == p645.Recharge(12_345, 7, customer)  # MACs zero
    assert plan.verify is not None
    read = dlt645.decode_frame(_inner(plan.verify["units"][0])).body
    assert read == dlt645.ReadRequest(p645.PURCHASE_COUNT, "03330201")


def _result(reply: bytes) -> DownlinkResult:
    request = builders.request(Address(0x3701, 9), 0x10, [DataUnit(0, 1, ForwardRequest(31, 0x6B, 0x85, 10,
                                                                                             b"\x68"))], 1)
    response = builders.response(request, [DataUnit(0, 1, ForwardReply(31, reply))])
    view = frame_view(decode_frame(encode_frame(response)))
    return DownlinkResult(request_id="prepay-read:a:m:1", terminal="3701-00009", outcome=RequestOutcome.ANSWERED,
                          attempts=1, completed_at=datetime.now(UTC), frames=[view])


@pytest.mark.parametrize(("di", "value", "found"), [
    (p645.REMAINING, 12.34, (Decimal("12.34"), None)),
    (p645.OVERDRAFT, 3.5, (Decimal("-3.5"), None)),
    (p645.OVERDRAFT, 0.0, None),  # nothing overdrawn: the remaining read says it
    (p645.PURCHASE_COUNT, 4, (None, 4)),
])
def test_the_read_back_of_a_cost_control_meter(di: int, value: float, found: tuple[Any, Any] | None) -> None:
    assert readback.parse(_result(dlt645.read_reply("000009000301", di, value, preamble=4))) == found


def test_a_no_data_answer_is_no_read() -> None:
    assert readback.parse(_result(dlt645.error_reply("000009000301", 0x11, ["no_data"]))) is None


def test_three_reads_go_to_a_645_meter() -> None:
    row = {"account_id": "a", "meter_id": "m", "terminal": "3701-00009", "mode": "meter", "pn": 3, "port": None,
           "meter_address": "000009000301", "utility": "electricity"}
    dis = []
    for request in readback.requests_for(row):
        assert request.afn == 0x10 and request.request_id.startswith("prepay-read:a:m:")
        body = dlt645.decode_frame(_inner(request.units[0].model_dump())).body
        assert isinstance(body, dlt645.ReadRequest)
        dis.append(body.di)
    assert dis == [p645.REMAINING, p645.OVERDRAFT, p645.PURCHASE_COUNT]


@pytest.mark.parametrize(("alarm", "trip", "refused"), [
    ("10", "0", None), ("10", "-20", None), ("10", "1", "at or below 0"), ("-1", "-5", "at or above 0")])
def test_levels_a_cost_control_meter_can_hold(alarm: str, trip: str, refused: str | None) -> None:
    reason = topology.levels_refusal(Mode.METER, "electricity", Decimal(alarm), Decimal(trip))
    assert (reason is None) if refused is None else (reason is not None and refused in reason)
    assert topology.levels_refusal(Mode.METER, "water", Decimal(alarm), Decimal(trip)) is None
    assert topology.levels_refusal(Mode.MASTER, "electricity", Decimal(alarm), Decimal(trip)) is None


@pytest.mark.parametrize(("count", "holds"), [(7, True), (6, False), (8, False)])
def test_a_purchase_is_verified_only_when_the_meter_reports_its_count(count: int, holds: bool) -> None:
    """A meter that refused the recharge (a repeated or skipped count) still reports the previous count: the
    device must fail, not pass as verified because the read-back was answered."""
    plan = units.plan({"kind": "purchase", "mode": "meter", "amount": "10", "purchase_number": 7,
                       "customer": units.customer_number("acc-1")}, DEVICE)
    assert plan.verify is not None
    expect = plan.verify["expect"]
    reply = _result(dlt645.read_reply("000009000301", p645.PURCHASE_COUNT, count, preamble=4))
    assert readback.purchase_count(expect, reply) == (holds, f"purchase count {count}")
    checks.register("purchase_count", readback.purchase_count)
    assert checks.evaluate(expect, reply)[0] is holds
    unanswered = _result(dlt645.error_reply("000009000301", 0x11, ["no_data"]))
    assert readback.purchase_count(expect, unanswered) == (False, "no purchase count")


def test_a_cjt188_purchase_number_is_compared_modulo_100() -> None:
    device = {"utility": "water", "meter_address": "00000000000042", "port": None, "pn": 4}
    plan = units.plan({"kind": "purchase", "mode": "meter", "amount": "10", "purchase_number": 107}, device)
    assert plan.verify is not None and plan.verify["expect"] == {"check": "purchase_count", "value": 7,
                                                                   "modulo": 100}
    assert checks.evaluate({"check": "unknown", "value": 1}, _result(b""))[0] is False
