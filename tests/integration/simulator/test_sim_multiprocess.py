"""``emms-sim run --processes 2``: two real child processes share the fleet, the parent holds the truth.

The real CLI runs as a subprocess against an in-process loopback master:
every terminal of both halves logs in and heartbeats, a trip and a
protection sent to a terminal of the second child show in the parent's
truth API, and SIGTERM
to the parent makes every terminal log out before all processes exit 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from emms_protocol.gdw1376 import Address, DataUnit
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn05 import ProtectCommand, TripCommand
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.fleet_runner import share_of
from emms_sim.loopback_master import LoopbackMaster
from emms_sim.truth import GroundTruth

N, METERS, SEED = 12, 3, 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(condition: Any, seconds: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not condition():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def _serving(url: str, seconds: float) -> None:
    """Wait for the parent's truth API: it starts after the children (importing FastAPI takes seconds on a
    loaded machine), so the terminals may log in before it listens."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        try:
            await asyncio.to_thread(_get_json, url)
            return
        except OSError:
            assert loop.time() < end, f"timed out waiting for {url}"
            await asyncio.sleep(0.1)


@pytest.mark.asyncio
async def test_two_processes_share_the_fleet_forward_a_trip_and_log_out_on_sigterm(tmp_path: Path) -> None:
    truth = GroundTruth(FleetConfig(SEED, N, METERS, rates=FieldRates.quiet()))
    keys = {truth.fleet.terminal(i).key for i in range(N)}
    master = LoopbackMaster()
    port = await master.start()
    http = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emms_sim.cli", "run", f"--fep=127.0.0.1:{port}", f"--concentrators={N}",
        f"--meters-per={METERS}", f"--seed={SEED}", "--quiet-field", "--processes=2", "--heartbeat-s=1",
        "--json-status", "--status-s=0.5", f"--http=127.0.0.1:{http}", f"--manifest={tmp_path / 'fleet.json'}",
        stdout=asyncio.subprocess.PIPE)
    lines: list[dict[str, Any]] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            lines.append(json.loads(line))

    reader = asyncio.ensure_future(read())
    try:
        await _until(lambda: bool(lines), 10, "the start line")
        started = lines[0]
        assert started["type"] == "started" and started["pid"] == proc.pid
        children = started["processes"]
        assert len(children) == 2
        pids = {int(c["pid"]) for c in children}
        assert len(pids) == 2 and proc.pid not in pids
        assert all(psutil.Process(pid).ppid() == proc.pid for pid in pids)  # real children of the parent
        assert [(c["first"], c["terminals"]) for c in children] == [(0, 6), (6, 6)]
        assert json.loads((tmp_path / "fleet.json").read_text())["terminals"][N - 1]["key"] == \
            truth.fleet.terminal(N - 1).key

        await _until(lambda: master.counts.terminals == keys and len(master.counts.last_heartbeat) == N, 15,
                     "every terminal of both processes to log in and heartbeat")
        await _serving(f"http://127.0.0.1:{http}/healthz", 20)
        status = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{http}/terminals")
        assert [row["index"] for row in status] == list(range(N)) and all(row["logged_in"] for row in status)

        index, meter = next((i, m.meter_id) for i in share_of(N, 1, 2)
                            if (m := truth.fleet.meter(i, 1)) is not None and m.utility == "electricity")
        spec = truth.fleet.terminal(index)
        assert master.send(spec.key, b.request(Address(spec.area, spec.terminal), 0x05,
                                               [DataUnit(1, 1, TripCommand())], 1))
        url = f"http://127.0.0.1:{http}/truth?meter={meter}&item=relay.state"

        async def relay() -> float:
            return float((await asyncio.to_thread(_get_json, url))["value"])

        for _ in range(100):
            if await relay() == 0.0:
                break
            await asyncio.sleep(0.05)
        assert await relay() == 0.0, "the child's trip did not reach the parent's truth"

        # protection (AFN05 F25, one hour) received by the child is in the parent's truth with its expiry
        assert master.send(spec.key, b.request(Address(spec.area, spec.terminal), 0x05,
                                               [DataUnit(0, 25, ProtectCommand(2))], 2))
        guarded = f"http://127.0.0.1:{http}/protection?terminal={index}"
        for _ in range(100):
            row = (await asyncio.to_thread(_get_json, guarded))["terminals"][0]
            if row["protected"]:
                break
            await asyncio.sleep(0.05)
        assert row["terminal"] == spec.key and row["protected"], "the child's protection did not reach the parent"
        since, until = (datetime.fromisoformat(row[k]) for k in ("since", "until"))
        assert until - since == timedelta(hours=1)

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        await asyncio.wait_for(reader, 5)
        assert master.counts.logged_out == keys
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                       for pid in pids)
        stopped = lines[-1]
        assert stopped["type"] == "stopped" and stopped["exit_codes"] == [0, 0]
        assert stopped["terminals"] == N and stopped["connected"] == 0 and stopped["heartbeats"] >= N
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
        await master.close()
