"""Payloads about access: refusals of the services' HTTP edges, for the central audit log."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from emms_messages.envelope import Payload


class AccessDenied(Payload):
    """One request a service refused (401, 403, 429, 503 of its access check), with the reason."""

    SCHEMA_NAME = "access.denied"
    SCHEMA_VERSION = 1

    event_id: str = Field(description="Unique per refusal; redeliveries keep it")
    service: str
    instance: str
    at: datetime
    status: int
    reason: str = Field(max_length=500)
    method: str
    path: str = Field(max_length=500)
    subject: str | None = None
    kind: str | None = Field(default=None, description="user, client or dev; None when no valid token was shown")
    client_ip: str | None = None

    def natural_key(self) -> str:
        return self.event_id
