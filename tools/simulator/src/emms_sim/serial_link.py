"""One concentrator on a pseudo-terminal, for the FEP's serial channel.

On a serial (RS-232 / RS-485) link the master polls: no login, no heartbeat.
The pty's slave path is what the FEP opens; the concentrator answers every
frame addressed to it exactly as over TCP.
"""

from __future__ import annotations

import asyncio
import os
import tty

from emms_protocol.framing import StreamFramer
from emms_sim.dialled import answer_frames
from emms_sim.terminal_state import TerminalState


class SerialConcentrator:
    def __init__(self, state: TerminalState) -> None:
        self.state = state
        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.slave_fd)
        os.set_blocking(self.master_fd, False)
        self.path = os.ttyname(self.slave_fd)
        self.framer = StreamFramer()
        self.answered = 0

    def handle(self, data: bytes) -> bytes:
        """Bytes from the master in; the answer bytes out (public so tests can drive it without a pty)."""
        reply, answered = answer_frames(self.state, self.framer.feed(data))
        self.answered += answered
        return reply

    async def serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(self.master_fd, readable.set)
        try:
            while not stop.is_set():
                waiter = asyncio.ensure_future(readable.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                if not readable.is_set():
                    continue
                readable.clear()
                try:
                    data = os.read(self.master_fd, 4096)
                except (BlockingIOError, OSError):
                    continue
                reply = self.handle(data)
                if reply:
                    os.write(self.master_fd, reply)
        finally:
            loop.remove_reader(self.master_fd)

    def close(self) -> None:
        os.close(self.master_fd)
        os.close(self.slave_fd)
