"""The duty log (值班日志): one message per important operation of any service, for the operations
service's immutable, queryable log (R-4.6.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from emms_messages.envelope import Payload


class OperationLogged(Payload):
    """An important operation done (or refused) in a service: a control command, a parameter change, a
    reset, a user change, a task change, an approval. Publish it after the operation committed, with
    ``emms_runtime.oplog.record``; ``entry_id`` is unique per operation (redeliveries keep it)."""

    SCHEMA_NAME = "operation.logged"
    SCHEMA_VERSION = 1

    entry_id: str = Field(min_length=1, max_length=200, description="Unique per operation; redeliveries keep it")
    service: str = Field(min_length=1, max_length=40)
    category: str = Field(min_length=1, max_length=40,
                          description="control, parameter, reset, user, task, approval, ticket, …")
    action: str = Field(min_length=1, max_length=80, description="e.g. command.submitted, user.update")
    actor: str = Field(max_length=200, description="the token's subject, or the service for automatic work")
    at: datetime
    outcome: str = Field(default="success", max_length=40)
    target: str | None = Field(default=None, max_length=500, description="what was acted on (job, user, terminal)")
    terminal: str | None = Field(default=None, max_length=20)
    meter_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    detail: dict[str, Any] = Field(default_factory=dict)

    def natural_key(self) -> str:
        return self.entry_id
