"""A meter's clock through its terminal (R-4.6.1.5): the AFN 10 F1 forward that reads it (DL/T 645 DI
0400010C, date, weekday and time) and the deviation it implies, delay compensated like a terminal's: meter
time − master time at the instant the meter answered (send time + half the round trip)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from emms_collector.reading.answers import typed_frames
from emms_collector.repository.points import Point
from emms_collector.settings import DispatchSettings
from emms_collector.timesync.clock_read import ClockReading
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, DownlinkResult, RequestOutcome
from emms_protocol import dlt645
from emms_protocol.gdw1376.afn10 import ForwardReply, control_word

CLOCK_DI = 0x0400010C


def forward_to(terminal: str, port: int, payload: bytes, purpose: str,
               dispatch: DispatchSettings | None = None) -> DownlinkRequest:
    """AFN 10 F1: ``payload`` (a DL/T 645 or CJ/T 188 frame) forwarded on ``port`` of ``terminal`` (the FEP's
    time-out and re-sends from ``dispatch``, else 10 s and one re-send)."""
    value = {"type": "ForwardRequest", "port": port, "control": control_word(2400, "even"),
             "frame_timeout": 0x80 | 5, "byte_timeout": 10, "payload": payload.hex()}
    return DownlinkRequest(request_id=f"col-{purpose}-{secrets.token_hex(8)}", terminal=terminal, afn=0x10,
                           units=[DataUnitRequest(pn=[0], fn=[1], data={"value": value})],
                           requested_by="collector:timesync",
                           timeout_s=dispatch.request_timeout_s if dispatch else 10.0,
                           retries=dispatch.fep_retries if dispatch else 1, priority=1)


def forward_request(point: Point, payload: bytes, purpose: str,
                    dispatch: DispatchSettings | None = None) -> DownlinkRequest:
    """AFN 10 F1: ``payload`` (a meter frame) forwarded on the meter's port."""
    return forward_to(point.terminal, point.port or 31, payload, purpose, dispatch)


def read_request(point: Point, dispatch: DispatchSettings | None = None) -> DownlinkRequest:
    """The forward that reads a DL/T 645-2007 meter's clock; ValueError when the point cannot be asked."""
    if point.protocol != "dlt645-2007":
        raise ValueError(f"meter {point.meter_id} speaks {point.protocol}: its clock is read by ERC 12 only")
    return forward_request(point, dlt645.read_request(point.meter_address, CLOCK_DI), "mclock", dispatch)


def meter_deviation(result: DownlinkResult, published_at: datetime) -> ClockReading | None:
    """The deviation in an answered meter clock read; None without an answer or a clock in it."""
    if result.outcome is not RequestOutcome.ANSWERED:
        return None
    clock = None
    for frame in typed_frames(result.frames):
        for unit in frame.units:
            reply = unit.value
            if isinstance(reply, ForwardReply) and isinstance(reply.inner, dlt645.Frame645) \
                    and isinstance(reply.inner.body, dlt645.ReadReply) and reply.inner.body.di == CLOCK_DI \
                    and isinstance(reply.inner.body.value, datetime):
                clock = reply.inner.body.value
    if clock is None:
        return None
    sent = result.sent_at or published_at
    rtt = (result.round_trip_ms or 0.0) / 1000.0
    at_answer = sent + timedelta(seconds=rtt / 2)
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    latency = max(0.0, (sent - published_at).total_seconds())
    return ClockReading(clock, rtt, latency, (clock - at_answer).total_seconds())
