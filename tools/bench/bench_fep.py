"""The FEP at load: concurrent concentrators held by one process, RSS per link, loop lag, login storm, round trip.

One FEP process (``python -m emms_fep``) on a real broker (Tansu) and PostgreSQL;
load-generator processes (this file, ``loadgen`` mode, or ``emms-sim`` when
``EMMS_BENCH_FEP_SIMULATOR=1``) open the links, log in all at once, heartbeat,
and answer reads (AFN 0C F2). The bench then publishes read requests on the bus
and times request → result.

    EMMS_BENCH_FEP_TERMINALS=19900 EMMS_BENCH_FEP_LOADGENS=2 .venv/bin/python tools/bench/bench_fep.py

Env: ``EMMS_BENCH_FEP_TERMINALS`` (default 2000), ``EMMS_BENCH_FEP_LOADGENS`` (processes, default 2),
``EMMS_BENCH_FEP_HEARTBEAT_S`` (default 30), ``EMMS_BENCH_FEP_HOLD_S`` (steady phase, default 30),
``EMMS_BENCH_FEP_REQUESTS`` (default 1000), ``EMMS_BENCH_FEP_RATE`` (requests/s, default 200).
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


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"EMMS_BENCH_FEP_{name}", str(default)))


# ---------------------------------------------------------------------------------------------------------------
# load generator (runs as its own process: ``bench_fep.py loadgen PORT FIRST COUNT HEARTBEAT_S HOLD_S``)
# ---------------------------------------------------------------------------------------------------------------

class LoadTerminal(asyncio.Protocol):
    """One concentrator: logs in, heartbeats, answers AFN 0C F2 reads from its own clock."""

    __slots__ = ("_framer", "_terminal", "address", "confirmed_at", "transport")

    def __init__(self, address: str) -> None:
        from fep_bench_terminal import TerminalSide
        from emms_protocol.framing import StreamFramer

        self.address = address
        self._terminal = TerminalSide(address)
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.confirmed_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self._terminal.login_frame())  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        for raw in self._framer.feed(data):
            reply = self._terminal.handle(bytes(raw))
            if reply is None:
                if not self.confirmed_at:
                    self.confirmed_at = time.time()
            elif self.transport is not None:
                self.transport.write(reply)

    def heartbeat(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self._terminal.heartbeat_frame())


async def _loadgen(port: int, first: int, count: int, heartbeat_s: float, hold_s: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    terminals = [LoadTerminal(f"0999-{first + i:05d}") for i in range(count)]
    started = time.time()
    sem = asyncio.Semaphore(500)

    async def dial(t: LoadTerminal) -> None:
        async with sem:
            for attempt in range(20):
                try:
                    await loop.create_connection(lambda: t, "127.0.0.1", port)
                    return
                except OSError:
                    await asyncio.sleep(0.1 * (attempt + 1))

    await asyncio.gather(*(dial(t) for t in terminals))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(not t.confirmed_at for t in terminals):
        await asyncio.sleep(0.05)
    confirmed = [t.confirmed_at for t in terminals if t.confirmed_at]
    print(json.dumps({"event": "storm", "started": started, "last_confirm": max(confirmed, default=0),
                      "confirmed": len(confirmed)}), flush=True)
    end = time.monotonic() + hold_s
    while time.monotonic() < end:
        step = heartbeat_s / max(1, len(terminals))
        for t in terminals:
            t.heartbeat()
            await asyncio.sleep(step) if step >= 0.001 else None
        await asyncio.sleep(0)
    return {"confirmed": len(confirmed)}


def _loadgen_main(argv: list[str]) -> None:
    port, first, count = int(argv[0]), int(argv[1]), int(argv[2])
    heartbeat_s, hold_s = float(argv[3]), float(argv[4])
    sys.path.insert(0, str(HERE.parent))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_loadgen(port, first, count, heartbeat_s, hold_s))
    print(json.dumps({"event": "done", **result}), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# orchestration
# ---------------------------------------------------------------------------------------------------------------

def _get(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def _rss(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


async def _round_trips(bootstrap: str, prefix: str, terminals: list[str], n: int, rate: float) -> list[float]:
    from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
    from emms_messages.terminal import DataUnitRequest, DownlinkRequest, DownlinkResult

    ks = KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix)
    producer = BusProducer(ks, "bench-fep")
    await producer.start()
    sent: dict[str, float] = {}
    took: list[float] = []
    outcomes: dict[str, int] = {}
    done = asyncio.Event()

    async def handle(batch: Any) -> None:
        for d in batch:
            assert isinstance(d, Delivery)
            result = d.payload
            if isinstance(result, DownlinkResult) and result.request_id in sent:
                outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
                if result.outcome.value == "answered":
                    took.append(time.perf_counter() - sent.pop(result.request_id))
        if len(took) + sum(v for k, v in outcomes.items() if k != "answered") >= n:
            done.set()

    stop = asyncio.Event()
    consumer = BusConsumer(ks, group=f"bench-results-{secrets.token_hex(3)}", topics=["emms.downlink.result.v1"],
                           handler=handle, dlq_producer=producer, from_beginning=False)
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.sleep(6)  # group join
    for i in range(n):
        request = DownlinkRequest(request_id=f"bench-{secrets.token_hex(6)}", terminal=terminals[i % len(terminals)],
                                  afn=0x0C, units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="bench",
                                  timeout_s=10, retries=0)
        sent[request.request_id] = time.perf_counter()
        await producer.publish(request)
        await asyncio.sleep(1 / rate)
    try:
        await asyncio.wait_for(done.wait(), 60)
    except TimeoutError:
        pass
    stop.set()
    await task
    await producer.stop()
    print(f"round trips: {outcomes}", file=sys.stderr)
    return took


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_fep(env: dict[str, str], http_port: int, terminal_port: int, heartbeat_s: int) -> subprocess.Popen[bytes]:
    fep_env = {**env, "EMMS_FEP_HTTP__PORT": str(http_port), "EMMS_FEP_TERMINALS__PORT": str(terminal_port),
               "EMMS_FEP_TERMINALS__HOST": "127.0.0.1", "EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER": "20000",
               "EMMS_FEP_SESSIONS__HEARTBEAT_TIMEOUT_S": str(heartbeat_s * 3), "EMMS_FEP_LOG_LEVEL": "WARNING",
               "EMMS_FEP_REPLICA_ID": "bench-fep-0", "EMMS_FEP_SESSIONS__LOGIN_TIMEOUT_S": "120"}
    return subprocess.Popen([sys.executable, "-m", "emms_fep"], env=fep_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


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


def _measure(env: dict[str, str], bootstrap: str, prefix: str) -> list[dict[str, Any]]:
    from emms_devstack.ports import free_port
    from emms_runtime.auth import issue_token
    from emms_runtime.settings import AuthSettings

    n, procs = _env("TERMINALS", 2000), _env("LOADGENS", 2)
    heartbeat_s, hold_s = _env("HEARTBEAT_S", 30), _env("HOLD_S", 30)
    http_port, terminal_port = free_port(), free_port()
    token = issue_token(AuthSettings(), "bench", "viewer")
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
                 str(heartbeat_s), str(hold_s + 120)], stdout=subprocess.PIPE, text=True, env=env))
        storms = [json.loads(g.stdout.readline()) for g in gens if g.stdout is not None]
        storm_s = max(s["last_confirm"] for s in storms) - min(s["started"] for s in storms)
        confirmed = sum(s["confirmed"] for s in storms)
        stats = _get(f"http://127.0.0.1:{http_port}/api/v1/fep/stats", token)
        time.sleep(hold_s)
        steady = _get(f"http://127.0.0.1:{http_port}/api/v1/fep/stats", token)
        rss = _rss(fep.pid)
        terminals = [f"0999-{i:05d}" for i in range(1, n + 1)]
        took = asyncio.run(_round_trips(bootstrap, prefix, terminals, _env("REQUESTS", 1000), _env("RATE", 200)))
        loaded = _get(f"http://127.0.0.1:{http_port}/api/v1/fep/stats", token)
    finally:
        for g in gens:
            g.send_signal(signal.SIGTERM)
        fep.send_signal(signal.SIGTERM)
        fep.wait(timeout=60)
        for g in gens:
            g.wait(timeout=30)
    held = steady["sessions"]
    note = f"{n:,} terminals in {procs} load-generator processes; heartbeat every {heartbeat_s} s; uvloop"
    per_link = (rss - base_rss) / max(1, held)
    return [
        {"benchmark": BENCH, "metric": "concentrators held by one FEP process", "value": held, "unit": "links",
         "target": "≥ 19,900 (20,000 open files per process)", "note": note},
        {"benchmark": BENCH, "metric": "login storm: all confirmed", "value": round(storm_s, 2), "unit": "s",
         "target": "≤ 30", "note": f"{confirmed:,} confirmed of {n:,}; FEP lag p99 during storm "
                                   f"{stats['event_loop_lag']['p99_ms']} ms"},
        {"benchmark": BENCH, "metric": "RSS per connection", "value": round(per_link / 1024, 2), "unit": "KiB",
         "target": "≤ 20", "note": f"FEP RSS {rss / 2**20:.0f} MiB, {base_rss / 2**20:.0f} MiB before links"},
        {"benchmark": BENCH, "metric": "event-loop lag p99 (steady, heartbeating)",
         "value": steady["event_loop_lag"]["p99_ms"], "unit": "ms", "target": "≤ 50",
         "note": f"max {steady['event_loop_lag']['max_ms']} ms over the last 60 s"},
        {"benchmark": BENCH, "metric": "request→result round trip p50 through the bus", "value":
         round(_pct(took, 0.5) * 1000, 1), "unit": "ms", "target": "report",
         "note": f"{len(took)} answered reads at {_env('RATE', 200)}/s; lag p99 then "
                 f"{loaded['event_loop_lag']['p99_ms']} ms"},
        {"benchmark": BENCH, "metric": "request→result round trip p99 through the bus", "value":
         round(_pct(took, 0.99) * 1000, 1), "unit": "ms", "target": "report", "note": "Tansu, acks=all"},
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
