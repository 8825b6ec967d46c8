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
