"""Bodies of ``/api/v1/terminal-config`` (terminal management, R-4.6.3 / R-4.6.5)."""

from __future__ import annotations

from typing import Any

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
