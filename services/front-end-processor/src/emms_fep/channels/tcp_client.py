"""TCP client channel: the master dials terminals that have fixed addresses, on a primary and a standby channel.

One task per dialled target keeps the link up: connect, wait until the link is
lost, back off (doubling up to a ceiling), dial again. A target with a standby
channel (R-4.6.6) moves to it and back by one rule:

* on the primary: after ``failover_after`` failed dials in a row the standby is
  dialled at once;
* on the standby: every ``primary_retry_s`` (0: never) the primary is dialled
  beside the standby link — when it connects, the primary link takes over (a
  bound terminal's new link replaces its session) and the standby link is
  closed; when the standby link ends, or the standby cannot be dialled, the next
  dial is the primary's again.

The link's channel label (``tcp-client:<host>:<port>``) is the channel it went
to, so the terminal's session shows ``active: standby`` against its configured
channels (:mod:`emms_fep.channel_match`).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog

from emms_fep.channels.base import LinkAcceptor
from emms_fep.channels.tcp_server import StreamLink

log = structlog.get_logger("emms.fep.channels")
PRIMARY, STANDBY = "primary", "standby"


class TcpClientChannel:
    """Keeps one link open to ``host:port`` (or ``standby``); ``terminal`` binds the link to a known terminal."""

    def __init__(self, host: str, port: int, acceptor: LinkAcceptor, *, terminal: str | None = None,
                 standby: tuple[str, int] | None = None, failover_after: int = 3, primary_retry_s: float = 600.0,
                 connect_timeout_s: float = 10.0, backoff_s: float = 1.0, backoff_max_s: float = 60.0) -> None:
        self._targets = {PRIMARY: (host, port)}
        if standby is not None:
            self._targets[STANDBY] = standby
        self._acceptor = acceptor
        self._terminal = terminal
        self._failover_after = max(1, failover_after)
        self._primary_retry_s = primary_retry_s
        self._connect_timeout_s = connect_timeout_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._task: asyncio.Task[None] | None = None
        self._link: StreamLink | None = None
        self._label = _label(host, port)
        self.active = PRIMARY  # the channel dialled now (or last)
        self.connects = 0
        self.switches = 0

    @property
    def name(self) -> str:
        return self._label

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.lost is not None and not self._link.lost.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_dialling(), name=self._label)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._link is not None:
            self._link.close()
            self._link = None

    async def _keep_dialling(self) -> None:
        delay = self._backoff_s
        failures = 0
        while True:
            link = await self._dial(self.active)
            if link is None:
                if self.active == STANDBY:
                    self._switch(PRIMARY, "the standby channel could not be dialled")
                else:
                    failures += 1
                    if STANDBY in self._targets and failures >= self._failover_after:
                        self._switch(STANDBY, f"{failures} failed dials of the primary channel")
                        failures = 0
                        continue
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            delay, failures = self._backoff_s, 0
            next_link: StreamLink | None = link
            while next_link is not None:
                next_link = await self._hold(next_link)
            await asyncio.sleep(delay)

    async def _hold(self, link: StreamLink) -> StreamLink | None:
        """Until the link is lost; on the standby the primary is tried every ``primary_retry_s`` — a primary
        link that opens is returned (it took over)."""
        self._link = link
        self.connects += 1
        lost = link.lost
        assert lost is not None
        while True:
            if self.active == PRIMARY or self._primary_retry_s <= 0:
                reason = await lost
                break
            try:
                reason = await asyncio.wait_for(asyncio.shield(lost), self._primary_retry_s)
                break
            except TimeoutError:
                primary = await self._dial(PRIMARY)
                if primary is None:
                    continue
                self._switch(PRIMARY, "the primary channel answers again")
                link.close()  # a bound terminal's new link has replaced its session already
                return primary
        self._link = None
        log.info("dialled link lost", target=link.port, reason=reason)
        if self.active == STANDBY:
            self._switch(PRIMARY, "the standby link ended")
        return None

    async def _dial(self, which: str) -> StreamLink | None:
        loop = asyncio.get_running_loop()
        host, port = self._targets[which]
        link = StreamLink(_label(host, port), self._acceptor, self._terminal)
        link.lost = loop.create_future()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await loop.create_connection(lambda link=link: link, host, port)  # type: ignore[misc]
        except (OSError, TimeoutError) as exc:
            log.info("dial failed", target=link.port, channel=which, error=repr(exc))
            return None
        return link

    def _switch(self, to: str, why: str) -> None:
        if to != self.active:
            self.active = to
            self.switches += 1
            log.warning("dial-out moves channel", target=self._label, terminal=self._terminal, channel=to, why=why)


def _label(host: str, port: int) -> str:
    return f"tcp-client:{host}:{port}"
