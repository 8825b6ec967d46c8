"""A terminal clock read (AFN 0C F2) and what it says: the deviation, the round trip, the bus latency; the
quiet minutes around the hour in which no clock is set."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from emms_collector.reading.answers import typed_frames
from emms_messages.terminal import DownlinkResult, RequestOutcome


def in_quiet_window(now: datetime, tz: tzinfo, minutes: int) -> bool:
    """Within ``minutes`` before or after a full hour (midnight included) on the local clock."""
    if minutes <= 0:
        return False
    minute = now.astimezone(tz).minute
    return minute < minutes or minute >= 60 - minutes


class ClockReading:
    """A terminal clock read: the terminal's time, the round trip and the deviation it implies."""

    __slots__ = ("bus_latency_s", "deviation_s", "round_trip_s", "terminal_clock")

    def __init__(self, terminal_clock: datetime, round_trip_s: float, bus_latency_s: float,
                 deviation_s: float) -> None:
        self.terminal_clock = terminal_clock
        self.round_trip_s = round_trip_s
        self.bus_latency_s = bus_latency_s
        self.deviation_s = deviation_s


def deviation_of(result: DownlinkResult, published_at: datetime) -> ClockReading | None:
    """The deviation measured by an answered clock read (AFN 0C F2): terminal time − master time at the
    instant the terminal answered (send time + half the round trip)."""
    if result.outcome is not RequestOutcome.ANSWERED:
        return None
    clock = None
    for frame in typed_frames(result.frames):
        clock = next((u.value for u in frame.units if u.fn == 2 and isinstance(u.value, datetime)), clock)
    if clock is None:
        return None
    sent = result.sent_at or published_at
    rtt = (result.round_trip_ms or 0.0) / 1000.0
    master_at_answer = sent + timedelta(seconds=rtt / 2)
    latency = max(0.0, (sent - published_at).total_seconds())
    return ClockReading(clock, rtt, latency, (clock - master_at_answer).total_seconds())
