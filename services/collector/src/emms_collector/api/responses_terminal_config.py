"""Bodies of ``/api/v1/terminal-config`` (terminal management, R-4.6.3 / R-4.6.5)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emms_runtime.api_models import ApiModel


class ParamPush(ApiModel):
    """One push: AFN04 set → AFN00 → AFN0A read-back → compared (states in docs/collector.md)."""

    id: int
    terminal: str
    fn: int
    value: dict[str, Any]
    kind: str
    state: str
    attempts: int
    waiting_online: bool
    requested_by: str
    detail: str
    reported: Any = None


class ParamPushes(ApiModel):
    items: list[ParamPush]


class TerminalParams(ApiModel):
    """A terminal's parameters as the master wants them and as it last reported them."""

    terminal: str
    params: list[dict[str, Any]]
    registry: dict[str, Any] | None
    pushes: list[ParamPush]


class ParamCheck(ApiModel):
    """A read-back of every managed parameter: ``outcome`` answered, or why not."""

    terminal: str
    outcome: str
    detail: str
    params: list[dict[str, Any]]


class Drifting(ApiModel):
    items: list[dict[str, Any]]


class Registered(ApiModel):
    """Terminals seen logging in (``new``: master data lacks them), with what was read at their first login."""

    items: list[dict[str, Any]]


class RegisteredTerminal(ApiModel):
    terminal: str
    status: str
    version: Any = None
    config: Any = None


class MeterTableRead(ApiModel):
    terminal: str
    outcome: str
    detail: str
    records: list[dict[str, Any]]
    unknown: list[dict[str, Any]]


class UnknownMeters(ApiModel):
    items: list[dict[str, Any]]


class AdoptedMeter(ApiModel):
    terminal: str
    pn: int
    meter_id: str
    state: str


class ResetResult(ApiModel):
    terminal: str
    kind: str
    outcome: str
    detail: str
    action_id: int


class TerminalActions(ApiModel):
    items: list[dict[str, Any]]


class TariffPeriod(ApiModel):
    """A run of half hours at one rate (``to`` "24:00" for the day's end)."""

    from_: str = Field(alias="from")
    to: str
    rate: int
    li_per_kwh: int | None
    yuan_per_kwh: float | None


class TariffRate(ApiModel):
    rate: int
    li_per_kwh: int | None
    yuan_per_kwh: float | None
    used: bool


class TerminalTariff(ApiModel):
    """The tariff in force of a terminal as last read (AFN0A F21 + F22); rate numbers 1-based."""

    terminal: str
    rate_count: int
    periods: list[TariffPeriod]
    rates: list[TariffRate]
    slots: list[int] = Field(description="F21 as sent: the 0-based rate number of each half hour from 00:00")
    read_at: str | None
    periods_read_at: str | None
    rates_read_at: str | None
    state: dict[str, str] = Field(description="F21 / F22 against the master's value: in_sync, drift, unknown …")
