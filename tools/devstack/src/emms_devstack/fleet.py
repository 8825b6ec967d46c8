"""The demo fleet of ``make up``: the simulator connected to the FEP's terminal port."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FleetPlan:
    concentrators: int = 20
    meters_per: int = 50
    seed: int = 1
    fep_port: int = 9027
    http_port: int = 8100


class _StackLike(Protocol):
    ports: dict[str, int]

    def env(self) -> dict[str, str]: ...


def start_fleet(stack: _StackLike, plan: FleetPlan, state: Path) -> subprocess.Popen[bytes] | None:
    """Start ``emms-sim run`` against the FEP; None (with a note) if the simulator is not installed."""
    if plan.concentrators <= 0:
        return None
    if importlib.util.find_spec("emms_sim.cli") is None:
        print("fleet    : simulator not installed; no fleet started")
        return None
    manifest = state / "fleet.json"
    cmd = [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{stack.ports['terminals']}",
           "--concentrators", str(plan.concentrators), "--meters-per", str(plan.meters_per),
           "--seed", str(plan.seed), "--http", f"127.0.0.1:{plan.http_port}", "--manifest", str(manifest),
           "--terminal-passwords",  # each its own PW; the manifest lists them and the archive loads them
           "--network"]  # transformer areas / zones with total meters and true losses: loss models from the topology
    log = open(state / "simulator.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=stack.env(), stdout=log, stderr=subprocess.STDOUT)
    print(f"fleet    : {plan.concentrators} concentrators × {plan.meters_per} meters → "
          f"127.0.0.1:{stack.ports['terminals']}; truth at http://127.0.0.1:{plan.http_port}; manifest {manifest}")
    return proc
