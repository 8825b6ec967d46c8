"""AFN 0E — class-3 data: event records (F1 important, F2 normal; p0) (§3.9 of the notes).

Request: Pm (start pointer), Pn (end pointer). Answer: EC1, EC2 (current
counters), Pm, Pn, then (Pn − Pm) mod 256 records, each ``ERC | Le | content``.
Unknown ERCs are kept as raw content thanks to Le; the first five content bytes
of every ERC of [LM-C] are the event time (A.15), decoded as ``occurred_at``.
A few records get a typed ``detail``:

* ERC 1 (initialisation / version change): flags (D0 init, D1 version change),
  old and new software version (ASCII 4 each);
* ERC 14 (terminal power off / on): power-off time and power-on time (A.15);
* ERC 12 / 13 / 31 / 33 (meter clock drift, meter fault, RS-485 read failure,
  status word change): measurement point and the D15 "occurred" flag
  (1 = started, 0 = restored).

If a frame carries fewer records than the pointers say (multi-frame answers),
the records present are decoded; re-encoding writes the pointers as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, FnCodec, Options, expect, need


@dataclass(frozen=True, slots=True)
class EventRequest:
    """Read records from pointer ``start`` (inclusive) to ``end`` (exclusive), mod 256."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class VersionChange:
    initialised: bool
    version_changed: bool
    old_version: str
    new_version: str


@dataclass(frozen=True, slots=True)
class PowerEvent:
    power_off_at: datetime | None
    power_on_at: datetime | None


@dataclass(frozen=True, slots=True)
class PointEvent:
    pn: int
    started: bool


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One ERC record; ``data`` is the content after ERC and Le (kept for exact re-encoding)."""

    erc: int
    occurred_at: datetime | None
    detail: VersionChange | PowerEvent | PointEvent | None
    data: bytes

    @classmethod
    def build(cls, erc: int, occurred_at: datetime, rest: bytes = b"", options: Options = DEFAULT_OPTIONS
              ) -> EventRecord:
        """A record whose content is the event time followed by ``rest`` (the simulator's helper)."""
        data = f.enc_a15(occurred_at, options) + rest
        return _record(erc, data, options)


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Answer: counters EC1 / EC2, pointers, records."""

    ec1: int
    ec2: int
    start: int
    end: int
    records: tuple[EventRecord, ...]


_POINT_ERCS = frozenset({12, 13, 31, 33})


def _detail(erc: int, data: bytes, opts: Options) -> VersionChange | PowerEvent | PointEvent | None:
    if erc == 1 and len(data) >= 14:
        text = data[6:14].decode("latin-1")
        return VersionChange(bool(data[5] & 1), bool(data[5] & 2), text[:4].rstrip("\x00 "), text[4:].rstrip("\x00 "))
    if erc == 14 and len(data) >= 10:
        return PowerEvent(f.dec_a15(data, 0, opts), f.dec_a15(data, 5, opts))
    if erc in _POINT_ERCS and len(data) >= 7:
        word = data[5] | (data[6] << 8)
        return PointEvent(word & 0x0FFF, bool(word & 0x8000))
    return None


def _record(erc: int, data: bytes, opts: Options) -> EventRecord:
    if len(data) > 255:
        raise ProtocolError("value", detail=f"ERC {erc} content of {len(data)} bytes exceeds 255")
    occurred = f.dec_a15(data, 0, opts) if len(data) >= 5 else None
    return EventRecord(erc, occurred, _detail(erc, data, opts), data)


def _decode_request(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 2, "AFN0E request")
    return EventRequest(data[pos], data[pos + 1]), pos + 2


def _encode_request(value: object, opts: Options) -> bytes:
    expect(value, EventRequest, "AFN0E request")
    assert isinstance(value, EventRequest)
    if not (0 <= value.start <= 255 and 0 <= value.end <= 255):
        raise ProtocolError("value", detail=f"event pointers are 0..255: {value!r}")
    return bytes((value.start, value.end))


def _decode_batch(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 4, "AFN0E answer")
    ec1, ec2, start, stop = data[pos:pos + 4]
    pos += 4
    records: list[EventRecord] = []
    for _ in range((stop - start) % 256):
        if pos >= end:
            break
        need(end, pos, 2, "ERC header")
        erc, le = data[pos], data[pos + 1]
        need(end, pos + 2, le, f"ERC {erc} content")
        try:
            records.append(_record(erc, data[pos + 2:pos + 2 + le], opts))
        except ProtocolError:
            # a malformed time inside one record must not hide the others: keep it raw
            records.append(EventRecord(erc, None, None, data[pos + 2:pos + 2 + le]))
        pos += 2 + le
    return EventBatch(ec1, ec2, start, stop, tuple(records)), pos


def _encode_batch(value: object, opts: Options) -> bytes:
    expect(value, EventBatch, "AFN0E answer")
    assert isinstance(value, EventBatch)
    if not all(0 <= x <= 255 for x in (value.ec1, value.ec2, value.start, value.end)):
        raise ProtocolError("value", detail="EC and pointers are 0..255")
    out = bytearray((value.ec1, value.ec2, value.start, value.end))
    for record in value.records:
        if not 0 <= record.erc <= 255 or len(record.data) > 255:
            raise ProtocolError("value", detail=f"ERC {record.erc} record does not fit")
        out += bytes((record.erc, len(record.data))) + record.data
    return bytes(out)


CODECS: dict[tuple[int, int, int], FnCodec] = {}
for _fn, _name in ((1, "important events"), (2, "normal events")):
    CODECS[(0x0E, 0, _fn)] = FnCodec(f"request {_name}", _decode_request, _encode_request)
    CODECS[(0x0E, 1, _fn)] = FnCodec(_name, _decode_batch, _encode_batch)
