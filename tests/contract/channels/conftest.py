"""The harness fixture: the same contract suite over TCP server, TCP client and serial (pty)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
from collections.abc import AsyncIterator

import pytest
from channel_harness import Harness, PtyRemote, RecordingAcceptor, Remote, SocketRemote

from emms_fep.channels.base import Channel
from emms_fep.channels.serial_port import SerialChannel
from emms_fep.channels.tcp_client import TcpClientChannel
from emms_fep.channels.tcp_server import TcpServerChannel

KINDS = ("tcp-server", "tcp-client", "serial")


@pytest.fixture(params=KINDS)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    acceptor = RecordingAcceptor()
    kind = request.param
    if kind == "tcp-server":
        channel: Channel = TcpServerChannel("127.0.0.1", 0, acceptor)
        h = Harness(kind, channel, acceptor)
        await channel.start()
        yield h
        await channel.stop()
    elif kind == "tcp-client":
        async with _dialled(acceptor) as h:
            yield h
    else:
        async with _wired(acceptor) as h:
            yield h
    for remote in h.remotes:
        await remote.close()


@contextlib.asynccontextmanager
async def _dialled(acceptor: RecordingAcceptor) -> AsyncIterator[Harness]:
    remotes: list[Remote] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        remotes.append(SocketRemote(reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = TcpClientChannel("127.0.0.1", port, acceptor, terminal="0171-00042", backoff_s=0.05)
    h = Harness("tcp-client", channel, acceptor, remotes=remotes)
    await channel.start()
    try:
        yield h
    finally:
        await channel.stop()
        server.close()


@contextlib.asynccontextmanager
async def _wired(acceptor: RecordingAcceptor) -> AsyncIterator[Harness]:
    master, slave = pty.openpty()
    device = os.ttyname(slave)
    os.close(slave)  # only the channel holds the terminal side, so its close is seen as EIO here
    channel = SerialChannel(device, acceptor, baudrate=9600, terminal="0171-00043", reopen_s=0.1)
    h = Harness("serial", channel, acceptor, remotes=[PtyRemote(master)])
    await channel.start()
    try:
        yield h
    finally:
        await channel.stop()
