"""DL/T 645 encode → decode round trips: every registry DI (2007 and 1997) and every command."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError, dlt645
from emms_protocol.dlt645 import ControlCommand, ErrorReply, FreezeCommand, ReadReply, TimeSync, WriteRequest
from emms_protocol.dlt645.di_registry import DataItem645, representative
from emms_protocol.dlt645.dlt1997 import representative_1997
from emms_protocol.dlt645.formats import AnyFormat, Block, Clock, Composite, Digits, Number, Value, Word

CST = timezone(timedelta(hours=8))
ADDRESS = "151230011061"
DIS_2007 = list(representative())
DIS_1997 = list(representative_1997())


def _number(fmt: Number, n: int) -> float | int:
    return n / 10**fmt.decimals if fmt.decimals else n


def strategy(fmt: AnyFormat) -> st.SearchStrategy[Value]:
    """Values each format represents exactly (what the decoder yields)."""
    if isinstance(fmt, Number):
        top = 8 * 10 ** (2 * fmt.size - 1) if fmt.signed else 10 ** (2 * fmt.size)
        low = -(top - 1) if fmt.signed else 0
        return st.integers(low, top - 1).map(lambda n: _number(fmt, n))
    if isinstance(fmt, Word):
        return st.integers(0, 256**fmt.size - 1)
    if isinstance(fmt, Digits):
        return st.binary(min_size=fmt.size, max_size=fmt.size).map(lambda b: b[::-1].hex().upper())
    if isinstance(fmt, Clock):
        layout = fmt.layout
        moments = st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 31))
        if "Y" not in layout:
            return st.times().map(lambda t: time(t.hour, t.minute, t.second if "s" in layout else 0))
        if "h" not in layout:
            return st.dates(date(2000, 1, 2), date(2099, 12, 31))
        return moments.map(lambda d: d.replace(second=d.second if "s" in layout else 0, microsecond=0,
                                               tzinfo=CST))
    if isinstance(fmt, Composite):
        return st.tuples(*(strategy(p) for p in fmt.parts))
    if isinstance(fmt, Block):
        size = fmt.count or None
        return st.lists(strategy(fmt.element), min_size=fmt.count or 1, max_size=size or 6).map(tuple)
    raise AssertionError(fmt)


def sample(fmt: AnyFormat, rng: random.Random) -> Value:
    if isinstance(fmt, Number):
        top = 8 * 10 ** (2 * fmt.size - 1) if fmt.signed else 10 ** (2 * fmt.size)
        return _number(fmt, rng.randrange(-(top - 1) if fmt.signed else 0, top))
    if isinstance(fmt, Word):
        return rng.randrange(256**fmt.size)
    if isinstance(fmt, Digits):
        return "".join(rng.choice("0123456789") for _ in range(2 * fmt.size))
    if isinstance(fmt, Clock):
        moment = datetime(2000, 1, 2, tzinfo=CST) + timedelta(seconds=rng.randrange(3_000_000_000))
        if "s" not in fmt.layout:
            moment = moment.replace(second=0)
        if "Y" not in fmt.layout:
            return moment.time()
        return moment.date() if "h" not in fmt.layout else moment
    if isinstance(fmt, Composite):
        return tuple(sample(p, rng) for p in fmt.parts)
    if isinstance(fmt, Block):
        return tuple(sample(fmt.element, rng) for _ in range(fmt.count or rng.randrange(1, 9)))
    raise AssertionError(fmt)


def _reply_value(raw: bytes) -> ReadReply:
    body = dlt645.decode_frame(raw).body
    assert isinstance(body, ReadReply)
    return body


def test_registry_has_every_family() -> None:
    names = {d.name for d in DIS_2007}
    for expected in ("energy.active.import.total", "energy.active.import.t1", "energy.active.export.t4",
                     "energy.active.combined.total", "energy.reactive.combined1.total", "voltage.a", "current.c",
                     "power.active.total", "power.reactive.b", "power_factor.total", "frequency", "date", "time",
                     "status_word.3", "frozen.daily_1.time", "frozen.daily_1.energy.active.import",
                     "demand.active.import.max.total", "balance.remaining"):
        assert expected in names, expected
    assert len(DIS_2007) > 300


def test_every_2007_di_round_trips() -> None:
    for item in DIS_2007:
        rng = random.Random(item.di)
        for _ in range(3):
            value = sample(item.fmt, rng)
            body = _reply_value(dlt645.read_reply(ADDRESS, item.di, value))
            assert (body.di, body.name, body.unit, body.value) == (item.di, item.name, item.unit, value), item.code


def test_every_1997_di_round_trips() -> None:
    for item in DIS_1997:
        rng = random.Random(item.di)
        value = sample(item.fmt, rng)
        frame = dlt645.decode_frame(dlt645.read_reply_1997(ADDRESS, item.di, value))
        assert frame.edition == 1997
        assert isinstance(frame.body, ReadReply)
        assert (frame.body.di_code, frame.body.value) == (f"{item.di:04X}", value)
        request = dlt645.decode_frame(dlt645.read_request_1997(ADDRESS, item.di))
        assert (request.function, request.from_meter, request.edition) == ("read", False, 1997)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), item=st.sampled_from(DIS_2007 + DIS_1997))
def test_hypothesis_reply_round_trip(data: st.DataObject, item: DataItem645) -> None:
    value = data.draw(strategy(item.fmt))
    if item.di <= 0xFFFF and item in DIS_1997:
        raw = dlt645.read_reply_1997(ADDRESS, item.di, value)
    else:
        raw = dlt645.read_reply(ADDRESS, item.di, value)
    frame = dlt645.decode_frame(raw)
    assert dlt645.encode_frame(frame) == raw
    assert isinstance(frame.body, ReadReply)
    assert frame.body.value == value


@settings(max_examples=100, deadline=None)
@given(data=st.data(), item=st.sampled_from(DIS_2007), password=st.from_regex(r"[0-9A-F]{8}", fullmatch=True),
       operator=st.from_regex(r"[0-9A-F]{8}", fullmatch=True))
def test_write_request_round_trip(data: st.DataObject, item: DataItem645, password: str, operator: str) -> None:
    value = data.draw(strategy(item.fmt))
    frame = dlt645.decode_frame(dlt645.write_request(ADDRESS, item.di, value, password=password, operator=operator))
    assert frame.function == "write"
    assert frame.body == WriteRequest(item.di, item.code, int(password[:2], 16), password[2:], operator, item.name,
                                      item.unit, value, item.fmt.encode(value))


@settings(max_examples=100, deadline=None)
@given(action=st.sampled_from(["trip", "allow_close", "close", "alarm", "alarm_release", "keep_power",
                               "keep_power_release"]),
       password=st.from_regex(r"[0-9A-F]{8}", fullmatch=True), operator=st.from_regex(r"[0-9]{8}", fullmatch=True),
       until=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)))
def test_control_command_round_trip(action: str, password: str, operator: str, until: datetime) -> None:
    until = until.replace(microsecond=0)
    raw = dlt645.control_command(ADDRESS, action, password, operator, until)
    body = dlt645.decode_frame(raw).body
    assert isinstance(body, ControlCommand)
    assert (body.action, body.password_level, body.password, body.operator, body.valid_until) == (
        action, int(password[:2], 16), password[2:], operator, until.replace(tzinfo=CST))


def test_control_command_encryptor_and_unknown_action() -> None:
    raw = dlt645.control_command(ADDRESS, "trip", "02000000", "00000000", encryptor=lambda p: bytes(20))
    body = dlt645.decode_frame(raw).body
    assert isinstance(body, ControlCommand)
    assert (body.action, body.ciphertext) == ("encrypted", bytes(20))
    with pytest.raises(ProtocolError):
        dlt645.control_command(ADDRESS, "explode", "02000000", "00000000")
    with pytest.raises(ProtocolError):
        dlt645.control_command(ADDRESS, "trip", "0200", "00000000")


@settings(max_examples=100, deadline=None)
@given(moment=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)))
def test_broadcast_time_sync_converts_to_meter_clock(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    if not 2000 <= moment.astimezone(CST).year <= 2099:
        return
    frame = dlt645.decode_frame(dlt645.broadcast_time_sync(moment))
    assert (frame.address, frame.function, frame.body) == (dlt645.BROADCAST, "broadcast_time", TimeSync(moment))


@pytest.mark.parametrize(("kwargs", "mode"), [
    ({}, "instant"), ({"minute": 15}, "hourly"), ({"minute": 0, "hour": 0}, "daily"),
    ({"minute": 0, "hour": 0, "day": 1}, "monthly"), ({"minute": 5, "hour": 6, "day": 7, "month": 8}, "once")])
def test_freeze_modes(kwargs: dict[str, int], mode: str) -> None:
    frame = dlt645.decode_frame(dlt645.freeze(dlt645.BROADCAST, **kwargs))
    fields = {k: kwargs.get(k) for k in ("minute", "hour", "day", "month")}
    assert frame.body == FreezeCommand(**fields, mode=mode)
    with pytest.raises(ProtocolError):
        dlt645.freeze(ADDRESS, minute=60)


@pytest.mark.parametrize("function", [0x11, 0x12, 0x14, 0x16, 0x1C])
def test_error_replies_carry_error_bits(function: int) -> None:
    frame = dlt645.decode_frame(dlt645.error_reply(ADDRESS, function, ["no_data", "password_or_unauthorised"]))
    assert (frame.control, frame.error, frame.from_meter) == (function | 0xC0, True, True)
    assert frame.body == ErrorReply(0x06, ("no_data", "password_or_unauthorised"))
    assert dlt645.decode_frame(dlt645.error_reply(ADDRESS, function, 0x80)).body == ErrorReply(0x80, ("reserved",))


def test_follow_up_read_and_reply() -> None:
    request = dlt645.decode_frame(dlt645.read_follow_up(ADDRESS, 0x00010000, 2))
    assert (request.function, request.body) == ("read_follow_up", dlt645.ReadRequest(0x00010000, "00010000",
                                                                                     b"", 2))
    more = dlt645.decode_frame(dlt645.read_reply(ADDRESS, 0x00010000, 1.5, follow_up=True))
    assert (more.control, more.follow_up) == (0xB1, True)
    raw = dlt645.encode_frame(dlt645.Frame645(ADDRESS, 0x92, bytes.fromhex("00000100") + bytes.fromhex("50010000")
                                              + b"\x02"))
    body = dlt645.decode_frame(raw).body
    assert isinstance(body, ReadReply)
    assert (body.value, body.seq) == (1.5, 2)


def test_address_read_write_and_unknown_di() -> None:
    assert dlt645.decode_frame(dlt645.address_reply(ADDRESS)).body == dlt645.AddressBody(ADDRESS)
    raw = dlt645.read_reply(ADDRESS, 0x03300D00, b"\x01\x02")
    body = _reply_value(raw)
    assert (body.name, body.value, body.raw) == ("", None, b"\x01\x02")
    with pytest.raises(ProtocolError):
        dlt645.read_reply(ADDRESS, 0x03300D00, 5)


@pytest.mark.parametrize(("di", "value"), [(0x00010000, -1.0), (0x02010100, "x"), (0x02010100, 10000.0),
                                           (0x00000000, 8_000_000.0), (0x04000101, date(1999, 1, 1)),
                                           (0x0201FF00, (1.0, 2.0)), (0x04000401, "12345")])
def test_values_outside_the_format_are_refused(di: int, value: object) -> None:
    with pytest.raises(ProtocolError):
        dlt645.read_reply(ADDRESS, di, value)


def test_absent_values_decode_to_none() -> None:
    raw = dlt645.read_reply(ADDRESS, 0x00010000, b"\xff\xff\xff\xff")
    assert _reply_value(raw).value is None
    assert _reply_value(dlt645.read_reply(ADDRESS, 0x00010000, None)).value is None
