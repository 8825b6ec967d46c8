"""Payloads about terminals (concentrators): sessions, uplink frames, downlink requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from emms_messages.envelope import Payload

TerminalAddress = str
"""A terminal's 1376.1 address as ``"AAAA-TTTTT"``: A1 area code (4 BCD digits) and A2 (decimal)."""


class SessionState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class TerminalSession(Payload):
    """Published by the FEP on every login, logout, time-out and clock reading."""

    SCHEMA_NAME = "terminal.session"
    SCHEMA_VERSION = 1

    terminal: TerminalAddress
    state: SessionState
    fep_instance: str
    connection_id: str
    peer: str
    since: datetime
    last_seen: datetime
    reason: str = ""
    terminal_clock: datetime | None = None
    clock_deviation_s: float | None = None

    def natural_key(self) -> str:
        return f"{self.terminal}/{self.connection_id}/{self.state}/{self.last_seen.isoformat()}"


class TerminalTariff(Payload):
    """The tariff in force of a terminal (1376.1 AFN0A F21 + F22) as the collector holds it, published each time
    the collector stores F21 or F22 read from the terminal: the read at its first login, a read on request, the
    periodic read-back, a push's confirming read-back. Carries the whole tariff as held then; ``read_at`` orders
    them (a consumer keeps the newest). Published at least once: a redelivery is the same message."""

    SCHEMA_NAME = "terminal.tariff"
    SCHEMA_VERSION = 1

    terminal: TerminalAddress
    slots: list[int] = Field(min_length=48, max_length=48)
    """The rate number (0-based: 0 = 费率 1) of each half hour of the local day, from 00:00–00:30 (F21)."""
    rate_count: int = Field(ge=1, le=48)
    """M: the number of rates (F21)."""
    rates: list[int] | None = None
    """厘 per kWh of rate 1, 2, … (F22); None while F22 was never read."""
    periods_read_at: datetime
    """When F21 was read."""
    rates_read_at: datetime | None = None
    """When F22 was read (None with ``rates``)."""
    read_at: datetime
    """The newer of the two reads: the tariff's version (a newer one replaces an older one)."""

    def natural_key(self) -> str:
        return f"{self.terminal}/{self.read_at.isoformat()}"


class FrameKind(StrEnum):
    RESPONSE = "response"  # answer to a master request (correlated)
    REPORT = "report"  # active report of data (PRM=1, not link)
    EVENT = "event"  # active report of events (AFN0E)
    LINK = "link"  # login / heartbeat / logout


class UplinkFrame(Payload):
    """Every frame a terminal sent, decoded, as published by the FEP."""

    SCHEMA_NAME = "uplink.frame"
    SCHEMA_VERSION = 1

    terminal: TerminalAddress
    fep_instance: str
    connection_id: str
    received_at: datetime
    kind: FrameKind
    afn: int
    seq: int
    raw_hex: str
    request_id: str | None = None
    decoded: dict[str, Any] = Field(default_factory=dict)

    def natural_key(self) -> str:
        return f"{self.terminal}/{self.connection_id}/{self.received_at.isoformat()}/{self.raw_hex}"


class DataUnitRequest(Payload):
    """One DA/DT unit of a downlink request: measurement points, Fn, and the unit's data."""

    SCHEMA_NAME = "downlink.unit"
    SCHEMA_VERSION = 1

    pn: list[int]
    fn: list[int]
    data: dict[str, Any] = Field(default_factory=dict)


URGENT_PRIORITY = 1
"""Requests at or below this priority (0 most urgent: manual reads, controls, clock syncs) skip
the collector's bulk queues and, at the FEP, publish their result ahead of bulk traffic."""


class DownlinkRequest(Payload):
    """A request for the FEP to send to a terminal (read, set, control, sync, forward, reset)."""

    SCHEMA_NAME = "downlink.request"
    SCHEMA_VERSION = 1

    request_id: str
    terminal: TerminalAddress
    afn: int
    units: list[DataUnitRequest]
    requested_by: str
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    retries: int = Field(default=1, ge=0, le=10)
    priority: int = Field(default=5, ge=0, le=9)
    expires_at: datetime | None = None

    def natural_key(self) -> str:
        return self.request_id


class RequestOutcome(StrEnum):
    ANSWERED = "answered"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    OFFLINE = "offline"
    REJECTED = "rejected"  # the FEP could not encode or accept the request


class DownlinkResult(Payload):
    """The FEP's verdict for one downlink request, with the decoded answer."""

    SCHEMA_NAME = "downlink.result"
    SCHEMA_VERSION = 1

    request_id: str
    terminal: TerminalAddress
    outcome: RequestOutcome
    attempts: int
    sent_at: datetime | None = None
    completed_at: datetime
    round_trip_ms: float | None = None
    frames: list[dict[str, Any]] = Field(default_factory=list)
    detail: str = ""

    def natural_key(self) -> str:
        return self.request_id
