"""The master's own clock against NTP servers (R-4.6.1.2): measured, exposed, alarmed — never set.

Setting the host's clock is the platform's job (chrony / systemd-timesyncd on the nodes); the master
station measures how far its clock is from the configured NTP servers and says so:

* every ``every_s`` each server in ``servers`` (``host`` or ``host:port``) is asked once (an SNTP
  client request through ``ntplib``, in a thread so the event loop never waits on a socket);
* the **offset** of the master is *master time − server time*, delay compensated the NTP way
  (``((t1 − t0) + (t2 − t3)) / 2`` with the four timestamps; ``ntplib`` gives server − master, the
  sign is turned so a master running ahead is positive);
* ``emms_master_clock_offset_seconds{server}`` and ``emms_master_clock_reachable{server}`` per server,
  ``emms_master_clock_tolerance_seconds`` once — the alert ``EmmsMasterClockOffset`` compares them;
* the latest check of every server is kept for ``GET /api/v1/clock/master``.

The verdict uses the median offset of the servers that answered: one wrong server cannot move it.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

import ntplib
import structlog

from emms_collector import metrics
from emms_collector.settings import MasterClockSettings
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.collector.master_clock")


@dataclass(frozen=True)
class NtpServer:
    host: str
    port: int = 123

    @classmethod
    def parse(cls, text: str) -> NtpServer:
        """``host``, ``host:port`` or ``[v6]:port``."""
        text = text.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            return cls(host, int(rest.lstrip(":") or 123))
        if text.count(":") == 1:
            host, port = text.split(":")
            return cls(host, int(port))
        return cls(text)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ServerCheck:
    server: str
    checked_at: datetime
    offset_s: float | None
    """Master − server (positive: the master is ahead); None when the server did not answer."""
    delay_s: float | None
    stratum: int | None
    error: str = ""


def query(server: NtpServer, timeout_s: float) -> ServerCheck:
    """Ask one server (blocking): the master's offset from it, or why not."""
    now = datetime.now(UTC)
    try:
        stats = ntplib.NTPClient().request(server.host, version=3, port=server.port, timeout=timeout_s)
    except (ntplib.NTPException, OSError) as exc:
        return ServerCheck(str(server), now, None, None, None, str(exc) or type(exc).__name__)
    if stats.stratum == 0 or stats.leap == 3:  # kiss-o'-death or an unsynchronised server: not a reference
        return ServerCheck(str(server), now, None, None, stats.stratum, "server not synchronised")
    return ServerCheck(str(server), now, -float(stats.offset), float(stats.delay), int(stats.stratum))


class MasterClock:
    """The periodic check of the master's clock and its latest result."""

    def __init__(self, settings: MasterClockSettings) -> None:
        self._settings = settings
        self._servers = [NtpServer.parse(s) for s in settings.servers]
        self.latest: dict[str, ServerCheck] = {}
        metrics.MASTER_CLOCK_TOLERANCE.set(settings.tolerance_s)

    @property
    def tolerance_s(self) -> float:
        return self._settings.tolerance_s

    async def check(self) -> list[ServerCheck]:
        """Ask every configured server once, at the same time; update the metrics."""
        checks = await asyncio.gather(*(asyncio.to_thread(query, s, self._settings.timeout_s)
                                        for s in self._servers))
        for c in checks:
            self.latest[c.server] = c
            metrics.MASTER_CLOCK_REACHABLE.labels(c.server).set(0 if c.offset_s is None else 1)
            if c.offset_s is not None:
                metrics.MASTER_CLOCK_OFFSET.labels(c.server).set(c.offset_s)
            else:
                log.warning("ntp server did not answer", server=c.server, error=c.error)
        offset = self.offset_s()
        if offset is not None and abs(offset) > self._settings.tolerance_s:
            log.warning("master clock out of tolerance", offset_s=offset, tolerance_s=self._settings.tolerance_s)
        return list(checks)

    def offset_s(self) -> float | None:
        """The median offset over the servers that answered last time; None when none did."""
        answered = [c.offset_s for c in self.latest.values() if c.offset_s is not None]
        return statistics.median(answered) if answered else None

    def status(self) -> dict[str, object]:
        offset = self.offset_s()
        return {"servers": [vars(c) | {"checked_at": c.checked_at.isoformat()} for c in self.latest.values()],
                "offset_s": offset, "tolerance_s": self._settings.tolerance_s,
                "within_tolerance": None if offset is None else abs(offset) <= self._settings.tolerance_s}

    async def run(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("master-clock", self.check, self._settings.every_s).run(stop)
