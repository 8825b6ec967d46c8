"""Canonical readings from an answer or a report: meter, item, data time, value, unit, source, quality.

Values are attributed through the measurement-point table (terminal, pn →
meter); a forwarded meter read belongs to the meter the request named. Frozen
values are stamped with the freeze instant (:mod:`emms_collector.reading.datatime`),
current values with the terminal's reading time Tm (or the answer's arrival).
A value the terminal marked absent (``EE`` filler → ``None``) is not a reading:
the item stays missing and is re-collected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from emms_collector.reading.answers import MeterValue
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository.points import Point
from emms_messages.readings import Reading, ReadingSource
from emms_protocol.gdw1376.items_map import ItemValue

QUALITY_GOOD = 0
QUALITY_CLOCK_SUSPECT = 1  # the terminal's clock was out of tolerance when it stamped the value


@dataclass(frozen=True, slots=True)
class Stamp:
    """How to stamp values of one answer."""

    source: ReadingSource
    collected_at: datetime
    tz: tzinfo
    freeze_at: str = "end"
    quality: int = QUALITY_GOOD


def data_time_of(value: ItemValue, stamp: Stamp) -> datetime:
    when = value.data_time
    if isinstance(when, datetime):
        return when.astimezone(UTC)
    if isinstance(when, date):
        return freeze_instant(when, stamp.tz, monthly=value.freeze == "month", freeze_at=stamp.freeze_at)
    return stamp.collected_at


def from_points(values: Iterable[ItemValue], points: Mapping[int, Point], terminal: str, stamp: Stamp,
                *, wanted: Mapping[int, Iterable[str]] | None = None) -> tuple[list[Reading], int]:
    """Readings of AFN 0C / 0D values of one terminal; and the count of values no point matched.

    ``wanted`` (pn → items) keeps only what was asked for, so an Fn that carries more items than
    the task lists does not publish the rest.
    """
    keep = {pn: set(items) for pn, items in wanted.items()} if wanted is not None else None
    out: list[Reading] = []
    unmatched = 0
    for v in values:
        point = points.get(v.pn)
        if point is None:
            unmatched += 1
            continue
        if v.value is None or (keep is not None and v.item not in keep.get(v.pn, ())):
            continue
        out.append(Reading(meter_id=point.meter_id, item=v.item, data_time=data_time_of(v, stamp), value=v.value,
                           unit=v.unit, source=stamp.source, collected_at=stamp.collected_at, quality=stamp.quality,
                           terminal=terminal, pn=v.pn))
    return out, unmatched


def from_meter(values: Iterable[MeterValue], point: Point, stamp: Stamp, data_time: datetime,
               *, wanted: Iterable[str] | None = None) -> list[Reading]:
    """Readings of a forwarded meter frame (current values, stamped ``data_time``)."""
    keep = set(wanted) if wanted is not None else None
    return [Reading(meter_id=point.meter_id, item=v.item, data_time=data_time, value=v.value, unit=v.unit,
                    source=stamp.source, collected_at=stamp.collected_at, quality=stamp.quality,
                    terminal=point.terminal, pn=point.pn)
            for v in values if v.value is not None and (keep is None or v.item in keep)]
