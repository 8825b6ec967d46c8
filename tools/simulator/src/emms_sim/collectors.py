"""Collectors (采集器) behind a concentrator, with clocks of their own (R-4.6.1.4).

Every concentrator's measurement points are grouped behind collectors, ``PER_COLLECTOR`` consecutive pns
each (pn 1..32 → collector 0, 33..64 → collector 1 …). A collector answers DL/T 645-2007 at its own
address (``99`` + terminal index (6) + collector number (4): no meter address of the fleet starts so
below a million terminals) forwarded to it through AFN 10: its clock (DI 0400010C date and time,
04000101 date, 04000102 time) and a point-to-point time write (14H, DI 0400010C). A 645 broadcast time
through the concentrator sets every collector behind it, like its meters. The F10 record of a meter names
its collector (所属采集器通信地址), so the master learns the collectors from the point table it reads back.

A collector's clock drifts like the terminals' (``clock_drift_ppm`` of the fleet, seeded per collector)
from the monthly sync, or from the master's last sync (the control ledger keeps it, keyed
``collector:<address>``): the truth the tests compare with is :func:`clock_offset`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from emms_sim.hashing import unit
from emms_sim.truth import GroundTruth

PER_COLLECTOR = 32
TAG_COLLECTOR = 14
CLOCK_DIS = (0x0400010C, 0x04000101, 0x04000102)


def collector_address(terminal_index: int, number: int) -> str:
    return f"99{terminal_index:06d}{number:04d}"


def collector_of_pn(terminal_index: int, pn: int) -> str:
    return collector_address(terminal_index, max(0, pn - 1) // PER_COLLECTOR)


def addresses(truth: GroundTruth, terminal_index: int) -> list[str]:
    """The collectors of a concentrator (one per ``PER_COLLECTOR`` measurement points)."""
    top = truth.fleet.max_pn(terminal_index)
    return [collector_address(terminal_index, k) for k in range(max(1, (top + PER_COLLECTOR - 1) // PER_COLLECTOR))]


def find(truth: GroundTruth, terminal_index: int, address: str) -> str | None:
    """The collector of this concentrator answering to ``address``, None when it is no collector of it."""
    tail = address[-12:]
    if len(tail) != 12 or not tail.startswith("99") or tail[2:8] != f"{terminal_index:06d}":
        return None
    return tail if tail in addresses(truth, terminal_index) else None


def _drift_ppm(truth: GroundTruth, address: str) -> float:
    index, number = int(address[2:8]), int(address[8:])
    return (unit(truth.fleet.seed, TAG_COLLECTOR, index, number) * 2.0 - 1.0) * truth.fleet.config.rates.clock_drift_ppm


def clock_offset(truth: GroundTruth, address: str, ts: float) -> float:
    """Seconds the collector's clock is ahead of true time."""
    since = truth.schedule.month_start(ts)
    synced = truth.ledger.last_clock_sync(f"collector:{address}", ts)
    if synced is not None:
        since = max(since, synced)
    return _drift_ppm(truth, address) * 1e-6 * (ts - since)


def clock(truth: GroundTruth, address: str, ts: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts + clock_offset(truth, address, ts), tz=tz)


def sync(truth: GroundTruth, address: str, ts: float) -> None:
    truth.ledger.sync_clock(f"collector:{address}", ts)
