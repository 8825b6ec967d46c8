"""Fault detection on real parts: a real FEP process whose terminal port receives frames with bad checksums
(its /metrics scraped by the operations service) is a channel fault; a meter installed in master data that sends
no reading is a silent-meter fault, cleared by its next reading from the bus."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from operations_harness import Operations, operations_settings, running_operations
from service_harness import own_database

from emms_bus import BusProducer, KafkaSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource
from emms_messages.terminal import DataUnitRequest, DownlinkRequest
from emms_protocol.gdw1376 import builders
from emms_protocol.gdw1376.address import Address
from emms_protocol.gdw1376.frame import encode_frame

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
SILENT_DAYS = 2.0 / 86_400  # two seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fep_database(database_url: str) -> Iterator[str]:
    """The FEP's database of its own: other modules' FEPs in the session database own other terminals."""
    yield from own_database(database_url, "ops_fep")


@pytest.fixture(scope="module")
def fep_process(service_env: dict[str, str], kafka_settings: KafkaSettings,
                fep_database: str) -> Iterator[tuple[str, int]]:
    """A real FEP (its own process) on the area's topics, which the test's requests go to: (HTTP base URL,
    terminal port)."""
    http, terminals = _free_port(), _free_port()
    env = {**service_env, "EMMS_DATABASE_URL": fep_database, "EMMS_TOPIC_PREFIX": kafka_settings.topic_prefix,
           "EMMS_FEP_HTTP__PORT": str(http), "EMMS_FEP_TERMINALS__PORT": str(terminals),
           "EMMS_FEP_TERMINALS__HOST": "127.0.0.1", "EMMS_FEP_REPLICA_ID": "fep-ops-detect",
           "EMMS_FEP_INSTANCE_ID": "fep-ops-detect"}
    process = subprocess.Popen([sys.executable, "-m", "emms_fep"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, "the FEP exited"
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise TimeoutError("the FEP is not ready")
        yield url, terminals
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
async def operations(database_url: str, kafka_settings: KafkaSettings,
                     fep_process: tuple[str, int]) -> AsyncIterator[Operations]:
    settings = operations_settings(database_url, kafka_settings, services={"fep": fep_process[0]},
                                   faults={"terminal_offline_s": 1.0, "service_unhealthy_s": 0.5,
                                           "meter_silent_days": SILENT_DAYS, "illegal_frame_min": 20,
                                           "channel_min_links": 3})
    async with running_operations(settings) as svc:
        yield svc


async def _until(check: Any, timeout_s: float = 60.0) -> Any:
    """``check()``'s first truthy value within ``timeout_s`` of wall time (a check may itself take a while)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met in {timeout_s} s")
        await asyncio.sleep(0.2)


async def _faults(svc: Operations, **params: Any) -> list[dict[str, Any]]:
    resp = await svc.client.get("/api/v1/faults", params=params)
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


