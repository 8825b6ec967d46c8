"""Payloads about master data (archives) changes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from emms_messages.envelope import Payload


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REPLACED = "replaced"
    REMOVED = "removed"


class MasterDataChange(Payload):
    """A change to an archive entity (meter, terminal, customer…), published after commit."""

    SCHEMA_NAME = "masterdata.change"
    SCHEMA_VERSION = 1

    change_id: str
    entity: str
    entity_id: str
    kind: ChangeKind
    changed_at: datetime
    changed_by: str
    data: dict[str, Any] = Field(default_factory=dict)

    def natural_key(self) -> str:
        return self.change_id
