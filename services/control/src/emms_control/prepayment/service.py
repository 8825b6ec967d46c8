"""Wiring prepayment and quantity control into the service runtime: the worker that hands decided
actions to the command path and publishes the notices, the periodic read-back of remaining amounts
and its result consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from emms_bus import Delivery
from emms_control.commands import checks
from emms_control.prepayment import dispatch, notices, readback
from emms_control.prepayment.settings import PrepaymentSettings
from emms_control.runtime import ControlRuntime
from emms_runtime import ServiceRuntime
from emms_runtime.periodic import PeriodicWorker


def wire(rt: ServiceRuntime, settings: PrepaymentSettings) -> None:
    pool, producer = rt.pool, rt.producer
    assert pool is not None and producer is not None

    async def hand_over() -> None:
        await dispatch.dispatch_waiting(pool, settings.dispatch_batch)
        await notices.publish_unsent(pool, producer)

    async def read() -> None:
        await readback.request_reads(pool, producer)

    async def run_dispatch(stop: asyncio.Event) -> None:
        await PeriodicWorker("control-auto-actions", hand_over, settings.dispatch_interval_s).run(stop)

    async def run_readback(stop: asyncio.Event) -> None:
        await PeriodicWorker("control-prepay-readback", read, settings.readback_interval_s).run(stop)

    async def results(deliveries: Sequence[Delivery]) -> None:
        await readback.handle_results(pool, deliveries)

    checks.register("purchase_count", readback.purchase_count)  # a refused purchase fails its device
    if isinstance(rt.state, ControlRuntime):
        rt.state.producer = producer
    rt.add_worker("auto-actions", run_dispatch)
    rt.add_worker("prepay-readback", run_readback)
    rt.add_consumer(readback.RESULTS_GROUP, [readback.RESULTS_TOPIC], results)
