"""Gateway protection limits with links that are plain objects (no sockets)."""

from __future__ import annotations

import time
from typing import cast

from emms_bus import BusProducer
from emms_fep.gateway import Gateway
from emms_fep.publisher import PublishQueue
from emms_fep.repository.sessions import SessionWriter
from emms_fep.sessions import SessionRegistry
from emms_fep.settings import LimitSettings, SessionSettings
from emms_fep.stats import TrafficBook
from emms_fep.uplink import UplinkHandler


class FakeLink:
    _numbers = iter(range(1, 1_000_000))

    def __init__(self, host: str = "10.0.0.1") -> None:
        self.number = next(self._numbers)
        self.peer_host = host
        self.peer = f"{host}:{40000 + self.number}"
        self.port = "tcp-server:test"
        self.written: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def _gateway(**limits: int) -> tuple[Gateway, SessionRegistry]:
    publish = PublishQueue(cast(BusProducer, None), high=10, low=2, batch=5)
    traffic = TrafficBook()
    sessions = SessionRegistry("r1", publish, SessionWriter("fep"), traffic, clock_publish_interval_s=900,
                               clock_publish_delta_s=5)
    uplink = UplinkHandler(replica="r1", sessions=sessions, publish=publish, publish_link_frames=True)
    gateway = Gateway(replica_id="r1", limits=LimitSettings(**limits),
                      session_settings=SessionSettings(login_timeout_s=0.05, heartbeat_timeout_s=0.2,
                                                       sweep_resolution_s=0.01),
                      sessions=sessions, publish=publish, uplink=uplink, traffic=traffic)
    return gateway, sessions


def test_links_beyond_the_per_peer_limit_are_refused() -> None:
    gateway, _ = _gateway(max_connections_per_peer=3)
    accepted = [gateway.open_link(FakeLink("10.0.0.9")) for _ in range(3)]
    assert all(h is not None for h in accepted)
    assert gateway.open_link(FakeLink("10.0.0.9")) is None
    assert gateway.open_link(FakeLink("10.0.0.10")) is not None
    assert gateway.ports["tcp-server:test"].refused == 1


def test_links_beyond_the_total_limit_are_refused() -> None:
    gateway, _ = _gateway(max_connections=2)
    assert gateway.open_link(FakeLink("10.1.0.1")) is not None
    assert gateway.open_link(FakeLink("10.1.0.2")) is not None
    assert gateway.open_link(FakeLink("10.1.0.3")) is None
    assert len(gateway) == 2


def test_a_link_that_never_logs_in_is_closed_at_its_deadline() -> None:
    gateway, _ = _gateway()
    link = FakeLink()
    gateway.open_link(link)
    assert gateway.expire_deadlines() == 0
    time.sleep(0.08)
    assert gateway.expire_deadlines() == 1
    assert link.closed and len(gateway) == 0


def test_a_bound_link_is_a_session_at_once_and_times_out_without_frames() -> None:
    gateway, sessions = _gateway()
    link = FakeLink()
    gateway.open_link(link, bound_terminal="0171-00009")
    assert sessions.get("0171-00009") is not None
    time.sleep(0.25)
    assert gateway.expire_deadlines() == 1
    assert sessions.get("0171-00009") is None and link.closed


def test_garbage_and_an_overfull_buffer_are_counted_and_end_only_that_link() -> None:
    gateway, _ = _gateway(max_buffer_bytes=256)
    flooded, quiet = FakeLink("10.2.0.1"), FakeLink("10.2.0.2")
    handler = gateway.open_link(flooded)
    gateway.open_link(quiet)
    assert handler is not None
    handler.data_received(b"\x00" * 100)  # no start byte: dropped at once
    assert gateway.ports["tcp-server:test"].dropped_bytes >= 100
    handler.data_received(b"\x68\x82\x3e\x82\x3e\x68" + b"\x00" * 400)  # a header claiming 4,008 bytes
    assert flooded.closed and not quiet.closed
    assert gateway.ports["tcp-server:test"].counters.illegal_frames >= 1


def _uplink_frames(publish: object) -> list[object]:
    from emms_messages.terminal import UplinkFrame

    return [p for p in publish._items if isinstance(p, UplinkFrame)]  # type: ignore[attr-defined]


def test_login_report_and_response_flow_through_the_gateway() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from emms_fep.wire import FrameView
    from emms_messages.terminal import FrameKind
    from emms_protocol.gdw1376 import Address, Control, DataUnit, Frame, Seq, builders, decode_frame, encode_frame

    gateway, sessions = _gateway()
    answered: list[int] = []

    class Sink:
        def on_response(self, session: object, frame: FrameView) -> str | None:
            answered.append(frame.number)
            return "req-1"

    gateway._uplink.responses = Sink()
    link = FakeLink()
    handler = gateway.open_link(link)
    assert handler is not None
    address = Address.parse("0171-00005")
    handler.data_received(encode_frame(builders.login(address, 4)))
    assert sessions.get("0171-00005") is not None
    assert decode_frame(link.written[-1]).seq.seq == 4
    report = Frame(Control(1, 1, 0, 0, 4), address, 0x0C, Seq(False, True, True, True, 5),
                   b"\x00\x00\x02\x00" + bytes(6))
    handler.data_received(encode_frame(report))
    assert decode_frame(link.written[-1]).seq.seq == 5  # confirmed because CON=1
    request = builders.request(address, 0x0C, [DataUnit(0, 2, None)], 6)
    handler.data_received(encode_frame(builders.response(request, [DataUnit(0, 2, datetime.now(UTC))])))
    assert answered == [6] and len(link.written) == 2  # a response is not confirmed (CON=0) …
    answer = builders.response(request, [DataUnit(0, 2, datetime.now(UTC))])
    handler.data_received(encode_frame(replace(answer, seq=replace(answer.seq, con=True))))
    assert len(link.written) == 3 and decode_frame(link.written[-1]).seq.seq == 6  # … unless CON asks for it
    link.written.pop()
    kinds = [(f.kind, f.request_id) for f in _uplink_frames(gateway._publish)]  # type: ignore[attr-defined]
    assert kinds == [(FrameKind.LINK, None), (FrameKind.REPORT, None), (FrameKind.RESPONSE, "req-1"),
                     (FrameKind.RESPONSE, "req-1")]
    other = Address.parse("0171-00006")
    handler.data_received(encode_frame(builders.heartbeat(other, 7)))  # another terminal's frame on this link
    assert gateway.ports["tcp-server:test"].counters.illegal_frames == 1 and len(link.written) == 2


def test_frames_before_login_and_downlink_frames_are_illegal() -> None:
    from emms_protocol.gdw1376 import Address, DataUnit, builders, encode_frame

    gateway, sessions = _gateway()
    link = FakeLink()
    handler = gateway.open_link(link)
    assert handler is not None
    address = Address.parse("0171-00007")
    handler.data_received(encode_frame(builders.heartbeat(address, 1)))
    handler.data_received(encode_frame(builders.request(address, 0x0C, [DataUnit(0, 2, None)], 1)))
    assert gateway.ports["tcp-server:test"].counters.illegal_frames == 2
    assert link.written == [] and sessions.get("0171-00007") is None
