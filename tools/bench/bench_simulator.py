"""How many concentrators the simulator holds connected and heartbeating, per process and across processes.

Two scenarios, each against loopback masters (``python -m emms_sim.loopback_master``,
in their own processes, sharing one port through SO_REUSEPORT so the master side
is not the limit: one process holds at most ~19,900 sockets):

* **one process** — ``emms-sim run`` (uvloop) driven to the per-process cap
  (20,000 open files less 100 reserved = 19,900 concentrators);
* **across processes** — ``emms-sim run --processes 2`` with 20,000.

Each run ramps its connections, waits until every terminal is logged in, then
measures for one heartbeat period (every terminal heartbeats exactly once in
the window): CPU of the fleet's processes, their RSS, and how many terminals the
masters heard a heartbeat from. RSS per concentrator is the growth of the
fleet process over its RSS before the sessions were built (the process reports
it), divided by the terminals connected; a bare asyncio connection costs about
1.8 KB (0.85 KB with uvloop), which is the floor to compare with. Then SIGTERM:
every terminal must log out.

    .venv/bin/python tools/bench/run.py simulator
    EMMS_BENCH_SIM_ONE=5000 EMMS_BENCH_SIM_MULTI=0 .venv/bin/python tools/bench/bench_simulator.py

Env (prefix ``EMMS_BENCH_SIM_``): ``ONE`` (the cap, 19900; 0 skips), ``MULTI`` (20000; 0 skips), ``PROCESSES`` (2),
``MASTERS`` (2), ``HEARTBEAT_S`` (20), ``METERS_PER`` (50), ``RAMP`` (connections/s, 2500),
``COMPARE_LOOPS`` (1: also run the one-process case on the standard asyncio loop).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

BENCH = "simulator"
RESERVED_FDS = 100  # emms_sim.process_setup.RESERVED_FDS
PER_PROCESS_CAP = resource.getrlimit(resource.RLIMIT_NOFILE)[1] - RESERVED_FDS  # 19,900 on these machines
FLOOR_KIB = {"uvloop": 0.85, "asyncio": 1.8}


def _env(name: str, default: float) -> float:
    return float(os.environ.get(f"EMMS_BENCH_SIM_{name}", str(default)))


class _Lines:
    """The latest JSON line of a child's stdout, read by a thread so the pipe never fills."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first:
            raise RuntimeError(f"process {proc.args!r} exited before it said anything")
        self.first: dict[str, Any] = json.loads(first)
        self.latest: dict[str, Any] = {}
        self.last_line: dict[str, Any] = {}
        self._stdout = proc.stdout
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self._stdout:
            try:
                self.latest = self.last_line = json.loads(line)
            except ValueError:
                continue


@dataclass
class _Masters:
    """Loopback master processes on one port (SO_REUSEPORT); their counts summed."""

    heartbeat_s: float
    count: int
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    lines: list[_Lines] = field(default_factory=list)
    port: int = 0

    def start(self) -> None:
        for _ in range(self.count):
            proc = subprocess.Popen([sys.executable, "-m", "emms_sim.loopback_master", "--reuse-port",
                                     f"--port={self.port}", f"--heartbeat-s={self.heartbeat_s}", "--every-s=0.5"],
                                    stdout=subprocess.PIPE, text=True)
            self.procs.append(proc)
            self.lines.append(_Lines(proc))
            self.port = int(self.lines[0].first["port"])

    def total(self, key: str) -> int:
        return sum(int(lines.latest.get(key, 0)) for lines in self.lines)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _rss_kib(procs: list[psutil.Process]) -> int:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss // 1024
        except psutil.NoSuchProcess:
            continue
    return total


