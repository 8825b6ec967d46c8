"""The collection stack as real processes: FEP, collector, archive and a simulated fleet.

Shared by the collection e2e tests and ``tools/bench/bench_collector.py`` (it
holds no tests itself). Each part is its own process on real sockets, the real
broker and database; the test process talks to them over HTTP and watches the bus.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emms_devstack.ports import free_port
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

TOKEN = issue_token(AuthSettings(), "e2e", "operator", ttl_s=7200)


def http(method: str, url: str, body: Any = None, timeout_s: float = 30.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw) if raw else None
        except ValueError:
            return err.code, raw.decode(errors="replace")


def wait_http(url: str, timeout_s: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} while waiting for {url}")
        try:
            status, body = http("GET", url, timeout_s=5)
            if status == 200:
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready in {timeout_s} s")


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.popen = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return self

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Stack:
    env: dict[str, str]
    work: Path
    concentrators: int
    meters_per: int
    faults: str = ""
    seed: int = 7
    collector_env: dict[str, str] = field(default_factory=dict)
    fep_env: dict[str, str] = field(default_factory=dict)
    with_archive: bool = False
    quiet_field: bool = True
    sim_processes: int = 1
    interactive_collector: bool = False
    sim_args: list[str] = field(default_factory=list)
    """More options of ``emms-sim run`` (e.g. ``--clock-drift-ppm``)."""
    """A second collector replica with role ``interactive`` (API and results only)."""
    procs: dict[str, Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def collector(self) -> str:
        return f"http://127.0.0.1:{self.ports['collector']}"

    @property
    def collector_api(self) -> str:
        """The interactive replica when there is one, else the collector."""
        name = "collector-api" if "collector-api" in self.ports else "collector"
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def fep(self) -> str:
        return f"http://127.0.0.1:{self.ports['fep']}"

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.ports['sim']}"

    @property
    def manifest(self) -> Path:
        return self.work / "fleet.json"

    def start(self) -> Stack:
        """Start every part and wait until each is ready; on any failure, stop what was started."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Stack:
        for name in ("fep", "terminals", "collector", "sim", "archive"):
            self.ports[name] = free_port()
        if self.interactive_collector:
            self.ports["collector-api"] = free_port()
        self.start_fep()
        self.start_collector()
        if self.with_archive:
            self.start_archive()
            wait_http(f"http://127.0.0.1:{self.ports['archive']}/readyz", 90, self.procs["archive"].popen)
        wait_http(f"{self.fep}/readyz", 90, self.procs["fep"].popen)
        wait_http(f"{self.collector}/readyz", 90, self.procs["collector"].popen)
        if self.interactive_collector:
            wait_http(f"{self.collector_api}/readyz", 90, self.procs["collector-api"].popen)
        sim = [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{self.ports['terminals']}",
               "--concentrators", str(self.concentrators), "--meters-per", str(self.meters_per),
               "--seed", str(self.seed), "--http", f"127.0.0.1:{self.ports['sim']}", "--manifest",
               str(self.manifest), "--heartbeat-s", "30", "--ramp-per-s", "2000"]
        if self.quiet_field:
            sim.append("--quiet-field")
        if self.faults:
            sim += ["--faults", self.faults]
        if self.sim_processes > 1:
            sim += ["--processes", str(self.sim_processes)]
        sim += self.sim_args
        self.procs["sim"] = Proc("sim", sim, self.env, self.work / "sim.log").start()
        wait_http(f"{self.sim}/healthz", 60, self.procs["sim"].popen)
        return self

    def start_fep(self) -> None:
        env = {**self.env, "EMMS_FEP_HTTP__PORT": str(self.ports["fep"]),
               "EMMS_FEP_TERMINALS__PORT": str(self.ports["terminals"]), "EMMS_FEP_REPLICA_ID": "fep-e2e",
               "EMMS_FEP_INSTANCE_ID": "fep-e2e", "EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER": "100000",
               **self.fep_env}
        self.procs["fep"] = Proc("fep", [sys.executable, "-m", "emms_fep"], env, self.work / "fep.log").start()

    def start_collector(self) -> None:
        env = {**self.env, "EMMS_COLLECTOR_HTTP__PORT": str(self.ports["collector"]),
               "EMMS_COLLECTOR_INSTANCE_ID": "collector-e2e",
               "EMMS_COLLECTOR_MANIFEST_PATH": str(self.manifest), "EMMS_COLLECTOR_MANIFEST_POLL_S": "1",
               "EMMS_COLLECTOR_INSTALL_DEFAULT_TEMPLATES": "false",
               "EMMS_COLLECTOR_DISPATCH__REQUEST_TIMEOUT_S": "3", "EMMS_COLLECTOR_DISPATCH__FEP_RETRIES": "0",
               "EMMS_COLLECTOR_DISPATCH__RESULT_SLACK_S": "5", "EMMS_COLLECTOR_DISPATCH__SEND_WITHIN_S": "60",
               "EMMS_COLLECTOR_BACKFILL__EVERY_S": "1",
               "EMMS_COLLECTOR_BACKFILL__RETRY_AFTER_S": "1", "EMMS_COLLECTOR_SCHEDULER__TICK_S": "0.5",
               "EMMS_COLLECTOR_SCHEDULER__LEASE_S": "10", "EMMS_COLLECTOR_TIMESYNC__ENABLED": "false",
               **self.collector_env}
        self.procs["collector"] = Proc("collector", [sys.executable, "-m", "emms_collector"], env,
                                       self.work / "collector.log").start()
        if self.interactive_collector:
            api = {**env, "EMMS_COLLECTOR_HTTP__PORT": str(self.ports["collector-api"]),
                   "EMMS_COLLECTOR_INSTANCE_ID": "collector-api-e2e", "EMMS_COLLECTOR_ROLE": "interactive"}
            api.pop("EMMS_COLLECTOR_MANIFEST_PATH", None)
            self.procs["collector-api"] = Proc("collector-api", [sys.executable, "-m", "emms_collector"], api,
                                               self.work / "collector-api.log").start()

    def start_archive(self) -> None:
        env = {**self.env, "EMMS_ARCHIVE_HTTP__PORT": str(self.ports["archive"]),
               "EMMS_ARCHIVE_INSTANCE_ID": "archive-e2e"}
        self.procs["archive"] = Proc("archive", [sys.executable, "-m", "emms_archive"], env,
                                     self.work / "archive.log").start()

    def restart(self, name: str) -> None:
        """SIGKILL one part and start it again (the crash tests)."""
        self.procs[name].kill()
        {"fep": self.start_fep, "collector": self.start_collector, "archive": self.start_archive}[name]()

    def metrics(self, part: str, *prefixes: str) -> list[str]:
        """Lines of a part's Prometheus metrics starting with ``prefixes`` (diagnostics of a failed check)."""
        port = self.ports[part]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        return [line for line in text.splitlines() if line.startswith(prefixes)]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each part used so far: which one bounds a run."""
        import psutil

        out = {}
        for name, proc in self.procs.items():
            if proc.popen is not None and proc.popen.poll() is None:
                parent = psutil.Process(proc.popen.pid)
                total = 0.0
                for p in (parent, *parent.children(recursive=True)):  # the simulator's --processes children
                    try:
                        times = p.cpu_times()
                    except psutil.NoSuchProcess:
                        continue
                    total += times.user + times.system
                out[name] = round(total, 1)
        return out

    def stop(self) -> None:
        for name in ("sim", "collector-api", "collector", "archive", "fep"):
            proc = self.procs.get(name)
            if proc is not None:
                proc.stop()

    def manifest_meters(self) -> list[dict[str, Any]]:
        doc = json.loads(self.manifest.read_text())
        return [{**m, "terminal": t["key"]} for t in doc["terminals"] for m in t["meters"]]

    def online_terminals(self) -> int:
        status, body = http("GET", f"{self.fep}/api/v1/terminals?state=online&limit=1")
        return int(body["total"]) if status == 200 else 0


def stack_env(base: dict[str, str]) -> dict[str, str]:
    return {**base, "PYTHONUNBUFFERED": "1", "EMMS_LOG_JSON": "true",
            "PATH": os.environ.get("PATH", "")}


class BusReadings:
    """Every raw reading published while it runs (a consumer of its own, from the end of the topic)."""

    def __init__(self, kafka: Any) -> None:
        import secrets

        from emms_bus import BusConsumer, BusProducer

        self.readings: dict[tuple[str, str, str], list[Any]] = {}
        self.count = 0
        self._producer = BusProducer(kafka, "e2e-watch")
        self._consumer = BusConsumer(kafka, group=f"e2e-watch-{secrets.token_hex(3)}",
                                     topics=["emms.reading.raw.v1"], handler=self._handle,
                                     dlq_producer=self._producer, from_beginning=False)
        self._stop: Any = None
        self._task: Any = None

    async def __aenter__(self) -> BusReadings:
        import asyncio

        await self._producer.start()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._consumer.run(self._stop))
        for _ in range(300):
            if self._consumer.joined():  # start offsets fixed, not only assigned
                break
            await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await self._task
        await self._producer.stop()

    async def _handle(self, batch: Any) -> None:
        for d in batch:
            for r in d.payload.readings:
                self.readings.setdefault((r.meter_id, r.item, r.source.value), []).append(r)
                self.count += 1
