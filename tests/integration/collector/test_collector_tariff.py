"""The tariff in force against the simulator (R-4.2.2 / R-4.5.3.1): AFN0A F21 / F22 over real TCP through a real
FEP and broker into the collector, AFN04 F21 / F22 pushed back and confirmed.

One world for the module: a FEP replica and the collector in the test loop, a simulator fleet of two
concentrators. What a concentrator holds is checked in the simulator's truth API (``GET /tariff``), never only in
the collector's own view — and on the bus: every stored read of the tariff is published on
``emms.terminal.tariff.v1`` (analytics splits usage by it), watched from before the first login.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from collector_harness import (
    DutyLogWatch,
    ReadingWatch,
    Running,
    _BusParticipant,
    collector_settings,
    running_collector,
)
from service_harness import FreshBearer, area_topics
from terminal_config_harness import Sim, fep_settings, manifest, running_fep, simulator, until, wait_downlink_ready

from emms_bus import Delivery, KafkaSettings
from emms_messages.terminal import TerminalTariff

pytestmark = pytest.mark.integration
CFG = "/api/v1/terminal-config"
STEP_UP = FreshBearer("op-reset", "operator", step_up=True)
NIGHT_AND_DAY = [1] * 16 + [0] * 28 + [1] * 4  # 费率 2 00:00–08:00 and 22:00–24:00, 费率 1 08:00–22:00


class TariffWatch(_BusParticipant):
    """Every tariff message (``emms.terminal.tariff.v1``) published while the world runs."""

    def __init__(self, kafka: KafkaSettings) -> None:
        super().__init__(kafka, "tariff-watch", ["emms.terminal.tariff.v1"])
        self.seen: list[TerminalTariff] = []

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        self.seen.extend(d.payload for d in batch if isinstance(d.payload, TerminalTariff))

    async def holding(self, terminal: str, slots: list[int], rates: list[int], after: datetime | None = None,
                      timeout_s: float = 30.0) -> TerminalTariff:
        """The newest message of ``terminal`` once one carries ``slots`` and ``rates`` (read after ``after``)."""
        async def newest() -> TerminalTariff | None:
            mine = [t for t in self.seen if t.terminal == terminal and t.slots == slots and t.rates == rates
                    and (after is None or t.read_at > after)]
            return max(mine, key=lambda t: t.read_at) if mine else None
        found: TerminalTariff = await until(newest, timeout_s, f"a tariff message of {terminal}")
        return found


@dataclass
class World:
    collector: Running
    sim: Sim
    terminals: list[dict[str, Any]]
    duty: DutyLogWatch
    bus: TariffWatch

    @property
    def client(self) -> httpx.AsyncClient:
        return self.collector.client

    def truth(self, terminal: str) -> dict[str, Any]:
        resp = httpx.get(f"{self.sim.base}/tariff", params={"key": terminal}, timeout=10)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    async def tariff(self, terminal: str) -> dict[str, Any] | None:
        resp = await self.client.get(f"{CFG}/terminals/{terminal}/tariff")
        return resp.json() if resp.status_code == 200 else None

    async def push(self, terminal: str, fn: int, value: dict[str, Any]) -> str:
        made = await self.client.put(f"{CFG}/terminals/{terminal}/params/{fn}", json={"value": value})
        assert made.status_code == 202, made.text

        async def final() -> str | None:
            state: str = (await self.client.get(f"{CFG}/pushes/{made.json()['id']}")).json()["state"]
            return state if state in ("done", "denied", "failed", "mismatch") else None

        state: str = await until(final, 30, f"the F{fn} push")
        return state


@pytest.fixture(scope="module")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "tariff")


@pytest.fixture(scope="module")
async def world(database_url: str, kafka_settings: KafkaSettings, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("tariff")
    terminals = manifest(tmp / "fleet.json", 2, 2, 701)
    settings = collector_settings(
        database_url, kafka_settings, "collector-it-tariff", backfill={"enabled": False},
        timesync={"enabled": False},
        dispatch={"request_timeout_s": 3.0, "fep_retries": 1, "result_slack_s": 2.0, "send_within_s": 5.0},
        terminal_config={"every_s": 0.3, "retry_s": 0.5, "offline_retry_s": 60.0, "request_timeout_s": 3.0,
                         "check_every_s": 0.0})
    fep_cfg = fep_settings(database_url, kafka_settings, "fep-tariff",
                           sessions={"login_timeout_s": 10.0, "heartbeat_timeout_s": 300.0})
    async with contextlib.AsyncExitStack() as stack:
        watch = await stack.enter_async_context(ReadingWatch(kafka_settings))
        duty = await stack.enter_async_context(DutyLogWatch(kafka_settings))
        bus = await stack.enter_async_context(TariffWatch(kafka_settings))
        fep = await stack.enter_async_context(running_fep(fep_cfg))
        await wait_downlink_ready(watch.producer, fep)
        collector = await stack.enter_async_context(running_collector(settings, role="admin"))
        sim = stack.enter_context(simulator(fep.port, 2, 2, 701, tmp))
        yield World(collector, sim, terminals, duty, bus)


def _published_as_truth(message: TerminalTariff, truth: dict[str, Any]) -> None:
    assert message.slots == truth["slots"] and message.rate_count == truth["rate_count"]
    assert message.rates == truth["rates"]
    assert message.rates_read_at is not None
    assert message.read_at == max(message.periods_read_at, message.rates_read_at)


def _same_as_truth(shown: dict[str, Any], truth: dict[str, Any]) -> None:
    assert shown["slots"] == truth["slots"] and shown["rate_count"] == truth["rate_count"]
    assert [r["li_per_kwh"] for r in shown["rates"]][:len(truth["rates"])] == truth["rates"]
    assert [{k: p[k] for k in ("from", "to", "rate")} for p in shown["periods"]] == truth["periods"]


async def test_the_tariff_read_at_first_login_is_the_concentrators(world: World) -> None:
    terminal = world.terminals[1]["key"]  # never pushed to (the push test takes the first)
    shown = await until(lambda: world.tariff(terminal), 40, "the tariff read at the first login")
    truth = world.truth(terminal)
    assert truth["told"] is False  # the factory tariff: the meters' own TOU table, four rates
    _same_as_truth(shown, truth)
    assert shown["periods"][0] == {"from": "00:00", "to": "07:00", "rate": 4, "li_per_kwh": 300,
                                   "yuan_per_kwh": 0.3}
    assert shown["read_at"] is not None and shown["state"] == {"F21": "unknown", "F22": "unknown"}
    # the same tariff on the bus, for analytics: the read at the first login was published
    published = await world.bus.holding(terminal, truth["slots"], truth["rates"])
    _published_as_truth(published, truth)
    assert published.periods_read_at.isoformat() == shown["periods_read_at"]
    assert published.rates_read_at is not None and published.rates_read_at.isoformat() == shown["rates_read_at"]


async def test_a_tariff_never_read_is_409_with_the_reason_and_a_read_on_request_fetches_it(world: World) -> None:
    terminal = world.terminals[1]["key"]
    await until(lambda: world.tariff(terminal), 40, "the tariff read at the first login")
    async with world.collector.c.pool.acquire() as conn:  # as if never read (a terminal of an older release)
        await conn.execute("DELETE FROM collector.terminal_param WHERE terminal = $1 AND fn IN (21, 22)", terminal)
        await conn.execute("DELETE FROM collector.tariff_read WHERE terminal = $1", terminal)
    never = await world.client.get(f"{CFG}/terminals/{terminal}/tariff")
    assert never.status_code == 409 and "never read" in never.json()["detail"]
    read = await world.client.post(f"{CFG}/terminals/{terminal}/tariff/read")
    assert read.status_code == 200, read.text
    _same_as_truth(read.json(), world.truth(terminal))
    logged = await world.duty.entry("tariff.read", terminal=terminal)
    assert (logged.actor, logged.outcome, logged.category) == ("tester", "read", "parameter")


async def test_a_pushed_tariff_is_confirmed_read_back_and_held_by_the_concentrator(world: World) -> None:
    terminal = world.terminals[0]["key"]
    await until(lambda: world.tariff(terminal), 40, "the tariff read at the first login")
    periods = {"type": "TariffPeriods", "slots": NIGHT_AND_DAY, "rate_count": 2}
    rates = {"type": "EnergyRates", "rates": [850, 420]}
    assert await world.push(terminal, 21, periods) == "done"
    assert await world.push(terminal, 22, rates) == "done"
    truth = world.truth(terminal)
    assert truth["told"] is True and truth["slots"] == NIGHT_AND_DAY and truth["rates"] == [850, 420]
    shown = await world.tariff(terminal)
    assert shown is not None
    _same_as_truth(shown, truth)
    assert shown["periods"] == [
        {"from": "00:00", "to": "08:00", "rate": 2, "li_per_kwh": 420, "yuan_per_kwh": 0.42},
        {"from": "08:00", "to": "22:00", "rate": 1, "li_per_kwh": 850, "yuan_per_kwh": 0.85},
        {"from": "22:00", "to": "24:00", "rate": 2, "li_per_kwh": 420, "yuan_per_kwh": 0.42}]
    assert shown["state"] == {"F21": "in_sync", "F22": "in_sync"}
    pushed = await world.bus.holding(terminal, NIGHT_AND_DAY, [850, 420])  # each confirmed read-back is published
    _published_as_truth(pushed, truth)
    assert pushed.rates == [850, 420] and pushed.rate_count == 2
    again = await world.client.post(f"{CFG}/terminals/{terminal}/tariff/read")  # read on request: the same
    assert again.status_code == 200 and again.json()["slots"] == NIGHT_AND_DAY

    # parameters initialised (AFN01 F3): the concentrator is back at the factory tariff, the collector reads it
    # again by itself and finds it differs from the master's (drift)
    reset = await world.client.post(f"{CFG}/terminals/{terminal}/reset", json={"kind": "factory"}, headers=STEP_UP)
    assert reset.status_code == 200 and reset.json()["outcome"] == "confirmed", reset.text
    factory = world.truth(terminal)
    assert factory["slots"] != NIGHT_AND_DAY and factory["rate_count"] == 4

    async def reread() -> dict[str, Any] | None:
        shown = await world.tariff(terminal)
        return shown if shown is not None and shown["slots"] == factory["slots"] else None

    shown = await until(reread, 30, "the factory tariff read again after the reset")
    _same_as_truth(shown, factory)
    assert shown["state"] == {"F21": "drift", "F22": "drift"}
    reread_message = await world.bus.holding(terminal, factory["slots"], factory["rates"],
                                            after=pushed.read_at)  # after the reset
    _published_as_truth(reread_message, factory)


async def test_bad_tariffs_and_unknown_terminals_are_refused_with_the_reason(world: World) -> None:
    terminal = world.terminals[1]["key"]
    beyond_m = await world.client.put(f"{CFG}/terminals/{terminal}/params/21",
                                      json={"value": {"slots": [2] * 48, "rate_count": 2}})
    assert beyond_m.status_code == 422 and "rate number 2 is not 0..1" in beyond_m.json()["detail"]
    too_many = await world.client.put(f"{CFG}/terminals/{terminal}/params/21",
                                      json={"value": {"slots": [0] * 49, "rate_count": 1}})
    assert too_many.status_code == 422 and "48 half hours, got 49" in too_many.json()["detail"]
    no_rates = await world.client.put(f"{CFG}/terminals/{terminal}/params/22", json={"value": {"rates": []}})
    assert no_rates.status_code == 422 and "F22" in no_rates.json()["detail"]
    assert world.truth(terminal)["told"] is False  # nothing reached the concentrator
    unknown = await world.client.get(f"{CFG}/terminals/3799-00001/tariff")
    assert unknown.status_code == 404 and "unknown" in unknown.json()["detail"]
    assert (await world.client.post(f"{CFG}/terminals/3799-00001/tariff/read")).status_code == 404
    assert (await world.client.get(f"{CFG}/terminals/not-a-terminal/tariff")).status_code == 422
