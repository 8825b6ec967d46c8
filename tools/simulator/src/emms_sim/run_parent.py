"""``emms-sim run --processes K``: K child processes share the fleet; this one serves the truth and sums up.

One process holds at most ~19,900 sockets (20,000 open files), so a bigger
fleet, or one that should use more than one core, is split: child J runs the
contiguous terminal indexes ``share_of(N, J, K)`` (same seed, so the same
truth) with its own file budget and event loop. The parent holds no link: it
writes the manifest, serves the truth API (children forward every trip, close,
meter clock sync and protection change to its ledger, and their run-time
events), forwards
SIGTERM / SIGINT so every child logs its terminals out, and prints one summary
with the totals. If a child dies on its own, the parent stops the others and
exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emms_sim.cascade import Cascade
from emms_sim.fleet import FleetConfig
from emms_sim.fleet_runner import select_events, share_of
from emms_sim.manifest import write_manifest
from emms_sim.run_local import over_budget
from emms_sim.truth import GroundTruth
from emms_sim.truth_server import truth_server

COUNT_KEYS = ("terminals", "connected", "logged_in", "heartbeats", "requests", "reports", "retransmissions",
              "connects")
STDOUT_LIMIT = 1 << 26  # a status reply of 20,000 terminals is a few MB on one line


def child_argv(args: argparse.Namespace, share: int, shares: int) -> list[str]:
    """The ``emms-sim`` arguments of child ``share``: the parent's fleet and link options, its share of the ramp."""
    argv = ["run", f"--fep={args.fep[0]}:{args.fep[1]}", f"--concentrators={args.concentrators}",
            f"--meters-per={args.meters_per}", f"--seed={args.seed}",
            "--mix=" + ",".join(f"{name}={weight!r}" for name, weight in args.mix),
            f"--tz-offset-min={args.tz_offset_min}", f"--heartbeat-s={args.heartbeat_s!r}",
            f"--faults={args.faults}", f"--fault-terminals={args.fault_terminals}", f"--late-s={args.late_s!r}",
            f"--ramp-per-s={args.ramp_per_s / shares!r}", f"--loop={args.loop}", f"--status-s={args.status_s!r}",
            f"--share={share}/{shares}"]
    if args.source_ip:
        argv.append(f"--source-ip={args.source_ip}")
    argv += ["--quiet-field"] * bool(args.quiet_field) + ["--reporting"] * bool(args.reporting)
    argv += ["--terminal-passwords"] * bool(getattr(args, "terminal_passwords", False))
    argv.append(f"--first-terminal={getattr(args, 'first_terminal', 1)}")
    for name in ("clock_drift_ppm", "clock_sync_day"):  # the fleet's truth must be the parent's in every child
        if getattr(args, name, None) is not None:
            argv.append(f"--{name.replace('_', '-')}={getattr(args, name)!r}")
    argv += ["--network"] * bool(getattr(args, "network", False))
    argv += [f"--replace-meter={meter}@{at!r}" for meter, at in getattr(args, "replace_meter", ())]
    if getattr(args, "standby_fep", None):
        argv.append(f"--standby-fep={args.standby_fep[0]}:{args.standby_fep[1]}")
    if getattr(args, "cascade", ""):
        argv.append(f"--cascade={args.cascade}")
    return argv


@dataclass
class Child:
    share: int
    proc: asyncio.subprocess.Process
    ready: asyncio.Future[None]
    head: dict[str, Any] = field(default_factory=dict)  # its "started" message
    counts: dict[str, Any] = field(default_factory=dict)  # its latest "counts" or "stopped" message
    stopped: bool = False