def _simulator(fep_port: int, manifest: Path) -> subprocess.Popen[bytes]:
    """One simulated concentrator (its own process) dialling the FEP."""
    return subprocess.Popen([sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{fep_port}",
                             "--concentrators", "1", "--meters-per", "2", "--seed", "19", "--first-terminal", "88",
                             "--mix", "electricity=100", "--quiet-field", "--heartbeat-s", "1", "--manifest",
                             str(manifest)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _bad_checksum_frames(n: int) -> bytes:
    out = bytearray()
    for seq in range(n):
        raw = bytearray(encode_frame(builders.login(Address(0x3797, 1), seq % 16)))
        raw[-2] ^= 0xFF  # the checksum
        out += raw
    return bytes(out)


async def test_a_port_with_many_illegal_frames_is_a_channel_fault(
        operations: Operations, fep_process: tuple[str, int]) -> None:
    _, port = fep_process
    label = f"tcp-server:{port}"  # the FEP's name of its terminal listener
    _, writer = await asyncio.open_connection("127.0.0.1", port)  # a first link: the port's series exist
    writer.close()

    async def scraped() -> bool:
        return label in operations.ops.poller.ports

    await _until(scraped)  # a scrape: the baseline of the port's counters
    assert not await _faults(operations, kind="port_illegal_frames")
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_bad_checksum_frames(40))
    await writer.drain()
    writer.close()

    async def opened() -> list[dict[str, Any]]:
        return await _faults(operations, kind="port_illegal_frames", active=True)

    (fault,) = await _until(opened)
    assert (fault["level"], fault["subject"]) == ("channel", f"fep-port:{label}")
    assert fault["detail"]["illegal"] >= 20 and fault["detail"]["ratio"] > 0.05
    status = (await operations.client.get("/api/v1/status")).json()
    assert status["channels"]["ports"][label]["illegal_frames"] >= 40
    assert status["master"]["services"][0]["service"] == "fep" and status["master"]["services"][0]["up"]

    async def cleared() -> bool:  # the next polls see no new illegal frames
        return not await _faults(operations, kind="port_illegal_frames", active=True)

    await _until(cleared)
    (ticket,) = (await operations.client.get("/api/v1/tickets", params={"subject": f"fep-port:{label}"})).json()
    assert ticket["state"] == "resolved" and ticket["level"] == "channel"


async def test_a_meter_without_readings_is_a_meter_fault_until_it_answers(
        operations: Operations, producer: BusProducer) -> None:
    meter, terminal = f"M-SIL-{uuid.uuid4().hex[:6]}", "3797-00002"
    await producer.publish(MasterDataChange(
        change_id=uuid.uuid4().hex, entity="meter_installation", entity_id=f"MP-{meter}", kind=ChangeKind.CREATED,
        changed_at=datetime.now(UTC), changed_by="test",
        data={"meter_id": meter, "terminal_address": terminal, "pn": 3}))

    async def silent() -> list[dict[str, Any]]:
        return await _faults(operations, kind="meter_silent", subject=meter, active=True)

    (fault,) = await _until(silent)
    assert (fault["level"], fault["meter_id"], fault["terminal"]) == ("meter", meter, terminal)
    now = datetime.now(UTC)
    await producer.publish(RawReadingBatch(batch_id=uuid.uuid4().hex, terminal=terminal, readings=[Reading(
        meter_id=meter, item="energy.active.import.total", data_time=now, value=12.5, unit="kWh",
        source=ReadingSource.SCHEDULED, collected_at=now, terminal=terminal, pn=3)]))

    async def answered() -> bool:
        return not await _faults(operations, kind="meter_silent", subject=meter, active=True)

    await _until(answered, timeout_s=20)  # cleared before the next two silent seconds pass
    tickets = (await operations.client.get("/api/v1/tickets", params={"subject": meter})).json()
    assert tickets[-1]["fault_id"] == fault["fault_id"] and tickets[-1]["state"] == "resolved"
    # (silent again two seconds later, the meter may have a new fault and ticket by now: it sends nothing more)


async def test_a_port_that_loses_every_link_is_a_channel_down(
        operations: Operations, fep_process: tuple[str, int]) -> None:
    _, port = fep_process
    label = f"tcp-server:{port}"
    links = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]

    async def busy() -> bool:
        return label in operations.ops.poller.busy

    await _until(busy)
    assert not await _faults(operations, kind="channel_down", active=True)
    for _, writer in links:
        writer.close()

    async def down() -> list[dict[str, Any]]:
        return await _faults(operations, kind="channel_down", active=True)

    (fault,) = await _until(down)
    assert (fault["level"], fault["severity"], fault["subject"]) == ("channel", "critical", f"fep-port:{label}")
    detail = (await operations.client.get("/api/v1/tickets", params={"subject": f"fep-port:{label}",
                                                                     "severity": "critical"})).json()
    assert len(detail) == 1 and detail[0]["state"] == "open"
    _, writer = await asyncio.open_connection("127.0.0.1", port)  # a terminal connects again
    try:
        async def up() -> bool:
            return not await _faults(operations, kind="channel_down", active=True)

        await _until(up)
    finally:
        writer.close()


async def test_downlink_success_per_port_from_the_fep_api(
        operations: Operations, fep_process: tuple[str, int], producer: BusProducer, tmp_path: Path) -> None:
    """A simulated concentrator logs in to the real FEP, a read is answered: the operating status shows the port's
    requests and answers, read from the FEP API with the service's token."""
    _, port = fep_process
    label = f"tcp-server:{port}"
    manifest = tmp_path / "fleet.json"
    sim = _simulator(port, manifest)
    try:
        for _ in range(200):
            if manifest.exists():
                break
            await asyncio.sleep(0.05)
        key = json.loads(manifest.read_text())["terminals"][0]["key"]

        async def answered() -> dict[str, Any] | None:
            await producer.publish(DownlinkRequest(
                request_id=f"ops-{uuid.uuid4().hex[:12]}", terminal=key, afn=0x0C,
                units=[DataUnitRequest(pn=[1], fn=[129])], requested_by="operations-test", timeout_s=5.0))
            await asyncio.sleep(1.0)
            ports = (await operations.client.get("/api/v1/status")).json()["channels"]["ports"]
            row: dict[str, Any] | None = ports.get(label)
            return row if row and (row["answered"] or 0) >= 1 else None

        row = await _until(answered, timeout_s=90)
        assert row["requests"] >= row["answered"] >= 1 and 0 < row["success_rate"] <= 1
    finally:
        sim.terminate()
        sim.wait(timeout=20)
