"""Traffic and legality statistics per port and per terminal (R-4.6.6, R-4.6.7).

Counters live in memory (plain ints in slotted objects, no per-terminal
Prometheus labels); per-terminal traffic is persisted daily by the traffic
writer, which takes the difference since its last flush from
:meth:`TrafficBook.take_deltas`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge as PromGauge

from emms_fep import metrics

FIELDS = ("frames_in", "frames_out", "bytes_in", "bytes_out", "illegal_frames", "requests", "answered")


@dataclass(slots=True)
class Counters:
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    illegal_frames: int = 0
    requests: int = 0
    answered: int = 0

    def values(self) -> tuple[int, ...]:
        return (self.frames_in, self.frames_out, self.bytes_in, self.bytes_out, self.illegal_frames,
                self.requests, self.answered)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(FIELDS, self.values(), strict=True))
        out["success_rate"] = self.success_rate()
        return out

    def success_rate(self) -> float | None:
        """Share of finished downlink requests that were answered (communication success rate)."""
        return round(self.answered / self.requests, 4) if self.requests else None


@dataclass(slots=True)
class TerminalCounters(Counters):
    flushed: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0)


@dataclass(slots=True)
class PortStats:
    """One channel's figures; the Prometheus children are resolved once."""

    port: str
    counters: Counters = field(default_factory=Counters)
    links: int = 0
    sessions: int = 0
    refused: int = 0
    dropped_bytes: int = 0
    _frames_in: PromCounter | None = None
    _frames_out: PromCounter | None = None
    _bytes_in: PromCounter | None = None
    _bytes_out: PromCounter | None = None
    _connections: PromGauge | None = None
    _logins: PromCounter | None = None

    def __post_init__(self) -> None:
        self._frames_in = metrics.FRAMES.labels(self.port, "in")
        self._frames_out = metrics.FRAMES.labels(self.port, "out")
        self._bytes_in = metrics.BYTES.labels(self.port, "in")
        self._bytes_out = metrics.BYTES.labels(self.port, "out")
        self._connections = metrics.CONNECTIONS.labels(self.port)
        self._logins = metrics.LOGINS.labels(self.port)

    def link_opened(self) -> None:
        self.links += 1
        assert self._connections is not None
        self._connections.inc()

    def link_closed(self) -> None:
        self.links -= 1
        assert self._connections is not None
        self._connections.dec()

    def logged_in(self) -> None:
        assert self._logins is not None
        self._logins.inc()

    def bytes_received(self, n: int) -> None:
        self.counters.bytes_in += n
        assert self._bytes_in is not None
        self._bytes_in.inc(n)

    def frame_received(self) -> None:
        self.counters.frames_in += 1
        assert self._frames_in is not None
        self._frames_in.inc()

    def frame_sent(self, n: int) -> None:
        self.counters.frames_out += 1
        self.counters.bytes_out += n
        assert self._frames_out is not None and self._bytes_out is not None
        self._frames_out.inc()
        self._bytes_out.inc(n)

    def illegal(self, reason: str, count: int = 1) -> None:
        self.counters.illegal_frames += count
        metrics.ILLEGAL.labels(self.port, reason).inc(count)

    def garbage(self, n: int) -> None:
        self.dropped_bytes += n
        metrics.DROPPED_BYTES.labels(self.port).inc(n)

    def as_dict(self) -> dict[str, Any]:
        return {"port": self.port, "links": self.links, "sessions": self.sessions, "refused": self.refused,
                "dropped_bytes": self.dropped_bytes, **self.counters.as_dict()}


@dataclass(frozen=True, slots=True)
class TrafficDelta:
    terminal: str
    day: date
    values: tuple[int, ...]


class TrafficBook:
    """Per-terminal counters since this process started, and their unflushed part."""

    def __init__(self) -> None:
        self._terminals: dict[str, TerminalCounters] = {}
        self._dirty: set[str] = set()

    def __len__(self) -> int:
        return len(self._terminals)

    def of(self, terminal: str) -> TerminalCounters:
        counters = self._terminals.get(terminal)
        if counters is None:
            counters = self._terminals[terminal] = TerminalCounters()
        return counters

    def get(self, terminal: str) -> TerminalCounters | None:
        return self._terminals.get(terminal)

    def touch(self, terminal: str) -> None:
        self._dirty.add(terminal)

    def take_deltas(self, now: datetime | None = None) -> list[TrafficDelta]:
        """What changed since the last call, to add to today's row of each terminal."""
        day = (now or datetime.now(UTC)).date()
        out: list[TrafficDelta] = []
        dirty, self._dirty = self._dirty, set()
        for terminal in dirty:
            counters = self._terminals[terminal]
            current = counters.values()
            delta = tuple(c - f for c, f in zip(current, counters.flushed, strict=True))
            counters.flushed = current
            if any(delta):
                out.append(TrafficDelta(terminal, day, delta))
        return out

    def give_back(self, deltas: list[TrafficDelta]) -> None:
        """A flush failed: mark the deltas unflushed again so the next flush carries them."""
        for d in deltas:
            counters = self._terminals[d.terminal]
            counters.flushed = tuple(f - v for f, v in zip(counters.flushed, d.values, strict=True))
            self._dirty.add(d.terminal)
