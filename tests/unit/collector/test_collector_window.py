"""The adaptive bound on requests in flight: grows while answers are timely, shrinks on time-outs."""

from __future__ import annotations

import asyncio

from emms_collector.scheduling.window import AdaptiveWindow


async def test_the_window_bounds_waits_and_hands_slots_on_in_order() -> None:
    window = AdaptiveWindow(4, floor=2, start=2)
    await window.acquire()
    await window.acquire()
    third = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)
    assert not third.done() and window.in_use == 2
    window.release(timely=True)
    await asyncio.sleep(0)
    assert third.done() and window.in_use == 2


async def test_time_outs_shrink_it_and_timely_answers_grow_it_within_bounds() -> None:
    window = AdaptiveWindow(100, floor=10, start=60, cooldown_s=0.0)
    for _ in range(3):
        await window.acquire()
        window.release(timely=False)
    assert 10 <= window.limit < 20
    for _ in range(6000):  # +1 per window of timely answers: ~(100² − 15²) / 2 to reach the ceiling
        await window.acquire()
        window.release(timely=True)
    assert window.limit == 100
    for _ in range(50):
        await window.acquire()
        window.release(timely=False)
    assert window.limit == 10


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    window = AdaptiveWindow(1, floor=1, start=1)
    await window.acquire()
    waiter = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    window.release(timely=True)
    assert window.in_use == 0
    await asyncio.wait_for(window.acquire(), 1)
