"""The FEP's runtime object: built once by the service's ``setup`` hook, torn down by ``teardown``.

Start: requests left open by an earlier run of this replica are concluded
(timed out), its stale session rows are marked offline, the channels start
listening / dialling / opening, and the workers run — the publisher, the
deadline sweep, the routing worker, the store flusher, the loop-lag probe and
the downlink consumer (own consumer group per replica: broadcast).
Stop: channels close, every link is closed (sessions published offline),
the publish queue and the stores are flushed, the replica row is removed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import structlog

from emms_bus import BusConsumer, BusProducer
from emms_fep.channels.base import Channel
from emms_fep.channels.serial_port import SerialChannel
from emms_fep.channels.tcp_client import TcpClientChannel
from emms_fep.channels.tcp_server import TcpServerChannel
from emms_fep.connection import Session
from emms_fep.downlink import DownlinkDispatcher
from emms_fep.gateway import Gateway
from emms_fep.loop_lag import GcPauses, LoopLagProbe
from emms_fep.passwords import PasswordBook, Unsealer
from emms_fep.publisher import PublishQueue
from emms_fep.relays import RelayRoutes
from emms_fep.repository.requests import RequestLedger
from emms_fep.repository.sessions import SessionWriter, mark_replica_offline
from emms_fep.repository.traffic import add_traffic
from emms_fep.routing import DownlinkRouter
from emms_fep.sessions import SessionRegistry
from emms_fep.settings import FepSettings
from emms_fep.stats import TrafficBook
from emms_fep.uplink import UplinkHandler
from emms_fep.wire import RequestEncoder
from emms_messages.terminal import DownlinkRequest
from emms_runtime.periodic import PeriodicWorker
from emms_runtime.retriable import is_retriable

log = structlog.get_logger("emms.fep")
SCHEMA = "fep"
DOWNLINK_TOPIC = "emms.downlink.request.v1"
DOWNLINK_BATCH = 200  # requests decoded and handled per step: bounds the event loop's pause


@dataclass
class FepRuntime:
    settings: FepSettings
    pool: asyncpg.Pool
    publish: PublishQueue
    traffic: TrafficBook
    writer: SessionWriter
    sessions: SessionRegistry
    ledger: RequestLedger
    dispatcher: DownlinkDispatcher
    gateway: Gateway
    router: DownlinkRouter
    lag: LoopLagProbe
    passwords: PasswordBook
    relays: RelayRoutes
    gc_pauses: GcPauses = field(default_factory=GcPauses)
    channels: list[Channel] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def replica(self) -> str:
        return self.settings.replica_id

    @property
    def listen_port(self) -> int | None:
        for channel in self.channels:
            if isinstance(channel, TcpServerChannel):
                return channel.bound_port
        return None

    async def flush_stores(self, *, traffic: bool = True) -> None:
        await self.writer.flush(self.pool)
        await self.ledger.flush()
        if not traffic:
            return
        deltas = self.traffic.take_deltas()
        try:
            await add_traffic(self.pool, SCHEMA, deltas)
        except BaseException:
            self.traffic.give_back(deltas)
            raise

    async def run_store_flusher(self, stop: asyncio.Event) -> None:
        """Sessions and request outcomes every half second; traffic every ``stats_flush_s``."""
        loop = asyncio.get_running_loop()
        next_traffic = 0.0

        async def step() -> None:
            nonlocal next_traffic
            due = loop.time() >= next_traffic
            await self.flush_stores(traffic=due)
            if due:
                next_traffic = loop.time() + self.settings.stats_flush_s

        await PeriodicWorker("fep-stores", step, 0.5).run(stop)

    async def run_retention(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("fep-request-retention",
                             lambda: self.ledger.forget_older_than(self.settings.replica.request_retention_h),
                             3600.0).run(stop)


def build_runtime(settings: FepSettings, pool: asyncpg.Pool, producer: BusProducer) -> FepRuntime:
    replica = settings.replica_id
    limits = settings.limits
    publish = PublishQueue(producer, high=limits.publish_queue_high, low=limits.publish_queue_low,
                           batch=limits.publish_batch)
    traffic = TrafficBook()
    writer = SessionWriter(SCHEMA)
    sessions = SessionRegistry(replica, publish, writer, traffic,
                               clock_publish_interval_s=settings.sessions.clock_publish_interval_s,
                               clock_publish_delta_s=settings.sessions.clock_publish_delta_s)
    ledger = RequestLedger(pool, SCHEMA, replica)
    own = settings.terminal_passwords
    keys = own.keys(settings.environment)
    if not keys:
        log.warning("no terminal-password key-encryption key: terminals get downlink.password_hex, not their own;"
                    " set EMMS_FEP_TERMINAL_PASSWORDS__KEY_ENCRYPTION_KEY_FILE (the archive's)")
    unseal = Unsealer(keys)
    passwords = PasswordBook(pool, SCHEMA, unseal, own.refresh_s)
    encoder = RequestEncoder(master_address=settings.sessions.master_address,
                             password=bytes.fromhex(settings.downlink.password_hex),
                             tp_delay_min=settings.downlink.tp_delay_min, passwords=passwords.lookup,
                             default_allowed=own.default_allowed, unseal=unseal)
    dispatcher = DownlinkDispatcher(sessions=sessions, publish=publish, ledger=ledger, encoder=encoder,
                                    settings=settings.downlink, traffic=traffic)
    uplink = UplinkHandler(replica=replica, sessions=sessions, publish=publish,
                           publish_link_frames=limits.publish_link_frames)
    uplink.responses = dispatcher
    gateway = Gateway(replica_id=replica, limits=limits, session_settings=settings.sessions, sessions=sessions,
                      publish=publish, uplink=uplink, traffic=traffic)
    relays = RelayRoutes(pool, SCHEMA, sessions, settings.relay_refresh_s)
    router = DownlinkRouter(replica=replica, pool=pool, schema=SCHEMA, sessions=sessions, dispatcher=dispatcher,
                            ledger=ledger, downlink=settings.downlink, replicas=settings.replica,
                            count_links=gateway.__len__, unreachable=relays.unreachable)

    def arrived(session: Session) -> None:
        router.terminal_arrived(session.terminal)
        relays.arrived(session)  # the terminals relayed through it ride its link

    def departed(terminal: str, reason: str) -> None:
        dispatcher.terminal_left(terminal, reason)
        relays.departed(terminal)

    sessions.on_arrival = arrived
    sessions.on_departure = departed
    fep = FepRuntime(settings=settings, pool=pool, publish=publish, traffic=traffic, writer=writer,
                     sessions=sessions, ledger=ledger, dispatcher=dispatcher, gateway=gateway, router=router,
                     lag=LoopLagProbe(), passwords=passwords, relays=relays)
    fep.channels = _channels(settings, gateway)
    return fep


def _channels(settings: FepSettings, gateway: Gateway) -> list[Channel]:
    channels: list[Channel] = []
    if settings.terminals.enabled:
        channels.append(TcpServerChannel(settings.terminals.host, settings.terminals.port, gateway,
                                         backlog=settings.terminals.backlog))
    channels += [TcpClientChannel(t.host, t.port, gateway, terminal=t.terminal,
                                  standby=(t.standby.host, t.standby.port) if t.standby is not None else None,
                                  failover_after=t.failover_after, primary_retry_s=t.primary_retry_s)
                 for t in settings.dial]
    channels += [SerialChannel(s.device, gateway, baudrate=s.baudrate, terminal=s.terminal)
                 for s in settings.serial]
    return channels


async def conclude_abandoned(fep: FepRuntime) -> int:
    """Requests an earlier run of this replica claimed and never finished get their result now."""
    abandoned = await fep.ledger.abandon_open()
    for request_id, terminal, _attempts in abandoned:
        request = DownlinkRequest(request_id=request_id, terminal=terminal, afn=0, units=[],
                                  requested_by="fep-recovery")
        fep.dispatcher.conclude_unsent(request, "timed_out", "FEP replica restarted before concluding the request")
    await mark_replica_offline(fep.pool, SCHEMA, fep.replica, "FEP replica restarted")
    return len(abandoned)


def downlink_consumer(fep: FepRuntime, producer: BusProducer) -> BusConsumer:
    """Every replica reads every request (its own group); it starts at the end of the topic."""
    return BusConsumer(fep.settings.kafka, group=f"fep-downlink.{fep.replica}", topics=[DOWNLINK_TOPIC],
                       handler=fep.router.handle, dlq_producer=producer, from_beginning=False,
                       max_batch=DOWNLINK_BATCH, urgent=True, retriable=is_retriable)


async def shutdown(fep: FepRuntime) -> None:
    fep.gc_pauses.uninstall()
    for channel in fep.channels:
        await channel.stop()
    fep.gateway.close_all("shutdown")
    await fep.publish.flush()
    try:
        await fep.flush_stores()
        await fep.router.leave()
    except (asyncpg.PostgresError, OSError) as exc:
        log.error("final store flush failed", error=repr(exc))
