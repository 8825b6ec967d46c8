"""The interface's domain state (``rt.state``): pool, upstream clients, the webhook dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import asyncpg

from emms_interface.settings import InterfaceSettings
from emms_interface.upstream import Upstream
from emms_interface.webhooks.dispatcher import Dispatcher


@dataclass
class InterfaceRuntime:
    settings: InterfaceSettings
    pool: asyncpg.Pool
    upstream: Upstream
    dispatcher: Dispatcher
    tz: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.settings.local_tz)
