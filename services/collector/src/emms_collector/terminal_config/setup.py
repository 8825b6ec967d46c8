"""Wiring terminal management into the collector: one object on the runtime, its consumers and worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from emms_bus import BusProducer
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.terminal_config.archive_client import ArchiveClient
from emms_collector.terminal_config.first_connect import FirstConnect
from emms_collector.terminal_config.meter_table import MeterTable
from emms_collector.terminal_config.pushes import TerminalConfig
from emms_collector.terminal_config.settings import TerminalConfigSettings
from emms_collector.terminal_config.tariff import TariffReads
from emms_runtime import ServiceRuntime


@dataclass
class TerminalManagement:
    config: TerminalConfig
    first_connect: FirstConnect
    meter_table: MeterTable
    archive: ArchiveClient
    tariffs: TariffReads


def build_terminals(pool: asyncpg.Pool, dispatcher: Dispatcher, producer: BusProducer,
                    settings: TerminalConfigSettings, me: str) -> TerminalManagement:
    config = TerminalConfig(pool, dispatcher, producer, settings, me)
    first = FirstConnect(config)
    config.first_connect = first
    tariffs = TariffReads(config)
    config.tariffs = tariffs
    return TerminalManagement(config, first, MeterTable(config), ArchiveClient(settings.archive_url), tariffs)


def register_terminals(rt: ServiceRuntime, t: TerminalManagement | None,
                       results_ready: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Consumers of sessions and master data (own groups) and the worker, on an ``all`` replica;
    ``results_ready`` waits until this replica hears downlink results."""
    if t is None or not t.config.settings.enabled:
        return
    rt.add_consumer("collector-terminal-sessions", ["emms.terminal.session.v1"], t.config.handle_sessions)
    rt.add_consumer("collector-terminal-masterdata", ["emms.masterdata.change.v1"], t.meter_table.handle_masterdata)

    async def run(stop: asyncio.Event) -> None:  # requests only once this replica hears their results
        await results_ready(stop)
        try:
            if not stop.is_set():
                await t.config.run(stop)
        finally:
            await t.archive.close()

    rt.add_worker("terminal-config", run)
