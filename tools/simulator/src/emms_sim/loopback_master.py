"""A minimal master station for tests and the benchmark: accepts terminals, confirms login / heartbeat / reports.

It counts what it saw per terminal (logins, heartbeats, logouts, reports) so
a benchmark can tell how many concentrators stay connected and heartbeating.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from emms_protocol.errors import ProtocolError
from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376 import decode_frame, encode_frame


@dataclass
class MasterCounts:
    connections: int = 0
    open_connections: int = 0
    logins: int = 0
    heartbeats: int = 0
    logouts: int = 0
    reports: int = 0
    bad_bytes: int = 0
    terminals: set[str] = field(default_factory=set)
    last_heartbeat: dict[str, float] = field(default_factory=dict)


class LoopbackMaster:
    def __init__(self) -> None:
        self.counts = MasterCounts()
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, backlog: int = 4096) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, backlog=backlog, limit=65536)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c = self.counts
        c.connections += 1
        c.open_connections += 1
        framer = StreamFramer()
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(4096):
                for raw in framer.feed(data):
                    try:
                        frame = decode_frame(raw)
                    except ProtocolError:
                        continue
                    if frame.control.prm != 1 or not frame.seq.con:
                        continue
                    key = frame.address.key
                    if frame.afn == 0x02:
                        fn = frame.body[2]
                        if fn == 0x01:
                            c.logins += 1
                            c.terminals.add(key)
                        elif fn == 0x04:
                            c.heartbeats += 1
                            c.last_heartbeat[key] = loop.time()
                        elif fn == 0x02:
                            c.logouts += 1
                    else:
                        c.reports += 1
                    writer.write(encode_frame(b.confirm(frame)))
            c.bad_bytes += framer.dropped_bytes
        except (ConnectionError, OSError):
            pass
        finally:
            c.open_connections -= 1
            writer.close()

    def heartbeating(self, within_s: float) -> int:
        now = asyncio.get_running_loop().time()
        return sum(1 for t in self.counts.last_heartbeat.values() if now - t <= within_s)
