"""The dial-out channel's standby (R-4.6.6) over loopback sockets: the primary refused → the standby after
``failover_after`` dials; the primary back → it takes over and the standby link is closed; the standby link
ending → the primary is dialled again."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest

from emms_fep.channels.base import Link, LinkHandler
from emms_fep.channels.tcp_client import TcpClientChannel
from emms_fep.settings import FepSettings


class _Handler:
    def __init__(self, link: Link, opened: list[tuple[str, str]]) -> None:
        self.link = link
        opened.append((link.port, "open"))
        self._opened = opened

    def data_received(self, data: bytes) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        self._opened.append((self.link.port, "lost"))


class _Acceptor:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def open_link(self, link: Link, bound_terminal: str | None = None) -> LinkHandler | None:
        return _Handler(link, self.events)


class _Terminal:
    """A listening port that counts the links it holds."""

    def __init__(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def listen(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        await reader.read()
        self.writers.discard(writer)
        writer.close()

    async def down(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for w in list(self.writers):
            w.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_the_standby_is_dialled_after_failed_primaries_and_the_primary_takes_over_again() -> None:
    primary_port, standby, primary = _closed_port(), _Terminal(), _Terminal()
    standby_port = await standby.listen()
    acceptor = _Acceptor()
    channel = TcpClientChannel("127.0.0.1", primary_port, acceptor, standby=("127.0.0.1", standby_port),
                               failover_after=2, primary_retry_s=0.2, backoff_s=0.01, backoff_max_s=0.02)
    await channel.start()
    try:
        await _until(lambda: channel.connected)
        assert channel.active == "standby" and channel.switches == 1
        assert acceptor.events == [(f"tcp-client:127.0.0.1:{standby_port}", "open")]
        await asyncio.sleep(0.5)  # the primary still refuses: the standby link stays
        assert channel.active == "standby" and len(standby.writers) == 1
        await primary.listen(primary_port)  # the primary channel is back
        await _until(lambda: channel.active == "primary" and len(primary.writers) == 1)
        await _until(lambda: (f"tcp-client:127.0.0.1:{standby_port}", "lost") in acceptor.events)
        await _until(lambda: not standby.writers)
        assert acceptor.events[-2:] == [(f"tcp-client:127.0.0.1:{primary_port}", "open"),
                                        (f"tcp-client:127.0.0.1:{standby_port}", "lost")]
    finally:
        await channel.stop()
        await standby.down()
        await primary.down()


async def test_a_lost_standby_link_sends_the_next_dial_to_the_primary() -> None:
    primary_port, standby = _closed_port(), _Terminal()
    standby_port = await standby.listen()
    channel = TcpClientChannel("127.0.0.1", primary_port, _Acceptor(), standby=("127.0.0.1", standby_port),
                               failover_after=3, primary_retry_s=0, backoff_s=0.01, backoff_max_s=0.02)
    await channel.start()
    try:
        await _until(lambda: channel.connected and channel.active == "standby")
        assert channel.switches == 1
        await standby.down()  # the standby link ends: the primary is dialled first again
        await _until(lambda: channel.switches >= 2)
        assert not channel.connected  # (the one move from the standby is to the primary)
        # both refuse now: three primaries, one standby, three primaries … — never stuck on one channel
        await _until(lambda: channel.switches >= 4)
    finally:
        await channel.stop()
        await standby.down()


def test_a_dial_target_takes_its_standby_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMMS_FEP_DIAL", '[{"host": "10.0.0.5", "port": 9001, "terminal": "0766-00009",'
                                        ' "standby": {"host": "10.0.1.5", "port": 9002}, "failover_after": 4}]')
    (target,) = FepSettings(_env_file=None).dial
    assert target.standby is not None and target.standby.port == 9002 and target.failover_after == 4
    assert target.primary_retry_s == 600.0
