"""The GC freezer: the live heap moves out of the collector's sight, a full collection now and then, thawed at stop."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

from emms_runtime.gc_policy import GcFreezer, GcSettings, GrowthTrigger


class _Node:
    me: object = None


def test_a_step_freezes_what_is_alive_and_a_due_full_collection_frees_frozen_cycles() -> None:
    gc.unfreeze()
    try:
        freezer = GcFreezer(GcSettings(freeze_interval_s=1.0, full_collect_s=60.0))
        start = time.monotonic()
        assert not freezer.step(start + 0.5)  # construction counts as the last freeze
        assert freezer.step(start + 1.0)
        assert gc.get_freeze_count() > 0 and freezer.freezes == 1
        node = _Node()
        node.me = node  # a cycle: reference counting alone never frees it
        alive = weakref.ref(node)
        freezer.step(start + 2.0)  # frozen while alive
        del node
        gc.collect()
        assert alive() is not None  # out of the collector's sight
        freezer.step(freezer._last_full + 61.0)  # due: thaw, collect everything, freeze again
        assert freezer.full_collections == 1 and alive() is None
    finally:
        gc.unfreeze()


async def test_the_worker_steps_on_its_interval_and_thaws_when_stopped() -> None:
    freezer = GcFreezer(GcSettings(freeze_interval_s=0.02))
    stop = asyncio.Event()
    task = asyncio.create_task(freezer.run(stop))
    await asyncio.sleep(0.15)
    stop.set()
    await task
    assert freezer.freezes >= 3
    assert gc.get_freeze_count() == 0


async def test_switched_off_it_does_nothing() -> None:
    freezer = GcFreezer(GcSettings(freeze=False))
    await asyncio.wait_for(freezer.run(asyncio.Event()), 1)
    assert freezer.freezes == 0


def test_a_growth_trigger_freezes_before_the_interval_but_not_twice_within_its_gap() -> None:
    held = [0]
    freezer = GcFreezer(GcSettings(freeze_interval_s=100.0, full_collect_s=0),
                        growth=GrowthTrigger(lambda: held[0], step=10, min_gap_s=5.0))
    start = time.monotonic()
    try:
        held[0] = 9
        assert not freezer.step(start + 6)  # below the step
        held[0] = 10
        assert freezer.step(start + 7)
        held[0] = 25
        assert not freezer.step(start + 9)  # grown again, but within the gap
        assert freezer.step(start + 12) and freezer.freezes == 2 and freezer.full_collections == 0
        assert freezer.step(start + 112)  # the interval, without growth
    finally:
        gc.unfreeze()


async def test_with_a_growth_trigger_the_worker_looks_every_second_at_most() -> None:
    freezer = GcFreezer(GcSettings(freeze_interval_s=60.0), growth=GrowthTrigger(lambda: 0, step=1))
    assert freezer._wait_s(time.monotonic()) <= 1.0
    plain = GcFreezer(GcSettings(freeze_interval_s=60.0))
    assert 59.0 < plain._wait_s(time.monotonic()) <= 60.0
