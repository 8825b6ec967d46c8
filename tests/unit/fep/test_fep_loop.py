"""Event-loop lag probe windows, GC pause timing and the FEP's GC freezer (the runtime's, with a growth trigger)."""

from __future__ import annotations

import asyncio
import gc
import time

from emms_fep.gateway import LogBudget
from emms_fep.loop_lag import GcPauses, LoopLagProbe
from emms_fep.settings import FepGcSettings
from emms_runtime.gc_policy import GcFreezer, GrowthTrigger


async def test_lag_is_summarised_over_a_window() -> None:
    probe = LoopLagProbe(interval_s=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(probe.run(stop))
    await asyncio.sleep(0.1)
    time.sleep(0.06)  # noqa: ASYNC251 - blocking the loop on purpose: one late wake-up
    await asyncio.sleep(0.05)
    stop.set()
    await task
    summary = probe.summary(window_s=10)
    assert int(summary["samples"]) >= 5 and float(summary["max_ms"]) >= 40
    assert probe.summary(window_s=1e-9)["samples"] == 0


def test_gc_pauses_are_timed_by_generation() -> None:
    pauses = GcPauses()
    pauses.install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.uninstall()
    summary = pauses.summary()
    assert summary["gen0"]["count"] >= 1 and summary["gen2"]["count"] >= 1  # type: ignore[index]


def test_the_freezer_freezes_on_growth_and_on_its_interval_and_thaws_rarely() -> None:
    links = [0]
    settings = FepGcSettings(freeze_interval_s=60, freeze_growth=100, full_collect_s=3600)
    start = time.monotonic()
    freezer = GcFreezer(settings, growth=GrowthTrigger(lambda: links[0], settings.freeze_growth, min_gap_s=3))
    try:
        assert not freezer.step(start + 1)
        links[0] = 150
        assert not freezer.step(start + 2)  # grown, but within the minimum gap of the last freeze
        assert freezer.step(start + 4) and gc.get_freeze_count() > 0
        links[0] = 200
        assert not freezer.step(start + 10)  # 50 more links: below the growth step
        assert freezer.step(start + 65)  # the interval
        assert freezer.step(start + 3601) and freezer.freezes == 3  # thaw, collect, freeze again
        assert freezer.full_collections == 1
    finally:
        gc.unfreeze()


def test_the_log_budget_allows_a_few_lines_a_second() -> None:
    budget = LogBudget(3)
    allowed = [budget.allow() for _ in range(10)]
    assert allowed == [True, True, True] + [False] * 7


def test_the_fep_keeps_its_own_freezer_defaults() -> None:
    settings = FepGcSettings()
    assert (settings.freeze, settings.freeze_interval_s, settings.freeze_growth, settings.full_collect_s) == (
        True, 60.0, 500, 3600.0)
