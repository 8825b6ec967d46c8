"""The bodies the FEP's routes return (documented in its OpenAPI; see ``emms_runtime.api_models``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from emms_runtime.api_models import ApiModel


class Counters(ApiModel):
    """Frames, bytes, illegal frames, downlink requests and answers; ``success_rate`` = answered / requests."""

    frames_in: int
    frames_out: int
    bytes_in: int
    bytes_out: int
    illegal_frames: int
    requests: int
    answered: int
    success_rate: float | None


class PortFigures(Counters):
    """One listening port (``tcp-server:9027``, a serial line…) and its links."""

    port: str
    links: int
    sessions: int
    refused: int
    dropped_bytes: int


class Replica(ApiModel):
    replica: str
    started_at: datetime
    last_seen: datetime
    sessions: int
    connections: int
    live: bool


class FepStats(ApiModel):
    """This replica's links, totals, queues, requests, loop lag and GC; the fleet's sessions and traffic."""

    replica: str
    started_at: datetime
    listen_port: int | None
    links: int
    sessions: int
    totals: Counters
    dropped_bytes: int
    publish_queue: dict[str, int]
    requests: dict[str, Any]
    event_loop_lag: dict[str, Any]
    gc: dict[str, Any]
    fleet: dict[str, Any]


class TerminalPage(ApiModel):
    """Sessions (``terminal``, ``state``, ``fep_instance``, …) of the terminals matching the filter."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class TerminalDetail(ApiModel):
    terminal: str
    session: dict[str, Any] | None
    held_here: bool
    live: dict[str, Any] | None
    counters_since_start: dict[str, Any] | None
    requests: dict[str, Any]
    traffic_daily: list[dict[str, Any]]


class TerminalTraffic(ApiModel):
    """Per-day rows (``day`` and the counters) and their totals over ``first`` … ``last``."""

    terminal: str
    first: date
    last: date
    days: list[dict[str, Any]]
    totals: dict[str, Any]


class Problem(ApiModel):
    """A refused request: the reason, for a person."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request cannot be read"},
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The token lacks the permission, or the terminal is outside its scope"},
    429: {"model": Problem, "description": "Over the caller's request quota (see Retry-After)"},
    503: {"model": Problem, "description": "Tokens cannot be verified just now (see Retry-After)"},
}
"""Refusals every route may answer (declared on each router, so the OpenAPI document tells them; the 422 of
request validation is documented by ``emms_runtime.app`` for every service)."""
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such terminal"}}


class TerminalChannel(ApiModel):
    """A terminal's channels, relay route and SIM allowance (R-4.6.6)."""

    terminal: str
    primary_channel: dict[str, Any]
    standby_channel: dict[str, Any] | None
    relay_via: str | None
    sim_iccid: str | None
    allowance_day_bytes: int | None
    allowance_month_bytes: int | None
    updated_at: datetime
    updated_by: str
    active: str | None = None
    """primary | standby | relay | other: the channel the terminal's session is on (relay: reached through the
    terminal of its route whose link carries it, ``session_channel`` = ``relay:<terminal>``); None when offline
    (GET only)."""
    session_channel: str | None = None


class TerminalRoute(ApiModel):
    terminal: str
    via: list[str]
    direct: bool


class AllowanceUse(ApiModel):
    day: str
    items: list[dict[str, Any]]