class ProcessFleet:
    """The child processes of one fleet and what they report."""

    def __init__(self, truth: GroundTruth, argv_of: Callable[[int], list[str]], processes: int) -> None:
        self.truth = truth
        self.processes = processes
        self.children: list[Child] = []
        self.events: deque[dict[str, Any]] = deque(maxlen=20000)
        self._argv_of = argv_of
        self._readers: list[asyncio.Task[None]] = []
        self._replies: dict[int, asyncio.Future[list[dict[str, Any]]]] = {}
        self._next_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, timeout_s: float = 60.0) -> None:
        """Spawn every child and wait for each one's ``started`` line; RuntimeError if one exits first."""
        self._loop = loop = asyncio.get_running_loop()
        for share in range(self.processes):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "emms_sim.cli", *self._argv_of(share),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=STDOUT_LIMIT)
            child = Child(share, proc, loop.create_future())
            self.children.append(child)
            self._readers.append(asyncio.ensure_future(self._read(child)))
        await asyncio.wait_for(asyncio.gather(*(c.ready for c in self.children)), timeout_s)

    async def _read(self, child: Child) -> None:
        assert child.proc.stdout is not None
        async for line in child.proc.stdout:
            try:
                self._dispatch(child, json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                print(f"emms-sim: process {child.share} said something unreadable ({exc}): {line[:120]!r}",
                      file=sys.stderr)
        if not child.ready.done():
            child.ready.set_exception(RuntimeError(f"process {child.share} exited before it started"))

    def _dispatch(self, child: Child, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "started":
            child.head = message
            if not child.ready.done():
                child.ready.set_result(None)
        elif kind in ("counts", "stopped"):
            child.counts = message
            child.stopped = child.stopped or kind == "stopped"
        elif kind == "ledger":
            self.truth.ledger.apply(message["change"])
        elif kind == "event":
            self.events.append(message["event"])
        elif kind == "reply":
            waiter = self._replies.pop(int(message["id"]), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(list(message.get("body") or []))

    def terminate(self) -> None:
        """SIGTERM to every child still running: each logs its terminals out and exits."""
        for child in self.children:
            if child.proc.returncode is None:
                child.proc.send_signal(signal.SIGTERM)

    async def first_exit(self) -> Child:
        waits = {asyncio.ensure_future(c.proc.wait()): c for c in self.children}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[next(iter(done))]

    async def wait(self, grace_s: float = 30.0) -> list[int]:
        """Wait for every child to exit (killing any still there after ``grace_s``); their exit codes."""
        waits = [asyncio.ensure_future(c.proc.wait()) for c in self.children]
        if waits:
            await asyncio.wait(waits, timeout=grace_s)
            for child in self.children:
                if child.proc.returncode is None:
                    child.proc.kill()
            await asyncio.gather(*waits)
        await asyncio.gather(*self._readers, return_exceptions=True)
        for child in self.children:
            if child.proc.stdin is not None:
                child.proc.stdin.close()
        return [c.proc.returncode if c.proc.returncode is not None else -1 for c in self.children]

    def totals(self) -> dict[str, int]:
        out = {k: sum(int(c.counts.get(k, 0)) for c in self.children) for k in COUNT_KEYS}
        out["terminals"] = sum(int(c.head.get("terminals", 0)) for c in self.children)
        out["rss_kib"] = sum(int(c.counts.get("rss_kib", c.head.get("rss_base_kib", 0))) for c in self.children)
        return out

    def per_process(self) -> list[dict[str, Any]]:
        return [{"share": c.share, "pid": c.proc.pid, "terminals": c.head.get("terminals", 0),
                 "first": c.head.get("first", 0), "rss_base_kib": c.head.get("rss_base_kib", 0),
                 "rss_kib": c.counts.get("rss_kib", c.head.get("rss_base_kib", 0)),
                 "logged_in": c.counts.get("logged_in", 0)} for c in self.children]

    async def status_async(self, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Every terminal's status, asked of every running child."""
        assert self._loop is not None
        waits = []
        for child in self.children:
            if child.proc.returncode is not None or child.proc.stdin is None:
                continue
            self._next_id += 1
            waiter: asyncio.Future[list[dict[str, Any]]] = self._loop.create_future()
            self._replies[self._next_id] = waiter
            child.proc.stdin.write(json.dumps({"type": "status", "id": self._next_id}).encode() + b"\n")
            waits.append(waiter)
        bodies = await asyncio.wait_for(asyncio.gather(*waits), timeout_s)
        return sorted((row for body in bodies for row in body), key=lambda row: int(row.get("index", 0)))

    def status(self) -> list[dict[str, Any]]:
        """``status_async`` for the truth API's worker threads (never call it on the event loop's thread)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self.status_async(), self._loop).result(15.0)

    def runtime_events(self, since: datetime, until: datetime, terminal: int | None) -> list[dict[str, Any]]:
        return select_events(self.events, since, until, terminal)


def _emit(args: argparse.Namespace, message: dict[str, Any], text: str) -> None:
    print(json.dumps(message, separators=(",", ":")) if args.json_status else text, flush=True)


async def run_parent(config: FleetConfig, args: argparse.Namespace) -> int:
    k = args.processes
    largest = max(len(share_of(config.concentrators, j, k)) for j in range(k))
    problem = over_budget(largest, k)
    if problem is not None:
        print(f"emms-sim: {problem}", file=sys.stderr)
        return 2
    truth = GroundTruth(config)
    if args.manifest is not None:
        cascade = Cascade.parse(getattr(args, "cascade", ""), config.concentrators)
        write_manifest(truth.fleet, args.manifest, {"fep": f"{args.fep[0]}:{args.fep[1]}",
                                                    "cascade": cascade.manifest(truth.fleet)})
    fleet = ProcessFleet(truth, lambda share: child_argv(args, share, k), k)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        await fleet.start()
    except (RuntimeError, TimeoutError) as exc:
        print(f"emms-sim: a fleet process failed to start: {exc or 'timeout'}", file=sys.stderr)
        fleet.terminate()
        await fleet.wait(10.0)
        return 1
    _announce(config, args, fleet)
    server = truth_server(truth, fleet.status, fleet.runtime_events, args.http)
    serving = asyncio.ensure_future(server.serve()) if server is not None else None
    reporting = asyncio.ensure_future(_report(fleet, args, stop)) if args.json_status else None
    unexpected = await _until_stop_or_exit(fleet, stop)
    fleet.terminate()
    codes = await fleet.wait()
    if reporting is not None:
        reporting.cancel()
    if server is not None and serving is not None:
        server.should_exit = True
        await serving
    totals = fleet.totals()
    elapsed = round(time.monotonic() - started, 1)
    _emit(args, {"type": "stopped", **totals, "elapsed_s": elapsed, "exit_codes": codes,
                 "processes": fleet.per_process()},
          f"emms-sim: stopped after {elapsed:.0f} s; " + ", ".join(f"{key} {totals[key]}" for key in COUNT_KEYS) +
          f"; {k} processes, exit codes {codes}")
    return 1 if unexpected or any(codes) else 0


def _announce(config: FleetConfig, args: argparse.Namespace, fleet: ProcessFleet) -> None:
    http = f"http://{args.http[0]}:{args.http[1]}" if args.http else "off"
    pids = ", ".join(str(c.proc.pid) for c in fleet.children)
    _emit(args, {"type": "started", "pid": os.getpid(), "processes": fleet.per_process()},
          f"emms-sim: {config.concentrators} concentrators × {config.meters_per} meters (seed {config.seed}) in "
          f"{fleet.processes} processes (pids {pids}) → FEP {args.fep[0]}:{args.fep[1]}; truth {http}; "
          f"manifest {args.manifest or 'none'}; {fleet.children[0].head.get('loop', '?')}")


async def _until_stop_or_exit(fleet: ProcessFleet, stop: asyncio.Event) -> bool:
    """Wait for SIGTERM / SIGINT or a child's own exit; True (and said on stderr) for the latter."""
    exited = asyncio.ensure_future(fleet.first_exit())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
    unexpected = exited.done() and not stop.is_set()
    if unexpected:
        child = exited.result()
        print(f"emms-sim: process {child.share} (pid {child.proc.pid}) exited with {child.proc.returncode}; "
              "stopping the others", file=sys.stderr)
    stop.set()
    for task in (exited, stopping):
        task.cancel()
    return unexpected


async def _report(fleet: ProcessFleet, args: argparse.Namespace, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), args.status_s)
        except TimeoutError:
            pass
        print(json.dumps({"type": "counts", **fleet.totals(), "processes": fleet.per_process()},
                         separators=(",", ":")), flush=True)
