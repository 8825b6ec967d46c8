"""Two FEP replicas on the same broker and database: a terminal that moves still gets its commands."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, until, wait_downlink_ready
from fep_terminal import FakeTerminal

from emms_bus import BusProducer, KafkaSettings
from emms_fep.routing import rendezvous_owner
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome

pytestmark = pytest.mark.integration
AREA = "0330"


@pytest.fixture(scope="module")
async def pair(database_url: str, kafka_settings: KafkaSettings,
               bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[tuple[Replica, Replica]]:
    async with contextlib.AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_fep(fep_settings(database_url, kafka_settings, "fep-it-r1")))
        b = await stack.enter_async_context(running_fep(fep_settings(database_url, kafka_settings, "fep-it-r2")))
        await wait_downlink_ready(bus[1], a, b)
        await until(lambda: set(a.fep.router.live) >= {"fep-it-r1", "fep-it-r2"}
                    and set(b.fep.router.live) >= {"fep-it-r1", "fep-it-r2"})
        yield a, b


def _read(terminal: str) -> DownlinkRequest:
    return DownlinkRequest(request_id=f"rep-{secrets.token_hex(6)}", terminal=terminal, afn=0x0C,
                           units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="fep-test", timeout_s=3.0)


async def _answer_next(terminal: FakeTerminal) -> None:
    frame = await terminal.next_request(timeout_s=10)
    await terminal.answer_clock(frame)


async def test_a_terminal_that_moves_to_another_replica_still_gets_its_commands(
        pair: tuple[Replica, Replica], bus: tuple[BusWatch, BusProducer]) -> None:
    a, b = pair
    watch, producer = bus
    address = f"{AREA}-00001"
    on_a = FakeTerminal(address)
    await on_a.connect(a.port)
    await on_a.login()
    first = _read(address)
    await producer.publish(first)
    await _answer_next(on_a)
    assert (await watch.wait_result(first.request_id)).outcome is RequestOutcome.ANSWERED
    await until(lambda: len(a.fep.writer) == 0)
    await on_a.close()
    await until(lambda: a.fep.sessions.get(address) is None)
    on_b = FakeTerminal(address)
    await on_b.connect(b.port)
    await on_b.login()
    second = _read(address)
    await producer.publish(second)
    await _answer_next(on_b)
    result = await watch.wait_result(second.request_id)
    assert result.outcome is RequestOutcome.ANSWERED
    assert sum(1 for r in watch.results if r.request_id == second.request_id) == 1
    await on_b.close()


async def test_a_command_issued_while_the_terminal_switches_replicas_reaches_it(
        pair: tuple[Replica, Replica], bus: tuple[BusWatch, BusProducer]) -> None:
    a, b = pair
    watch, producer = bus
    address = f"{AREA}-00002"
    on_a = FakeTerminal(address)
    await on_a.connect(a.port)
    await on_a.login()
    await on_a.close()
    await until(lambda: a.fep.sessions.get(address) is None)
    request = _read(address)
    await producer.publish(request)  # nobody holds the terminal right now: both replicas park it
    await until(lambda: a.fep.router.parked > 0 and b.fep.router.parked > 0)
    on_b = FakeTerminal(address)
    await on_b.connect(b.port)
    await on_b.login()  # within the grace: replica b takes the parked request
    await _answer_next(on_b)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED
    await on_b.close()


async def test_exactly_one_replica_answers_offline(
        pair: tuple[Replica, Replica], bus: tuple[BusWatch, BusProducer]) -> None:
    a, b = pair
    watch, producer = bus
    requests = [_read(f"{AREA}-{n:05d}") for n in range(100, 110)]
    for request in requests:
        await producer.publish(request)
    for request in requests:
        result = await watch.wait_result(request.request_id)
        assert result.outcome is RequestOutcome.OFFLINE
    ids = {r.request_id for r in requests}
    assert sum(1 for r in watch.results if r.request_id in ids) == len(requests)
    owners = {rendezvous_owner(r.terminal, ["fep-it-r1", "fep-it-r2"]) for r in requests}
    assert owners == {"fep-it-r1", "fep-it-r2"}  # the work of answering is spread over the replicas
    offline_a = a.fep.dispatcher.outcomes.get("offline", 0)
    offline_b = b.fep.dispatcher.outcomes.get("offline", 0)
    assert offline_a > 0 and offline_b > 0


async def test_requests_left_open_by_a_dead_replica_are_concluded_once(
        pair: tuple[Replica, Replica], bus: tuple[BusWatch, BusProducer], db: asyncpg.Connection) -> None:
    watch, _ = bus
    orphans = [f"orphan-{secrets.token_hex(6)}" for _ in range(3)]
    await db.executemany(
        "INSERT INTO fep.requests (request_id, terminal, replica, claimed_at) VALUES ($1, $2, 'fep-it-ghost',"
        " now() - interval '1 hour')", [(r, f"{AREA}-00200") for r in orphans])
    for request_id in orphans:
        result = await watch.wait_result(request_id)
        assert result.outcome is RequestOutcome.TIMED_OUT and "fep-it-ghost" in result.detail
    await asyncio.sleep(1.5)  # both replicas have swept again
    assert sum(1 for r in watch.results if r.request_id in orphans) == len(orphans)
