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


class LocalScheme(StrEnum):
    """How a concentrator reaches a meter behind it (the metering point's local communication scheme,
    ``local_scheme`` in the ``metering_point`` and ``meter_installation`` changes' ``data``)."""

    PLC = "plc"  # narrowband power-line carrier
    HPLC = "hplc"  # broadband (high-speed) power-line carrier
    RF = "rf"  # micro-power wireless
    RS485 = "rs485"
    MBUS = "mbus"
    AC_SAMPLING = "ac-sampling"  # the terminal's own AC sampling (1376.1 port 1)


LOCAL_SCHEMES = tuple(s.value for s in LocalScheme)


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
