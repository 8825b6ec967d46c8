"""Payloads of the control service: the final result of a remote-control command on one device; notices of
prepayment and quantity control."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from emms_messages.envelope import Payload


class CommandResult(Payload):
    """One device's final result of a command (trip, close, valve, protect, operation), published once."""

    SCHEMA_NAME = "control.command"
    SCHEMA_VERSION = 1

    job_id: str
    meter_id: str | None
    terminal: str
    action: str
    origin: str
    requested_by: str
    state: str
    """``verified`` / ``confirmed`` (no read-back for this action) / ``failed`` / ``cancelled``."""
    reason: str = ""
    verified_state: str | None = None
    """The switch / valve state read back (``open``, ``closed``, ``fault``), when read."""
    attempts: int = 0
    request_ids: list[str] = Field(default_factory=list)
    finished_at: datetime

    def natural_key(self) -> str:
        return f"{self.job_id}/{self.meter_id or ''}/{self.terminal}"


class ControlNotice(Payload):
    """A prepayment or quantity-control notice for the customer channel, published once per notice.

    ``kind``: ``alarm`` (balance at or below the alarm threshold), ``trip`` (at or below the trip threshold:
    supply cut), ``restore``, ``alarm_cleared`` (master-mode prepayment), ``quantity_exceeded``."""

    SCHEMA_NAME = "control.notice"
    SCHEMA_VERSION = 1

    notice_id: int
    kind: str
    account_id: str | None = None
    meter_id: str | None = None
    message: str
    detail: dict[str, str] = Field(default_factory=dict)
    created_at: datetime

    def natural_key(self) -> str:
        return str(self.notice_id)
