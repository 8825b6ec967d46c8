"""Relayed (cascaded) terminals end to end (R-4.6.6): the simulator over real TCP, a real FEP replica, broker and
database. Terminal X of the simulated fleet is cascaded behind terminal Y (1376.1 级联): X opens no link; the
FEP, told ``relay_via`` from the simulator's manifest, reaches X over Y's link, and X's answer is X's truth.
With Y's link gone a request to X is answered ``offline`` with the route as the reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, until, wait_downlink_ready

from emms_bus import BusProducer, KafkaSettings
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, FrameKind, RequestOutcome
from emms_protocol.gdw1376 import decode_frame, decode_units
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_sim.cascade import Cascade
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.fleet_runner import FleetRunner
from emms_sim.manifest import write_manifest
from emms_sim.session import SessionConfig
from emms_sim.truth import GroundTruth

pytestmark = pytest.mark.integration
TRUTH = GroundTruth(FleetConfig(seed=23, concentrators=2, meters_per=2, mix=(("electricity", 1.0),),
                                rates=FieldRates.quiet(), first_terminal_address=7701))
CASCADE = Cascade.parse("1:0", 2)  # terminal 1 hangs behind terminal 0
OTHER = GroundTruth(FleetConfig(seed=29, concentrators=2, meters_per=1, mix=(("electricity", 1.0),),
                                rates=FieldRates.quiet(), first_terminal_address=7751))


@pytest.fixture(scope="module")
async def operator(replica: Replica) -> AsyncIterator[httpx.AsyncClient]:
    token = issue_token(AuthSettings(), "op-cascade", "operator")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica.app), base_url="http://fep",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(X, Y) as the simulator's manifest lists them: X cascaded behind Y."""
    path = tmp_path_factory.mktemp("cascade") / "fleet.json"
    write_manifest(TRUTH.fleet, path, {"cascade": CASCADE.manifest(TRUTH.fleet)})
    (entry,) = json.loads(Path(path).read_text())["cascade"]
    return entry["terminal"], entry["via"]


def _read(terminal: str, pn: int) -> DownlinkRequest:
    return DownlinkRequest(request_id=f"cascade-{secrets.token_hex(6)}", terminal=terminal, afn=0x0C,
                           units=[DataUnitRequest(pn=[pn], fn=[129])], requested_by="fep-cascade-test",
                           timeout_s=5.0, retries=1)


async def test_a_cascaded_terminal_is_read_through_its_relay_and_fails_with_the_route_without_it(
        replica: Replica, operator: httpx.AsyncClient, bus: tuple[BusWatch, BusProducer],
        pair: tuple[str, str]) -> None:
    watch, producer = bus
    x, y = pair
    put = await operator.put(f"/api/v1/terminals/{x}/channel",
                             json={"primary_channel": {"kind": "tcp"}, "relay_via": y})
    assert put.status_code == 200, put.text
    runner = FleetRunner(TRUTH, SessionConfig("127.0.0.1", replica.port, confirm_timeout_s=2.0, backoff_base_s=0.1,
                                              backoff_cap_s=0.5), heartbeat_s=2.0, cascade=CASCADE)
    assert [s.state.address.key for s in runner.sessions] == [y]  # X opens no link of its own
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await until(lambda: (s := replica.fep.sessions.get(x)) is not None and s.via == y, 20)
        meter = TRUTH.fleet.meters_of(1)[0]
        request = _read(x, meter.pn)
        await producer.publish(request)
        result = await watch.wait_result(request.request_id)
        assert result.outcome is RequestOutcome.ANSWERED, result.detail
        (frame,) = result.frames
        raw = decode_frame(bytes.fromhex(frame["raw_hex"]))
        assert raw.address.key == x  # X's own address, on Y's link
        (unit,) = decode_units(raw)
        assert isinstance(unit.value, EnergyReading) and unit.value.read_at is not None
        assert unit.value.total == TRUTH.truth(meter.meter_id, "energy.active.import.total", unit.value.read_at)
        relay_meter = TRUTH.fleet.meters_of(0)[0]
        assert unit.value.total != TRUTH.truth(relay_meter.meter_id, "energy.active.import.total",
                                               unit.value.read_at)  # not Y's meter answering
        await until(lambda: any(f.request_id == request.request_id and f.terminal == x
                                and f.kind is FrameKind.RESPONSE for f in watch.frames))
        await until(lambda: len(replica.fep.writer) == 0)  # the session rows are written
        detail = (await replica.client.get(f"/api/v1/terminals/{x}")).json()
        assert detail["session"]["state"] == "online" and detail["session"]["port"] == f"relay:{y}"
        assert detail["held_here"] and detail["live"]["via"] == y
        counters = detail["counters_since_start"]
        assert counters["requests"] == 1 and counters["answered"] == 1 and counters["illegal_frames"] == 0
        channel = (await replica.client.get(f"/api/v1/terminals/{x}/channel")).json()
        assert channel["active"] == "relay" and channel["session_channel"] == f"relay:{y}"
        relay = replica.fep.sessions.get(y)
        assert relay is not None and relay.via is None
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    await until(lambda: replica.fep.sessions.get(y) is None and replica.fep.sessions.get(x) is None, 10)
    sent = datetime.now(UTC)
    request = _read(x, 1)
    await producer.publish(request)
    result = await watch.wait_result(request.request_id, timeout_s=15)
    assert result.outcome is RequestOutcome.OFFLINE and result.attempts == 0
    assert result.detail == f"relayed through {y}: no FEP replica holds a terminal of the route"
    assert (result.completed_at - sent).total_seconds() < 10  # answered, not left hanging


