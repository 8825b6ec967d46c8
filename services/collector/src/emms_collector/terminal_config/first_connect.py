"""First connect (R-4.6.3): a terminal that logs in and master data does not know is registered as ``new``,
its version (AFN09 F1) and configuration (AFN0A F1, F3, F10) read at once and kept for an operator to accept.

The login itself is noted by :meth:`TerminalConfig.handle_sessions`; the reads run in the terminal-config
worker (``read_state`` due → reading → done; a read that got no answer is due again at the next step, and
one in progress when a replica stopped is due again at start).
"""

from __future__ import annotations

import asyncio
from typing import Any

from emms_collector.reading.answers import typed_frames
from emms_collector.repository import terminal_config as sql
from emms_collector.terminal_config import values
from emms_collector.terminal_config.pushes import TerminalConfig
from emms_messages.terminal import DataUnitRequest, RequestOutcome


class FirstConnect:
    def __init__(self, config: TerminalConfig) -> None:
        self.config = config

    async def read_due(self) -> int:
        async with self.config.pool.acquire() as conn:
            due = await sql.reads_due(conn, 200)
        await asyncio.gather(*(self.read(t) for t in due))
        return len(due)

    async def read(self, terminal: str) -> dict[str, Any]:
        """Version and configuration of one terminal, stored in its registry row."""
        version_result = await self.config.send(terminal, 0x09, [DataUnitRequest(pn=[0], fn=[1])], "terminal-version")
        version = None
        if version_result.outcome is RequestOutcome.ANSWERED:
            version = values.reported_units(typed_frames(version_result.frames), 0x09).get(1)
        config, result = await self.config.read(terminal, values.READ_ON_FIRST_CONNECT)
        ok = version is not None and config is not None
        detail = "" if ok else "; ".join(
            f"{what} {r.outcome.value}: {r.detail}".strip(": ")
            for what, r, got in (("version", version_result, version), ("configuration", result, config))
            if got is None)
        stored = None if config is None else {str(fn): v for fn, v in sorted(config.items())}
        async with self.config.pool.acquire() as conn, conn.transaction():
            await sql.note_read(conn, terminal, ok, version, stored, detail)
            if config is not None and 10 in config:
                await sql.note_table(conn, terminal, values.records_of(config[10]))
        return {"terminal": terminal, "ok": ok, "version": version, "config": stored, "detail": detail}
