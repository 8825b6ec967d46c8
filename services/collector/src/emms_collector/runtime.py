"""The collector's runtime: one object holding the pool, the bus, the engine and the workers' state.

Built by :func:`build_runtime` in the service's ``setup`` hook; the routes
reach it through ``request.app.state.runtime.state``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import tzinfo

import asyncpg
import structlog

from emms_bus import BusConsumer, BusProducer, CommitPolicy
from emms_collector.backfill.passes import Backfiller
from emms_collector.intake.event_polls import EventPoller
from emms_collector.intake.masterdata import MasterDataSync
from emms_collector.intake.reports import ReportIntake
from emms_collector.manual.reads import ManualReads
from emms_collector.reading.engine import ReadingEngine
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.scheduling.scheduler import Scheduler
from emms_collector.settings import CollectorSettings
from emms_collector.tasks.periods import zone
from emms_collector.terminal_config.setup import TerminalManagement, build_terminals
from emms_collector.timesync.sync import TimeSync
from emms_runtime.periodic import sleep_or_stop
from emms_runtime.retriable import is_retriable

log = structlog.get_logger("emms.collector")
RESULT_TOPIC = "emms.downlink.result.v1"


@dataclass
class CollectorRuntime:
    settings: CollectorSettings
    pool: asyncpg.Pool
    producer: BusProducer
    tz: tzinfo
    dispatcher: Dispatcher
    engine: ReadingEngine
    manual: ManualReads
    backfill: Backfiller
    timesync: TimeSync
    reports: ReportIntake
    masterdata: MasterDataSync
    event_poller: EventPoller
    terminals: TerminalManagement | None = None
    scheduler: Scheduler | None = None
    results: BusConsumer | None = None

    @property
    def me(self) -> str:
        return self.settings.instance_id

    def poke_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.poke()

    def results_ready(self) -> bool:
        """Whether this replica's result consumer has its partitions (a request sent before would lose
        its result)."""
        return self.results is not None and self.results.assigned()

    async def wait_results_ready(self, stop: asyncio.Event, timeout_s: float = 60.0) -> bool:
        """Wait until the result consumer holds its partitions and knows its positions."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.results_ready() and loop.time() < deadline:  # the consumer has no "assigned" event
            if await sleep_or_stop(stop, 0.1):
                break
        if not self.results_ready():
            return False
        try:
            if self.results is not None:
                await self.results.resolve_positions()  # resolves "latest" now, not at the first fetch
        except Exception as exc:  # a rebalance in between: the positions resolve on the next fetch
            log.warning("could not resolve result positions", error=repr(exc))
        return True


def build_runtime(settings: CollectorSettings, pool: asyncpg.Pool, producer: BusProducer) -> CollectorRuntime:
    tz = zone(settings.scheduler.local_tz)
    dispatcher = Dispatcher(producer, settings.dispatch)
    engine = ReadingEngine(dispatcher, producer, settings.dispatch, tz, settings.freeze_at)
    timesync = TimeSync(pool, dispatcher, settings.timesync, tz, settings.instance_id)
    return CollectorRuntime(
        settings, pool, producer, tz, dispatcher, engine,
        manual=ManualReads(pool, engine, settings.manual),
        backfill=Backfiller(pool, engine, settings.backfill),
        timesync=timesync,
        reports=ReportIntake(pool, producer, tz, settings.freeze_at, timesync.note_meter_clock_events),
        masterdata=MasterDataSync(pool),
        event_poller=EventPoller(pool, dispatcher, producer),
        terminals=build_terminals(pool, dispatcher, producer, settings.terminal_config, settings.instance_id),
    )


def results_consumer(c: CollectorRuntime) -> BusConsumer:
    """Every replica reads every result in its own group, from the end of the topic: waking a waiting
    request is not a durable effect, so offsets are committed first (at most once)."""
    consumer = BusConsumer(c.settings.kafka, group=f"collector-results.{c.me}", topics=[RESULT_TOPIC],
                           handler=c.dispatcher.handle_results, dlq_producer=c.producer,
                           policy=CommitPolicy.BEFORE_EFFECT, from_beginning=False, urgent=True,
                           retriable=is_retriable)
    c.results = consumer
    return consumer