@pytest.fixture(scope="module")
async def two(database_url: str, kafka_settings: KafkaSettings,
              bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[tuple[Replica, Replica]]:
    async with contextlib.AsyncExitStack() as stack:
        replicas = [await stack.enter_async_context(running_fep(fep_settings(
            database_url, kafka_settings, name, relay_refresh_s=0.3))) for name in ("fep-it-c1", "fep-it-c2")]
        await wait_downlink_ready(bus[1], *replicas)
        await until(lambda: all({"fep-it-c1", "fep-it-c2"} <= set(r.fep.router.live) for r in replicas))
        yield replicas[0], replicas[1]


async def test_the_replica_holding_the_relay_sends_and_the_others_leave_it(
        two: tuple[Replica, Replica], replica: Replica, operator: httpx.AsyncClient,
        bus: tuple[BusWatch, BusProducer]) -> None:
    """Three replicas see every request; only the one holding the relay's link holds the relayed terminal,
    sends, and answers; the others find it online there and drop the request: one result."""
    c1, c2 = two
    watch, producer = bus
    x, y = OTHER.fleet.terminal(1).key, OTHER.fleet.terminal(0).key
    put = await operator.put(f"/api/v1/terminals/{x}/channel",
                             json={"primary_channel": {"kind": "tcp"}, "relay_via": y})
    assert put.status_code == 200, put.text
    runner = FleetRunner(OTHER, SessionConfig("127.0.0.1", c2.port, confirm_timeout_s=2.0, backoff_base_s=0.1,
                                              backoff_cap_s=0.5), heartbeat_s=2.0, cascade=CASCADE)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await until(lambda: (s := c2.fep.sessions.get(x)) is not None and s.via == y, 20)
        assert c1.fep.sessions.get(x) is None and replica.fep.sessions.get(x) is None
        await until(lambda: len(c2.fep.writer) == 0)
        meter = OTHER.fleet.meters_of(1)[0]
        request = _read(x, meter.pn)
        await producer.publish(request)
        result = await watch.wait_result(request.request_id)
        assert result.outcome is RequestOutcome.ANSWERED, result.detail
        assert decode_frame(bytes.fromhex(result.frames[0]["raw_hex"])).address.key == x
        await asyncio.sleep(3.0)  # past the others' grace and slack: none answers it again
        assert sum(1 for r in watch.results if r.request_id == request.request_id) == 1
        row = (await c1.client.get(f"/api/v1/terminals/{x}")).json()["session"]
        assert row["fep_instance"] == "fep-it-c2" and row["port"] == f"relay:{y}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
