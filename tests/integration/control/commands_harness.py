"""Remote-control tests' world: one FEP replica and control in the test loop, the simulator in its own process
(truth API over HTTP), master data published from the simulator's manifest."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from emms_bus import BusProducer, KafkaSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange

FEP_DIR = Path(__file__).resolve().parents[1] / "fep"
if str(FEP_DIR) not in sys.path:
    sys.path.insert(0, str(FEP_DIR))

from fep_harness import Replica, fep_settings, running_fep, wait_downlink_ready  # noqa: E402  (after the path)


@asynccontextmanager
async def command_fep(database_url: str, kafka_settings: KafkaSettings, producer: BusProducer,
                      instance: str) -> AsyncIterator[Replica]:
    """The FEP control commands go through: sessions that outlive a slow test step, its downlink consumer
    ready before the first request."""
    settings = fep_settings(database_url, kafka_settings, instance,
                            sessions={"login_timeout_s": 10.0, "heartbeat_timeout_s": 30.0})
    async with running_fep(settings) as replica:
        await wait_downlink_ready(producer, replica)
        yield replica


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def simulator(fep_port: int, manifest: Path, *, concentrators: int, meters_per: int, mix: str, seed: int = 5,
              faults: str = "", fault_terminals: str = "") -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The simulator dialling the FEP; yields (terminals of the manifest, truth API base URL)."""
    http_port = free_port()
    command = [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{fep_port}",
               "--concentrators", str(concentrators), "--meters-per", str(meters_per), "--seed", str(seed),
               "--mix", mix, "--quiet-field", "--heartbeat-s", "5", "--manifest", str(manifest),
               "--http", f"127.0.0.1:{http_port}"]
    if faults:
        command += ["--faults", faults, "--fault-terminals", fault_terminals]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(400):
            if manifest.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the simulator stopped"
        yield json.loads(manifest.read_text())["terminals"], f"http://127.0.0.1:{http_port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def installations(terminals: list[dict[str, Any]], *, region_of: Any = None, customer_of: Any = None
                  ) -> list[MasterDataChange]:
    """One ``meter_installation`` change per meter of the manifest."""
    out = []
    now = datetime.now(UTC)
    for t in terminals:
        for m in t["meters"]:
            data = {"meter_id": m["meter_id"], "terminal_address": t["key"], "pn": m["pn"], "port": m["port"],
                    "protocol": m["protocol"], "meter_address": m["address"], "utility": m["utility"],
                    "customer_id": customer_of(m) if customer_of else f"C-{m['meter_id']}",
                    "company_id": "CO-A", "region_id": region_of(t) if region_of else "R-1"}
            out.append(MasterDataChange(change_id=str(uuid.uuid4()), entity="meter_installation",
                                        entity_id=f"MP-{m['meter_id']}", kind=ChangeKind.CREATED, changed_at=now,
                                        changed_by="test", data=data))
    return out


def change(entity: str, entity_id: str, **data: Any) -> MasterDataChange:
    return MasterDataChange(change_id=str(uuid.uuid4()), entity=entity, entity_id=entity_id, kind=ChangeKind.UPDATED,
                            changed_at=datetime.now(UTC), changed_by="test", data=data)


async def publish_topology(producer: BusProducer, changes: list[MasterDataChange]) -> None:
    await producer.publish_many(changes)


async def truth(base: str, meter_id: str, item: str) -> float | None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        resp = await client.get("/truth", params={"meter": meter_id, "item": item})
        resp.raise_for_status()
        value = resp.json()["value"]
        return None if value is None else float(value)


async def wait_for(predicate: Any, timeout_s: float, poll_s: float = 0.1) -> Any:
    """Await ``predicate()`` (async) until it returns a truthy value; TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout_s} s (last: {value!r})")
        await asyncio.sleep(poll_s)


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"
