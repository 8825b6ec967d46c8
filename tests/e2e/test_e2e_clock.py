"""End to end on real processes: the clock hierarchy below the master (R-4.6.1.3, R-4.6.1.5) — simulator →
FEP → collector, every clock checked against the simulator's truth.

The simulated concentrators' and meters' clocks drift (up to 2,000 ppm from the monthly sync, so seconds
to minutes by now). Terminals: a clock read through the API gives the deviation the simulator knows (delay
compensated, to the 1376.1 clock's second); the time-sync worker then brings every terminal within its
tolerance; a forced sync through the API on one terminal is recorded with its result. Meters: a DL/T 645
meter's clock is read through its concentrator (AFN 10), found beyond the meter tolerance, recorded as a
sync awaiting approval; once an operator approves, the 645 broadcast time goes out through the terminal and
the read-back and the simulator's truth agree that the meter's clock is right.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_e2e_collection_stack import Stack, http, stack_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TOLERANCE_S = 1.5  # terminals
METER_TOLERANCE_S = 2.0
RESOLUTION_S = 1.05  # the 1376.1 and 645 clocks tell whole seconds
DRIFT_PPM = 2000.0  # up to ~3 min a day since the field's monthly sync


def _sync_day(now: datetime) -> int:
    """The day of the month of the field's clock sync three local days ago: the clocks have drifted minutes by
    now whatever the date (with the sync on the 1st they were within the tolerance for the first ~21 minutes of
    a month, and the test failed then)."""
    return (now.astimezone(timezone(timedelta(hours=8))) - timedelta(days=3)).day


async def _until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{what} not within {timeout_s} s")


def _sim_offsets(stack: Stack) -> dict[str, float]:
    _, body = http("GET", f"{stack.sim}/terminals")
    return {t["key"]: float(t["clock_offset_s"]) for t in body}


def _meter_offset(stack: Stack, meter_id: str) -> float:
    status, body = http("GET", f"{stack.sim}/truth?meter={meter_id}&item=clock.offset")
    assert status == 200, body
    return float(body["value"])


async def test_terminal_and_meter_clocks_are_found_and_corrected_within_tolerance(
        service_env: dict[str, str], tmp_path: Path) -> None:
    stack = Stack(stack_env(service_env), tmp_path, concentrators=6, meters_per=6,
                  sim_args=["--clock-drift-ppm", str(DRIFT_PPM), "--clock-sync-day", str(_sync_day(datetime.now(UTC)))],
                  collector_env={
        "EMMS_COLLECTOR_TIMESYNC__ENABLED": "true", "EMMS_COLLECTOR_TIMESYNC__TOLERANCE_S": str(TOLERANCE_S),
        "EMMS_COLLECTOR_TIMESYNC__EVERY_S": "1", "EMMS_COLLECTOR_TIMESYNC__QUIET_MINUTES": "0",
        "EMMS_COLLECTOR_TIMESYNC__MIN_INTERVAL_S": "5", "EMMS_COLLECTOR_TIMESYNC__COLLECTOR_CHECK_EVERY_S": "0",
        "EMMS_COLLECTOR_TIMESYNC__METER_TOLERANCE_S": str(METER_TOLERANCE_S)})
    stack.start()
    try:
        await _until(lambda: stack.online_terminals() == 6, 60, "terminals online")
        meters = stack.manifest_meters()
        await _until(lambda: http("GET", f"{stack.collector}/api/v1/points?limit=1")[1]["total"] >= 1, 30,
                     "points imported")
        truth = _sim_offsets(stack)
        worst = max(truth, key=lambda k: abs(truth[k]))
        read: dict[str, Any] = {}

        def first_read() -> bool:  # retried until the FEP's downlink consumer is in place (it starts at the end)
            try:
                status, body = http("POST", f"{stack.collector}/api/v1/clock/terminals/{worst}/read", timeout_s=8)
            except TimeoutError:
                return False
            read.update(body if status == 200 else {})
            return status == 200

        await _until(first_read, 90, "a terminal clock read through the whole chain")
        assert max(abs(v) for v in truth.values()) > TOLERANCE_S + RESOLUTION_S, truth  # something to correct

        # -- terminals: read through the API = the simulator's offset ---------------------------------------
        assert read["deviation_s"] == pytest.approx(_sim_offsets(stack)[worst], abs=RESOLUTION_S)
        assert read["round_trip_ms"] > 0
        for key in truth:  # the others too: the worker syncs what is out of tolerance
            http("POST", f"{stack.collector}/api/v1/clock/terminals/{key}/read")

        def all_within() -> bool:
            return all(abs(v) <= TOLERANCE_S + RESOLUTION_S for v in _sim_offsets(stack).values())

        await _until(all_within, 60, "every terminal clock within tolerance (simulator truth)")
        status, syncs = http("GET", f"{stack.collector}/api/v1/clock/syncs?terminal={worst}&level=terminal")
        synced = [s for s in syncs["items"] if s["outcome"] == "synced"]
        assert synced and abs(synced[0]["deviation_before_s"]) > TOLERANCE_S
        assert abs(synced[0]["deviation_after_s"]) <= TOLERANCE_S and "delay compensated" in synced[0]["detail"]

        # a forced sync through the API: recorded with its result
        other = next(k for k in truth if k != worst)
        status, forced = http("POST", f"{stack.collector}/api/v1/clock/terminals/{other}/sync?force=true")
        assert status == 200 and forced["outcome"] == "synced", forced
        assert abs(_sim_offsets(stack)[other]) <= TOLERANCE_S + RESOLUTION_S

        # -- meters: read through the concentrator, approve, broadcast, read back ---------------------------
        candidates = [m for m in meters if m["protocol"] == "dlt645-2007" and not m["added_later"]]
        drifted = max(candidates, key=lambda m: abs(_meter_offset(stack, m["meter_id"])))
        before = _meter_offset(stack, drifted["meter_id"])
        assert abs(before) > METER_TOLERANCE_S + RESOLUTION_S, before
        status, measured = http("POST", f"{stack.collector}/api/v1/clock/meters/{drifted['meter_id']}/read")
        assert status == 200, measured
        assert measured["deviation_before_s"] == pytest.approx(before, abs=RESOLUTION_S + 0.1)
        sync: dict[str, Any] = measured["sync"]
        assert sync is not None and sync["outcome"] == "awaiting_approval"
        status, again = http("POST", f"{stack.collector}/api/v1/clock/meters/{drifted['meter_id']}/read")
        assert status == 200 and again["sync"] is None  # one open sync per meter
        assert _meter_offset(stack, drifted["meter_id"]) == pytest.approx(before, abs=0.5)  # nothing set yet

        status, done = http("POST", f"{stack.collector}/api/v1/clock/meter-syncs/{sync['id']}/approve")
        assert status == 200 and done["outcome"] == "synced", done
        assert done["approved_by"] == "e2e" and abs(done["deviation_after_s"]) <= METER_TOLERANCE_S
        assert abs(_meter_offset(stack, drifted["meter_id"])) <= RESOLUTION_S
        status, again = http("POST", f"{stack.collector}/api/v1/clock/meter-syncs/{sync['id']}/approve")
        assert status == 404  # approved and sent once

        # bad input: a meter nobody knows, a terminal nobody knows
        assert http("POST", f"{stack.collector}/api/v1/clock/meters/no-such-meter/read")[0] == 404
        assert http("POST", f"{stack.collector}/api/v1/clock/terminals/6299-09999/read")[0] == 404
    finally:
        stack.stop()


COLLECTOR_TOLERANCE_S = 2.0


def _collector_offsets(stack: Stack) -> dict[str, dict[str, float]]:
    _, body = http("GET", f"{stack.sim}/terminals")
    return {t["key"]: {c["address"]: float(c["clock_offset_s"]) for c in t["collectors"]} for t in body}


async def test_collectors_clocks_are_found_and_corrected_within_tolerance(
        service_env: dict[str, str], tmp_path: Path) -> None:
    """R-4.6.1.4: collectors (采集器, 32 points each) behind simulated concentrators, clocks drifting; the
    master learns them from the concentrator's point table, reads them through it and sets those off — by
    broadcast when half or more of a concentrator's collectors are off, else point to point."""
    stack = Stack(stack_env(service_env), tmp_path, concentrators=4, meters_per=70,
                  sim_args=["--clock-drift-ppm", str(DRIFT_PPM), "--clock-sync-day", str(_sync_day(datetime.now(UTC)))],
                  collector_env={
                      "EMMS_COLLECTOR_TIMESYNC__ENABLED": "false",
                      "EMMS_COLLECTOR_TIMESYNC__COLLECTOR_TOLERANCE_S": str(COLLECTOR_TOLERANCE_S)})
    stack.start()
    try:
        await _until(lambda: stack.online_terminals() == 4, 60, "terminals online")
        await _until(lambda: http("GET", f"{stack.collector}/api/v1/points?limit=1")[1]["total"] >= 4 * 60, 60,
                     "points imported")
        truth = _collector_offsets(stack)
        assert all(len(c) == 3 for c in truth.values())  # pns 1-32, 33-64, 65-70
        first = next(iter(truth))
        checked: dict[str, Any] = {}

        def measure() -> bool:  # retried until the FEP's downlink consumer is in place
            try:
                status, body = http("POST", f"{stack.collector}/api/v1/clock/terminals/{first}/collectors/check"
                                            "?sync=false", timeout_s=15)
            except TimeoutError:
                return False
            checked.update(body if status == 200 else {})
            return status == 200 and body["collectors"] == 3 and all(r["outcome"] == "measured"
                                                                     for r in body["reads"])

        await _until(measure, 90, "the collectors of a concentrator read")
        assert checked["syncs"] == [] and checked["mode"] is None
        now = _collector_offsets(stack)[first]
        for r in checked["reads"]:
            assert r["deviation_before_s"] == pytest.approx(now[r["collector"]], abs=RESOLUTION_S + 0.1)
        assert _collector_offsets(stack)[first] == pytest.approx(now, abs=0.5)  # nothing set without sync

        modes = set()
        for n, (terminal, clocks) in enumerate(_collector_offsets(stack).items()):
            off = [a for a, v in clocks.items() if abs(v) > COLLECTOR_TOLERANCE_S + RESOLUTION_S]
            asked = "point" if n == 0 else "auto"  # the first point to point, whatever the count
            status, body = http("POST", f"{stack.collector}/api/v1/clock/terminals/{terminal}/collectors/check"
                                        f"?mode={asked}")
            assert status == 200, body
            found_off = body["out_of_tolerance"]
            assert found_off >= len(off)
            if found_off:
                auto = "broadcast" if found_off > 1 and 2 * found_off >= 3 else "point"
                expected = auto if asked == "auto" else asked
                assert body["mode"] == expected and len(body["syncs"]) == found_off
                assert all(s["outcome"] == "synced" and abs(s["deviation_after_s"]) <= COLLECTOR_TOLERANCE_S
                           for s in body["syncs"]), body["syncs"]
                modes.add(expected)
            after = _collector_offsets(stack)[terminal]
            assert all(abs(v) <= COLLECTOR_TOLERANCE_S + RESOLUTION_S for v in after.values()), (terminal, after)
        assert modes == {"point", "broadcast"}, modes
        status, listed = http("GET", f"{stack.collector}/api/v1/clock/collectors?limit=100")
        assert status == 200 and len(listed["items"]) == 12
        assert all(abs(i["deviation_s"]) <= COLLECTOR_TOLERANCE_S for i in listed["items"])
        status, syncs = http("GET", f"{stack.collector}/api/v1/clock/syncs?level=collector&limit=100")
        assert any(s["outcome"] == "synced" for s in syncs["items"])
    finally:
        stack.stop()


