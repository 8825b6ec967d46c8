"""The FEP at load: concentrators held by one process, RSS per link, loop lag, login storm, bus round trip.

One FEP process (``python -m emms_fep``, uvloop) on a real broker (Tansu) and
PostgreSQL. Load-generator processes (this file in ``loadgen`` mode, one per
source address 127.0.0.2, .3, …, so loopback never runs out of ports) each
dial their share of concentrators at once, log in, heartbeat and answer clock
reads (AFN 0C F2). The bench times the login storm, holds the fleet, samples
the FEP's RSS and event-loop lag, then publishes read requests on the bus and
times request → result.

The FEP's process is capped at 20,000 open files, so it is configured to
hold at most 19,900 links (``limits.max_connections``); by default the bench
dials 20,000 concentrators to show that cap reached (the rest are refused).

    .venv/bin/python tools/bench/run.py fep
    EMMS_BENCH_FEP_TERMINALS=2000 .venv/bin/python tools/bench/bench_fep.py

Env (prefix ``EMMS_BENCH_FEP_``): ``TERMINALS`` (20000), ``LOADGENS`` (processes, 4), ``HEARTBEAT_S`` (60),
``HOLD_S`` (steady phase, 25), ``REQUESTS`` (2000), ``RATE`` (requests/s, 400).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
BENCH = "fep"
FEP_CAP = 19_900


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"EMMS_BENCH_FEP_{name}", str(default)))


# ---------------------------------------------------------------------------------------------------------------
# load generator: ``bench_fep.py loadgen PORT FIRST COUNT SOURCE_IP HEARTBEAT_S``
# prints {"event": "ready"}, waits for a line on stdin, dials everything, prints {"event": "storm", …},
# then heartbeats and answers reads until SIGTERM.
# ---------------------------------------------------------------------------------------------------------------

class LoadTerminal(asyncio.Protocol):
    """One concentrator as an asyncio protocol: logs in on connect, heartbeats, answers AFN 0C F2."""

    __slots__ = ("address", "confirmed_at", "framer", "gen", "lost", "pseq", "transport")

    def __init__(self, gen: LoadGen, address: Any) -> None:
        from emms_protocol.framing import StreamFramer

        self.gen = gen
        self.address = address
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.confirmed_at = 0.0
        self.lost = False
        self.pseq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.gen.login_frame(self))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        for raw in self.framer.feed(data):
            if raw[6] & 0x40:  # PRM=1: a request from the master
                reply = self.gen.answer(raw)
                if reply is not None and self.transport is not None:
                    self.transport.write(reply)
            elif not self.confirmed_at and raw[12] == 0x00:
                self.confirmed_at = time.time()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass

    def heartbeat(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.gen.heartbeat_frame(self))


class LoadGen:
    def __init__(self, first: int, count: int) -> None:
        from emms_protocol.gdw1376 import Address

        self.terminals = [LoadTerminal(self, Address.parse(f"0999-{first + i:05d}")) for i in range(count)]
        self.answered = 0

    def _next(self, t: LoadTerminal) -> int:
        t.pseq = (t.pseq + 1) & 0x0F
        return t.pseq

    def login_frame(self, t: LoadTerminal) -> bytes:
        from emms_protocol.gdw1376 import builders, encode_frame

        return encode_frame(builders.login(t.address, self._next(t)))

    def heartbeat_frame(self, t: LoadTerminal) -> bytes:
        from emms_protocol.gdw1376 import builders, encode_frame

        return encode_frame(builders.heartbeat(t.address, self._next(t)))

    def answer(self, raw: bytes) -> bytes | None:
        from datetime import UTC, datetime

        from emms_protocol import ProtocolError
        from emms_protocol.gdw1376 import DataUnit, builders, decode_frame, encode_frame

        try:
            request = decode_frame(raw)
            if request.afn != 0x0C:
                return encode_frame(builders.deny(request))
            self.answered += 1
            return encode_frame(builders.response(request, [DataUnit(0, 2, datetime.now(UTC).replace(microsecond=0))]))
        except ProtocolError:
            return None


async def _loadgen(port: int, first: int, count: int, source: str, heartbeat_s: float) -> None:
    loop = asyncio.get_running_loop()
    gen = LoadGen(first, count)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"event": "ready"}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    started = time.time()
    sem = asyncio.Semaphore(256)
    failed = 0

    async def dial(t: LoadTerminal) -> None:
        nonlocal failed
        async with sem:
            for attempt in range(10):
                try:
                    await loop.create_connection(lambda: t, "127.0.0.1", port, local_addr=(source, 0))
                    return
                except OSError:
                    await asyncio.sleep(0.2 * (attempt + 1))
            failed += 1

    await asyncio.gather(*(dial(t) for t in gen.terminals))
    deadline = time.monotonic() + 60
    def waiting() -> bool:
        return any(not t.confirmed_at and not t.lost for t in gen.terminals)

    while time.monotonic() < deadline and waiting():  # noqa: ASYNC110 - a poll over thousands of protocols
        await asyncio.sleep(0.05)
    confirmed = [t.confirmed_at for t in gen.terminals if t.confirmed_at]
    print(json.dumps({"event": "storm", "started": started, "last_confirm": max(confirmed, default=0.0),
                      "confirmed": len(confirmed), "refused": sum(1 for t in gen.terminals if t.lost),
                      "failed": failed}), flush=True)
    live = [t for t in gen.terminals if t.confirmed_at and not t.lost]
    tick = 0.05
    per_tick = max(1, round(len(live) * tick / heartbeat_s))
    index = 0
    while not stop.is_set():  # heartbeats spread evenly over the period
        for _ in range(min(per_tick, len(live))):
            live[index % len(live)].heartbeat()
            index += 1
        try:
            await asyncio.wait_for(stop.wait(), tick)
        except TimeoutError:
            pass
    print(json.dumps({"event": "done", "answered": gen.answered,
                      "lost": sum(1 for t in gen.terminals if t.lost)}), flush=True)
    for t in gen.terminals:
        if t.transport is not None:
            t.transport.abort()


def _loadgen_main(argv: list[str]) -> None:
    port, first, count, source, heartbeat_s = int(argv[0]), int(argv[1]), int(argv[2]), argv[3], float(argv[4])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_loadgen(port, first, count, source, heartbeat_s))


# ---------------------------------------------------------------------------------------------------------------
# orchestration
# ---------------------------------------------------------------------------------------------------------------

def _get(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def _online(http: str, token: str) -> list[str]:
    """The terminals the FEP holds, from its API (paged)."""
    out: list[str] = []
    while True:
        page = _get(f"{http}/api/v1/terminals?state=online&limit=1000&offset={len(out)}", token)
        out += [item["terminal"] for item in page["items"]]
        if not page["items"] or len(out) >= page["total"]:
            return out


def _rss(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def _fds(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).num_fds())


class RoundTrips:
    """Publishes read requests on the bus and times each until its DownlinkResult comes back."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        from emms_bus import KafkaSettings

        self.settings = KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix)
        self.sent: dict[str, float] = {}
        self.took: list[float] = []
        self.terminal_ms: list[float] = []  # the FEP's own send → answer time (DownlinkResult.round_trip_ms)
        self.outcomes: dict[str, int] = {}
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, batch: Any) -> None:
        from emms_messages.terminal import DownlinkResult

        now = time.perf_counter()
        for d in batch:
            result = d.payload
            if isinstance(result, DownlinkResult) and result.request_id in self.sent:
                self.outcomes[result.outcome.value] = self.outcomes.get(result.outcome.value, 0) + 1
                started = self.sent.pop(result.request_id)
                if result.outcome.value == "answered":
                    self.took.append(now - started)
                    self.terminal_ms.append(result.round_trip_ms or 0.0)
        if self.expected and sum(self.outcomes.values()) >= self.expected:
            self.done.set()

    async def run(self, terminals: list[str], n: int, rate: float, joined: asyncio.Event) -> None:
        from emms_bus import BusConsumer, BusProducer
        from emms_messages.terminal import DataUnitRequest, DownlinkRequest

        producer = BusProducer(self.settings, "bench-fep")
        await producer.start()
        stop = asyncio.Event()
        consumer = BusConsumer(self.settings, group=f"bench-results-{secrets.token_hex(3)}",
                               topics=["emms.downlink.result.v1"], handler=self.handle, dlq_producer=producer,
                               from_beginning=False)
        task = asyncio.create_task(consumer.run(stop))
        try:
            await joined.wait()
            probe = DownlinkRequest(request_id=f"bench-probe-{secrets.token_hex(4)}", terminal="0998-00001",
                                    afn=0x0C, units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="bench")
            for _ in range(60):  # until the result consumer sees results (its group is assigned)
                self.sent[probe.request_id] = time.perf_counter()
                await producer.publish(probe)
                await asyncio.sleep(1.0)
                if self.outcomes:
                    break
                probe = probe.model_copy(update={"request_id": f"bench-probe-{secrets.token_hex(4)}"})
            self.outcomes.clear()
            self.took.clear()
            self.terminal_ms.clear()
            self.sent.clear()
            self.expected = n
            started = time.perf_counter()
            for i in range(n):
                request = DownlinkRequest(request_id=f"bench-{secrets.token_hex(6)}",
                                          terminal=terminals[(i * 7919) % len(terminals)], afn=0x0C,
                                          units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="bench",
                                          timeout_s=10, retries=0)
                self.sent[request.request_id] = time.perf_counter()
                await producer.publish(request)
                delay = started + (i + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            try:
                await asyncio.wait_for(self.done.wait(), 30)
            except TimeoutError:
                pass
        finally:
            stop.set()
            await task
            await producer.stop()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_fep(env: dict[str, str], http_port: int, terminal_port: int, heartbeat_s: int) -> subprocess.Popen[bytes]:
    fep_env = {**env, "EMMS_FEP_HTTP__PORT": str(http_port), "EMMS_FEP_TERMINALS__PORT": str(terminal_port),
               "EMMS_FEP_TERMINALS__HOST": "127.0.0.1", "EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER": "20000",
               "EMMS_FEP_LIMITS__MAX_CONNECTIONS": str(FEP_CAP),
               "EMMS_FEP_SESSIONS__HEARTBEAT_TIMEOUT_S": str(heartbeat_s * 3), "EMMS_FEP_LOG_LEVEL": "WARNING",
               "EMMS_FEP_REPLICA_ID": "bench-fep-0", "EMMS_FEP_SESSIONS__LOGIN_TIMEOUT_S": "120"}
    log = open(Path(".cache") / "bench-fep.log", "wb")  # noqa: SIM115 - handed to the child
    return subprocess.Popen([sys.executable, "-m", "emms_fep"], env=fep_env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_ready(http_port: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=3) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError("the FEP did not get ready")


def _read_event(gen: subprocess.Popen[str], name: str) -> dict[str, Any]:
    assert gen.stdout is not None
    while True:
        line = gen.stdout.readline()
        if not line:
            raise RuntimeError(f"a load generator ended before '{name}'")
        event: dict[str, Any] = json.loads(line)
        if event.get("event") == name:
            return event


Sampled = tuple[RoundTrips, dict[str, Any], dict[str, Any], int]


async def _hold_and_round_trip(bootstrap: str, prefix: str, terminals: list[str], hold_s: float,
                               http: str, token: str, pid: int) -> Sampled:
    """Hold the fleet ``hold_s`` (the result consumer joins meanwhile), sample, then run the round trips."""
    trips = RoundTrips(bootstrap, prefix)
    joined = asyncio.Event()
    task = asyncio.create_task(trips.run(terminals, _env("REQUESTS", 2000), _env("RATE", 400), joined))
    await asyncio.sleep(hold_s)
    steady = await asyncio.to_thread(_get, f"{http}/api/v1/fep/stats?lag_window_s={hold_s * 0.8:.0f}", token)
    rss = _rss(pid)
    joined.set()
    await task
    loaded = await asyncio.to_thread(_get, f"{http}/api/v1/fep/stats?lag_window_s=10", token)
    return trips, steady, loaded, rss


def _measure(env: dict[str, str], bootstrap: str, prefix: str) -> list[dict[str, Any]]:
    from emms_devstack.ports import free_port
    from emms_runtime.auth import issue_token
    from emms_runtime.settings import AuthSettings

    n, procs = _env("TERMINALS", 20_000), _env("LOADGENS", 4)
    heartbeat_s, hold_s = _env("HEARTBEAT_S", 60), _env("HOLD_S", 25)
    http_port, terminal_port = free_port(), free_port()
    http = f"http://127.0.0.1:{http_port}"
    token = issue_token(AuthSettings(), "bench", "viewer")
    Path(".cache").mkdir(exist_ok=True)
    fep = _start_fep(env, http_port, terminal_port, heartbeat_s)
    gens: list[subprocess.Popen[str]] = []
    try:
        _wait_ready(http_port)
        time.sleep(2)
        base_rss = _rss(fep.pid)
        share = -(-n // procs)
        for p in range(procs):
            count = min(share, n - p * share)
            gens.append(subprocess.Popen(
                [sys.executable, str(HERE), "loadgen", str(terminal_port), str(p * share + 1), str(count),
                 f"127.0.0.{2 + p}", str(heartbeat_s)], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
                env=env))
        for g in gens:
            _read_event(g, "ready")
        go = time.time()
        for g in gens:
            assert g.stdin is not None
            g.stdin.write("go\n")
            g.stdin.flush()
        storms = [_read_event(g, "storm") for g in gens]
        storm_s = max(s["last_confirm"] for s in storms) - go
        confirmed = sum(s["confirmed"] for s in storms)
        refused = sum(s["refused"] for s in storms)
        stats = _get(f"{http}/api/v1/fep/stats?lag_window_s={max(5, storm_s + 2):.0f}", token)
        fds = _fds(fep.pid)
        time.sleep(1.0)  # session rows are written in batches every half second
        terminals = _online(http, token)
        trips, steady, loaded, rss = asyncio.run(
            _hold_and_round_trip(bootstrap, prefix, terminals, hold_s, http, token, fep.pid))
    finally:
        for g in gens:
            g.send_signal(signal.SIGTERM)
        fep.send_signal(signal.SIGTERM)
        fep.wait(timeout=60)
        for g in gens:
            try:
                g.wait(timeout=30)
            except subprocess.TimeoutExpired:
                g.kill()
    held = steady["sessions"]
    took = trips.took
    note = (f"{n:,} concentrators dialled from {procs} load-generator processes (127.0.0.2–.{1 + procs}); "
            f"heartbeat every {heartbeat_s} s; uvloop")
    per_link = (rss - base_rss) / max(1, held)
    lag_storm = stats["event_loop_lag"]
    return [
        {"benchmark": BENCH, "metric": "concentrators held by one FEP process", "value": held, "unit": "links",
         "target": "20,000 (cap: 19,900 links under 20,000 open files)",
         "note": f"{note}; {refused:,} refused at the cap; FEP open files {fds:,} of 20,000"},
        {"benchmark": BENCH, "metric": "login storm: all confirmed", "value": round(storm_s, 2), "unit": "s",
         "target": "≤ 30", "note": f"{confirmed:,} logins confirmed from one start signal; FEP lag p99 during it "
                                   f"{lag_storm['p99_ms']} ms, max {lag_storm['max_ms']} ms"},
        {"benchmark": BENCH, "metric": "RSS per connection", "value": round(per_link / 1024, 2), "unit": "KiB",
         "target": "≤ 20", "note": f"FEP RSS {rss / 2**20:.0f} MiB held, {base_rss / 2**20:.0f} MiB before links "
                                   "(includes the storm's transient allocations Python keeps)"},
        {"benchmark": BENCH, "metric": "event-loop lag p99 (steady, heartbeating)",
         "value": steady["event_loop_lag"]["p99_ms"], "unit": "ms", "target": "≤ 50",
         "note": f"max {steady['event_loop_lag']['max_ms']} ms over {steady['event_loop_lag']['window_s']:.0f} s; "
                 f"{held / heartbeat_s:.0f} heartbeats/s, each confirmed and published"},
        {"benchmark": BENCH, "metric": "request→result round trip p50 through the bus", "value":
         round(_pct(took, 0.5) * 1000, 1), "unit": "ms", "target": "report",
         "note": f"{len(took):,} of {_env('REQUESTS', 2000):,} reads answered at {_env('RATE', 400)}/s "
                 f"({trips.outcomes}); FEP lag p99 then {loaded['event_loop_lag']['p99_ms']} ms, "
                 f"GC {loaded['gc']}"},
        {"benchmark": BENCH, "metric": "request→result round trip p99 through the bus", "value":
         round(_pct(took, 0.99) * 1000, 1), "unit": "ms", "target": "report",
         "note": "publish → FEP claim (PostgreSQL) → terminal → answer → result published → consumed (Tansu); "
                 f"of which FEP send → terminal answer p50 {_pct(trips.terminal_ms, 0.5):.1f} ms, "
                 f"p99 {_pct(trips.terminal_ms, 0.99):.1f} ms"},
    ]


def run() -> list[dict[str, Any]]:
    from emms_bus import KafkaSettings, ensure_topics
    from emms_db import drop_database, ensure_database
    from emms_devstack.local_broker import LocalBroker
    from emms_devstack.postgres import ensure_server

    base = os.environ.get("EMMS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/emms")
    db_url = base.rsplit("/", 1)[0] + f"/emms_bench_fep_{secrets.token_hex(3)}"
    ensure_server(db_url)
    asyncio.run(ensure_database(db_url))
    broker = LocalBroker().start()
    prefix = f"bf{secrets.token_hex(3)}."
    try:
        asyncio.run(ensure_topics(KafkaSettings(bootstrap=broker.bootstrap, topic_prefix=prefix)))
        env = {**os.environ, "EMMS_DATABASE_URL": db_url, "EMMS_KAFKA_BOOTSTRAP": broker.bootstrap,
               "EMMS_TOPIC_PREFIX": prefix, "EMMS_ENVIRONMENT": "bench"}
        return _measure(env, broker.bootstrap, prefix)
    finally:
        broker.stop()
        asyncio.run(drop_database(db_url))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        _loadgen_main(sys.argv[2:])
    else:
        for row in run():
            print(row)