def _scenario(n: int, processes: int, loop: str) -> dict[str, Any]:
    """Run one fleet against fresh masters; everything measured about it."""
    heartbeat = _env("HEARTBEAT_S", 20)
    masters = _Masters(heartbeat, int(_env("MASTERS", 2)))
    fleet: subprocess.Popen[str] | None = None
    out: dict[str, Any] = {"n": n, "processes": processes, "loop": loop, "heartbeat_s": heartbeat}
    try:
        masters.start()
        fleet = subprocess.Popen(
            [sys.executable, "-m", "emms_sim.cli", "run", f"--fep=127.0.0.1:{masters.port}", f"--concentrators={n}",
             f"--meters-per={int(_env('METERS_PER', 50))}", "--seed=1", f"--heartbeat-s={heartbeat}",
             "--quiet-field", f"--ramp-per-s={_env('RAMP', 2500)}", f"--processes={processes}", f"--loop={loop}",
             "--json-status", "--status-s=5"], stdout=subprocess.PIPE, text=True)
        lines = _Lines(fleet)
        heads = lines.first["processes"]
        holders = [psutil.Process(int(h["pid"])) for h in heads]  # the processes that hold the links
        every = holders if processes == 1 else [psutil.Process(fleet.pid), *holders]
        base_kib = sum(int(h["rss_base_kib"]) for h in heads)
        started = time.monotonic()
        while masters.total("terminals") < n and time.monotonic() - started < 90:
            time.sleep(0.25)
        out["ramp_s"] = round(time.monotonic() - started, 1)
        out["logged_in"] = masters.total("terminals")
        time.sleep(2.0)  # the last logins' confirmations settle
        cpu0, t0, beats0 = _cpu_s(every), time.monotonic(), masters.total("heartbeats")
        time.sleep(heartbeat)
        elapsed = time.monotonic() - t0
        out["cpu_pct"] = round((_cpu_s(every) - cpu0) / elapsed * 100.0, 1)
        out["heartbeats_per_s"] = round((masters.total("heartbeats") - beats0) / elapsed, 1)
        time.sleep(0.6)
        out["beating"] = masters.total("beating")
        out["open"] = masters.total("open")
        out["rss_holders_kib"] = _rss_kib(holders)
        out["rss_all_kib"] = _rss_kib(every)
        out["rss_base_kib"] = base_kib
        out["per_conn_kib"] = round((out["rss_holders_kib"] - base_kib) / max(1, out["open"]), 2)
        logouts0 = masters.total("logouts")
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(60)
        time.sleep(1.0)
        out["logouts"] = masters.total("logouts") - logouts0
        out["exit_code"] = fleet.returncode
        out["summary"] = lines.last_line
    finally:
        if fleet is not None and fleet.poll() is None:
            fleet.kill()
        masters.stop()
    return out


def _rows(r: dict[str, Any], label: str) -> list[dict[str, object]]:
    n, loop = r["n"], r["loop"]
    cond = (f"{n} requested, {r['processes']} process(es), {loop}, 50 meters each, heartbeat {r['heartbeat_s']:g} s, "
            f"masters in other processes")
    return [
        {"benchmark": BENCH, "metric": f"{label}: connected and heartbeating", "value": r["beating"],
         "unit": "terminals", "target": PER_PROCESS_CAP if r["processes"] == 1 else 20000, "note": cond},
        {"benchmark": BENCH, "metric": f"{label}: time to log all in", "value": r["ramp_s"], "unit": "s",
         "target": "", "note": f"{r['logged_in']} logged in; ramp {_env('RAMP', 2500):g}/s requested"},
        {"benchmark": BENCH, "metric": f"{label}: RSS per concentrator", "value": r["per_conn_kib"], "unit": "KiB",
         "target": "", "note": f"(RSS {r['rss_holders_kib'] / 1024:.0f} MiB − {r['rss_base_kib'] / 1024:.0f} MiB "
                              f"before the sessions) / {r['open']} links; bare {loop} connection ≈ "
                              f"{FLOOR_KIB[loop]} KB"},
        {"benchmark": BENCH, "metric": f"{label}: total RSS", "value": round(r["rss_all_kib"] / 1024, 1),
         "unit": "MiB", "target": "", "note": "every fleet process" + (" (parent included)" if r["processes"] > 1
                                                                        else "")},
        {"benchmark": BENCH, "metric": f"{label}: CPU while heartbeating", "value": r["cpu_pct"],
         "unit": "% of a core", "target": "", "note": f"{r['heartbeats_per_s']:.0f} heartbeats/s over one period"},
        {"benchmark": BENCH, "metric": f"{label}: logouts on SIGTERM", "value": r["logouts"], "unit": "terminals",
         "target": r["logged_in"], "note": f"exit code {r['exit_code']}"},
    ]


def _refusal(n: int) -> dict[str, object]:
    """One concentrator more than a process can hold: refused at once with the fix, not a storm of EMFILE."""
    done = subprocess.run([sys.executable, "-m", "emms_sim.cli", "run", "--fep=127.0.0.1:9", f"--concentrators={n}",
                           "--quiet-field"], capture_output=True, text=True, timeout=60)
    said = done.stderr.strip()
    fix = said[said.find("use --processes"):] if "use --processes" in said else said[-60:]
    return {"benchmark": BENCH, "metric": "one process: cap", "value": n - 1, "unit": "terminals",
            "target": PER_PROCESS_CAP,
            "note": f"hard RLIMIT_NOFILE − {RESERVED_FDS} reserved; {n} are refused (exit {done.returncode}): {fix}"}


def run() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    one, multi = int(_env("ONE", PER_PROCESS_CAP)), int(_env("MULTI", 20000))
    rows.append(_refusal(PER_PROCESS_CAP + 1))
    if one:
        rows += _rows(_scenario(one, 1, "uvloop"), "one process")
        if _env("COMPARE_LOOPS", 0):
            rows += _rows(_scenario(one, 1, "asyncio"), "one process, asyncio loop")
    if multi:
        k = int(_env("PROCESSES", 2))
        rows += _rows(_scenario(multi, k, "uvloop"), f"{k} processes")
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
