"""``emms-sim run`` in one process: the whole fleet (with the truth API and manifest), or one child's share.

Alone (``--processes 1``) the process serves the truth API and prints a start
and a stop line. As a child of ``--processes K`` (``--share J/K``) it runs only
its terminals and talks to the parent through ``ParentChannel``. Either way it
first checks that its file limit can hold one socket per concentrator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

from emms_sim.cascade import Cascade
from emms_sim.fleet import FleetConfig
from emms_sim.fleet_runner import FleetRunner, expand_source_ips, share_of
from emms_sim.manifest import write_manifest
from emms_sim.parent_channel import ParentChannel
from emms_sim.process_setup import RESERVED_FDS, connection_budget, loop_name, rss_kib
from emms_sim.session import SessionConfig
from emms_sim.truth import GroundTruth
from emms_sim.truth_server import truth_server
from emms_sim.wire_faults import FaultRates


def over_budget(count: int, processes: int) -> str | None:
    """Why ``count`` concentrators do not fit one process's sockets (None when they do)."""
    budget = connection_budget()
    if count <= budget:
        return None
    need = -(-count * processes // budget)
    return (f"{count} concentrators in one process need {count} sockets but it may hold {budget} "
            f"(RLIMIT_NOFILE less {RESERVED_FDS} reserved); use --processes {need} or more")


def _emit(args: argparse.Namespace, message: dict[str, Any], text: str) -> None:
    print(json.dumps(message, separators=(",", ":")) if args.json_status else text, flush=True)


async def run_local(config: FleetConfig, args: argparse.Namespace, faults: FaultRates) -> int:
    truth = GroundTruth(config)
    child = args.share is not None
    indexes = share_of(config.concentrators, *args.share) if child else truth.fleet.terminals()
    problem = over_budget(len(indexes), args.share[1] if child else 1)
    if problem is not None:
        print(f"emms-sim: {problem}", file=sys.stderr)
        return 2
    cascade = Cascade.parse(getattr(args, "cascade", ""), config.concentrators)
    if args.manifest is not None and not child:
        write_manifest(truth.fleet, args.manifest, {"fep": f"{args.fep[0]}:{args.fep[1]}",
                                                    "cascade": cascade.manifest(truth.fleet)})
    base_rss = rss_kib()
    runner: FleetRunner | None = None
    channel = ParentChannel(lambda: runner.status() if runner is not None else []) if child else None
    base = SessionConfig(args.fep[0], args.fep[1], faults=faults, standby=getattr(args, "standby_fep", None))
    runner = FleetRunner(truth, base, heartbeat_s=args.heartbeat_s, reporting=args.reporting, indexes=indexes,
                         source_ips=expand_source_ips(args.source_ip), ramp_per_s=args.ramp_per_s,
                         on_event=channel.forward_event if channel is not None else None, cascade=cascade)
    if channel is not None:
        truth.ledger.listener = channel.forward_ledger
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    head = {"pid": os.getpid(), "terminals": len(indexes), "first": indexes.start, "loop": loop_name(args.loop),
            "fd_budget": connection_budget(), "rss_base_kib": base_rss}
    if channel is not None:
        channel.send({"type": "started", "share": args.share[0], **head})
    else:
        _announce(config, args, head)
    server = None if child else truth_server(truth, runner.status, runner.runtime_events, args.http)
    if server is not None:  # the terminals' parameters (single process only; FastAPI only where HTTP is served)
        from emms_sim.param_admin import add_param_routes

        add_param_routes(server.config.app, runner)
    serving = asyncio.ensure_future(server.serve()) if server is not None else None
    helpers = [asyncio.ensure_future(channel.serve(stop))] if channel is not None else []
    if channel is not None or args.json_status:
        helpers.append(asyncio.ensure_future(_report_counts(runner, channel, args, stop)))
    await runner.run(stop)
    for task in helpers:
        task.cancel()
    await asyncio.gather(*helpers, return_exceptions=True)
    if server is not None and serving is not None:
        server.should_exit = True
        await serving
    counts: dict[str, Any] = {**runner.counts(), "rss_kib": rss_kib(),
                              "elapsed_s": round(time.monotonic() - started, 1)}
    if channel is not None:
        channel.send({"type": "stopped", "share": args.share[0], **counts})
    else:
        _emit(args, {"type": "stopped", **counts},
              f"emms-sim: stopped after {counts['elapsed_s']:.0f} s; " +
              ", ".join(f"{k} {v}" for k, v in runner.counts().items()))
    return 0


def _announce(config: FleetConfig, args: argparse.Namespace, head: dict[str, Any]) -> None:
    http = f"http://{args.http[0]}:{args.http[1]}" if args.http else "off"
    _emit(args, {"type": "started", "processes": [head]},
          f"emms-sim: {config.concentrators} concentrators × {config.meters_per} meters (seed {config.seed}) "
          f"→ FEP {args.fep[0]}:{args.fep[1]}; truth {http}; manifest {args.manifest or 'none'}; {head['loop']}")


async def _report_counts(runner: FleetRunner, channel: ParentChannel | None, args: argparse.Namespace,
                         stop: asyncio.Event) -> None:
    """Every ``--status-s``: the counts and RSS, to the parent or as a JSON line."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), args.status_s)
        except TimeoutError:
            pass
        message = {"type": "counts", **runner.counts(), "rss_kib": rss_kib()}
        if channel is not None:
            channel.send({**message, "share": args.share[0]})
        else:
            print(json.dumps(message, separators=(",", ":")), flush=True)
