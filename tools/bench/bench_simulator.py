"""How many concentrators one simulator process holds connected and heartbeating, and at what cost.

A minimal loopback master (``emms_sim.loopback_master``, its own process)
confirms logins and heartbeats; the fleet runs as ``emms-sim run`` in another
process, whose RSS and CPU are sampled while every terminal heartbeats.

    EMMS_BENCH_SIM_CONCENTRATORS=2000 .venv/bin/python tools/bench/bench_simulator.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil

MASTER = """
import asyncio, json, sys
from emms_sim.loopback_master import LoopbackMaster
async def main():
    m = LoopbackMaster(); port = await m.start()
    print(json.dumps({"port": port}), flush=True)
    while True:
        await asyncio.sleep(1)
        c = m.counts
        print(json.dumps({"open": c.open_connections, "logins": c.logins, "heartbeats": c.heartbeats,
                          "beating": m.heartbeating(HB * 1.5), "logouts": c.logouts}), flush=True)
asyncio.run(main())
"""


class _Latest:
    """The master's most recent counts, read by a thread so no line goes stale in the pipe."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.port = int(json.loads(proc.stdout.readline())["port"])
        self.counts: dict[str, int] = {"open": 0, "logins": 0, "heartbeats": 0, "beating": 0, "logouts": 0}
        self._stdout = proc.stdout
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self._stdout:
            self.counts = dict(json.loads(line))

    def after(self, seconds: float) -> dict[str, int]:
        time.sleep(seconds)
        return self.counts


def run() -> list[dict[str, object]]:
    n = int(os.environ.get("EMMS_BENCH_SIM_CONCENTRATORS", "2000"))
    meters = int(os.environ.get("EMMS_BENCH_SIM_METERS_PER", "50"))
    heartbeat = float(os.environ.get("EMMS_BENCH_SIM_HEARTBEAT_S", "10"))
    master = subprocess.Popen([sys.executable, "-c", MASTER.replace("HB", str(heartbeat))], stdout=subprocess.PIPE,
                              text=True)
    fleet = None
    try:
        latest = _Latest(master)
        port = latest.port
        fleet = subprocess.Popen([sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{port}",
                                  "--concentrators", str(n), "--meters-per", str(meters), "--seed", "1",
                                  "--heartbeat-s", str(heartbeat), "--quiet-field", "--ramp-per-s", "2000"],
                                 stdout=subprocess.DEVNULL)
        proc = psutil.Process(fleet.pid)
        started = time.monotonic()
        counts = latest.after(1.0)
        while counts["logins"] < n and time.monotonic() - started < 90:
            counts = latest.after(0.5)
        ramp_s = time.monotonic() - started
        cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
        window_end = t0 + 2.5 * heartbeat
        while time.monotonic() < window_end:
            counts = latest.after(1.0)
        cpu = (sum(proc.cpu_times()[:2]) - cpu0) / (time.monotonic() - t0) * 100.0
        rss = proc.memory_info().rss
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(30)
        logouts = latest.after(1.5)["logouts"]
    finally:
        if fleet is not None and fleet.poll() is None:
            fleet.kill()
        master.kill()
    note = f"{n} requested × {meters} meters, heartbeat {heartbeat:g} s, loopback master in its own process"
    return [
        {"benchmark": "simulator", "metric": "concentrators connected and heartbeating", "value": counts["beating"],
         "unit": "terminals", "target": 20000, "note": note},
        {"benchmark": "simulator", "metric": "time to log all in", "value": round(ramp_s, 1), "unit": "s",
         "target": "", "note": "ramp 2000 connections/s"},
        {"benchmark": "simulator", "metric": "RSS per concentrator", "value": round(rss / max(1, n) / 1024, 1),
         "unit": "KiB", "target": "", "note": f"process RSS {rss / 2**20:.0f} MiB"},
        {"benchmark": "simulator", "metric": "CPU while heartbeating", "value": round(cpu, 1), "unit": "% of a core",
         "target": "", "note": f"{n / heartbeat:.0f} heartbeats/s"},
        {"benchmark": "simulator", "metric": "logouts on SIGTERM", "value": logouts, "unit": "terminals",
         "target": n, "note": ""},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
