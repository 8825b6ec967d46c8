"""The world of the terminal-management tests: a FEP replica and the collector in the test loop, simulators in
their own processes (real frames over TCP, truth API over HTTP), master data published on the bus."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from emms_messages.masterdata import ChangeKind, MasterDataChange

FEP_DIR = Path(__file__).resolve().parents[1] / "fep"
if str(FEP_DIR) not in sys.path:
    sys.path.insert(0, str(FEP_DIR))

from fep_harness import Replica, fep_settings, running_fep, wait_downlink_ready  # noqa: E402  (after the path)

__all__ = ["Replica", "Sim", "fep_settings", "installation", "manifest", "running_fep", "simulator", "until",
           "wait_downlink_ready"]
SIM = [sys.executable, "-m", "emms_sim.cli"]


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float, what: str) -> Any:
    """Poll ``check`` every 0.2 s until it returns something true (returned); a TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what} not within {timeout_s} s (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_args(concentrators: int, meters_per: int, first: int) -> list[str]:
    return ["--concentrators", str(concentrators), "--meters-per", str(meters_per), "--seed", "11",
            "--mix", "electricity=1", "--quiet-field", "--first-terminal", str(first)]


def manifest(path: Path, concentrators: int, meters_per: int, first: int) -> list[dict[str, Any]]:
    """The fleet's manifest without running it (terminal keys and meters known before any login)."""
    subprocess.run([*SIM, "manifest", str(path), *fleet_args(concentrators, meters_per, first)], check=True,
                   stdout=subprocess.DEVNULL)
    terminals: list[dict[str, Any]] = json.loads(path.read_text())["terminals"]
    return terminals


@dataclass
class Sim:
    process: subprocess.Popen[bytes]
    base: str

    def params(self, terminal: str) -> dict[str, Any]:
        resp = httpx.get(f"{self.base}/terminals/{terminal}/params", timeout=10)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def change(self, terminal: str, fn: int, value: dict[str, Any]) -> dict[str, Any]:
        resp = httpx.post(f"{self.base}/terminals/{terminal}/params", json={"fn": fn, "value": value}, timeout=10)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body


@contextmanager
def simulator(fep_port: int, concentrators: int, meters_per: int, first: int, tmp: Path) -> Iterator[Sim]:
    http_port = free_port()
    path = tmp / f"sim-{first}.json"
    command = [*SIM, "run", "--fep", f"127.0.0.1:{fep_port}", *fleet_args(concentrators, meters_per, first),
               "--heartbeat-s", "5", "--manifest", str(path), "--http", f"127.0.0.1:{http_port}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    sim = Sim(process, f"http://127.0.0.1:{http_port}")
    try:
        for _ in range(600):
            assert process.poll() is None, "the simulator stopped"
            try:
                if httpx.get(f"{sim.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        yield sim
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def installation(terminal: str, meter: dict[str, Any], kind: ChangeKind = ChangeKind.CREATED) -> MasterDataChange:
    data = {"meter_id": meter["meter_id"], "terminal_address": terminal, "pn": meter["pn"], "port": meter["port"],
            "protocol": meter["protocol"], "meter_address": meter["address"], "utility": meter["utility"],
            "customer_id": f"C-{meter['meter_id']}", "company_id": "CO-A", "region_id": "R-1"}
    return MasterDataChange(change_id=str(uuid.uuid4()), entity="meter_installation",
                            entity_id=f"MP-{meter['meter_id']}", kind=kind, changed_at=datetime.now(UTC),
                            changed_by="test", data=data)
