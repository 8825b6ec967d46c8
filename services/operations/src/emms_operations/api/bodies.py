"""Request bodies of the operations API (a bad field is a 422 naming it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NO_NUL = r"^[^\x00]*$"
Level = Literal["master", "channel", "terminal", "meter"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewTicket(Body):
    title: str = Field(min_length=1, max_length=300, pattern=NO_NUL)
    level: Level
    subject: str = Field(min_length=1, max_length=200, pattern=NO_NUL,
                         description="what is faulty: a service, a FEP port, a terminal address, a meter id")
    severity: Literal["critical", "major", "minor"]
    assignee: str | None = Field(default=None, max_length=200, pattern=NO_NUL)


class Transition(Body):
    state: str = Field(min_length=1, max_length=20, description="the next state of the procedure")
    assignee: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    closing_reason: str | None = Field(default=None, max_length=1000, pattern=NO_NUL)
    note: str = Field(default="", max_length=2000, pattern=NO_NUL)


class NewMaintenance(Body):
    ticket_id: int | None = Field(default=None, ge=1)
    device_kind: Level
    device_id: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    action: str = Field(min_length=1, max_length=200, pattern=NO_NUL,
                        description="what was done: replaced modem, reset, re-wired, firmware upgrade…")
    performed_by: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    performed_at: datetime
    note: str = Field(default="", max_length=4000, pattern=NO_NUL)

    @model_validator(mode="after")
    def _aware(self) -> NewMaintenance:
        if self.performed_at.tzinfo is None:
            raise ValueError("performed_at needs a UTC offset")
        return self


class NewPlanned(Body):
    level: Literal["master", "terminal"]
    subject: str = Field(min_length=1, max_length=200, pattern=NO_NUL,
                         description="a service (master) or terminal address, or * for all")
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)

    @model_validator(mode="after")
    def _order(self) -> NewPlanned:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a UTC offset")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self
