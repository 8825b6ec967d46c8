"""``emms-devstack``: local infrastructure for development and tests.

    emms-devstack up [--concentrators N] [--meters-per M]   every service, broker, schema, fleet
    emms-devstack down                                      stop a running ``up``
    emms-devstack postgres                                  make sure PostgreSQL answers
    emms-devstack check [--min 98] [--wait 300]             the running stack's readings against the truth
"""

from __future__ import annotations

import argparse
import os

from emms_db.settings import DEFAULT_URL
from emms_devstack import stack
from emms_devstack.check import run_check
from emms_devstack.fleet import FleetPlan
from emms_devstack.postgres import ensure_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emms-devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run everything in the foreground")
    up.add_argument("--concentrators", type=int, default=int(os.environ.get("EMMS_FLEET_CONCENTRATORS", "20")))
    up.add_argument("--meters-per", type=int, default=int(os.environ.get("EMMS_FLEET_METERS_PER", "50")))
    up.add_argument("--seed", type=int, default=1)
    sub.add_parser("down", help="stop a running stack")
    sub.add_parser("postgres", help="make sure PostgreSQL answers (installing it if root)")
    check = sub.add_parser("check", help="coverage of the fleet and every stored reading against the truth")
    check.add_argument("--min", type=float, default=98.0, help="percent of known meters that must be collected")
    check.add_argument("--wait", type=float, default=0.0, help="seconds to keep polling until --min is met")
    check.add_argument("--sim", default=f"http://127.0.0.1:{FleetPlan().http_port}", help="the truth server")
    args = parser.parse_args(argv)
    url = os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL)
    if args.command == "check":
        return run_check(url, args.sim, args.min, args.wait)
    if args.command == "up":
        return stack.run(url, FleetPlan(args.concentrators, args.meters_per, args.seed))
    if args.command == "down":
        return stack.down()
    print(f"postgres: {ensure_server(url)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
