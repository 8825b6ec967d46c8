"""Events on demand (R-4.5.4.3): a terminal's frame with ACD set makes the collector read its events at once.

ACD (in the control byte of any uplink frame: an answer, a heartbeat, a report) says the terminal holds an
important event the master has not read; the frame's EC carries the terminal's event counters. The FEP
publishes every such frame (``UplinkFrame.decoded``: ``control.acd``, ``ec``); this consumer compares the
important counter (EC1) with where the collector's last read of the important queue ended
(``terminal_events``) and, when they differ, reads the terminal's queues (AFN 0E F1 / F2, the
:class:`~emms_collector.intake.event_polls.EventPoller`) — one read per terminal at a time. The read is
idempotent (stable event ids; the pointer advances only on an answer), and the terminal keeps ACD set until
its events are read, so a read lost to a restart is asked again by the next frame.

Which ERC codes count as important is a setting per terminal class (``/api/v1/terminal-classes``,
``important_ercs``): a class that sets it decides the published ``event_class`` of every event read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog

from emms_bus import Delivery
from emms_collector import metrics
from emms_collector.intake.event_polls import EventPoller
from emms_collector.repository import terminal_events as event_sql
from emms_messages.terminal import UplinkFrame

log = structlog.get_logger("emms.collector.acd")


def acd_counter(decoded: dict[str, Any]) -> int | None:
    """EC1 (the important-event counter) of a decoded frame with ACD set; None without ACD."""
    control = decoded.get("control") or {}
    ec = decoded.get("ec")
    if control.get("acd") != 1 or not isinstance(ec, list | tuple) or not ec:
        return None
    return int(ec[0]) % 256


class AcdWatcher:
    """Consumer of ``emms.uplink.frame.v1`` (its own group): reads the events of terminals that raise ACD."""

    def __init__(self, pool: asyncpg.Pool, poller: EventPoller) -> None:
        self._pool = pool
        self._poller = poller
        self._reading: dict[str, asyncio.Task[None]] = {}
        self.reads = 0

    async def handle(self, batch: Sequence[Delivery]) -> None:
        raised: dict[str, int] = {}
        for d in batch:
            frame = d.payload
            if isinstance(frame, UplinkFrame):
                ec1 = acd_counter(frame.decoded)
                if ec1 is not None:
                    raised[frame.terminal] = ec1
        waiting = {t: ec for t, ec in raised.items() if t not in self._reading}
        if not waiting:
            return
        async with self._pool.acquire() as conn:
            read_to = await event_sql.important_pointers(conn, list(waiting))
        for terminal, ec1 in waiting.items():
            if read_to.get(terminal, 0) != ec1:
                self._reading[terminal] = asyncio.create_task(self._read(terminal))

    async def _read(self, terminal: str) -> None:
        try:
            published, why = await self._poller.read_terminal(terminal)
            self.reads += 1
            metrics.ACD_READS.labels("failed" if why else "read").inc()
            log.info("events read on ACD", terminal=terminal, events=published, failure=why or None)
        except Exception:  # the next frame with ACD asks again
            metrics.ACD_READS.labels("failed").inc()
            log.exception("events read on ACD failed", terminal=terminal)
        finally:
            self._reading.pop(terminal, None)

    async def stop(self) -> None:
        """Cancel the reads in hand (the terminals keep ACD set: they are read again after a restart)."""
        for task in list(self._reading.values()):
            task.cancel()
        await asyncio.gather(*self._reading.values(), return_exceptions=True)