async def test_the_time_sync_worker_watches_collectors_clocks_unasked(service_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    """R-4.6.1.4, the watch: with no request, the time-sync worker checks each online concentrator's collectors
    (every ``collector_check_every_s``; never checked: at once), reads their clocks through it and sets those off
    — the simulator's truth then has every collector within tolerance."""
    stack = Stack(stack_env(service_env), tmp_path, concentrators=2, meters_per=70,
                  sim_args=["--clock-drift-ppm", str(DRIFT_PPM), "--clock-sync-day", str(_sync_day(datetime.now(UTC)))],
                  collector_env={
                      "EMMS_COLLECTOR_TIMESYNC__ENABLED": "true", "EMMS_COLLECTOR_TIMESYNC__TOLERANCE_S": "3600",
                      "EMMS_COLLECTOR_TIMESYNC__EVERY_S": "1", "EMMS_COLLECTOR_TIMESYNC__QUIET_MINUTES": "0",
                      "EMMS_COLLECTOR_TIMESYNC__COLLECTOR_CHECK_EVERY_S": "3600",
                      "EMMS_COLLECTOR_TIMESYNC__COLLECTOR_TOLERANCE_S": str(COLLECTOR_TOLERANCE_S)})
    stack.start()
    try:
        await _until(lambda: stack.online_terminals() == 2, 60, "terminals online")

        def corrected() -> bool:
            clocks = _collector_offsets(stack)
            return all(len(c) == 3 and all(abs(v) <= COLLECTOR_TOLERANCE_S + RESOLUTION_S for v in c.values())
                       for c in clocks.values())

        await _until(corrected, 120, "every collector's clock within tolerance, unasked")
        mine = set(_collector_offsets(stack))  # the session database holds other tests' terminals too
        status, listed = http("GET", f"{stack.collector}/api/v1/clock/collectors?limit=1000")
        assert status == 200 and len([i for i in listed["items"] if i["terminal"] in mine]) == 6, listed
        # the worker found them off (it may have before the test first looked) and set them: its own records
        status, syncs = http("GET", f"{stack.collector}/api/v1/clock/syncs?level=collector&limit=1000")
        assert status == 200, syncs
        fixed = [s for s in syncs["items"] if s["terminal"] in mine and s["outcome"] == "synced"
                 and abs(s["deviation_before_s"] or 0) > COLLECTOR_TOLERANCE_S + RESOLUTION_S
                 and abs(s["deviation_after_s"]) <= COLLECTOR_TOLERANCE_S]
        assert len(fixed) >= 2, syncs
    finally:
        stack.stop()
