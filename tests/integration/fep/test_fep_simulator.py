"""End to end with the simulator (``emms_sim``, its own process) over real sockets, the real broker and database.

One FEP replica in the test loop; a simulated fleet of concentrators with
electricity meters dials it. Terminals 0–4 carry injected faults: every
answer late by 2 s, corrupted checksums, garbage between frames, frames cut
into tiny TCP segments, duplicated frames.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, until, wait_downlink_ready
from prometheus_client import REGISTRY

from emms_bus import BusProducer, KafkaSettings
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, FrameKind, RequestOutcome, SessionState

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
CONCENTRATORS = 40
FAULTY = range(5)
LATE_S = 2.0


@pytest.fixture(scope="module")
async def replica(database_url: str, kafka_settings: KafkaSettings,
                  bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Replica]:
    """A replica that tolerates the faulty terminals' stalls (a late answer holds a terminal up LATE_S)."""
    settings = fep_settings(database_url, kafka_settings, "fep-it-simulator",
                            sessions={"login_timeout_s": 10.0, "heartbeat_timeout_s": 15.0})
    async with running_fep(settings) as fep:
        await wait_downlink_ready(bus[1], fep)
        yield fep


@pytest.fixture(scope="module")
def fleet(replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The simulator running against the replica; yields the terminal addresses (manifest order)."""
    manifest = tmp_path_factory.mktemp("sim") / "fleet.json"
    command = [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{replica.port}",
               "--concentrators", str(CONCENTRATORS), "--meters-per", "16", "--seed", "11",
               "--mix", "electricity=100", "--quiet-field", "--heartbeat-s", "1.5", "--manifest", str(manifest),
               "--faults", "late=100%,bad-cs=10%,garbage=30%,split=50%,duplicate=30%",
               "--fault-terminals", ",".join(map(str, FAULTY)), "--late-s", str(LATE_S)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            if manifest.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the simulator stopped: {process.stdout.read() if process.stdout else ''}"
        terminals = [t["key"] for t in json.loads(Path(manifest).read_text())["terminals"]]
        yield terminals
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
async def online(replica: Replica, fleet: list[str]) -> list[str]:
    """The fleet once its healthy terminals are logged in (a faulty one may need a login retransmission)."""
    await until(lambda: all(replica.fep.sessions.get(t) is not None for i, t in enumerate(fleet) if i not in FAULTY),
                timeout_s=30)
    return fleet


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _read(terminal: str, units: list[DataUnitRequest], **kw: object) -> DownlinkRequest:
    values: dict[str, object] = {"request_id": f"sim-{secrets.token_hex(6)}", "terminal": terminal, "afn": 0x0C,
                                 "units": units, "requested_by": "fep-e2e", "timeout_s": 10.0, "retries": 0}
    values.update(kw)
    return DownlinkRequest.model_validate(values)


async def test_the_fleet_logs_in_heartbeats_and_is_published(
        replica: Replica, online: list[str], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    healthy = [t for i, t in enumerate(online) if i not in FAULTY]
    await until(lambda: set(healthy) <= {s.terminal for s in watch.sessions if s.state is SessionState.ONLINE})
    heartbeats = _sample("emms_fep_heartbeats_total")
    await until(lambda: _sample("emms_fep_heartbeats_total") - heartbeats >= len(healthy))  # every 1.5 s each
    assert all(replica.fep.sessions.get(t) is not None for t in healthy)
    assert {f.terminal for f in watch.frames if f.kind is FrameKind.LINK} >= set(healthy)


async def test_a_meter_read_is_answered_and_correlated(
        online: list[str], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    request = _read(online[10], [DataUnitRequest(pn=[1, 2], fn=[129])])
    await producer.publish(request)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED and result.attempts == 1
    units = [u for frame in result.frames for u in frame["units"]]
    assert [(u["pn"], u["fn"], u["type"]) for u in units] == [(1, 129, "EnergyReading"), (2, 129, "EnergyReading")]
    assert all(u["value"]["total"] > 0 for u in units)
    await until(lambda: any(f.request_id == request.request_id and f.kind is FrameKind.RESPONSE
                            for f in watch.frames))


async def test_a_multi_frame_answer_is_reassembled(online: list[str], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    request = _read(online[11], [DataUnitRequest(pn=list(range(1, 9)), fn=[33, 34]),
                                 DataUnitRequest(pn=list(range(9, 17)), fn=[33, 34])])
    await producer.publish(request)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED
    assert len(result.frames) >= 2
    assert result.frames[0]["seq"]["fir"] and result.frames[-1]["seq"]["fin"]
    units = [(u["pn"], u["fn"]) for frame in result.frames for u in frame["units"]]
    assert sorted(units) == [(pn, fn) for pn in range(1, 17) for fn in (33, 34)]


async def test_late_answers_time_out_after_the_retries(
        replica: Replica, online: list[str], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    await until(lambda: replica.fep.sessions.get(online[0]) is not None, timeout_s=30)
    request = _read(online[0], [DataUnitRequest(pn=[0], fn=[2])], timeout_s=1.0, retries=1)
    await producer.publish(request)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.TIMED_OUT and result.attempts == 2 and result.frames == []
    await asyncio.sleep(LATE_S)  # the late answers arrive now: they are published, attributed to no request
    assert result.sent_at is not None
    late = [f for f in watch.frames if f.terminal == online[0] and f.kind is FrameKind.RESPONSE
            and f.received_at > result.sent_at]
    assert all(f.request_id is None for f in late)
    assert sum(1 for r in watch.results if r.request_id == request.request_id) == 1


async def test_faulty_links_are_survived_and_still_answered(
        replica: Replica, online: list[str], bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    await until(lambda: all(replica.fep.sessions.get(online[i]) is not None for i in FAULTY), timeout_s=30)
    requests = [_read(online[i], [DataUnitRequest(pn=[0], fn=[2])], timeout_s=LATE_S + 3, retries=2)
                for i in FAULTY[1:]]
    for request in requests:
        await producer.publish(request)
    results = [await watch.wait_result(r.request_id, timeout_s=40) for r in requests]
    assert all(r.outcome is RequestOutcome.ANSWERED for r in results), [r.detail for r in results]
    ports = (await replica.client.get("/api/v1/fep/ports")).json()
    assert sum(p["illegal_frames"] for p in ports) > 0 and sum(p["dropped_bytes"] for p in ports) > 0
    online_now = sum(1 for t in online if replica.fep.sessions.get(t) is not None)
    assert online_now >= CONCENTRATORS - 1  # a faulty terminal may be re-dialling after corrupted heartbeats
