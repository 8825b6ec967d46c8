"""A concentrator the master dials (the FEP's dial-out channels, R-4.6.6): it listens instead of connecting.

Some terminals have fixed addresses and wait for the master: a TCP listener per channel — the primary and
the standby (two SIM cards, two APNs, or a wired and a wireless port). :class:`DialledConcentrator` listens
on named channels; each accepted link answers every frame addressed to the terminal from its state, as a
serial link does (no login or heartbeat: the master opened the link and knows whom it dialled). Closing a
channel (:meth:`close`) drops its listener and its links: the channel is down and dials to it fail, which
is how a test takes the primary channel away and gives it back.
"""

from __future__ import annotations

import asyncio
import time

from emms_protocol.errors import ProtocolError
from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import decode_frame, encode_frame
from emms_sim import answer_events
from emms_sim.answers import answer
from emms_sim.terminal_state import TerminalState


def answer_frames(state: TerminalState, frames: list[bytes]) -> tuple[bytes, int]:
    """The answer bytes to whole frames from the master, and how many requests were answered (frames not
    addressed to the terminal, not downlink requests or undecodable are passed over)."""
    out = bytearray()
    answered = 0
    for raw in frames:
        try:
            frame = decode_frame(raw)
        except ProtocolError:
            continue
        a, me = frame.address, state.address
        if frame.control.direction != 0 or frame.control.prm != 1 or (a.area, a.terminal) != (me.area, me.terminal):
            continue
        now = time.time()
        answer_events.pull_scheduled(state, now)
        for reply in answer(state, frame, now).frames:
            out += encode_frame(reply)
        answered += 1
    return bytes(out), answered


class DialledConcentrator:
    def __init__(self, state: TerminalState) -> None:
        self.state = state
        self.answered = 0
        self.accepted: dict[str, int] = {}  # channel → links accepted on it
        self._servers: dict[str, asyncio.Server] = {}
        self._links: dict[str, set[asyncio.StreamWriter]] = {}

    async def listen(self, channel: str, host: str = "127.0.0.1", port: int = 0) -> int:
        """Open ``channel``'s listener; the port it listens on."""
        server = await asyncio.start_server(lambda r, w: self._serve(channel, r, w), host, port)
        self._servers[channel] = server
        self._links.setdefault(channel, set())
        self.accepted.setdefault(channel, 0)
        return int(server.sockets[0].getsockname()[1])

    async def close(self, channel: str) -> None:
        """The channel goes down: its listener and its links close."""
        server = self._servers.pop(channel, None)
        if server is not None:
            server.close()
        for writer in list(self._links.get(channel, ())):
            writer.close()
        if server is not None:
            await server.wait_closed()

    async def close_all(self) -> None:
        for channel in list(self._servers):
            await self.close(channel)

    def connected(self, channel: str) -> int:
        return len(self._links.get(channel, ()))

    async def _serve(self, channel: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted[channel] += 1
        links = self._links[channel]
        links.add(writer)
        framer = StreamFramer()
        try:
            while data := await reader.read(4096):
                reply, answered = answer_frames(self.state, framer.feed(data))
                self.answered += answered
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            links.discard(writer)
            writer.close()
