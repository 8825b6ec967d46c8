"""A minimal master station for tests and the benchmark: accepts terminals, confirms login / heartbeat / reports.

It counts what it saw per terminal (logins, heartbeats, logouts, reports) so
a benchmark can tell how many concentrators stay connected and heartbeating.
One process holds at most ~19,900 links (20,000 open files), so a load beyond
that runs several master processes on one port: ``reuse_port`` (SO_REUSEPORT)
lets the kernel spread the incoming connections over them.

    python -m emms_sim.loopback_master [--port 0] [--reuse-port] [--heartbeat-s 60] [--every-s 1]

prints ``{"port": P, "pid": …}`` once, then the counts as one JSON line per
``--every-s`` until SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field

from emms_protocol.errors import ProtocolError
from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import Frame, decode_frame, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_sim.process_setup import new_event_loop, raise_open_files_limit


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
    logged_out: set[str] = field(default_factory=set)


class LoopbackMaster:
    def __init__(self) -> None:
        self.counts = MasterCounts()
        self.links: dict[str, asyncio.StreamWriter] = {}  # terminal key → its link, once it logged in
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, backlog: int = 4096, *,
                    reuse_port: bool = False) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, backlog=backlog, limit=65536,
                                                  reuse_port=reuse_port or None)
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
        key = ""
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
                            self.links[key] = writer
                            c.logins += 1
                            c.terminals.add(key)
                            c.logged_out.discard(key)
                        elif fn == 0x04:
                            c.heartbeats += 1
                            c.last_heartbeat[key] = loop.time()
                        elif fn == 0x02:
                            c.logouts += 1
                            c.logged_out.add(key)
                    else:
                        c.reports += 1
                    writer.write(encode_frame(b.confirm(frame)))
            c.bad_bytes += framer.dropped_bytes
        except (ConnectionError, OSError):
            pass
        finally:
            c.open_connections -= 1
            if self.links.get(key) is writer:
                del self.links[key]
            writer.close()

    def send(self, key: str, frame: Frame) -> bool:
        """Write a request to a logged-in terminal (its answers are not collected); False if it has no link."""
        writer = self.links.get(key)
        if writer is None or writer.is_closing():
            return False
        writer.write(encode_frame(frame))
        return True

    def heartbeating(self, within_s: float) -> int:
        now = asyncio.get_running_loop().time()
        return sum(1 for t in self.counts.last_heartbeat.values() if now - t <= within_s)

    def snapshot(self, heartbeat_s: float) -> dict[str, int]:
        """Counts as one JSON-able dict; ``beating`` = terminals heard from within 1.5 heartbeat periods."""
        c = self.counts
        return {"open": c.open_connections, "connections": c.connections, "logins": c.logins,
                "terminals": len(c.terminals), "heartbeats": c.heartbeats,
                "beating": self.heartbeating(heartbeat_s * 1.5), "logouts": c.logouts,
                "logged_out": len(c.logged_out), "reports": c.reports}


async def _serve_forever(args: argparse.Namespace) -> None:
    master = LoopbackMaster()
    port = await master.start(args.host, args.port, reuse_port=args.reuse_port)
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), args.every_s)
        except TimeoutError:
            pass
        print(json.dumps(master.snapshot(args.heartbeat_s)), flush=True)
    await master.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="emms-sim-master", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--reuse-port", action="store_true", help="SO_REUSEPORT: several masters share one port")
    p.add_argument("--heartbeat-s", type=float, default=60.0, help="the fleet's period (for the 'beating' count)")
    p.add_argument("--every-s", type=float, default=1.0)
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    args = p.parse_args(argv)
    raise_open_files_limit()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner:
        runner.run(_serve_forever(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
