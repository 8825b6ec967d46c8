"""``emms-sim``: run a concentrator fleet against the FEP, print the truth, write the manifest.

    python -m emms_sim.cli run --fep 127.0.0.1:9027 --concentrators 20 --meters-per 50 --seed 1 \\
        --http 127.0.0.1:8100 --manifest .cache/fleet.json [--heartbeat-s 60] [--source-ip 127.0.0.1-127.0.0.4] \\
        [--processes 2] [--loop auto|asyncio|uvloop] [--json-status]
    python -m emms_sim.cli truth m-000000-0001 energy.active.import.total 2026-11-25T08:00:00+08:00 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path

from emms_sim.calendar import parse_instant
from emms_sim.cascade import Cascade
from emms_sim.fleet import UTILITIES, FieldRates, FleetConfig, NetworkPlan, parse_meter_id
from emms_sim.fleet_runner import expand_source_ips
from emms_sim.manifest import write_manifest
from emms_sim.process_setup import LOOPS, loop_name, new_event_loop, raise_open_files_limit
from emms_sim.truth import GroundTruth, UnknownItemError, UnknownMeterError
from emms_sim.wire_faults import FaultRates


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def _mix(text: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in UTILITIES:
            raise argparse.ArgumentTypeError(f"unknown utility {name!r}; use {', '.join(UTILITIES)}")
        out.append((name.strip(), float(weight or 1)))
    return tuple(out)


def _share(text: str) -> tuple[int, int]:
    share, _, shares = text.partition("/")
    if not share.isdigit() or not shares.isdigit() or not 0 <= int(share) < int(shares):
        raise argparse.ArgumentTypeError(f"{text!r} is not J/K with 0 <= J < K")
    return int(share), int(shares)


def _replacement(text: str) -> tuple[str, float]:
    meter, _, at = text.partition("@")
    try:
        parse_meter_id(meter)
        return meter, parse_instant(at).timestamp()
    except (ValueError, OverflowError, OSError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not METER@INSTANT, e.g. m-000000-0003@2026-12-03T02:30:00Z"
                                         ) from exc


def _fleet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concentrators", type=int, default=1)
    p.add_argument("--meters-per", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix", type=_mix, default=FleetConfig().mix, help="e.g. electricity=70,water=10,gas=10,heat=10")
    p.add_argument("--tz-offset-min", type=int, default=480, help="terminals' local time (default UTC+8)")
    p.add_argument("--quiet-field", action="store_true", help="no scheduled outages / replacements / leaks …")
    p.add_argument("--clock-drift-ppm", type=float, default=None,
                   help="max |drift| of terminal and meter clocks (default 40; 0 with --quiet-field)")
    p.add_argument("--clock-sync-day", type=int, default=None,
                   help="day of the month of the field's monthly clock sync, from which clocks drift (default 1)")
    p.add_argument("--first-terminal", type=int, default=1, help="A2 of the first concentrator (then +1 each)")
    p.add_argument("--network", action="store_true",
                   help="transformer areas, water / gas zones and heat stations with head meters and true losses")
    p.add_argument("--replace-meter", type=_replacement, action="append", default=[], metavar="METER@INSTANT",
                   help="the field replaces this meter at this instant (new address, register from zero); repeatable")
    p.add_argument("--terminal-passwords", action="store_true",
                   help="every terminal expects its own PW (from the seed, listed in the manifest); default all zeros")


def _config(a: argparse.Namespace) -> FleetConfig:
    rates = FieldRates.quiet() if a.quiet_field else FieldRates()
    if getattr(a, "clock_drift_ppm", None) is not None:
        rates = dataclasses.replace(rates, clock_drift_ppm=a.clock_drift_ppm)
    if getattr(a, "clock_sync_day", None) is not None:
        rates = dataclasses.replace(rates, clock_sync_day=a.clock_sync_day)
    return FleetConfig(a.seed, a.concentrators, a.meters_per, a.mix, a.tz_offset_min, rates,
                       first_terminal_address=getattr(a, "first_terminal", 1),
                       own_passwords=bool(getattr(a, "terminal_passwords", False)),
                       network=NetworkPlan() if getattr(a, "network", False) else None,
                       replacements=tuple(getattr(a, "replace_meter", ())))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="emms-sim", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the fleet against a FEP")
    run.add_argument("--fep", type=_hostport, required=True)
    run.add_argument("--standby-fep", type=_hostport, default=None,
                     help="every terminal's standby channel: used after two failed connects to the primary")
    _fleet_args(run)
    run.add_argument("--cascade", default="", help="X:Y[,X:Y]: terminal X is cascaded behind terminal Y (1376.1 "
                     "级联, indexes): X does not connect, Y's link answers X's frames with X's own answers")
    run.add_argument("--http", type=_hostport, default=None, help="serve the truth API here")
    run.add_argument("--manifest", type=Path, default=None)
    run.add_argument("--heartbeat-s", type=float, default=60.0)
    run.add_argument("--source-ip", default=None, help="local address(es) to connect from: A-B or A,B (>28k links)")
    run.add_argument("--faults", default="", help="e.g. no-answer=1%%,bad-cs=0.1%%,split=5%%")
    run.add_argument("--fault-terminals", default="", help="terminal indexes the faults apply to (default all)")
    run.add_argument("--late-s", type=float, default=5.0)
    run.add_argument("--reporting", action="store_true", help="active reporting (events, daily frozen data)")
    run.add_argument("--ramp-per-s", type=float, default=500.0, help="new connections per second at start (all "
                     "processes together)")
    run.add_argument("--processes", type=int, default=1, help="split the fleet over K child processes (one holds "
                     "at most its file limit less 100 links, ~19,900)")
    run.add_argument("--loop", choices=LOOPS, default="auto", help="event loop (auto: uvloop when installed)")
    run.add_argument("--json-status", action="store_true", help="start / counts / stop lines as JSON objects")
    run.add_argument("--status-s", type=float, default=5.0, help="period of the JSON counts lines")
    run.add_argument("--share", type=_share, default=None, help=argparse.SUPPRESS)  # J/K: a child of --processes K
    truth = sub.add_parser("truth", help="print the true value of an item")
    truth.add_argument("meter")
    truth.add_argument("item", nargs="?", default=None, help="omit for every item")
    truth.add_argument("time", nargs="?", default=None, help="ISO 8601 or epoch seconds (default now)")
    _fleet_args(truth)
    ser = sub.add_parser("serial", help="one concentrator on a pseudo-terminal (prints the device path)")
    ser.add_argument("--terminal", type=int, default=0, help="terminal index in the fleet")
    _fleet_args(ser)
    man = sub.add_parser("manifest", help="write the fleet manifest and exit")
    man.add_argument("path", type=Path)
    _fleet_args(man)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = _config(args)
    except ValueError as exc:
        print(f"emms-sim: {exc}", file=sys.stderr)
        return 2
    if args.command == "truth":
        return _truth(GroundTruth(config), args)
    if args.command == "manifest":
        write_manifest(GroundTruth(config).fleet, args.path)
        print(f"emms-sim: manifest of {config.concentrators} concentrators written to {args.path}")
        return 0
    if args.command == "serial":
        return asyncio.run(_serial(GroundTruth(config), args.terminal))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        faults = FaultRates.parse(args.faults, _indexes(args.fault_terminals), args.late_s)
        loop_name(args.loop)
        expand_source_ips(args.source_ip)
        Cascade.parse(args.cascade, config.concentrators)
        if args.processes < 1 or args.processes > max(1, config.concentrators):
            raise ValueError(f"--processes must be within 1..{max(1, config.concentrators)}")
    except ValueError as exc:
        print(f"emms-sim: {exc}", file=sys.stderr)
        return 2
    raise_open_files_limit()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(args.loop)) as runner:
        if args.processes > 1 and args.share is None:
            from emms_sim.run_parent import run_parent

            return runner.run(run_parent(config, args))
        from emms_sim.run_local import run_local

        return runner.run(run_local(config, args, faults))


def _indexes(text: str) -> frozenset[int] | None:
    return frozenset(int(x) for x in text.split(",") if x.strip()) if text.strip() else None


async def _serial(truth: GroundTruth, index: int) -> int:
    from emms_sim.serial_link import SerialConcentrator
    from emms_sim.terminal_state import TerminalState

    link = SerialConcentrator(TerminalState(truth, index))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"emms-sim: concentrator {link.state.address.key} on {link.path}", flush=True)
    try:
        await link.serve(stop)
    finally:
        link.close()
    print(f"emms-sim: serial link closed after {link.answered} requests", flush=True)
    return 0


def _truth(truth: GroundTruth, args: argparse.Namespace) -> int:
    at = parse_instant(args.time) if args.time else truth.now()
    try:
        reading = truth.reading(args.meter, at)
        value = reading if args.item is None else truth.truth(args.meter, args.item, at)
    except (UnknownMeterError, UnknownItemError) as exc:
        print(f"emms-sim: unknown {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"meter": args.meter, "item": args.item, "at": at.isoformat(), "value": value}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
