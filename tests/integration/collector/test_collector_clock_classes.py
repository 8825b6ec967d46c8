"""Clock tolerance per terminal class (R-4.6.1.3): set through ``/api/v1/terminal-classes``, a terminal's class
from its master data (model, else kind); the sync worker and the sync route use it — on the real broker and
database, the FEP stood in by the harness's responder."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from collector_harness import FakeFleet, ReadingWatch, Responder, Running, collector_settings, running_collector
from collector_harness import truncate as truncate_tables

from emms_bus import KafkaSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.terminal import SessionState, TerminalSession

pytestmark = pytest.mark.integration
T_MODEL, T_KIND, T_PLAIN = "6202-00001", "6202-00002", "6202-00003"


@pytest.fixture(scope="module")
def fleet() -> FakeFleet:
    return FakeFleet(clock_offset={T_MODEL: 3.0, T_KIND: 3.0, T_PLAIN: 3.0})


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings, fleet: FakeFleet) -> AsyncIterator[Running]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-clock-classes",
                                  timesync={"tolerance_s": 5.0, "every_s": 0.3})
    async with running_collector(settings, role="admin") as running, Responder(kafka_settings, fleet):
        await truncate_tables(running.c.pool)
        async with running.c.pool.acquire() as conn:
            await conn.execute("TRUNCATE collector.terminal_class")
        yield running


@pytest.fixture(scope="module")
async def watch(kafka_settings: KafkaSettings) -> AsyncIterator[ReadingWatch]:
    async with ReadingWatch(kafka_settings) as w:
        yield w


def _terminal(entity_id: str, address: str, kind: str, model: str | None) -> MasterDataChange:
    return MasterDataChange(change_id=secrets.token_hex(8), entity="terminal", entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime.now(UTC), changed_by="archive",
                            data={"address": address, "kind": kind, "model": model, "company_id": "c1",
                                  "status": "active"})


def _heartbeat(terminal: str, deviation_s: float) -> TerminalSession:
    now = datetime.now(UTC)
    return TerminalSession(terminal=terminal, state=SessionState.ONLINE, fep_instance="fep-x",
                           connection_id=f"c-{terminal}", peer="10.0.0.9:4000", since=now, last_seen=now,
                           terminal_clock=now + timedelta(seconds=deviation_s), clock_deviation_s=deviation_s)


async def test_the_class_settings_are_validated_and_listed(collector: Running) -> None:
    client = collector.client
    assert (await client.put("/api/v1/terminal-classes/concentrator",
                             json={"clock_tolerance_s": 0})).status_code == 422
    bad = await client.put("/api/v1/terminal-classes/concentrator", json={"important_ercs": [14, 300]})
    assert bad.status_code == 422 and "ERC" in bad.text
    assert (await client.put("/api/v1/terminal-classes/bad%20name", json={})).status_code == 422
    assert (await client.delete("/api/v1/terminal-classes/none-such")).status_code == 404
    ok = await client.put("/api/v1/terminal-classes/concentrator",
                          json={"clock_tolerance_s": 2.0, "important_ercs": [14, 12, 14]})
    assert ok.status_code == 200 and ok.json()["important_ercs"] == [12, 14] and ok.json()["updated_by"] == "tester"
    listed = (await client.get("/api/v1/terminal-classes")).json()
    assert listed["default_clock_tolerance_s"] == 5.0 and [i["class"] for i in listed["items"]] == ["concentrator"]


async def test_a_terminal_is_synced_against_its_class_tolerance(collector: Running, watch: ReadingWatch,
                                                               fleet: FakeFleet) -> None:
    client = collector.client
    await client.put("/api/v1/terminal-classes/concentrator", json={"clock_tolerance_s": 2.0})
    await client.put("/api/v1/terminal-classes/DJGZ23-II", json={"clock_tolerance_s": 1.0})
    await client.put("/api/v1/terminal-classes/collector", json={"clock_tolerance_s": 10.0})
    # by model (1 s, the kind's 10 s does not count), by kind (2 s), a terminal without master data (5 s)
    await watch.producer.publish_many([_terminal("t-model", T_MODEL, "collector", "DJGZ23-II"),
                                       _terminal("t-kind", T_KIND, "concentrator", None)])

    async def classified() -> bool:
        async with collector.c.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM collector.md_terminal WHERE kind IS NOT NULL") == 2

    for _ in range(100):
        if await classified():
            break
        await asyncio.sleep(0.1)
    assert await classified()
    await watch.producer.publish_many([_heartbeat(t, 3.0) for t in (T_MODEL, T_KIND, T_PLAIN)])

    async def syncs(terminal: str) -> list[dict[str, object]]:
        body = (await client.get("/api/v1/clock/syncs", params={"terminal": terminal})).json()
        return [s for s in body["items"] if s["outcome"] == "synced"]

    synced: dict[str, bool] = {}

    async def both() -> bool:
        for t in (T_MODEL, T_KIND):
            synced[t] = bool(await syncs(t))
        return all(synced.values())

    for _ in range(150):
        if await both():
            break
        await asyncio.sleep(0.1)
    assert synced == {T_MODEL: True, T_KIND: True}
    assert abs(fleet.clock_offset[T_MODEL]) < 1 and abs(fleet.clock_offset[T_KIND]) < 1
    assert not await syncs(T_PLAIN) and fleet.clock_offset[T_PLAIN] == 3.0  # within the default 5 s
    clocks = {c["terminal"]: c for c in (await client.get("/api/v1/clock/terminals")).json()["items"]}
    assert clocks[T_MODEL]["tolerance_s"] == 1.0 and clocks[T_KIND]["tolerance_s"] == 2.0
    assert clocks[T_PLAIN]["tolerance_s"] == 5.0
    # Grafana's role reads the syncs through the reporting views (dashboard "EMMS clocks")
    async with collector.c.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE emms_reporting")
        seen = await conn.fetchval("SELECT count(*) FROM reporting.clock_sync WHERE outcome = 'synced'"
                                   " AND terminal = ANY($1::text[])", [T_MODEL, T_KIND])
        assert seen >= 2 and await conn.fetchval("SELECT count(*) FROM reporting.clock_terminal") >= 3
    # the sync route says the same: the plain terminal is within tolerance
    plain = (await client.post(f"/api/v1/clock/terminals/{T_PLAIN}/sync")).json()
    assert plain["outcome"] == "within_tolerance"
