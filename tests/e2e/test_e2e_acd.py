"""End to end on real processes: events on demand (R-4.5.4.3) — simulator → FEP → collector → bus.

A master sets a simulated concentrator's measurement-point table (AFN 04 F10); the terminal records the
parameter change as an important event (ERC 3) and from then on raises ACD with its event counters on every
frame it sends (the set's confirmation, heartbeats) until the master reads the event. The FEP publishes
those frames (``emms_fep_acd_frames_total``); the collector sees ACD, reads the terminal's event queues
(AFN 0E) at once and publishes the event — no events task is configured, so nothing else reads them. The
simulator's own record says the terminal no longer waits (its ``ec`` read up to, no ACD after the read).
Then the master tells the terminal (AFN 04 F9, pushed for its class) that ERC 3 is not important: the next
change is filed among the normal events (the simulator's counters), raises no ACD and is not read; made
important again, the next one is read at once (that read takes both queues: the normal one comes with it,
published as normal).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from service_harness import own_database
from test_e2e_collection_stack import Stack, http, stack_env

from emms_bus import BusConsumer, BusProducer, KafkaSettings
from emms_messages.events import DeviceEvent
from emms_messages.terminal import DataUnitRequest, DownlinkRequest
from emms_protocol.gdw1376.afn04_0a import MeterConfig, MeterRecord
from emms_protocol.gdw1376.json_view import to_jsonable

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def _until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.3)
    raise TimeoutError(f"{what} not within {timeout_s} s")


class EventWatch:
    """Device events published while it runs (a group of its own, from the end of the topic)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.events: list[DeviceEvent] = []
        self.producer = BusProducer(kafka, "e2e-acd")
        self._consumer = BusConsumer(kafka, group=f"e2e-acd-{secrets.token_hex(3)}",
                                     topics=["emms.device.event.v1"], handler=self._handle,
                                     dlq_producer=self.producer, from_beginning=False)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventWatch:
        await self.producer.start()
        self._task = asyncio.create_task(self._consumer.run(self._stop))
        for _ in range(300):
            if self._consumer.joined():  # start offsets fixed, not only assigned
                break
            await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.producer.stop()

    async def _handle(self, batch: Any) -> None:
        self.events.extend(d.payload for d in batch if isinstance(d.payload, DeviceEvent))


def _metric(stack: Stack, part: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in stack.metrics(part, name) if not line.startswith("#"))


@pytest.fixture
def acd_database(database_url: str) -> Iterator[str]:
    """A database of the test's own: other stacks of the session (same simulator seed, same terminal keys)
    leave their terminals' event pointers, parameters and classes in the session database."""
    yield from own_database(database_url, "acd")


async def test_a_terminal_raising_acd_has_its_events_read_at_once(
        service_env: dict[str, str], kafka_settings: KafkaSettings, acd_database: str, tmp_path: Path) -> None:
    stack = Stack(stack_env({**service_env, "EMMS_DATABASE_URL": acd_database}), tmp_path, concentrators=2,
                  meters_per=2, collector_env={"EMMS_COLLECTOR_TIMESYNC__ENABLED": "false"})
    stack.start()
    try:
        await _until(lambda: stack.online_terminals() == 2, 60, "terminals online")
        terminal = stack.manifest_meters()[0]["terminal"]
        other = next(m["terminal"] for m in stack.manifest_meters() if m["terminal"] != terminal)
        zeros = "000000000000"
        record = MeterRecord(60, 60, 31, 0, 30, "000000009960", zeros, 4, 6, 2, zeros, 0, 0)
        async with EventWatch(kafka_settings) as watch:
            await watch.producer.publish(DownlinkRequest(
                request_id=f"e2e-acd-{secrets.token_hex(6)}", terminal=terminal, afn=0x04,
                units=[DataUnitRequest(pn=[0], fn=[10], data={"value": to_jsonable(MeterConfig((record,)))})],
                requested_by="e2e:acd", timeout_s=10.0, retries=1))

            def erc3() -> bool:
                return any(e.terminal == terminal and e.code == "ERC3" for e in watch.events)

            await _until(erc3, 45, "the parameter-change event read on ACD")
            event = next(e for e in watch.events if e.terminal == terminal and e.code == "ERC3")
            assert event.event_class.value == "important"
            assert not any(e.terminal == other for e in watch.events)  # no ACD there: nothing read

            # the master says ERC 3 is not important for this class (AFN 04 F9): the terminal files the next
            # one among its normal events, raises no ACD, and nothing is read at once
            async def set_table(serial: int) -> None:
                rec = MeterRecord(serial, serial, 31, 0, 30, f"0000000099{serial:02d}", zeros, 4, 6, 2, zeros, 0, 0)
                await watch.producer.publish(DownlinkRequest(
                    request_id=f"e2e-acd-{secrets.token_hex(6)}", terminal=terminal, afn=0x04,
                    units=[DataUnitRequest(pn=[0], fn=[10], data={"value": to_jsonable(MeterConfig((rec,)))})],
                    requested_by="e2e:acd", timeout_s=10.0, retries=1))

            def classes(important: list[int]) -> None:
                status, _ = http("PUT", f"{stack.collector}/api/v1/terminal-classes/concentrator",
                                 {"important_ercs": important})
                assert status == 200
                status, pushed = http("POST", f"{stack.collector}/api/v1/terminal-classes/concentrator/push"
                                              f"?terminal={terminal}")
                assert status == 200 and pushed["results"] == [
                    {"terminal": terminal, "outcome": "confirmed", "detail": ""}], pushed

            def counters() -> list[int]:
                return next(t["ec"] for t in http("GET", f"{stack.sim}/terminals")[1] if t["key"] == terminal)

            await asyncio.to_thread(classes, [14])
            before = await asyncio.to_thread(counters)
            await set_table(61)
            await _until(lambda: counters()[1] == (before[1] + 1) % 256, 20, "the change filed as a normal event")
            await asyncio.sleep(3.0)
            assert counters()[0] == before[0]
            assert sum(1 for e in watch.events if e.terminal == terminal and e.code == "ERC3") == 1

            await asyncio.to_thread(classes, [3, 14])  # important again: the next change is read at once
            await set_table(62)
            def important_erc3() -> int:
                return sum(1 for e in watch.events if e.terminal == terminal and e.code == "ERC3"
                           and e.event_class.value == "important")

            await _until(lambda: important_erc3() == 2, 45, "the next parameter-change event read on ACD")
            # that read takes both queues: the change filed as normal comes with it, as a normal event
            assert [e.event_class.value for e in watch.events if e.terminal == terminal and e.code == "ERC3"
                    ].count("normal") <= 1
        assert _metric(stack, "fep", "emms_fep_acd_frames_total") >= 1
        assert _metric(stack, "collector", 'emms_collector_acd_reads_total{result="read"}') >= 1
    finally:
        stack.stop()
