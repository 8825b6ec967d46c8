"""TCP client channel: the master dials terminals that have fixed addresses.

One task per dialled target keeps the link up: connect, wait until the link is
lost, back off (doubling up to a ceiling), dial again.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog

from emms_fep.channels.base import LinkAcceptor
from emms_fep.channels.tcp_server import StreamLink

log = structlog.get_logger("emms.fep.channels")


class TcpClientChannel:
    """Keeps one link open to ``host:port``; ``terminal`` binds the link to a known terminal."""

    def __init__(self, host: str, port: int, acceptor: LinkAcceptor, *, terminal: str | None = None,
                 connect_timeout_s: float = 10.0, backoff_s: float = 1.0, backoff_max_s: float = 60.0) -> None:
        self._host = host
        self._port = port
        self._acceptor = acceptor
        self._terminal = terminal
        self._connect_timeout_s = connect_timeout_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._task: asyncio.Task[None] | None = None
        self._link: StreamLink | None = None
        self._label = f"tcp-client:{host}:{port}"
        self.connects = 0

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
        loop = asyncio.get_running_loop()
        delay = self._backoff_s
        while True:
            link = StreamLink(self._label, self._acceptor, self._terminal)
            link.lost = loop.create_future()
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await loop.create_connection(lambda link=link: link, self._host, self._port)  # type: ignore[misc]
            except (OSError, TimeoutError) as exc:
                log.info("dial failed", target=self._label, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            self._link = link
            self.connects += 1
            delay = self._backoff_s
            reason = await link.lost
            self._link = None
            log.info("dialled link lost", target=self._label, reason=reason)
            await asyncio.sleep(delay)
