"""Channels and routes per terminal (R-4.6.6) on a real FEP replica: primary / standby configuration, relay
routes without loops, and a SIM's traffic — counted from a terminal talking over a real socket — held against
its daily allowance, alarmed through the metric."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fep_harness import Replica, until
from fep_terminal import FakeTerminal

from emms_fep.allowance import AllowanceWatch
from emms_fep.runtime import SCHEMA
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.session import SessionConfig, TerminalSession
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

pytestmark = pytest.mark.integration
AREA = "0766"
T1, T2, T3 = f"{AREA}-00001", f"{AREA}-00002", f"{AREA}-00003"
ICCID = "89860012345678901234"


@pytest.fixture(scope="module")
async def operator(replica: Replica) -> AsyncIterator[httpx.AsyncClient]:
    token = issue_token(AuthSettings(), "op-1", "operator")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica.app), base_url="http://fep",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async with replica.fep.pool.acquire() as conn:
            await conn.execute(f"DELETE FROM {SCHEMA}.terminal_channel WHERE terminal LIKE '{AREA}-%'")
        yield client


async def test_channels_are_validated_stored_and_read(operator: httpx.AsyncClient, replica: Replica) -> None:
    bad = await operator.put(f"/api/v1/terminals/{T1}/channel", json={"primary_channel": {"kind": "dialout"}})
    assert bad.status_code == 422 and "host and port" in bad.text
    assert (await operator.put(f"/api/v1/terminals/{T1}/channel",
                               json={"primary_channel": {"kind": "serial"}})).status_code == 422
    assert (await operator.put(f"/api/v1/terminals/{T1}/channel", json={
        "primary_channel": {"kind": "tcp"}, "allowance_day_bytes": 0})).status_code == 422
    body = {"primary_channel": {"kind": "tcp", "apn": "cmiot.emms"},
            "standby_channel": {"kind": "dialout", "host": "10.8.0.17", "port": 9001},
            "sim_iccid": ICCID, "allowance_day_bytes": 200, "allowance_month_bytes": 30_000_000}
    ok = await operator.put(f"/api/v1/terminals/{T1}/channel", json=body)
    assert ok.status_code == 200, ok.text
    got = (await replica.client.get(f"/api/v1/terminals/{T1}/channel")).json()
    assert got["standby_channel"]["kind"] == "dialout" and got["standby_channel"]["port"] == 9001
    assert got["updated_by"] == "op-1" and got["sim_iccid"] == ICCID
    assert (await replica.client.get(f"/api/v1/terminals/{T3}/channel")).status_code == 404
    assert (await replica.client.put(f"/api/v1/terminals/{T3}/channel", json=body)).status_code == 403  # viewer


async def test_a_relay_route_is_the_chain_and_never_loops(operator: httpx.AsyncClient, replica: Replica) -> None:
    tcp = {"primary_channel": {"kind": "tcp"}}
    assert (await operator.put(f"/api/v1/terminals/{T2}/channel", json={**tcp, "relay_via": T1})).status_code == 200
    assert (await operator.put(f"/api/v1/terminals/{T3}/channel", json={**tcp, "relay_via": T2})).status_code == 200
    route = (await replica.client.get(f"/api/v1/terminals/{T3}/route")).json()
    assert route == {"terminal": T3, "via": [T2, T1], "direct": False}
    loop = await operator.put(f"/api/v1/terminals/{T1}/channel", json={**tcp, "relay_via": T3})
    assert loop.status_code == 409 and "loop" in loop.text
    assert (await operator.put(f"/api/v1/terminals/{T1}/channel", json={**tcp, "relay_via": T1})).status_code == 409
    assert (await replica.client.get(f"/api/v1/terminals/{T1}/route")).json()["direct"] is True
    assert (await operator.delete(f"/api/v1/terminals/{T3}/channel")).status_code == 204
    assert (await operator.delete(f"/api/v1/terminals/{T3}/channel")).status_code == 404


async def test_sim_traffic_over_its_allowance_is_alarmed(operator: httpx.AsyncClient, replica: Replica) -> None:
    await operator.put(f"/api/v1/terminals/{T1}/channel", json={
        "primary_channel": {"kind": "tcp"}, "sim_iccid": ICCID, "allowance_day_bytes": 200,
        "allowance_month_bytes": 30_000_000})
    watch = AllowanceWatch(replica.fep.pool, SCHEMA)
    before = [o for o in await watch.check() if o["terminal"] == T1]
    assert not before  # nothing sent yet today
    terminal = FakeTerminal(T1)
    await terminal.connect(replica.port)
    await terminal.login()
    for _ in range(6):  # login + heartbeats and their confirmations: well over 200 bytes
        await terminal.heartbeat(clock=datetime.now(UTC).replace(microsecond=0))
    await replica.fep.flush_stores(traffic=True)
    over = [o for o in await watch.check() if o["terminal"] == T1]
    assert over and over[0]["day_over"] and not over[0]["month_over"] and over[0]["day_bytes"] > 200
    listed = (await replica.client.get("/api/v1/traffic/allowance", params={"over": "true"})).json()
    mine = next(i for i in listed["items"] if i["terminal"] == T1)
    assert mine["sim_iccid"] == ICCID and mine["share"] > 1
    text = (await replica.client.get("/metrics")).text
    found = re.search(r'emms_fep_traffic_over_allowance_terminals\{period="day"\} (\S+)', text)
    assert found and float(found.group(1)) >= 1
    await terminal.close()


async def test_a_terminal_falls_back_to_its_standby_channel(operator: httpx.AsyncClient, replica: Replica) -> None:
    """A simulated concentrator whose primary channel is down connects on its standby channel (the simulator's
    fail-over); the FEP shows the terminal on its standby channel."""
    truth = GroundTruth(FleetConfig(seed=11, concentrators=1, meters_per=1, rates=FieldRates.quiet(),
                                    first_terminal_address=4321))
    state = TerminalState(truth, 0, heartbeat_s=5.0)
    key = state.address.key
    with socket.socket() as s:  # a port nothing listens on: the primary channel is down
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    put = await operator.put(f"/api/v1/terminals/{key}/channel", json={
        "primary_channel": {"kind": "tcp", "port": dead}, "standby_channel": {"kind": "tcp", "port": replica.port}})
    assert put.status_code == 200, put.text
    session = TerminalSession(state, SessionConfig("127.0.0.1", dead, confirm_timeout_s=2.0, backoff_base_s=0.05,
                                                   backoff_cap_s=0.2, standby=("127.0.0.1", replica.port)))
    stop = asyncio.Event()
    task = asyncio.create_task(session.run(stop))
    try:
        await until(lambda: replica.fep.sessions.get(key) is not None, 15)
        assert session.stats.channel == "standby" and session.stats.failovers == 1

        async def on_standby() -> bool:
            body = (await replica.client.get(f"/api/v1/terminals/{key}/channel")).json()
            return bool(body.get("active") == "standby")

        for _ in range(50):
            if await on_standby():
                break
            await asyncio.sleep(0.2)
        body = (await replica.client.get(f"/api/v1/terminals/{key}/channel")).json()
        assert body["active"] == "standby" and body["session_channel"] == f"tcp-server:{replica.port}", body
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
