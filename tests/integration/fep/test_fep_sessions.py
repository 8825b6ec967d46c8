"""Sessions over real sockets: login storm, heartbeats with clock, replacement, logout, time-outs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fep_harness import BusWatch, Replica, until
from fep_terminal import FakeTerminal

from emms_bus import BusProducer
from emms_messages.terminal import FrameKind, SessionState

pytestmark = pytest.mark.integration
AREA = "0310"


def _address(n: int) -> str:
    return f"{AREA}-{n:05d}"


async def test_a_login_storm_is_confirmed_published_and_persisted(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    terminals = [FakeTerminal(_address(n)) for n in range(1, 201)]
    await asyncio.gather(*(t.connect(replica.port) for t in terminals))
    confirms = await asyncio.gather(*(t.login() for t in terminals))
    for terminal, confirm in zip(terminals, confirms, strict=True):
        assert confirm.afn == 0x00 and confirm.number == terminal.last_pseq  # AFN00 F1 echoing the PSEQ
    assert len(replica.fep.sessions) >= 200
    for t in terminals:
        t.keep_alive(interval_s=1.0)  # this replica times out silence after 4 s
    addresses = {t.address for t in terminals}
    await until(lambda: addresses <= {s.terminal for s in watch.sessions if s.state is SessionState.ONLINE})
    await until(lambda: addresses <= {f.terminal for f in watch.frames if f.kind is FrameKind.LINK})
    await until(lambda: len(replica.fep.writer) == 0)
    response = await replica.client.get("/api/v1/terminals", params={"prefix": AREA, "limit": 1000})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 200 and {i["terminal"] for i in body["items"]} == addresses
    assert {i["fep_instance"] for i in body["items"]} == {replica.fep.replica}
    for t in terminals:
        await t.close()
    await until(lambda: all(replica.fep.sessions.get(a) is None for a in addresses))


async def test_heartbeats_are_confirmed_and_the_clock_deviation_published(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    terminal = FakeTerminal(_address(300))
    await terminal.connect(replica.port)
    await terminal.login()
    skewed = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=95)
    confirm = await terminal.heartbeat(clock=skewed)
    assert confirm.afn == 0x00 and confirm.number == terminal.last_pseq
    session = replica.fep.sessions.get(terminal.address)
    assert session is not None and session.clock_deviation_s is not None
    assert 90 <= session.clock_deviation_s <= 100
    await until(lambda: any(s.terminal == terminal.address and s.clock_deviation_s is not None
                            and 90 <= s.clock_deviation_s <= 100 for s in watch.sessions))
    detail = (await replica.client.get(f"/api/v1/terminals/{terminal.address}")).json()
    assert detail["held_here"] and detail["live"]["clock_deviation_s"] == session.clock_deviation_s
    assert detail["counters_since_start"]["frames_in"] >= 2
    await terminal.close()


async def test_a_second_login_replaces_the_old_connection(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    first, second = FakeTerminal(_address(301)), FakeTerminal(_address(301))
    await first.connect(replica.port)
    await first.login()
    await second.connect(replica.port)
    await second.login()
    assert await first.closed_by_fep()
    session = replica.fep.sessions.get(second.address)
    assert session is not None
    await second.heartbeat()
    mine = [s for s in watch.sessions if s.terminal == second.address]
    await asyncio.sleep(0.3)
    assert all(s.state is SessionState.ONLINE for s in mine)  # the replaced link did not report offline
    await second.close()


async def test_logout_is_confirmed_and_ends_the_session(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    terminal = FakeTerminal(_address(302))
    await terminal.connect(replica.port)
    await terminal.login()
    confirm = await terminal.logout()
    assert confirm.afn == 0x00
    assert await terminal.closed_by_fep()
    await until(lambda: any(s.terminal == terminal.address and s.state is SessionState.OFFLINE
                            and s.reason == "logout" for s in watch.sessions))


async def test_silence_past_the_heartbeat_time_out_closes_the_session(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    terminal = FakeTerminal(_address(303))
    await terminal.connect(replica.port)
    await terminal.login()
    assert await terminal.closed_by_fep(timeout_s=8.0)  # heartbeat time-out of this replica: 4 s
    await until(lambda: any(s.terminal == terminal.address and s.state is SessionState.OFFLINE
                            and s.reason.startswith("heartbeat time-out") for s in watch.sessions))


async def test_a_socket_that_never_logs_in_is_closed(replica: Replica) -> None:
    terminal = FakeTerminal(_address(304))
    await terminal.connect(replica.port)
    await terminal.send(b"\x00\x01garbage-but-no-login")
    assert await terminal.closed_by_fep(timeout_s=6.0)  # login time-out of this replica: 2 s


async def test_api_needs_a_token_and_pages(replica: Replica) -> None:
    anonymous = await replica.client.get("/api/v1/fep/stats", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    stats = (await replica.client.get("/api/v1/fep/stats")).json()
    assert stats["replica"] == replica.fep.replica and stats["listen_port"] == replica.port
    assert stats["event_loop_lag"]["samples"] > 0
    ports = (await replica.client.get("/api/v1/fep/ports")).json()
    assert ports and ports[0]["frames_in"] > 0
    page = await replica.client.get("/api/v1/terminals", params={"state": "any", "limit": 0})
    assert page.status_code == 422
    missing = await replica.client.get("/api/v1/terminals/0310-99999")
    assert missing.status_code == 404
    replicas = (await replica.client.get("/api/v1/fep/replicas")).json()
    assert any(r["replica"] == replica.fep.replica and r["live"] for r in replicas)
