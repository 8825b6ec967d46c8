"""Events on demand (R-4.5.4.3): ACD and EC read from a frame's JSON view, and the terminal class's important
ERC codes deciding the published class of the events read."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_collector.intake.acd import acd_counter
from emms_collector.intake.event_class import classify
from emms_messages.events import DeviceEvent, EventClass
from emms_protocol.gdw1376 import Address, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.json_view import frame_view


def _view(ec: tuple[int, int] | None) -> dict[str, object]:
    return frame_view(decode_frame(encode_frame(builders.heartbeat(Address(0x6201, 1), 3, ec=ec))))


def test_the_important_counter_is_read_only_from_a_frame_with_acd() -> None:
    assert acd_counter(_view((5, 2))) == 5
    assert acd_counter(_view(None)) is None
    assert acd_counter({"control": {"acd": 1}}) is None  # ACD without EC: nothing to compare


def _event(code: str, event_class: EventClass) -> DeviceEvent:
    now = datetime.now(UTC)
    return DeviceEvent(terminal="6201-00001", meter_id=None, code=code, event_class=event_class, occurred_at=now,
                       received_at=now, detail={})


def test_the_class_setting_decides_which_events_are_important() -> None:
    read = [_event("ERC3", EventClass.IMPORTANT), _event("ERC14", EventClass.IMPORTANT),
            _event("ERC12", EventClass.NORMAL)]
    assert [e.event_class for e in classify(read, None)] == [e.event_class for e in read]
    chosen = classify(read, {14, 12})
    assert [(e.code, e.event_class) for e in chosen] == [("ERC3", EventClass.NORMAL), ("ERC14", EventClass.IMPORTANT),
                                                          ("ERC12", EventClass.IMPORTANT)]
    assert chosen[1] is read[1]  # unchanged events are the same objects (same stable ids)
