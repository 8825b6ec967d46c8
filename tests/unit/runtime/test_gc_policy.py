"""The GC freezer: the live heap moves out of the collector's sight, a full collection now and then, thawed at stop."""

from __future__ import annotations

import asyncio
import gc
import weakref

from emms_runtime.gc_policy import GcFreezer, GcSettings


class _Node:
    me: object = None


def test_a_step_freezes_what_is_alive_and_a_due_full_collection_frees_frozen_cycles() -> None:
    gc.unfreeze()
    try:
        freezer = GcFreezer(GcSettings(freeze_interval_s=1.0, full_collect_s=60.0))
        freezer.step(0.0)
        assert gc.get_freeze_count() > 0 and freezer.freezes == 1
        node = _Node()
        node.me = node  # a cycle: reference counting alone never frees it
        alive = weakref.ref(node)
        freezer.step(1.0)  # frozen while alive
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
