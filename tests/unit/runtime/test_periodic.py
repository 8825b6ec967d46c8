"""The supervised periodic worker: steps on time, outages retried soon, faults logged and survived."""

from __future__ import annotations

import asyncio
import errno

import pytest

from emms_runtime.periodic import PeriodicWorker, sleep_or_stop


async def test_sleep_or_stop_ends_on_stop_or_wake() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await sleep_or_stop(stop, 0.05)
    wake.set()
    assert not await sleep_or_stop(stop, 10, wake)
    loop.call_later(0.05, stop.set)
    assert await sleep_or_stop(stop, 10)
    assert loop.time() - started < 1.0


async def test_outages_are_retried_with_a_growing_back_off_and_faults_wait_a_whole_interval() -> None:
    outcomes: list[BaseException | None] = [ConnectionRefusedError(errno.ECONNREFUSED, "db down")] * 3
    outcomes += [ValueError("a bug"), None]
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    worker = PeriodicWorker("t", step, interval_s=60.0, backoff_s=0.5)
    delays = [await worker.step_once() for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 60.0, 60.0]
    assert worker.failures == 0 and calls == 5


async def test_the_back_off_never_exceeds_the_interval() -> None:
    async def step() -> None:
        raise TimeoutError

    worker = PeriodicWorker("t", step, interval_s=3.0, backoff_s=1.0)
    assert [await worker.step_once() for _ in range(5)] == [1.0, 2.0, 3.0, 3.0, 3.0]


async def test_run_steps_on_poke_survives_faults_and_flushes_at_stop() -> None:
    steps: list[str] = []

    async def step() -> None:
        steps.append("step")
        if len(steps) == 2:
            raise RuntimeError("one bad step")

    async def flush() -> None:
        steps.append("flush")

    stop = asyncio.Event()
    worker = PeriodicWorker("t", step, interval_s=lambda: 0.02, on_stop=flush)
    task = asyncio.create_task(worker.run(stop))
    for _ in range(100):
        if len(steps) >= 4:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert steps.count("step") >= 4 and steps[-1] == "flush"


async def test_cancellation_is_not_swallowed() -> None:
    async def step() -> None:
        await asyncio.sleep(10)

    task = asyncio.create_task(PeriodicWorker("t", step, 1.0).run(asyncio.Event()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
